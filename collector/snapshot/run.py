"""Taking a snapshot: plan the crawls, run each, and commit one run per family.

Every strategy takes the same path (`run_crawl`): one crawl, staged and resumable, serves
one or more families (a lineage crawl serves its family; the whole-Hub crawl serves
every family that uses it). The crawl's stage is opened, checked against runs already
committed from it, crawled, followed up for departed members, and closed with each
family's members computed; only then is the warehouse opened, for the commits
(snapshot/commit.py): the write lock is held only for them.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import pyarrow as pa

from collector.dates import now_utc
from collector.errors import CollectorError
from collector.families import Family
from collector.snapshot import lineage
from collector.snapshot.commit import (
    RunResult,
    check_clock,
    commit,
    committed,
    insert_run,
    last_started,
    platform_of,
    previous_members,
)
from collector.snapshot.crawl import failed_listings, load_problems, saved_stats
from collector.snapshot.discovery import (
    Discovery,
    Estimate,
    HubDiscovery,
    LineageDiscovery,
    Progress,
    former_names,
    no_progress,
)
from collector.snapshot.plan import make_plan, official_family, read_history, record_page_times
from collector.snapshot.resume import discard, fingerprint, open_stage, stage_path
from collector.snapshot.stage import Stage
from collector.sources.hub import HubClient
from collector.sources.items import Problems, parse_item
from collector.store import warehouse

HUB_STAGE = "_hub"  # the stage of the whole-Hub crawl (no family name starts with "_")
# DuckDB's memory for a whole-Hub stage (millions of repos: the rest spills to its file),
# and for committing its families' members; see bench/results.md for the measurements.
CRAWL_MEMORY_LIMIT = "128MB"
COMMIT_MEMORY_LIMIT = "128MB"


@dataclass
class CrawlJob:
    """One crawl and the families it serves."""

    families: list[Family]
    discovery: Discovery
    estimate: Estimate
    stage_name: str  # its stage file, see resume.py
    fingerprint: str  # what its stage must have been made for to be resumed
    label: str  # how progress names it
    large: bool = False  # a whole-Hub stage: bounded memory
    source: str = "hub"  # what its runs record (a row of the `sources` table)


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
    """Snapshot each family into the warehouse; one run per family (source `hub`).

    With `resume`, an unfinished crawl (see resume.py) is continued instead of started
    over. `strategy` overrides the families file (see plan.py); the families found by
    crawling the whole Hub share one crawl. `official_only` snapshots the official repos
    alone, as the families `<name>:official`. `time_budget` (seconds: a schedule's
    timeout) bounds the lineage crawls that `auto` may choose. Raises SnapshotFailed (after recording the
    failed runs) when a crawl fails; families of later crawls are then not snapshotted.
    """
    client = client or HubClient()
    now = now or now_utc()
    with warehouse.writer(db) as con:  # checks the warehouse before spending requests
        for family in families:
            check_clock(con, official_family(family).name if official_only else family.name, now)
        history = read_history(con)
        formers = {f.name: former_names(con, f.name) for f in families}
    plan = make_plan(
        families,
        client,
        history,
        strategy=strategy,
        official_only=official_only,
        time_budget=time_budget,
    )
    progress("plan", plan=plan)
    crawls = []
    if plan.hub is not None:
        crawls.append(
            CrawlJob(
                plan.hub_families(),
                HubDiscovery(plan.hub_models),
                plan.hub,
                HUB_STAGE,
                fingerprint(None, "hub"),
                "whole-Hub crawl",
                large=True,
            )
        )
    for choice in plan.choices:
        if choice.strategy != "hub":
            f = choice.family
            crawls.append(
                CrawlJob(
                    [f],
                    # every choice but the whole-Hub crawl is a lineage crawl
                    LineageDiscovery(formers.get(f.name)),
                    choice.estimate,
                    f.name,
                    fingerprint(f, choice.strategy),
                    f.name,
                )
            )
    by_name: dict[str, RunResult] = {}
    for c in crawls:
        for r in run_crawl(c, db, client, now, progress, resume):
            by_name[r.family] = r
    return [by_name[c.family.name] for c in plan.choices]


def run_crawl(
    job: CrawlJob,
    db: str | os.PathLike[str] | None,
    client: Any,
    now: datetime,
    progress: Progress,
    resume: bool,
) -> list[RunResult]:
    """One crawl, then one run per family it serves, in the order of `job.families`.

    A listing that fails after every retry makes the runs partial (lineage: other
    listings go on) or fails the crawl (the whole Hub: its families' membership would be
    incomplete); a failed crawl is recorded as failed runs and keeps its stage for
    `--resume`. Every run records the crawl's requests and `job.source`.
    """
    path = stage_path(db, job.stage_name)
    with warehouse.writer(db) as con:  # checks the warehouse before spending requests
        opened, discarded = open_stage(path, job.fingerprint, now, resume)
        if discarded:
            progress("discarded", family=job.label, why=discarded)
        try:
            platform = platform_of(con, job.source)
            done = {
                f.name: r
                for f in job.families
                if (r := committed(con, opened.stage_id, f.name)) is not None
            }
            todo = [f for f in job.families if f.name not in done]
            if opened.resumed and any(
                last_started(con, f.name, platform) > opened.started_at for f in todo
            ):
                opened.stage.close()  # a later snapshot was taken since: start over
                discard(path)
                opened, _ = open_stage(path, job.fingerprint, now, False)
            for f in todo:
                check_clock(con, f.name, opened.started_at, platform)
            history = {f.name: last_started(con, f.name, platform) != datetime.min for f in todo}
            previous = list(
                dict.fromkeys(m for f in todo for m in previous_members(con, f.name, platform))
            )
        except BaseException:
            opened.stage.close()
            raise
    results = dict(done)
    if not todo:  # every run committed just before an interruption: only the stage was left
        opened.stage.close()
        discard(path)
        for r in done.values():
            progress("done", result=r)
        return [results[f.name] for f in job.families]
    stage = opened.stage
    if job.large:
        stage.db.execute(f"SET memory_limit = '{CRAWL_MEMORY_LIMIT}'")
    progress(
        "start",
        family=", ".join(f.name for f in todo),
        strategy=job.discovery.name,
        estimate=job.estimate,
        resumed=opened.resumed,
    )
    before = _counts(client)
    timed = _page_times(client)
    clock = time.monotonic()
    problems = load_problems(stage)
    error: str | None = None
    computed: list[tuple[RunResult, tuple[pa.Table, ...] | None]] = []
    try:
        after_crawl = None
        try:
            job.discovery.collect(todo, client, stage, problems, progress)
            after_crawl = _counts(client)
            timed = _page_times(client, since=timed)
            if job.source == "hub":
                _follow_departures(stage, client, previous, problems)
            else:  # another platform looks its departures up with its own client
                cast(Any, job.discovery).follow_departures(stage, client, previous, problems)
        except CollectorError as exc:
            error = str(exc)
        progress("staging", repos=stage.rows)
        stage.finish()
        for family in todo:
            result = RunResult(
                None,
                family.name,
                opened.started_at,
                "complete" if error is None else "failed",
                job.discovery.name,
                resumed=opened.resumed,
                error=error,
                source=job.source,
            )
            _partial_or_failed(result, stage, history[family.name])
            _count_requests(result, stage, client, before, after_crawl)
            result.problems = dict(problems.counts)
            result.rejected = problems.total
            result.repos_seen = stage.repo_count
            tables = None
            if result.status != "failed":
                tables = (
                    *lineage.members(stage, family),
                    stage.renames_table(),
                    stage.departures_table(),
                    stage.unresolved_table(),
                )
            computed.append((result, tables))
        stage.close()  # its memory back before the commits
        with warehouse.writer(db) as con:
            if job.large:
                con.execute(f"SET memory_limit = '{COMMIT_MEMORY_LIMIT}'")
            for result, tables in computed:
                if tables is None:
                    check_clock(con, result.family, result.started_at, platform)
                    result.run_id = insert_run(con, result, opened.stage_id)
                else:
                    commit(con, result, *tables, stage_id=opened.stage_id)
                results[result.family] = result
            if job.large and error is None:  # the next plan's time per page
                record_page_times(con, *_means(timed))
    finally:
        stage.close()
    failed = [r for r, _ in computed if r.status == "failed"]
    if not failed:
        discard(path)  # a failed crawl keeps its stage for --resume
    for result, _ in computed:
        result.seconds = time.monotonic() - clock
        progress("done", result=result)
    if failed:
        raise SnapshotFailed(failed[0])
    return [results[f.name] for f in job.families]


def _counts(client: HubClient) -> tuple[int, int, int]:
    return client.stats.requests, client.stats.retries, client.stats.rate_limited


def _page_times(
    client: HubClient, since: tuple[float, int, float, int] | None = None
) -> tuple[float, int, float, int]:
    """The client's page latency and work totals (seconds, pages each), or those since
    `since`."""
    s = client.stats
    now = (s.page_seconds, s.pages_timed, s.work_seconds, s.pages_worked)
    if since is None:
        return now
    return (now[0] - since[0], now[1] - since[1], now[2] - since[2], now[3] - since[3])


def _means(times: tuple[float, int, float, int]) -> tuple[float | None, float | None]:
    """Mean latency and work per page of `_page_times` (None without a page)."""
    latency, pages, work, worked = times
    return (latency / pages if pages else None, work / worked if worked else None)


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


def _partial_or_failed(result: RunResult, stage: Stage, has_history: bool) -> None:
    """A crawl that completed with failed listings is partial, or failed when no earlier
    run can vouch for the members it could not refresh (commit.py keeps them, stale)."""
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
        if gone is not None:
            stage.add_departure(repo_id, gone)
        record = parse_item(item, problems) if item is not None else None
        if record is not None and record.repo_id.lower() != repo_id.lower():
            stage.add_rename(repo_id, record.repo_id, record.hub_id or hub_id)
