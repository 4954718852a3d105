"""Taking a snapshot: discover a family's repos on the Hub, then commit them atomically.

A snapshot writes one run row, the repos, their changed counters, and the membership and
lineage intervals, in one transaction: either all of it is there, or none of it.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from collector.errors import CollectorError, UsageError
from collector.families import Family
from collector.snapshot.commit import (
    RunResult,
    check_clock,
    commit_stage,
    committed,
    insert_run,
    last_started,
    previous_members,
)
from collector.snapshot.crawl import failed_listings, load_problems, saved_stats
from collector.snapshot.discovery import (
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
from collector.store import warehouse

NOW_ENV = "COLLECTOR_NOW"
# A whole-Hub crawl is staged in `<warehouse>.stage/_hub.duckdb` (no family name starts
# with "_"), made for the whole Hub rather than for a family: any families can use it.
HUB_CRAWL = Family(name="_hub", authors=(), derivatives=False, strategy="hub")
# DuckDB's memory for a whole-Hub stage (millions of repos: the rest spills to its file),
# and for committing its families' members; see bench/results.md for the measurements.
CRAWL_MEMORY_LIMIT = "128MB"
COMMIT_MEMORY_LIMIT = "128MB"


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
    resume: bool = False,
    strategy: str | None = None,
    official_only: bool = False,
    time_budget: float | None = None,
) -> list[RunResult]:
    """Snapshot each family into the warehouse; one run per family.

    With `resume`, a family's unfinished snapshot (see resume.py) is continued instead of
    started over. `strategy` overrides the families file (see plan.py); the families
    found by crawling the whole Hub share one crawl. `official_only` snapshots the
    official repos alone, as the families `<name>:official`. `time_budget` (seconds: a
    schedule's timeout) bounds the lineage crawls that `auto` may choose.
    """
    client = client or HubClient()
    now = now or now_utc()
    with warehouse.writer(db) as con:  # checks the warehouse before spending requests
        for family in families:
            check_clock(con, official_family(family).name if official_only else family.name, now)
        history = read_history(con)
    plan = make_plan(
        families,
        client,
        history,
        strategy=strategy,
        official_only=official_only,
        time_budget=time_budget,
    )
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
    client: Any,
    now: datetime,
    progress: Progress,
    resume: bool,
    strategy: Any = None,
    estimate: Estimate | None = None,
    source: str = "hub",
    platform: str = "huggingface",
) -> RunResult:
    """One family's snapshot from one source (`client` and `strategy` read it; a source
    other than the Hub has its own stage file and looks up departures with its client)."""
    strategy = strategy or get_strategy(family.strategy if family.strategy != "auto" else "lineage")
    path = stage_path(db, family.name if source == "hub" else f"{family.name}@{source}")
    with warehouse.writer(db) as con:  # checks the warehouse before spending requests
        opened, discarded = open_stage(path, family, strategy.name, now, resume)
        if discarded:
            progress("discarded", family=family.name, why=discarded)
        try:
            done = committed(con, opened.stage_id, family.name)
            if done is None:
                if opened.resumed and last_started(con, family.name, platform) > opened.started_at:
                    opened.stage.close()  # a later snapshot was taken since: start over
                    discard(path)
                    opened, _ = open_stage(path, family, strategy.name, now, False)
                check_clock(con, family.name, opened.started_at, platform)
                has_history = last_started(con, family.name, platform) != datetime.min
                previous = previous_members(con, family.name, platform)
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
        None,
        family.name,
        started_at,
        "complete",
        strategy.name,
        resumed=opened.resumed,
        source=source,
    )
    try:
        after_crawl = None
        try:
            strategy.collect([family], client, stage, problems, progress)
            after_crawl = _counts(client)
            if source == "hub":
                _follow_departures(stage, client, previous, problems)
            else:
                strategy.follow_departures(stage, client, previous, problems)
        except CollectorError as exc:
            result.status, result.error = "failed", str(exc)
        _partial_or_failed(result, stage, has_history)
        _count_requests(result, stage, client, before, after_crawl)
        result.problems = dict(problems.counts)
        result.rejected = problems.total
        stage.finish()
        result.repos_seen = stage.repo_count
        with warehouse.writer(db) as con:
            check_clock(con, family.name, started_at, platform)
            if result.status == "failed":
                result.run_id = insert_run(con, result, opened.stage_id)
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
                if (r := committed(con, opened.stage_id, f.name)) is not None
            }
            todo = [f for f in families if f.name not in done]
            if opened.resumed and any(last_started(con, f.name) > opened.started_at for f in todo):
                opened.stage.close()  # a later snapshot was taken since: start over
                discard(path)
                opened, _ = open_stage(path, HUB_CRAWL, "hub", now, False)
            for f in todo:
                check_clock(con, f.name, opened.started_at)
            previous = list(dict.fromkeys(m for f in todo for m in previous_members(con, f.name)))
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
                check_clock(con, family.name, opened.started_at)
                if tables is None:
                    result.run_id = insert_run(con, result, opened.stage_id)
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
            f"{result.run_id}; `collector snapshot` continues it)"
        )
        self.result = result


def _follow_departures(
    stage: Stage, client: HubClient, previous: list[tuple[str, str | None]], problems: Problems
) -> None:
    """Look up each previous member this snapshot did not see, by its old id.

    The Hub answers an old id of a renamed repo with a redirect to the new one, so a rename
    is linked to the same repo even when listings carry no `_id` (one request per departure).
    A repo that answers 403 (disabled) or 401/404 (gone) departs; a disabled one is counted.
    """
    for repo_id, hub_id in stage.unseen(previous):
        item, gone = client.lookup(repo_id)
        if gone == "disabled":
            problems.add("disabled repo", repo_id)
        record = parse_item(item, problems) if item is not None else None
        if record is not None and record.repo_id.lower() != repo_id.lower():
            stage.add_rename(repo_id, record.repo_id, record.hub_id or hub_id)
