"""The static site of the warehouse: data gathering, SVG charts, HTML pages, atomic builds."""
