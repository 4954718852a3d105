"""Families side by side over time, and when one passed another.

Families are snapshotted on their own schedules, so their day-runs need not fall on the
same dates. Two alignments are offered (COMPARE_SQL):

- `common` (the default): only dates on which every compared family has a day-run. Every
  number in a row is a measurement of that day, so a crossing found here is bracketed by
  real measurements of both families on both sides.
- `carry-forward`: every date on which any compared family has a day-run; a family with
  none that day shows the value of its last earlier day-run (empty before its first).
  Fuller rows, but a stale value can make a crossing appear on the wrong date.

A crossing of A over B is a date on which A > B while on the previous aligned date
A <= B. When A already led B on the first aligned date, the data does not cover when A
passed B, and the answer says so instead of guessing.
"""

from __future__ import annotations

from datetime import date
from itertools import combinations
from typing import Any

import duckdb

from collector.errors import UsageError
from collector.reports.series import check_family

# metric -> its expression over family_daily
METRICS = {
    "downloads_all_time": "downloads_all_time",
    "official_downloads_all_time": "official_downloads_all_time",
    "derivative_downloads_all_time": "derivative_downloads_all_time",
    "downloads_30d": "downloads_30d",
    "official_downloads_30d": "official_downloads_30d",
    "likes": "likes",
    "official_likes": "official_likes",
    "repos": "repos",
    "official_repos": "official_repos",
    "derivatives": "repos - official_repos",
}
ALIGNMENTS = ("common", "carry-forward")

# One row per (date, family): the family's value at its last day-run on or before the
# date. The dates are those of any compared family's day-runs in [since, until]; with
# `common` alignment, only those on which every compared family has a day-run.
COMPARE_SQL = """
WITH picked AS (
    SELECT family, date, {metric} AS value FROM family_daily
    WHERE list_contains($families, family) AND platform = 'huggingface'
), grid AS (
    SELECT date FROM picked
    WHERE date >= coalesce($since, date) AND date <= coalesce($until, date)
    GROUP BY date HAVING NOT $common OR count(*) = len($families)
), fams AS (SELECT unnest($families) AS family)
SELECT g.date, f.family, p.value, p.date AS value_date
FROM grid g CROSS JOIN fams f
ASOF LEFT JOIN picked p ON p.family = f.family AND p.date <= g.date
ORDER BY g.date, f.family
"""


def compare(
    con: duckdb.DuckDBPyConnection,
    families: list[str],
    metric: str = "downloads_all_time",
    since: date | None = None,
    until: date | None = None,
    align: str = "common",
) -> dict[str, Any]:
    """A wide series (date + one column per family) and every crossing between them."""
    if len(families) < 2:
        raise UsageError("compare needs at least two families")
    if len(set(families)) != len(families):
        raise UsageError(f"a family is named twice: {', '.join(families)}")
    if metric not in METRICS:
        raise UsageError(f"cannot compare {metric!r}; use one of {', '.join(METRICS)}")
    if align not in ALIGNMENTS:
        raise UsageError(f"unknown alignment {align!r}; use one of {', '.join(ALIGNMENTS)}")
    for family in families:
        check_family(con, family)
    cur = con.execute(
        COMPARE_SQL.format(metric=METRICS[metric]),
        {"families": families, "since": since, "until": until, "common": align == "common"},
    )
    series: dict[date, dict[str, Any]] = {}
    for day, family, value, _ in cur.fetchall():
        series.setdefault(day, {"date": day.isoformat()})[family] = value
    rows = list(series.values())
    crossings = _crossings(rows, families)
    return {
        "families": families,
        "metric": metric,
        "align": align,
        "since": rows[0]["date"] if rows else None,
        "until": rows[-1]["date"] if rows else None,
        "series": rows,
        "crossings": crossings,
        "pairs": [_pair(rows, crossings, a, b) for a, b in combinations(families, 2)],
    }


def _crossings(rows: list[dict[str, Any]], families: list[str]) -> list[dict[str, Any]]:
    out = []
    for a, b in combinations(families, 2):
        prev: dict[str, Any] | None = None
        for row in rows:
            if row.get(a) is None or row.get(b) is None:
                continue
            if prev is not None:
                for x, y in ((a, b), (b, a)):
                    if prev[x] <= prev[y] and row[x] > row[y]:
                        out.append(
                            {
                                "date": row["date"],
                                "family": x,
                                "passed": y,
                                "value": row[x],
                                "passed_value": row[y],
                                "previous_date": prev["date"],
                                "previous_value": prev[x],
                                "previous_passed_value": prev[y],
                            }
                        )
            prev = row
    out.sort(key=lambda c: (c["date"], c["family"], c["passed"]))
    return out


def _pair(
    rows: list[dict[str, Any]], crossings: list[dict[str, Any]], a: str, b: str
) -> dict[str, Any]:
    """Who leads at the last aligned date, and since when (when the data covers it)."""
    both = [r for r in rows if r.get(a) is not None and r.get(b) is not None]
    pair: dict[str, Any] = {
        "family": a,
        "versus": b,
        "leader": None,
        "date": None,
        "passed_on": None,
        "covered": False,
    }
    if not both:
        return pair
    last = both[-1]
    pair["date"] = last["date"]
    if last[a] == last[b]:
        return pair
    leader, other = (a, b) if last[a] > last[b] else (b, a)
    passes = [c for c in crossings if c["family"] == leader and c["passed"] == other]
    pair["leader"] = leader
    if passes:
        pair.update(passed_on=passes[-1]["date"], covered=True)
    return pair


def sentences(result: dict[str, Any]) -> list[str]:
    """The answer in words, one line per pair of families."""
    lines = []
    metric = result["metric"]
    for pair in result["pairs"]:
        a, b = pair["family"], pair["versus"]
        if pair["date"] is None:
            lines.append(f"{a} and {b}: no aligned dates to compare ({result['align']})")
        elif pair["leader"] is None:
            lines.append(f"{a} and {b} are level in {metric} on {pair['date']}")
        elif pair["covered"]:
            c = next(
                c
                for c in reversed(result["crossings"])
                if c["family"] == pair["leader"] and c["date"] == pair["passed_on"]
            )
            changes = [
                x["date"] for x in result["crossings"] if {x["family"], x["passed"]} == {a, b}
            ]
            lines.append(
                f"{c['family']} passed {c['passed']} in {metric} on {c['date']} "
                f"({c['value']:,} > {c['passed_value']:,}; on {c['previous_date']}: "
                f"{c['previous_value']:,} <= {c['previous_passed_value']:,})"
                + (
                    f"; the lead changed {len(changes)} times: {', '.join(changes)}"
                    if len(changes) > 1
                    else ""
                )
            )
        else:
            other = b if pair["leader"] == a else a
            lines.append(
                f"{pair['leader']} led {other} in {metric} on every compared date up to "
                f"{pair['date']}: the data does not cover when it passed"
            )
    return lines
