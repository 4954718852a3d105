"""ModelScope counts in reports: the `global` scope (Hub family plus ModelScope org).

ModelScope lists only the family's official org (no lineage), so the global value of a
day is the Hub family's value plus the ModelScope org's value at its last day-run on or
before that day; days before the first ModelScope day-run have no global value.
ModelScope does not document the window of its `downloads` counter (WINDOW_NOTE), and
every output that uses it says so.
"""

from __future__ import annotations

from datetime import date

import duckdb

WINDOW_NOTE = (
    "ModelScope does not document the counting window of its downloads counter (the values "
    "look all-time); the global scope adds them as all-time downloads."
)
# metrics ModelScope reports, and the family_daily column holding them
MODELSCOPE_METRICS = {"downloads_all_time": "downloads_all_time", "likes": "likes"}


def modelscope_series(
    con: duckdb.DuckDBPyConnection, family: str, metric: str
) -> list[tuple[date, int]]:
    """(date, value) of the family's ModelScope day-runs; empty when there are none."""
    col = MODELSCOPE_METRICS.get(metric)
    if col is None:
        return []
    # most warehouses have no ModelScope runs: a look at `runs` spares the series query
    any_run = con.execute(
        "SELECT 1 FROM runs WHERE family = ? AND source = 'modelscope' LIMIT 1", [family]
    ).fetchall()
    if not any_run:
        return []
    rows = con.execute(
        f"""SELECT date, {col} FROM family_daily
            WHERE family = ? AND platform = 'modelscope' AND {col} IS NOT NULL ORDER BY date""",
        [family],
    ).fetchall()
    return [(d, int(v)) for d, v in rows]


def global_points(
    con: duckdb.DuckDBPyConnection,
    family: str,
    metric: str,
    hub: list[tuple[date, int | None]],
) -> tuple[list[tuple[date, int | None]], str | None]:
    """The Hub family's series plus the ModelScope org's value at its last day-run on or
    before each Hub day-run, or ([], why global is not measured)."""
    if metric not in MODELSCOPE_METRICS:
        return [], f"ModelScope reports no {metric}"
    ms = modelscope_series(con, family, metric)
    if not ms:
        return [], f"no ModelScope snapshots of {family} in this warehouse"
    out: list[tuple[date, int | None]] = []
    i, last = 0, None
    for day, value in hub:
        while i < len(ms) and ms[i][0] <= day:
            last = ms[i][1]
            i += 1
        if last is not None and value is not None:
            out.append((day, value + last))
    return out, None
