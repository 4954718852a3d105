"""Reports computed from the warehouse views: daily series, breakdowns, members, lineage.

Functions here return plain data (lists of dicts); rendering is render.py's job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import duckdb

from collector.errors import UsageError
from collector.reports.vocab import TopBy

SERIES_COLUMNS = [
    "date",
    "repos",
    "downloads_all_time",
    "official_downloads_all_time",
    "derivative_downloads_all_time",
    "downloads_30d",
    "likes",
    "new_downloads",
    "partial",  # the day's run could not refresh every member (see Series.partial_days)
]


@dataclass
class Series:
    """A family's daily series over a date range, with the anomalies met in it."""

    family: str
    rows: list[dict[str, Any]]
    anomalies: list[dict[str, Any]]
    # days whose run was partial: members it could not refresh count at their last value
    partial_days: list[dict[str, Any]] = field(default_factory=list)


def _rows(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | dict[str, Any]
) -> list[dict[str, Any]]:
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
    platform: str = "huggingface",
) -> Series:
    """One row per UTC day with a complete snapshot (the day's last one counts)."""
    check_family(con, family)
    where, params = _range(family, since, until, platform)
    rows = _rows(
        con,
        f"SELECT {', '.join(SERIES_COLUMNS)}, source FROM family_daily WHERE {where} ORDER BY date",
        params,
    )
    anomalies = _rows(
        con,
        f"""SELECT date, repo_id, kind, previous, current FROM report_anomalies
            WHERE {where} ORDER BY date, kind, repo_id""",
        params,
    )
    partial = _rows(
        con,
        f"""SELECT f.date, f.run_id, f.repos, f.stale_repos, r.error
            FROM (SELECT * FROM family_daily WHERE {where} AND partial) f
            JOIN runs r USING (run_id) ORDER BY f.date""",
        params,
    )
    for row in rows + anomalies + partial:
        row["date"] = row["date"].isoformat()
    return Series(family, rows, anomalies, partial)


def mixed_sources(rows: list[dict[str, Any]]) -> bool:
    """True when the rows come from more than one source (own snapshots and imports)."""
    return len({part for r in rows for part in str(r.get("source") or "").split(",")}) > 1


# Period labels for `report --every`: ISO dates, ISO weeks (Monday first), months.
PERIODS = {"day": "%Y-%m-%d", "week": "%G-W%V", "month": "%Y-%m"}
PERIOD_COLUMNS = ["period", "date", "day_runs"] + SERIES_COLUMNS[1:]

# `report --every`: the day-runs of [since, until] grouped by period. A period row carries
# the cumulative values of its last day-run and the sum of its day-runs' new_downloads
# (each day-run's new_downloads are the increase since the previous day-run).
PERIOD_SQL = """
SELECT strftime(date, $format) AS period, max(date) AS date, count(*) AS day_runs,
       arg_max(repos, date) AS repos,
       arg_max(downloads_all_time, date) AS downloads_all_time,
       arg_max(official_downloads_all_time, date) AS official_downloads_all_time,
       arg_max(derivative_downloads_all_time, date) AS derivative_downloads_all_time,
       arg_max(downloads_30d, date) AS downloads_30d,
       arg_max(likes, date) AS likes,
       CAST(sum(new_downloads) AS BIGINT) AS new_downloads,
       bool_or(partial) AS partial,
       string_agg(DISTINCT source, ',' ORDER BY source) AS source
FROM family_daily
WHERE family = $family AND platform = $platform
  AND date >= coalesce($since, date) AND date <= coalesce($until, date)
GROUP BY period ORDER BY date
"""


def period_series(
    con: duckdb.DuckDBPyConnection,
    family: str,
    every: str,
    since: date | None = None,
    until: date | None = None,
    platform: str = "huggingface",
) -> list[dict[str, Any]]:
    """One row per day, ISO week or month with a day-run (PERIOD_SQL)."""
    check_family(con, family)
    rows = _rows(
        con,
        PERIOD_SQL,
        {
            "format": PERIODS[every],
            "family": family,
            "since": since,
            "until": until,
            "platform": platform,
        },
    )
    for row in rows:
        row["date"] = row["date"].isoformat()
    return rows


