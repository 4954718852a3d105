"""The DuckDB warehouse: connections, recorded migrations, documented views and the daily rollup."""
