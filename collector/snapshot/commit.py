"""Committing a run to the warehouse: the one write path of every source.

A run is one family's reading of one source at one time. `commit` writes its run row,
the repos, their changed counters, and the membership and lineage intervals in one
transaction, then brings the family's daily rollup up to date: either all of it is
there, or none of it. Own Hub snapshots, imported history and other platforms all land
here; `RunResult.source` names the source (a row of the `sources` table), which fixes
the platform: repos, membership and the rollup are kept per platform.

The members table given to `commit` has one row per member with the columns
`hub_id, repo_id, author, created_at, pipeline_tag, library_name, downloads_30d,
downloads_all_time, likes` (None keeps a counter's last stored value), `role`
('official' | 'derivative'), `relation`, `depth` and `parent_id` (the repo id of the
parent a derivative was reached through); the edges table has `child_id, parent_id,
relation`; renames (optional) `old_id, new_id, hub_id`. Runs of a family on a platform
are committed in time order: `commit` refuses one older than the last. For example, an
importer of one day of history:

    with warehouse.writer(db) as con:
        run = RunResult(None, "qwen", day, "complete", "import", source="modelpulse",
                        revision=sha, lineage_basis="base_models of the latest snapshot")
        commit(con, run, members, edges)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb
import pyarrow as pa

from collector.errors import UsageError
from collector.families import Family
from collector.snapshot import lineage
from collector.snapshot.stage import Stage
from collector.store import repo_totals, rollup

COUNTED = ("complete", "partial")  # statuses of runs that reports use
_NO_RENAMES = pa.table(
    {
        "old_id": pa.array([], pa.string()),
        "new_id": pa.array([], pa.string()),
        "hub_id": pa.array([], pa.string()),
    }
)


@dataclass
class RunResult:
    """What one family's snapshot did."""

    run_id: int | None
    family: str
    started_at: datetime
    status: str
    strategy: str
    repos_seen: int = 0
    members: int = 0
    official: int = 0
    derivatives: int = 0
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    rejected: int = 0
    stale: int = 0  # members not refreshed by a partial run, kept at their last value
    resumed: bool = False
    seconds: float = 0.0
    problems: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    source: str = "hub"  # a row of the `sources` table: hub | modelpulse | hubstats | modelscope
    revision: str | None = None  # the dataset revision an import was read from
    lineage_basis: str | None = None  # how an import decided membership


def platform_of(con: duckdb.DuckDBPyConnection, source: str) -> str:
    """The platform whose counters a source reads; an unknown source is a usage error."""
    row = con.execute("SELECT platform FROM sources WHERE source = ?", [source]).fetchall()
    if not row:
        known = [r[0] for r in con.execute("SELECT source FROM sources ORDER BY 1").fetchall()]
        raise UsageError(f"unknown source {source!r}; known sources: {', '.join(known)}")
    return str(row[0][0])


def last_started(
    con: duckdb.DuckDBPyConnection, family: str, platform: str = "huggingface"
) -> datetime:
    """The time of the family's last counted run on a platform (datetime.min if none)."""
    row = con.execute(
        """SELECT max(r.started_at) FROM runs r JOIN sources s USING (source)
           WHERE r.family = ? AND s.platform = ? AND list_contains(?, r.status)""",
        [family, platform, list(COUNTED)],
    ).fetchall()
    return row[0][0] or datetime.min


def check_clock(
    con: duckdb.DuckDBPyConnection,
    family: str,
    started_at: datetime,
    platform: str = "huggingface",
) -> None:
    """Refuse a run older than the family's last counted run on the platform: history
    only moves forward (run ids order a family's runs in time)."""
    last = last_started(con, family, platform)
    if last != datetime.min and started_at < last:
        raise UsageError(
            f"snapshot time {started_at:%Y-%m-%dT%H:%M:%S} is before the last snapshot of "
            f"{family} ({last:%Y-%m-%dT%H:%M:%S}); history only moves forward"
        )


