"""When a growing number will reach a threshold, at its recent rate.

Method: a least-squares line through the (day, value) points of the day-runs in the
WINDOW_DAYS days ending at the last one (DuckDB's `regr_slope`), and from the last
measured value forward at that slope. The projected date is the first whole day on
which the line reaches the threshold. No projection with fewer than two points in the
window or a slope that is not positive. See PROJECTION_SQL.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any

import duckdb

WINDOW_DAYS = 30
METHOD = "linear least-squares fit"

# $points: a query of (date, value) rows; the window is (last date - 30 days, last date].
PROJECTION_SQL = """
WITH points AS ({points}),
last AS (SELECT max(date) AS last_date FROM points),
win AS (
    SELECT p.date, p.value, date_diff('day', DATE '1970-01-01', p.date) AS x
    FROM points p, last WHERE p.date > last.last_date - $window AND p.value IS NOT NULL
)
SELECT count(*) AS n, min(date) AS first_date, max(date) AS last_date,
       regr_slope(value, x) AS per_day, arg_max(value, date) AS last_value
FROM win
"""


def project(
    con: duckdb.DuckDBPyConnection,
    points_sql: str,
    params: dict[str, Any],
    threshold: int,
    window: int = WINDOW_DAYS,
) -> dict[str, Any]:
    """The date at which the points' recent linear trend reaches `threshold`."""
    n, first, last, per_day, last_value = con.execute(
        PROJECTION_SQL.format(points=points_sql), {**params, "window": window}
    ).fetchall()[0]
    result: dict[str, Any] = {
        "method": METHOD,
        "window_days": window,
        "window_start": first.isoformat() if first else None,
        "window_end": last.isoformat() if last else None,
        "points": int(n),
        "per_day": None,
        "projected_date": None,
        "reason": None,
    }
    if n < 2:
        result["reason"] = f"fewer than 2 day-runs in the last {window} days"
        return result
    result["per_day"] = round(per_day, 1)
    if per_day <= 0:
        result["reason"] = f"no growth over the last {window} days"
        return result
    days = max(math.ceil((threshold - last_value) / per_day), 0)
    if days > (date.max - last).days:  # a near-flat trend: no calendar date reaches it
        result["reason"] = "not before the year 9999 at this rate"
        return result
    result["projected_date"] = (last + timedelta(days=days)).isoformat()
    return result


def describe(projection: dict[str, Any]) -> str:
    """One line: the date, and how it was made."""
    p = projection
    how = (
        f"{p['method']} over the {p['points']} day-runs of the last {p['window_days']} days"
        f" to {p['window_end']}"
        if p["points"]
        else ""
    )
    if p["projected_date"] is None:
        return f"none: {p['reason']}"
    return f"{p['projected_date']} at {p['per_day']:+,.0f}/day ({how})"
