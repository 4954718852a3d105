"""Taking a snapshot: discover a family's repos on the Hub, then commit them atomically.

A snapshot writes one run row, the repos, their changed counters, and the membership and
lineage intervals, in one transaction: either all of it is there, or none of it.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb
import pyarrow as pa

from collector.dates import now_utc
from collector.errors import CollectorError, UsageError
from collector.families import Family
from collector.snapshot.crawl import failed_listings, load_problems, saved_stats
from collector.snapshot.discovery import (
    Discovery,
    Estimate,
    HubDiscovery,
    Progress,
    get_strategy,
    no_progress,
)
from collector.snapshot.plan import Plan, make_plan, official_family, read_history
from collector.snapshot.resume import discard, open_stage, stage_path
from collector.snapshot.stage import Stage
from collector.sources.hub import HubClient
from collector.sources.items import Problems, parse_item
from collector.store import repo_totals, rollup, warehouse

# A whole-Hub crawl is staged in `<warehouse>.stage/_hub.duckdb` (no family name starts
# with "_"), made for the whole Hub rather than for a family: any families can use it.
HUB_CRAWL = Family(name="_hub", authors=(), derivatives=False, strategy="hub")
# DuckDB's memory for a whole-Hub stage (millions of repos: the rest spills to its file),
# and for committing its families' members; see bench/results.md for the measurements.
CRAWL_MEMORY_LIMIT = "128MB"
COMMIT_MEMORY_LIMIT = "128MB"


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


def take_snapshot(
    families: list[Family],
    *,
    db: str | os.PathLike[str] | None = None,
    client: HubClient | None = None,
    now: datetime | None = None,
    progress: Progress = no_progress,
    resume: bool = False,
    strategy: str | None = None,
    official_only: bool = False,
) -> list[RunResult]:
    """Snapshot each family into the warehouse; one run per family.

    With `resume`, a family's unfinished snapshot (see resume.py) is continued instead of
    started over. `strategy` overrides the families file (see plan.py); the families
    found by crawling the whole Hub share one crawl. `official_only` snapshots the
    official repos alone, as the families `<name>:official`.
    """
    client = client or HubClient()
    now = now or now_utc()
    with warehouse.writer(db) as con:  # checks the warehouse before spending requests
        for family in families:
            _check_clock(con, official_family(family).name if official_only else family.name, now)
        history = read_history(con)
    plan = make_plan(families, client, history, strategy=strategy, official_only=official_only)
    progress("plan", plan=plan)
    by_name: dict[str, RunResult] = {}
    if plan.hub is not None:
        for r in _snapshot_hub(plan.hub_families(), db, client, now, progress, resume, plan):
            by_name[r.family] = r
    for choice in plan.choices:
        if choice.strategy != "hub":
            by_name[choice.family.name] = _snapshot_family(
                choice.family,
                db,
                client,
                now,
                progress,
                resume,
                strategy=get_strategy(choice.strategy),
                estimate=choice.estimate,
            )
    return [by_name[c.family.name] for c in plan.choices]


def _snapshot_family(
    family: Family,
    db: str | os.PathLike[str] | None,
    client: HubClient,
    now: datetime,
    progress: Progress,
    resume: bool,
    strategy: Discovery | None = None,
    estimate: Estimate | None = None,
) -> RunResult:
    strategy = strategy or get_strategy(family.strategy if family.strategy != "auto" else "lineage")
    path = stage_path(db, family.name)
    with warehouse.writer(db) as con:  # checks the warehouse before spending requests
        opened, discarded = open_stage(path, family, strategy.name, now, resume)
        if discarded:
            progress("discarded", family=family.name, why=discarded)
        try:
            done = _committed(con, opened.stage_id)
            if done is None:
                if opened.resumed and _last_started(con, family.name) > opened.started_at:
                    opened.stage.close()  # a later snapshot was taken since: start over
                    discard(path)
                    opened, _ = open_stage(path, family, strategy.name, now, False)
                _check_clock(con, family.name, opened.started_at)
                has_history = _last_started(con, family.name) != datetime.min
                previous = _previous_members(con, family.name)
        except BaseException:
            opened.stage.close()
            raise
    if done is not None:  # committed just before an interruption: only the stage was left
        opened.stage.close()
        discard(path)
        progress("done", result=done)
        return done
    started_at = opened.started_at
    estimate = estimate or strategy.estimate([family], client)
    progress(
        "start",
        family=family.name,
        strategy=strategy.name,
        estimate=estimate,
        resumed=opened.resumed,
    )
    before = _counts(client)
    clock = time.monotonic()
    stage = opened.stage
    problems = load_problems(stage)
    result = RunResult(
        None, family.name, started_at, "complete", strategy.name, resumed=opened.resumed
    )
    try:
        after_crawl = None
        try:
            strategy.collect([family], client, stage, problems, progress)
            after_crawl = _counts(client)
            _follow_departures(stage, client, previous, problems)
        except CollectorError as exc:
            result.status, result.error = "failed", str(exc)
        _partial_or_failed(result, stage, has_history)
        _count_requests(result, stage, client, before, after_crawl)
        result.problems = dict(problems.counts)
        result.rejected = problems.total
        stage.finish()
        result.repos_seen = stage.repo_count
        with warehouse.writer(db) as con:
            _check_clock(con, family.name, started_at)
            if result.status == "failed":
                result.run_id = _insert_run(con, result, opened.stage_id)
            else:
                commit_stage(con, stage, family, result, opened.stage_id)
    finally:
        stage.close()
    if result.status != "failed":
        discard(path)  # a failed snapshot keeps its stage for --resume
    result.seconds = time.monotonic() - clock
    progress("done", result=result)
    if result.status == "failed":
        raise SnapshotFailed(result)
    return result


def _counts(client: HubClient) -> tuple[int, int, int]:
    return client.stats.requests, client.stats.retries, client.stats.rate_limited


def _count_requests(
    result: RunResult,
    stage: Stage,
    client: HubClient,
    before: tuple[int, int, int],
    after_crawl: tuple[int, int, int] | None,
) -> None:
    """Requests, retries and 429s of the snapshot: every attempt's crawl, then this
    attempt's lookups."""
    saved = saved_stats(stage)
    if saved is not None:
        now_counts = _counts(client)
        since = after_crawl or now_counts
        saved_counts = (saved["requests"], saved["retries"], saved["rate_limited"])
        (result.requests, result.retries, result.rate_limited) = (
            s + n - a for s, n, a in zip(saved_counts, now_counts, since, strict=True)
        )
    else:
        (result.requests, result.retries, result.rate_limited) = (
            n - b for n, b in zip(_counts(client), before, strict=True)
        )