def group_series(
    con: duckdb.DuckDBPyConnection,
    family: str,
    dimension: str,
    since: date | None = None,
    until: date | None = None,
    every: str | None = None,
) -> list[dict[str, Any]]:
    """Cumulative downloads per group (`relation` or `depth`), one row per day or period.

    Each row carries one column per group. With `every`, a period row is its last
    day-run's row.
    """
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
        key = r["date"].strftime(PERIODS[every]) if every else day
        lead = {"period": key, "date": day} if every else {"date": day}
        row = out.setdefault(key, {**lead, **{g: 0 for g in groups}})
        row["date"] = day  # rows come by date: the period keeps its last day-run
        row[r["group"]] = r["downloads_all_time"]
    return list(out.values())


def with_totals(rows: list[dict[str, Any]], groups: list[str]) -> list[dict[str, Any]]:
    """Copies of group rows with `total`: the groups' sum, the family's downloads_all_time."""
    return [{**row, "total": sum(row[g] for g in groups)} for row in rows]


def _group_order(g: str) -> tuple[int, str]:
    order = ["official", "finetune", "quantized", "adapter", "merge", "unspecified"]
    if g in order:
        return (order.index(g), g)
    return (len(order) + (int(g) if g.isdigit() else 0), g)


def _range(
    family: str, since: date | None, until: date | None, platform: str = "huggingface"
) -> tuple[str, list[Any]]:
    where: list[str] = ["family = ?", "platform = ?"]
    params: list[Any] = [family, platform]
    if since:
        where.append("date >= ?")
        params.append(since)
    if until:
        where.append("date <= ?")
        params.append(until)
    return " AND ".join(where), params