def previous_members(
    con: duckdb.DuckDBPyConnection, family: str, platform: str = "huggingface"
) -> list[tuple[str, str | None]]:
    """(repo_id, hub_id) of the members at the family's latest counted run on a platform."""
    rows = con.execute(
        """
        SELECT r.repo_id, r.hub_id FROM membership m JOIN repos r USING (repo_key)
        WHERE m.family = $family AND m.platform = $platform AND m.last_run = (
            SELECT max(run_id) FROM runs JOIN sources USING (source)
            WHERE family = $family AND platform = $platform AND list_contains($counted, status))
        """,
        {"family": family, "platform": platform, "counted": list(COUNTED)},
    ).fetchall()
    return [(str(r[0]), r[1]) for r in rows]


def committed(con: duckdb.DuckDBPyConnection, stage_id: str, family: str) -> RunResult | None:
    """The run of `family` already committed from this stage, if any (a stage that
    serves several families records its id on each of their runs)."""
    cur = con.execute(
        """SELECT run_id, family, started_at, status, strategy, repos_seen, members, requests,
                  retries, rate_limited, rejected, stale, error, source, revision, lineage_basis
           FROM runs WHERE stage_id = ? AND list_contains(?, status) AND family = ?""",
        [stage_id, list(COUNTED), family],
    )
    names = [d[0] for d in cur.description]
    row = cur.fetchall()
    if not row:
        return None
    run = dict(zip(names, row[0], strict=True))
    official = con.execute(
        "SELECT count(*) FROM membership WHERE family = ? AND ? BETWEEN first_run AND last_run "
        "AND role = 'official' AND platform = ?",
        [family, run["run_id"], platform_of(con, run["source"])],
    ).fetchall()[0][0]
    return RunResult(**run, official=official, derivatives=run["members"] - official, resumed=True)


def insert_run(con: duckdb.DuckDBPyConnection, r: RunResult, stage_id: str | None = None) -> int:
    """Record a run row alone (a failed run: nothing else is written); its run_id."""
    platform_of(con, r.source)  # refuse an unknown source before writing
    row = con.execute(
        """
        INSERT INTO runs (family, started_at, finished_at, status, strategy, repos_seen,
                          members, requests, retries, rejected, error, rate_limited,
                          problems, stage_id, source, revision, lineage_basis)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING run_id
        """,
        [
            r.family,
            r.started_at,
            datetime.now(UTC).replace(tzinfo=None),
            r.status,
            r.strategy,
            r.repos_seen,
            r.members,
            r.requests,
            r.retries,
            r.rejected,
            r.error,
            r.rate_limited,
            json.dumps(r.problems, sort_keys=True) if r.problems else None,
            stage_id,
            r.source,
            r.revision,
            r.lineage_basis,
        ],
    ).fetchall()
    return int(row[0][0])


def commit(
    con: duckdb.DuckDBPyConnection,
    result: RunResult,
    members: pa.Table,
    edges: pa.Table,
    renames: pa.Table | None = None,
    departures: pa.Table | None = None,
    unresolved: pa.Table | None = None,
    stage_id: str | None = None,
) -> None:
    """Write `members` and their `edges` (module docstring) as one run of
    `result.family` from `result.source`, in one transaction; sets result.run_id and the
    member counts. `result.status` is 'complete' or 'partial' (a partial run keeps the
    previous run's members it did not see, at their last counters). A run older than the
    family's last counted run on the platform is refused (UsageError): runs of a family
    and platform are committed in time order."""
    platform = platform_of(con, result.source)
    check_clock(con, result.family, result.started_at, platform)
    con.register("snap", members)
    con.register("snap_edges", edges)
    con.register("renames", renames if renames is not None else _NO_RENAMES)
    try:
        con.execute("BEGIN TRANSACTION")
        try:
            _write(con, result.family, platform, result, stage_id)
            _write_lookups(con, result.run_id, platform, departures, unresolved)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        con.unregister("snap")
        con.unregister("snap_edges")
        con.unregister("renames")