def _snapshot_hub(
    families: list[Family],
    db: str | os.PathLike[str] | None,
    client: HubClient,
    now: datetime,
    progress: Progress,
    resume: bool,
    plan: Plan,
) -> list[RunResult]:
    """One crawl of the whole Hub, then one run per family, each committed on its own.

    The crawl is staged and resumable like a lineage crawl (a page that fails after every
    retry fails the crawl, and `--resume` goes on from there). Every run records the
    crawl's requests. The members are computed and the stage closed before the warehouse
    is opened: the write lock is held only for the commits, and the stage's memory is
    given back first.
    """
    assert plan.hub is not None
    path = stage_path(db, HUB_CRAWL.name)
    with warehouse.writer(db) as con:
        opened, discarded = open_stage(path, HUB_CRAWL, "hub", now, resume)
        if discarded:
            progress("discarded", family="whole-Hub crawl", why=discarded)
        try:
            done = {
                f.name: r
                for f in families
                if (r := _committed(con, opened.stage_id, f.name)) is not None
            }
            todo = [f for f in families if f.name not in done]
            if opened.resumed and any(_last_started(con, f.name) > opened.started_at for f in todo):
                opened.stage.close()  # a later snapshot was taken since: start over
                discard(path)
                opened, _ = open_stage(path, HUB_CRAWL, "hub", now, False)
            for f in todo:
                _check_clock(con, f.name, opened.started_at)
            previous = list(dict.fromkeys(m for f in todo for m in _previous_members(con, f.name)))
        except BaseException:
            opened.stage.close()
            raise
    results = dict(done)
    if not todo:  # every run committed just before an interruption
        opened.stage.close()
        discard(path)
        for r in done.values():
            progress("done", result=r)
        return [results[f.name] for f in families]
    stage = opened.stage
    stage.db.execute(f"SET memory_limit = '{CRAWL_MEMORY_LIMIT}'")
    progress(
        "start",
        family=", ".join(f.name for f in todo),
        strategy="hub",
        estimate=plan.hub,
        resumed=opened.resumed,
    )
    before = _counts(client)
    clock = time.monotonic()
    problems = load_problems(stage)
    error: str | None = None
    computed: list[tuple[Family, RunResult, tuple[pa.Table, pa.Table] | None]] = []
    try:
        after_crawl = None
        try:
            HubDiscovery(plan.hub_models).collect(todo, client, stage, problems, progress)
            after_crawl = _counts(client)
            _follow_departures(stage, client, previous, problems)
        except CollectorError as exc:
            error = str(exc)
        progress("staging", repos=stage.rows)
        stage.finish()
        for family in todo:
            result = RunResult(
                None, family.name, opened.started_at, "complete", "hub", resumed=opened.resumed
            )
            _count_requests(result, stage, client, before, after_crawl)
            result.problems = dict(problems.counts)
            result.rejected = problems.total
            result.repos_seen = stage.repo_count
            if error is not None:
                result.status, result.error = "failed", error
                computed.append((family, result, None))
            else:
                members = stage.members(family).to_arrow_table()
                computed.append((family, result, (members, stage.member_edges().to_arrow_table())))
        stage.close()
        with warehouse.writer(db) as con:
            con.execute(f"SET memory_limit = '{COMMIT_MEMORY_LIMIT}'")
            for family, result, tables in computed:
                _check_clock(con, family.name, opened.started_at)
                if tables is None:
                    result.run_id = _insert_run(con, result, opened.stage_id)
                else:
                    commit_stage(con, stage, family, result, opened.stage_id, tables)
                results[family.name] = result
    finally:
        stage.close()
    if error is None:
        discard(path)  # a failed crawl keeps its stage for --resume
    for _, result, _ in computed:
        result.seconds = time.monotonic() - clock
        progress("done", result=result)
    if error is not None:
        raise SnapshotFailed(computed[0][1])
    return [results[f.name] for f in families]


