"""Export the daily series and member counters as date-partitioned Parquet or CSV.

The layout is Hive-style, which DuckDB, Spark, BigQuery, pyarrow and pandas read as one
table with a `date` column:

    OUT/family_daily/date=2026-01-05/data_0.parquet
    OUT/members_daily/date=2026-01-05/data_0.parquet

e.g. `SELECT * FROM read_parquet('OUT/family_daily/*/*.parquet', hive_partitioning=true)`.
Files are written by DuckDB's `COPY ... (FORMAT parquet, PARTITION_BY (date))` into a
temporary directory inside OUT and moved into place only when every table is written, so
an export that fails leaves OUT as it was.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from collector.errors import UsageError
from collector.reports.series import check_family

FORMATS = ("parquet", "csv")
# table -> its columns (from the documented views of the same names)
TABLES = {
    "family_daily": (
        "family, date, run_id, started_at, repos, downloads_all_time, "
        "official_downloads_all_time, derivative_downloads_all_time, downloads_30d, likes, "
        "official_repos, official_downloads_30d, official_likes, new_downloads, decreases, "
        "departed"
    ),
    "members_daily": (
        "family, date, run_id, repo_id, role, relation, depth, parent_id, downloads_all_time, "
        "downloads_30d, likes, author, created_at, pipeline_tag, library_name"
    ),
}
_WHERE = (
    "list_contains(coalesce($families, [family]), family) AND platform = 'huggingface' "
    "AND date >= coalesce($since, date) AND date <= coalesce($until, date)"
)


def export(
    con: duckdb.DuckDBPyConnection,
    out_dir: str | os.PathLike[str],
    fmt: str = "parquet",
    families: list[str] | None = None,
    since: date | None = None,
    until: date | None = None,
    overwrite: bool = False,
) -> list[dict[str, Any]]:
    """Write each table under out_dir/<table>/date=YYYY-MM-DD/; return what was written."""
    if fmt not in FORMATS:
        raise UsageError(f"cannot export as {fmt!r}; use one of {', '.join(FORMATS)}")
    for family in families or []:
        check_family(con, family)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: not a directory")
    existing = [out / t for t in TABLES if (out / t).exists()]
    if existing and not overwrite:
        raise UsageError(f"{existing[0]} already exists; pass --overwrite to replace it")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out {out}: cannot create it ({exc.strerror or exc})") from None
    params = {"families": families or None, "since": since, "until": until}
    options = "FORMAT parquet" if fmt == "parquet" else "FORMAT csv, HEADER true"
    tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=out))
    written = []
    try:
        for table, columns in TABLES.items():
            query = f"SELECT {columns} FROM {table} WHERE {_WHERE} ORDER BY family, run_id"
            rows, partitions = con.execute(
                f"SELECT count(*), count(DISTINCT date) FROM ({query})", params
            ).fetchall()[0]
            target = tmp / table
            if rows:
                con.execute(
                    f"COPY ({query}) TO '{_sql_path(target)}' ({options}, PARTITION_BY (date))",
                    params,
                )
            else:
                target.mkdir()
            written.append(
                {
                    "table": table,
                    "path": str(out / table),
                    "format": fmt,
                    "partitions": int(partitions),
                    "rows": int(rows),
                }
            )
        for table in TABLES:
            if (out / table).exists():
                shutil.rmtree(out / table)
            os.replace(tmp / table, out / table)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return written


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")
