"""Taking a snapshot: discover a family's repos on the Hub, then commit them atomically.

A snapshot writes one run row, the repos, their changed counters, and the membership and
lineage intervals, in one transaction: either all of it is there, or none of it.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb

from collector import warehouse
from collector.discovery import Progress, get_strategy, no_progress
from collector.errors import CollectorError, UsageError
from collector.families import Family
from collector.hub import HubClient
from collector.items import Problems, parse_item
from collector.stage import Stage

NOW_ENV = "COLLECTOR_NOW"


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
    seconds: float = 0.0
    problems: dict[str, int] = field(default_factory=dict)
    error: str | None = None


def now_utc() -> datetime:
    """The snapshot clock: $COLLECTOR_NOW (ISO 8601, for tests and backfills) or the time."""
    fixed = os.environ.get(NOW_ENV)
    if fixed:
        try:
            value = datetime.fromisoformat(fixed.replace("Z", "+00:00"))
        except ValueError:
            raise UsageError(f"{NOW_ENV}={fixed!r} is not an ISO 8601 date-time") from None
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.replace(tzinfo=None)
    return datetime.now(UTC).replace(tzinfo=None)


def take_snapshot(
    families: list[Family],
    *,
    db: str | os.PathLike[str] | None = None,
    client: HubClient | None = None,
    now: datetime | None = None,
    progress: Progress = no_progress,
) -> list[RunResult]:
    """Snapshot each family into the warehouse; one run per family."""
    client = client or HubClient()
    results = []
    for family in families:
        results.append(_snapshot_family(family, db, client, now or now_utc(), progress))
    return results


def _snapshot_family(
    family: Family,
    db: str | os.PathLike[str] | None,
    client: HubClient,
    started_at: datetime,
    progress: Progress,
) -> RunResult:
    strategy = get_strategy(family.strategy if family.strategy != "auto" else "lineage")
    with warehouse.writer(db) as con:  # checks the warehouse before spending requests
        _check_clock(con, family.name, started_at)
        previous = _previous_members(con, family.name)
    estimate = strategy.estimate([family], client)
    progress("start", family=family.name, strategy=strategy.name, estimate=estimate)
    before = (client.stats.requests, client.stats.retries, client.stats.rate_limited)
    clock = time.monotonic()
    stage = Stage()
    problems = Problems()
    result = RunResult(None, family.name, started_at, "complete", strategy.name)
    try:
        try:
            strategy.collect([family], client, stage, problems, progress)
            _follow_departures(stage, client, previous, problems)
        except CollectorError as exc:
            result.status, result.error = "failed", str(exc)
        result.requests = client.stats.requests - before[0]
        result.retries = client.stats.retries - before[1]
        result.rate_limited = client.stats.rate_limited - before[2]
        result.problems = dict(problems.counts)
        result.rejected = problems.total
        stage.finish()
        result.repos_seen = stage.repo_count
        with warehouse.writer(db) as con:
            _check_clock(con, family.name, started_at)
            if result.status == "failed":
                result.run_id = _record_failed(con, result)
            else:
                commit_stage(con, stage, family, result)
    finally:
        stage.close()
    result.seconds = time.monotonic() - clock
    progress("done", result=result)
    if result.status == "failed":
        raise SnapshotFailed(result)
    return result


class SnapshotFailed(CollectorError):
    """A snapshot could not fetch its family; the failure is recorded as a failed run."""

    def __init__(self, result: RunResult) -> None:
        super().__init__(f"snapshot of {result.family} failed: {result.error}")
        self.result = result


def _check_clock(con: duckdb.DuckDBPyConnection, family: str, started_at: datetime) -> None:
    row = con.execute(
        "SELECT max(started_at) FROM runs WHERE family = ? AND status = 'complete'", [family]
    ).fetchall()
    last = row[0][0]
    if last is not None and started_at < last:
        raise UsageError(
            f"snapshot time {started_at:%Y-%m-%dT%H:%M:%S} is before the last snapshot of "
            f"{family} ({last:%Y-%m-%dT%H:%M:%S}); history only moves forward"
        )


def _previous_members(con: duckdb.DuckDBPyConnection, family: str) -> list[tuple[str, str | None]]:
    """(repo_id, hub_id) of the members at the family's latest complete run."""
    rows = con.execute(
        """
        SELECT r.repo_id, r.hub_id FROM membership m JOIN repos r USING (repo_key)
        WHERE m.family = ? AND m.last_run = (
            SELECT max(run_id) FROM runs WHERE family = ? AND status = 'complete')
        """,
        [family, family],
    ).fetchall()
    return [(str(r[0]), r[1]) for r in rows]


def _follow_departures(
    stage: Stage, client: HubClient, previous: list[tuple[str, str | None]], problems: Problems
) -> None:
    """Look up each previous member this snapshot did not see, by its old id.

    The Hub answers an old id of a renamed repo with a redirect to the new one, so a rename
    is linked to the same repo even when listings carry no `_id` (one request per departure).
    """
    seen_ids, seen_hub_ids = stage.seen()
    for repo_id, hub_id in previous:
        if repo_id.lower() in seen_ids or (hub_id is not None and hub_id in seen_hub_ids):
            continue
        item = client.model(repo_id)
        record = parse_item(item, problems) if item is not None else None
        if record is not None and record.repo_id.lower() != repo_id.lower():
            stage.add_rename(repo_id, record.repo_id, record.hub_id or hub_id)