def _partial_or_failed(result: RunResult, stage: Stage, has_history: bool) -> None:
    """A crawl that completed with failed listings is partial, or failed when no earlier
    run can vouch for the members it could not refresh (see `_carry_stale`)."""
    failures = failed_listings(stage)
    if not failures or result.status != "complete":
        return
    kind, target, error = failures[0]
    result.error = (
        f"{len(failures)} listing{'s' if len(failures) > 1 else ''} failed after "
        f"retries (first: {kind} {target}: {error})"
    )
    result.status = "partial" if has_history else "failed"
    if not has_history:
        result.error += "; no earlier snapshot to keep their members from"


class SnapshotFailed(CollectorError):
    """A snapshot could not fetch its family; the failure is recorded as a failed run."""

    def __init__(self, result: RunResult) -> None:
        super().__init__(
            f"snapshot of {result.family} failed: {result.error} (recorded as run "
            f"{result.run_id}; `collector snapshot --resume` continues it)"
        )
        self.result = result


COUNTED = ("complete", "partial")  # statuses of runs that reports use


def _last_started(con: duckdb.DuckDBPyConnection, family: str) -> datetime:
    row = con.execute(
        "SELECT max(started_at) FROM runs WHERE family = ? AND list_contains(?, status)",
        [family, list(COUNTED)],
    ).fetchall()
    return row[0][0] or datetime.min


def _committed(
    con: duckdb.DuckDBPyConnection, stage_id: str, family: str | None = None
) -> RunResult | None:
    """The run already committed from this stage (of `family`: a whole-Hub stage serves
    several), if any."""
    row = con.execute(
        """SELECT run_id, family, started_at, status, strategy, repos_seen, members, requests,
                  retries, rate_limited, rejected, stale, error
           FROM runs WHERE stage_id = ? AND list_contains(?, status)
             AND (CAST(? AS VARCHAR) IS NULL OR family = ?)""",
        [stage_id, list(COUNTED), family, family],
    ).fetchall()
    if not row:
        return None
    (
        run_id,
        family,
        started_at,
        status,
        strategy,
        seen,
        members,
        requests,
        retries,
        limited,
        rejected,
        stale,
        error,
    ) = row[0]
    official = con.execute(
        "SELECT count(*) FROM membership WHERE family = ? AND ? BETWEEN first_run AND last_run "
        "AND role = 'official'",
        [family, run_id],
    ).fetchall()[0][0]
    return RunResult(
        run_id,
        family,
        started_at,
        status,
        strategy,
        repos_seen=seen,
        members=members,
        official=official,
        derivatives=members - official,
        requests=requests,
        retries=retries,
        rate_limited=limited,
        rejected=rejected,
        stale=stale,
        error=error,
        resumed=True,
    )


def _check_clock(con: duckdb.DuckDBPyConnection, family: str, started_at: datetime) -> None:
    last = _last_started(con, family)
    if last != datetime.min and started_at < last:
        raise UsageError(
            f"snapshot time {started_at:%Y-%m-%dT%H:%M:%S} is before the last snapshot of "
            f"{family} ({last:%Y-%m-%dT%H:%M:%S}); history only moves forward"
        )


def _previous_members(con: duckdb.DuckDBPyConnection, family: str) -> list[tuple[str, str | None]]:
    """(repo_id, hub_id) of the members at the family's latest complete or partial run."""
    rows = con.execute(
        """
        SELECT r.repo_id, r.hub_id FROM membership m JOIN repos r USING (repo_key)
        WHERE m.family = ? AND m.last_run = (
            SELECT max(run_id) FROM runs WHERE family = ? AND list_contains(?, status))
        """,
        [family, family, list(COUNTED)],
    ).fetchall()
    return [(str(r[0]), r[1]) for r in rows]


