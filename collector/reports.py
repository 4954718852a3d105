"""Reports computed from the warehouse views: daily series, breakdowns, members, lineage.

Functions here return plain data (lists of dicts); rendering is render.py's job.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb

from collector.errors import UsageError

SERIES_COLUMNS = [
    "date",
    "repos",
    "downloads_all_time",
    "official_downloads_all_time",
    "derivative_downloads_all_time",
    "downloads_30d",
    "likes",
    "new_downloads",
]


@dataclass
class Series:
    """A family's daily series over a date range, with the anomalies met in it."""

    family: str
    rows: list[dict[str, Any]]
    anomalies: list[dict[str, Any]]


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def known_families(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Families with at least one run in the warehouse."""
    return [r[0] for r in con.execute("SELECT DISTINCT family FROM runs ORDER BY 1").fetchall()]


def check_family(con: duckdb.DuckDBPyConnection, family: str) -> None:
    """Refuse a family the warehouse has never seen, naming the ones it has."""
    known = known_families(con)
    if family not in known:
        have = ", ".join(known) if known else "none yet"
        raise UsageError(f"no snapshots of family {family!r} in this warehouse (families: {have})")


def daily_series(
    con: duckdb.DuckDBPyConnection,
    family: str,
    since: date | None = None,
    until: date | None = None,
) -> Series:
    """One row per UTC day with a complete snapshot (the day's last one counts)."""
    check_family(con, family)
    where, params = _range(family, since, until)
    rows = _rows(
        con,
        f"SELECT {', '.join(SERIES_COLUMNS)} FROM family_daily WHERE {where} ORDER BY date",
        params,
    )
    anomalies = _rows(
        con,
        f"""SELECT date, repo_id, kind, previous, current FROM report_anomalies
            WHERE {where} ORDER BY date, kind, repo_id""",
        params,
    )
    for row in rows + anomalies:
        row["date"] = row["date"].isoformat()
    return Series(family, rows, anomalies)


def group_series(
    con: duckdb.DuckDBPyConnection,
    family: str,
    dimension: str,
    since: date | None = None,
    until: date | None = None,
) -> list[dict[str, Any]]:
    """Cumulative downloads per day and group (`relation` or `depth`), one row per day."""
    check_family(con, family)
    where, params = _range(family, since, until)
    long = _rows(
        con,
        f"""SELECT date, "group", downloads_all_time FROM family_groups_daily
            WHERE {where} AND dimension = ? ORDER BY date, "group" """,
        params + [dimension],
    )
    groups = sorted({r["group"] for r in long}, key=_group_order)
    out: dict[str, dict[str, Any]] = {}
    for r in long:
        day = r["date"].isoformat()
        row = out.setdefault(day, {"date": day, **{g: 0 for g in groups}})
        row[r["group"]] = r["downloads_all_time"]
    return list(out.values())


def _group_order(g: str) -> tuple[int, str]:
    order = ["official", "finetune", "quantized", "adapter", "merge", "unspecified"]
    if g in order:
        return (order.index(g), g)
    return (len(order) + (int(g) if g.isdigit() else 0), g)


def _range(family: str, since: date | None, until: date | None) -> tuple[str, list[Any]]:
    where: list[str] = ["family = ?"]
    params: list[Any] = [family]
    if since:
        where.append("date >= ?")
        params.append(since)
    if until:
        where.append("date <= ?")
        params.append(until)
    return " AND ".join(where), params


def day_run(con: duckdb.DuckDBPyConnection, family: str, as_of: date | None) -> dict[str, Any] | None:
    """The day-run in force at a date: the last complete snapshot on or before it."""
    check_family(con, family)
    rows = _rows(
        con,
        """SELECT date, run_id FROM day_runs WHERE family = ? AND (? IS NULL OR date <= ?)
           ORDER BY date DESC LIMIT 1""",
        [family, as_of, as_of],
    )
    return rows[0] if rows else None


def members(
    con: duckdb.DuckDBPyConnection, family: str, as_of: date | None = None
) -> tuple[str | None, list[dict[str, Any]]]:
    """Every member at the day-run in force at `as_of`, largest downloads first."""
    run = day_run(con, family, as_of)
    if run is None:
        return None, []
    rows = _rows(
        con,
        """SELECT repo_id, role, relation, depth, parent_id, downloads_all_time,
                  downloads_30d, likes
           FROM members_daily WHERE family = ? AND run_id = ?
           ORDER BY role DESC, downloads_all_time DESC NULLS LAST, repo_id""",
        [family, run["run_id"]],
    )
    return run["date"].isoformat(), rows


def why(con: duckdb.DuckDBPyConnection, family: str, repo_id: str) -> dict[str, Any]:
    """The lineage chain from an official repo to `repo_id` at the latest snapshot."""
    run = day_run(con, family, None)
    found = _rows(
        con,
        """SELECT r.repo_key, r.repo_id FROM repos r
           WHERE lower(r.repo_id) = lower(?)
              OR r.repo_key IN (SELECT repo_key FROM repo_names WHERE lower(repo_id) = lower(?))
           ORDER BY (lower(r.repo_id) = lower(?)) DESC LIMIT 1""",
        [repo_id, repo_id, repo_id],
    )
    answer: dict[str, Any] = {"family": family, "repo_id": repo_id, "member": False,
                              "as_of": run["date"].isoformat() if run else None, "chain": []}
    if run is None or not found:
        answer["reason"] = (
            f"{repo_id} was never seen in a snapshot of {family}: it has no base_model lineage "
            f"to an official repo of {family}, or it is not on the Hub"
        )
        return answer
    key = found[0]["repo_key"]
    chain = []
    seen: set[int] = set()
    while key is not None and key not in seen:
        seen.add(key)
        rows = _rows(
            con,
            """SELECT repo_key, repo_id, role, relation, depth, parent_id, downloads_all_time
               FROM members_daily WHERE family = ? AND run_id = ? AND repo_key = ?""",
            [family, run["run_id"], key],
        )
        if not rows:
            break
        step = rows[0]
        chain.append(step)
        parent = step.pop("parent_id")
        step.pop("repo_key")
        if parent is None:
            break
        nxt = _rows(con, "SELECT repo_key FROM repos WHERE repo_id = ?", [parent])
        key = nxt[0]["repo_key"] if nxt else None
    if not chain:
        last = _rows(
            con,
            """SELECT d.date FROM membership m JOIN day_runs d
                 ON d.family = m.family AND d.run_id BETWEEN m.first_run AND m.last_run
               WHERE m.family = ? AND m.repo_key = ? ORDER BY d.date DESC LIMIT 1""",
            [family, found[0]["repo_key"]],
        )
        answer["repo_id"] = found[0]["repo_id"]
        answer["reason"] = (
            f"{found[0]['repo_id']} is not a member of {family} at {answer['as_of']}"
            + (f"; it was last a member on {last[0]['date'].isoformat()}" if last else "")
        )
        return answer
    answer["member"] = True
    answer["repo_id"] = chain[0]["repo_id"]
    answer["chain"] = list(reversed(chain))
    return answer