def _insert_run(con: duckdb.DuckDBPyConnection, r: RunResult) -> int:
    row = con.execute(
        """
        INSERT INTO runs (family, started_at, finished_at, status, strategy, repos_seen,
                          members, requests, retries, rejected, error)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING run_id
        """,
        [r.family, r.started_at, datetime.now(UTC).replace(tzinfo=None), r.status, r.strategy,
         r.repos_seen, r.members, r.requests, r.retries, r.rejected, r.error],
    ).fetchall()
    return int(row[0][0])


def _record_failed(con: duckdb.DuckDBPyConnection, result: RunResult) -> int:
    return _insert_run(con, result)


def commit_stage(
    con: duckdb.DuckDBPyConnection, stage: Stage, family: Family, result: RunResult
) -> None:
    """Write a finished stage as one run of `family`, in one transaction."""
    members = stage.members(family).to_arrow_table()
    member_edges = stage.member_edges().to_arrow_table()
    con.register("snap", members)
    con.register("snap_edges", member_edges)
    con.register("renames", stage.renames_table())
    try:
        con.execute("BEGIN TRANSACTION")
        try:
            _write(con, family.name, result)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        con.unregister("snap")
        con.unregister("snap_edges")
        con.unregister("renames")


def _write(con: duckdb.DuckDBPyConnection, family: str, result: RunResult) -> None:
    stats = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE role = 'official') FROM snap"
    ).fetchall()
    result.members, result.official = int(stats[0][0]), int(stats[0][1])
    result.derivatives = result.members - result.official
    run_id = _insert_run(con, result)
    result.run_id = run_id
    prev = con.execute(
        "SELECT max(run_id) FROM runs WHERE family = ? AND status = 'complete' AND run_id < ?",
        [family, run_id],
    ).fetchall()
    prev_run = prev[0][0]
    params = {"run": run_id}
    # 1. Repos: match by the Hub's _id, else by id (when either side lacks an _id).
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE snap_keys AS
        WITH by_rename AS (
            SELECT s.repo_id, max(r.repo_key) AS repo_key
            FROM snap s JOIN renames n ON n.new_id = s.repo_id
            JOIN repos r ON r.repo_id = n.old_id
            GROUP BY s.repo_id
        ), by_hub AS (
            SELECT repo_id, min(repo_key) AS repo_key FROM (
                SELECT s.repo_id, r.repo_key FROM snap s JOIN repos r ON r.hub_id = s.hub_id
                UNION ALL
                SELECT repo_id, repo_key FROM by_rename
            ) GROUP BY repo_id
        ), by_id AS (
            SELECT s.repo_id, max(r.repo_key) AS repo_key
            FROM snap s JOIN repos r ON r.repo_id = s.repo_id
            WHERE (s.hub_id IS NULL OR r.hub_id IS NULL)
              AND s.repo_id NOT IN (SELECT repo_id FROM by_hub)
            GROUP BY s.repo_id
        )
        SELECT s.*, coalesce(h.repo_key, i.repo_key) AS repo_key
        FROM snap s LEFT JOIN by_hub h USING (repo_id) LEFT JOIN by_id i USING (repo_id)
        """
    )
    con.execute("UPDATE snap_keys SET repo_key = nextval('repo_keys') WHERE repo_key IS NULL")
    con.execute(
        """
        INSERT INTO repos (repo_key, hub_id, repo_id, author, created_at, pipeline_tag,
                           library_name, first_seen_run, last_seen_run)
        SELECT repo_key, hub_id, repo_id, author, created_at, pipeline_tag, library_name,
               $run, $run
        FROM snap_keys WHERE repo_key NOT IN (SELECT repo_key FROM repos)
        """,
        params,
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
    _extend_intervals(
        con, "membership", ["repo_key"], ["role", "relation", "depth", "parent_key"],
        "snap_members", family, run_id, prev_run,
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE snap_member_edges AS
        SELECT DISTINCT k.repo_key AS child_key, e.parent_id, e.relation
        FROM snap_edges e JOIN snap_keys k ON k.repo_id = e.child_id
        """
    )
    _extend_intervals(
        con, "edges", ["child_key", "parent_id", "relation"], [],
        "snap_member_edges", family, run_id, prev_run,
    )


def _extend_intervals(
    con: duckdb.DuckDBPyConnection,
    table: str,
    keys: list[str],
    attrs: list[str],
    source: str,
    family: str,
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
            WHERE t.family = $family AND t.last_run = $prev AND {same}
            """,
            {"run": run_id, "prev": prev_run, "family": family},
        )
    con.execute(
        f"""
        INSERT INTO {table} (family, {col_list}, first_run, last_run)
        SELECT $family, {col_list}, $run, $run FROM {source} s
        WHERE NOT EXISTS (
            SELECT 1 FROM {table} t
            WHERE t.family = $family AND t.last_run = $run AND {same}
        )
        """,
        {"run": run_id, "family": family},
    )