def _follow_departures(
    stage: Stage, client: HubClient, previous: list[tuple[str, str | None]], problems: Problems
) -> None:
    """Look up each previous member this snapshot did not see, by its old id.

    The Hub answers an old id of a renamed repo with a redirect to the new one, so a rename
    is linked to the same repo even when listings carry no `_id` (one request per departure).
    """
    for repo_id, hub_id in stage.unseen(previous):
        item = client.model(repo_id)
        record = parse_item(item, problems) if item is not None else None
        if record is not None and record.repo_id.lower() != repo_id.lower():
            stage.add_rename(repo_id, record.repo_id, record.hub_id or hub_id)


def _insert_run(con: duckdb.DuckDBPyConnection, r: RunResult, stage_id: str | None) -> int:
    row = con.execute(
        """
        INSERT INTO runs (family, started_at, finished_at, status, strategy, repos_seen,
                          members, requests, retries, rejected, error, rate_limited,
                          problems, stage_id)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING run_id
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
        ],
    ).fetchall()
    return int(row[0][0])


def commit_stage(
    con: duckdb.DuckDBPyConnection,
    stage: Stage,
    family: Family,
    result: RunResult,
    stage_id: str | None = None,
    computed: tuple[pa.Table, pa.Table] | None = None,
) -> None:
    """Write a finished stage as one run of `family`, in one transaction (its members and
    their edges as `computed` when already taken from the stage)."""
    if computed is None:
        computed = (stage.members(family).to_arrow_table(), stage.member_edges().to_arrow_table())
    members, member_edges = computed
    con.register("snap", members)
    con.register("snap_edges", member_edges)
    con.register("renames", stage.renames_table())
    try:
        con.execute("BEGIN TRANSACTION")
        try:
            _write(con, family.name, result, stage_id)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        con.unregister("snap")
        con.unregister("snap_edges")
        con.unregister("renames")


def _write(
    con: duckdb.DuckDBPyConnection, family: str, result: RunResult, stage_id: str | None
) -> None:
    stats = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE role = 'official') FROM snap"
    ).fetchall()
    result.members, result.official = int(stats[0][0]), int(stats[0][1])
    result.derivatives = result.members - result.official
    run_id = _insert_run(con, result, stage_id)
    result.run_id = run_id
    prev = con.execute(
        "SELECT max(run_id) FROM runs WHERE family = ? AND list_contains(?, status) AND run_id < ?",
        [family, list(COUNTED), run_id],
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
    if result.status == "partial" and prev_run is not None:
        _carry_stale(con, family, result, run_id, prev_run)
    _extend_intervals(
        con,
        "membership",
        ["repo_key"],
        ["role", "relation", "depth", "parent_key"],
        "snap_members",
        family,
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
            WHERE e.family = $family AND e.last_run = $prev
            """,
            {"run": run_id, "family": family, "prev": prev_run},
        )
    _extend_intervals(
        con,
        "edges",
        ["child_key", "parent_id", "relation"],
        [],
        "snap_member_edges",
        family,
        run_id,
        prev_run,
    )
    # 4. The daily rollup that reports read (collector/store/rollup.py).
    rollup.refresh(con, family)
    repo_totals.refresh(con, family)


def _carry_stale(
    con: duckdb.DuckDBPyConnection, family: str, result: RunResult, run_id: int, prev_run: int
) -> None:
    """Keep the previous run's members that a partial run did not see (their listing may
    have failed): they stay members with their last counters, recorded in `stale`."""
    con.execute(
        """
        INSERT INTO stale (run_id, repo_key)
        SELECT $run, m.repo_key FROM membership m
        WHERE m.family = $family AND m.last_run = $prev
          AND m.repo_key NOT IN (SELECT repo_key FROM snap_members)
        """,
        {"run": run_id, "family": family, "prev": prev_run},
    )
    con.execute(
        """
        INSERT INTO snap_members
        SELECT m.repo_key, m.role, m.relation, m.depth, m.parent_key FROM membership m
        JOIN stale s ON s.repo_key = m.repo_key AND s.run_id = $run
        WHERE m.family = $family AND m.last_run = $prev
        """,
        {"run": run_id, "family": family, "prev": prev_run},
    )
    row = con.execute(
        """SELECT count(*), count(*) FILTER (WHERE m.role = 'official')
           FROM stale s JOIN membership m ON m.repo_key = s.repo_key
           WHERE s.run_id = $run AND m.family = $family AND m.last_run = $prev""",
        {"run": run_id, "family": family, "prev": prev_run},
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