def _write_lookups(
    con: duckdb.DuckDBPyConnection,
    run_id: int | None,
    platform: str,
    departures: pa.Table | None,
    unresolved: pa.Table | None,
) -> None:
    """What the run's lookups found: why members departed (`departures`: repo_id, reason)
    and the base_model parents the Hub could not resolve (`unresolved`: parent_id,
    children)."""
    if departures is not None and departures.num_rows:
        con.register("gone", departures)
        try:
            con.execute(
                """INSERT INTO departures
                   SELECT DISTINCT ?, r.repo_key, g.reason FROM gone g
                   JOIN repos r ON r.repo_id = g.repo_id AND r.platform = ?""",
                [run_id, platform],
            )
        finally:
            con.unregister("gone")
    if unresolved is not None and unresolved.num_rows:
        con.register("dangling", unresolved)
        try:
            con.execute(
                "INSERT INTO unresolved_parents SELECT ?, parent_id, children FROM dangling",
                [run_id],
            )
        finally:
            con.unregister("dangling")


def _write(
    con: duckdb.DuckDBPyConnection,
    family: str,
    platform: str,
    result: RunResult,
    stage_id: str | None,
) -> None:
    stats = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE role = 'official') FROM snap"
    ).fetchall()
    result.members, result.official = int(stats[0][0]), int(stats[0][1])
    result.derivatives = result.members - result.official
    run_id = insert_run(con, result, stage_id)
    result.run_id = run_id
    prev = con.execute(
        """SELECT max(run_id) FROM runs JOIN sources USING (source)
           WHERE family = ? AND platform = ? AND list_contains(?, status) AND run_id < ?""",
        [family, platform, list(COUNTED), run_id],
    ).fetchall()
    prev_run = prev[0][0]
    params = {"run": run_id}
    # 1. Repos of the platform: match by the Hub's _id, else by id (when either side
    # lacks an _id).
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE snap_keys AS
        WITH known AS (SELECT * FROM repos WHERE platform = $platform),
        by_rename AS (
            SELECT s.repo_id, max(r.repo_key) AS repo_key
            FROM snap s JOIN renames n ON n.new_id = s.repo_id
            JOIN known r ON r.repo_id = n.old_id
            GROUP BY s.repo_id
        ), by_hub AS (
            SELECT repo_id, min(repo_key) AS repo_key FROM (
                SELECT s.repo_id, r.repo_key FROM snap s JOIN known r ON r.hub_id = s.hub_id
                UNION ALL
                SELECT repo_id, repo_key FROM by_rename
            ) GROUP BY repo_id
        ), by_id AS (
            SELECT s.repo_id, max(r.repo_key) AS repo_key
            FROM snap s JOIN known r ON r.repo_id = s.repo_id
            WHERE (s.hub_id IS NULL OR r.hub_id IS NULL)
              AND s.repo_id NOT IN (SELECT repo_id FROM by_hub)
            GROUP BY s.repo_id
        )
        SELECT s.*, coalesce(h.repo_key, i.repo_key) AS repo_key
        FROM snap s LEFT JOIN by_hub h USING (repo_id) LEFT JOIN by_id i USING (repo_id)
        """,
        {"platform": platform},
    )
    con.execute("UPDATE snap_keys SET repo_key = nextval('repo_keys') WHERE repo_key IS NULL")
    con.execute(
        """
        INSERT INTO repos (repo_key, hub_id, repo_id, author, created_at, pipeline_tag,
                           library_name, first_seen_run, last_seen_run, platform)
        SELECT repo_key, hub_id, repo_id, author, created_at, pipeline_tag, library_name,
               $run, $run, $platform
        FROM snap_keys WHERE repo_key NOT IN (SELECT repo_key FROM repos)
        """,
        {**params, "platform": platform},
    )
    con.execute(
        """
        UPDATE repos SET repo_id = s.repo_id,
                         hub_id = coalesce(s.hub_id, repos.hub_id),
                         author = coalesce(s.author, repos.author),
                         created_at = coalesce(s.created_at, repos.created_at),
                         pipeline_tag = coalesce(s.pipeline_tag, repos.pipeline_tag),
                         library_name = coalesce(s.library_name, repos.library_name),
                         last_seen_run = $run
        FROM snap_keys s WHERE repos.repo_key = s.repo_key
        """,
        params,
    )
    con.execute(
        """
        INSERT INTO repo_names
        SELECT repo_key, repo_id, $run FROM snap_keys s
        WHERE NOT EXISTS (SELECT 1 FROM repo_names n
                          WHERE n.repo_key = s.repo_key AND n.repo_id = s.repo_id)
        """,
        params,
    )
    # 2. Counters, only where they changed; a missing field keeps its last stored value.
    con.execute(
        """
        INSERT INTO counts
        WITH latest AS (
            SELECT c.* FROM counts c SEMI JOIN snap_keys s ON s.repo_key = c.repo_key
            QUALIFY row_number() OVER (PARTITION BY c.repo_key ORDER BY c.run_id DESC) = 1
        ), new AS (
            SELECT s.repo_key,
                   coalesce(s.downloads_30d, l.downloads_30d) AS downloads_30d,
                   coalesce(s.downloads_all_time, l.downloads_all_time) AS downloads_all_time,
                   coalesce(s.likes, l.likes) AS likes,
                   l.repo_key IS NULL AS first,
                   l.downloads_30d AS o30, l.downloads_all_time AS oall, l.likes AS olikes
            FROM snap_keys s LEFT JOIN latest l ON l.repo_key = s.repo_key
        )
        SELECT repo_key, $run, downloads_30d, downloads_all_time, likes FROM new
        WHERE first OR downloads_30d IS DISTINCT FROM o30
           OR downloads_all_time IS DISTINCT FROM oall OR likes IS DISTINCT FROM olikes
        """,
        params,
    )
    # 3. Membership intervals: extend the ones that ran up to the previous run unchanged.
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE snap_members AS
        SELECT s.repo_key, s.role,
               CASE WHEN s.role = 'derivative' THEN coalesce(s.relation, 'unspecified') END
                   AS relation,
               s.depth, p.repo_key AS parent_key
        FROM snap_keys s LEFT JOIN snap_keys p ON lower(p.repo_id) = lower(s.parent_id)
        """
    )
    if result.status == "partial" and prev_run is not None:
        _carry_stale(con, family, platform, result, run_id, prev_run)
    _extend_intervals(
        con,
        "membership",
        ["repo_key"],
        ["role", "relation", "depth", "parent_key"],
        "snap_members",
        family,
        platform,
        run_id,
        prev_run,
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE snap_member_edges AS
        SELECT DISTINCT k.repo_key AS child_key, e.parent_id, e.relation
        FROM snap_edges e JOIN snap_keys k ON k.repo_id = e.child_id
        """
    )
    if result.stale:
        con.execute(
            """
            INSERT INTO snap_member_edges
            SELECT e.child_key, e.parent_id, e.relation FROM edges e
            JOIN stale s ON s.repo_key = e.child_key AND s.run_id = $run
            WHERE e.family = $family AND e.platform = $platform AND e.last_run = $prev
            """,
            {"run": run_id, "family": family, "platform": platform, "prev": prev_run},
        )
    _extend_intervals(
        con,
        "edges",
        ["child_key", "parent_id", "relation"],
        [],
        "snap_member_edges",
        family,
        platform,
        run_id,
        prev_run,
    )
    # 4. The daily rollup that reports read (collector/store/rollup.py).
    rollup.refresh(con, family, platform)
    repo_totals.refresh(con, family, platform)


def _carry_stale(
    con: duckdb.DuckDBPyConnection,
    family: str,
    platform: str,
    result: RunResult,
    run_id: int,
    prev_run: int,
) -> None:
    """Keep the previous run's members that a partial run did not see (their listing may
    have failed): they stay members with their last counters, recorded in `stale`."""
    con.execute(
        """
        INSERT INTO stale (run_id, repo_key)
        SELECT $run, m.repo_key FROM membership m
        WHERE m.family = $family AND m.platform = $platform AND m.last_run = $prev
          AND m.repo_key NOT IN (SELECT repo_key FROM snap_members)
        """,
        {"run": run_id, "family": family, "platform": platform, "prev": prev_run},
    )
    con.execute(
        """
        INSERT INTO snap_members
        SELECT m.repo_key, m.role, m.relation, m.depth, m.parent_key FROM membership m
        JOIN stale s ON s.repo_key = m.repo_key AND s.run_id = $run
        WHERE m.family = $family AND m.platform = $platform AND m.last_run = $prev
        """,
        {"run": run_id, "family": family, "platform": platform, "prev": prev_run},
    )
    row = con.execute(
        """SELECT count(*), count(*) FILTER (WHERE m.role = 'official')
           FROM stale s JOIN membership m ON m.repo_key = s.repo_key
           WHERE s.run_id = $run AND m.family = $family AND m.platform = $platform
             AND m.last_run = $prev""",
        {"run": run_id, "family": family, "platform": platform, "prev": prev_run},
    ).fetchall()
    result.stale = int(row[0][0])
    result.members += result.stale
    result.official += int(row[0][1])
    result.derivatives = result.members - result.official
    con.execute(
        "UPDATE runs SET members = ?, stale = ? WHERE run_id = ?",
        [result.members, result.stale, run_id],
    )


def _extend_intervals(
    con: duckdb.DuckDBPyConnection,
    table: str,
    keys: list[str],
    attrs: list[str],
    source: str,
    family: str,
    platform: str,
    run_id: int,
    prev_run: int | None,
) -> None:
    """Record this run's rows of `source` as intervals [first_run, last_run] in `table`.

    A row equal (keys and attributes) to an interval that ended at the family's previous
    complete run extends it; any other row starts a new interval.
    """
    cols = keys + attrs
    same = " AND ".join(f"t.{c} IS NOT DISTINCT FROM s.{c}" for c in cols)
    col_list = ", ".join(cols)
    if prev_run is not None:
        con.execute(
            f"""
            UPDATE {table} t SET last_run = $run
            FROM {source} s
            WHERE t.family = $family AND t.platform = $platform AND t.last_run = $prev
              AND {same}
            """,
            {"run": run_id, "prev": prev_run, "family": family, "platform": platform},
        )
    con.execute(
        f"""
        INSERT INTO {table} (family, platform, {col_list}, first_run, last_run)
        SELECT $family, $platform, {col_list}, $run, $run FROM {source} s
        WHERE NOT EXISTS (
            SELECT 1 FROM {table} t
            WHERE t.family = $family AND t.last_run = $run AND {same}
        )
        """,
        {"run": run_id, "family": family, "platform": platform},
    )


def commit_stage(
    con: duckdb.DuckDBPyConnection,
    stage: Stage,
    family: Family,
    result: RunResult,
    stage_id: str | None = None,
    computed: tuple[pa.Table, pa.Table] | None = None,
) -> None:
    """`commit` a finished stage as one run of `family` (its members and their edges as
    `computed` when already taken from the stage)."""
    if computed is None:
        computed = lineage.members(stage, family)
    commit(
        con,
        result,
        computed[0],
        computed[1],
        stage.renames_table(),
        stage.departures_table(),
        stage.unresolved_table(),
        stage_id,
    )