def day_run(
    con: duckdb.DuckDBPyConnection, family: str, as_of: date | None
) -> dict[str, Any] | None:
    """The day-run in force at a date: the last complete snapshot on or before it."""
    check_family(con, family)
    rows = _rows(
        con,
        """SELECT date, run_id FROM day_runs
           WHERE family = ? AND platform = 'huggingface' AND (? IS NULL OR date <= ?)
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
        f"""SELECT {", ".join(MEMBER_COLUMNS)}
           FROM members_daily WHERE family = ? AND run_id = ?
           ORDER BY role DESC, downloads_all_time DESC NULLS LAST, repo_id""",
        [family, run["run_id"]],
    )
    return run["date"].isoformat(), rows


def dangling(
    con: duckdb.DuckDBPyConnection, family: str, as_of: date | None = None
) -> tuple[str | None, list[dict[str, Any]]]:
    """The base_model parents the crawl of the day-run in force at `as_of` could not
    resolve (no repo is that id and the Hub names no new one), most children first: the
    repos tagging them are not members."""
    run = day_run(con, family, as_of)
    if run is None:
        return None, []
    rows = _rows(
        con,
        """SELECT parent_id, children FROM unresolved_parents
           WHERE run_id = ? ORDER BY children DESC, parent_id""",
        [run["run_id"]],
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
    answer: dict[str, Any] = {
        "family": family,
        "repo_id": repo_id,
        "member": False,
        "as_of": run["date"].isoformat() if run else None,
        "chain": [],
    }
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
                 ON d.family = m.family AND d.platform = m.platform
                AND d.run_id BETWEEN m.first_run AND m.last_run
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


MEMBER_COLUMNS = [
    "repo_id",
    "role",
    "relation",
    "depth",
    "parent_id",
    "downloads_all_time",
    "downloads_30d",
    "likes",
]
TOP_METRICS = tuple(m.value for m in TopBy)
TOP_COLUMNS = [
    "rank",
    "repo_id",
    "role",
    "relation",
    "depth",
    "downloads_all_time",
    "downloads_30d",
    "likes",
]

# `top --by new_downloads`: each repo's new_downloads summed over the day-runs of the
# range (rollup_repo_new, maintained by each snapshot: collector/store/repo_totals.py);
# role and relation as of its last day-run there with new downloads. Summed over every
# repo, this is the sum of family_daily.new_downloads over the same day-runs.
# Three ways to the same sums, the cheapest for the range (`_top_sums`): the range's rows;
# the whole history, one row per repo (rollup_repo_total); or, for a range that ends at the
# last day-run, the totals less the rows before the range (labels from the totals: a repo
# with rows in the range had its last row there).
TOP_SUMS = {
    "range": """
    SELECT repo_key, CAST(sum(new_downloads) AS BIGINT) AS new_downloads
    FROM rollup_repo_new
    WHERE family = $family AND platform = 'huggingface'
      AND run_id BETWEEN $first_run AND $end_run
    GROUP BY repo_key""",
    "all": """
    SELECT repo_key, new_downloads, role, relation, depth
    FROM rollup_repo_total WHERE family = $family AND platform = 'huggingface'""",
    "since": """
    SELECT t.repo_key, t.new_downloads - coalesce(b.before, 0) AS new_downloads,
           t.role, t.relation, t.depth
    FROM rollup_repo_total t
    LEFT JOIN (SELECT repo_key, sum(new_downloads) AS before FROM rollup_repo_new
               WHERE family = $family AND platform = 'huggingface' AND run_id < $first_run
               GROUP BY repo_key) b USING (repo_key)
    WHERE t.family = $family AND t.platform = 'huggingface' AND t.last_run >= $first_run""",
}
# The range's sums ranked, ties by repo id (looked up for the leaders only), the labels of
# the leaders (from the range's rows where the sums do not carry them), and their counters
# at the range's end.
TOP_NEW_SQL = """
WITH summed AS MATERIALIZED ({sums}
), floor AS (
    SELECT min(new_downloads) AS floor
    FROM (SELECT new_downloads FROM summed ORDER BY new_downloads DESC LIMIT $limit)
), leaders AS (
    SELECT s.*, r.repo_id FROM summed s JOIN repos r USING (repo_key)
    WHERE s.new_downloads >= (SELECT floor FROM floor)
    ORDER BY s.new_downloads DESC, r.repo_id LIMIT $limit
), labelled AS ({labels}
), ranked AS (
    SELECT l.*, (SELECT count(*) FROM summed) AS repos, $end_run AS end_run FROM labelled l
)
SELECT k.repo_id, k.role, k.relation, k.depth, k.new_downloads,
       CASE WHEN m.repo_key IS NOT NULL THEN c.downloads_all_time END AS downloads_all_time,
       CASE WHEN m.repo_key IS NOT NULL THEN c.downloads_30d END AS downloads_30d,
       CASE WHEN m.repo_key IS NOT NULL THEN c.likes END AS likes, k.repos
FROM ranked k
ASOF LEFT JOIN (SELECT * FROM counts WHERE repo_key IN (SELECT repo_key FROM leaders)) c
     ON c.repo_key = k.repo_key AND c.run_id <= k.end_run
LEFT JOIN membership m ON m.family = $family AND m.platform = 'huggingface'
     AND m.repo_key = k.repo_key
     AND k.end_run BETWEEN m.first_run AND m.last_run
ORDER BY k.new_downloads DESC, k.repo_id
"""
LABELS_FROM_SUMS = "SELECT * FROM leaders"
LABELS_FROM_ROWS = """
    SELECT l.repo_key, l.new_downloads, l.repo_id, arg_max(t.role, t.run_id) AS role,
           arg_max(CASE WHEN t.role = 'official' THEN NULL ELSE t.relation END, t.run_id)
               AS relation,
           arg_max(t.depth, t.run_id) AS depth
    FROM leaders l JOIN rollup_repo_new t USING (repo_key)
    WHERE t.family = $family AND t.platform = 'huggingface'
      AND t.run_id BETWEEN $first_run AND $end_run
    GROUP BY ALL"""


def top_new_sql(way: str = "range") -> str:
    """The SQL of `top --by new_downloads` with one way to the sums (TOP_SUMS): "range"
    reads the range's rows and is right for any range; "all" only for the whole history,
    "since" only for a range ending at the last day-run."""
    labels = LABELS_FROM_ROWS if way == "range" else LABELS_FROM_SUMS
    return TOP_NEW_SQL.format(sums=TOP_SUMS[way], labels=labels)


def top_new_way(con: duckdb.DuckDBPyConnection, family: str, first: int | None, end: int) -> str:
    """The cheapest right way to the sums over day-runs [first, end]: rows are read in
    proportion to the range, or to what precedes it when it ends at the last day-run."""
    if first is None:  # no day-run in the range: no rows
        return "range"
    before, inside, last = con.execute(
        """SELECT count(*) FILTER (WHERE run_id < ?),
                  count(*) FILTER (WHERE run_id BETWEEN ? AND ?), max(run_id)
           FROM rollup_repo_runs WHERE family = ? AND platform = 'huggingface'""",
        [first, first, end, family],
    ).fetchall()[0]
    if end == last and before == 0:
        return "all"
    if end == last and before < inside:
        return "since"
    return "range"


def top(
    con: duckdb.DuckDBPyConnection,
    family: str,
    by: str = "downloads_all_time",
    since: date | None = None,
    until: date | None = None,
    limit: int = 10,
) -> dict[str, Any]:
    """A family's repos ranked by one metric, with each one's share of the family figure.

    `downloads_all_time`, `downloads_30d` and `likes` rank the members of the day-run in
    force at `until` (members_daily), against the family's figure in family_daily that
    day. `new_downloads` ranks every repo by its new downloads over the day-runs of
    [since, until] (member_deltas), against the family's new_downloads over them.
    """
    if by not in TOP_METRICS:
        raise UsageError(f"cannot rank by {by!r}; use one of {', '.join(TOP_METRICS)}")
    if limit < 1:
        raise UsageError(f"--limit must be at least 1, not {limit}")
    if since is not None and by != "new_downloads":
        raise UsageError(
            f"--since applies to --by new_downloads only; {by} is ranked at one date, "
            "pick it with --until"
        )
    run = day_run(con, family, until)
    result: dict[str, Any] = {
        "family": family,
        "by": by,
        "since": None,
        "until": None,
        "counted_from": None,
        "family_total": None,
        "repos": 0,
        "rows": [],
    }
    if run is None:
        return result
    if by == "new_downloads":
        bounds = con.execute(
            """SELECT min(date), max(date), CAST(sum(new_downloads) AS BIGINT), min(run_id)
               FROM family_daily WHERE family = ? AND platform = 'huggingface'
                 AND date >= coalesce(?, date) AND date <= ?""",
            [family, since, run["date"]],
        ).fetchall()[0]
        total = bounds[2]
        params = {"family": family, "first_run": bounds[3], "end_run": run["run_id"]}
        sql = top_new_sql(top_new_way(con, family, bounds[3], run["run_id"]))
        given = {**params, "limit": limit}
        rows = _rows(con, sql, {k: v for k, v in given.items() if f"${k}" in sql})
        repos = rows[0].pop("repos") if rows else 0
        for row in rows[1:]:
            row.pop("repos")
        result["since"] = bounds[0].isoformat() if bounds[0] else None
        # a day-run's new downloads are those since the previous day-run
        before = con.execute(
            "SELECT max(date) FROM day_runs WHERE family = ? AND platform = 'huggingface' "
            "AND date < ?",
            [family, bounds[0]],
        ).fetchall()[0][0]
        result["counted_from"] = (before or bounds[0]).isoformat() if bounds[0] else None
    else:
        rows = _rows(
            con,
            """SELECT repo_id, role, relation, depth, downloads_all_time, downloads_30d, likes
               FROM members_daily WHERE family = ? AND run_id = ?""",
            [family, run["run_id"]],
        )
        total = con.execute(
            f"SELECT {by} FROM family_daily WHERE family = ? AND run_id = ?",
            [family, run["run_id"]],
        ).fetchall()[0][0]
        repos = len(rows)
    rows.sort(key=lambda r: (-(r[by] or 0), r["repo_id"]))
    result.update(until=run["date"].isoformat(), family_total=total, repos=repos)
    for rank, row in enumerate(rows[:limit], start=1):
        value = row[by]
        share = round(value / total, 6) if total and value is not None else None
        result["rows"].append({"rank": rank, **row, "share": share})
    return result
