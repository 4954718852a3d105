"""Taking a ModelScope snapshot: a family's ModelScope org(s) as one run of source `modelscope`.

Same guarantees as a Hub snapshot, through the same pieces: the listing is staged page by
page (resumable, see crawl.py), the run is committed on the one commit path
(snapshot/commit.py) in one transaction, its repos, membership and daily rollup kept on
the `modelscope` platform, apart from the Hub's (the same id on both is two repos). A
previous member missing from the listing is looked up by id: a model still there is kept,
one that is gone departs (its last all-time downloads stay in the cumulative total).
"""

from __future__ import annotations

import os
import time
from datetime import datetime

from collector.errors import CollectorError
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
from collector.snapshot.crawl import load_problems, saved_stats
from collector.snapshot.discovery import Progress, no_progress
from collector.snapshot.modelscope import ModelScopeDiscovery, modelscope_family
from collector.snapshot.resume import discard, open_stage, stage_path
from collector.snapshot.run import SnapshotFailed, now_utc
from collector.snapshot.stage import Stage
from collector.sources.items import Problems
from collector.sources.modelscope import ModelScopeClient, parse_model
from collector.store import warehouse

SOURCE = "modelscope"
PLATFORM = "modelscope"


def take_modelscope_snapshot(
    families: list[Family],
    *,
    db: str | os.PathLike[str] | None = None,
    client: ModelScopeClient | None = None,
    now: datetime | None = None,
    progress: Progress = no_progress,
    resume: bool = False,
) -> list[RunResult]:
    """Snapshot each family's ModelScope org(s) into the warehouse; one run per family."""
    client = client or ModelScopeClient()
    now = now or now_utc()
    with warehouse.writer(db) as con:  # checks the warehouse before spending requests
        for family in families:
            check_clock(con, family.name, now, PLATFORM)
    return [_snapshot(modelscope_family(f), db, client, now, progress, resume) for f in families]


def _snapshot(
    family: Family,
    db: str | os.PathLike[str] | None,
    client: ModelScopeClient,
    now: datetime,
    progress: Progress,
    resume: bool,
) -> RunResult:
    discovery = ModelScopeDiscovery()
    # its own stage file: a Hub snapshot of the family may be unfinished beside it
    path = stage_path(db, f"{family.name}@{SOURCE}")
    with warehouse.writer(db) as con:
        opened, discarded = open_stage(path, family, discovery.name, now, resume)
        if discarded:
            progress("discarded", family=family.name, why=discarded)
        try:
            done = committed(con, opened.stage_id, family.name)
            if done is None:
                if opened.resumed and last_started(con, family.name, PLATFORM) > opened.started_at:
                    opened.stage.close()  # a later snapshot was taken since: start over
                    discard(path)
                    opened, _ = open_stage(path, family, discovery.name, now, False)
                check_clock(con, family.name, opened.started_at, PLATFORM)
                previous = previous_members(con, family.name, PLATFORM)
        except BaseException:
            opened.stage.close()
            raise
    if done is not None:  # committed just before an interruption: only the stage was left
        opened.stage.close()
        discard(path)
        progress("done", result=done)
        return done
    progress(
        "start",
        family=family.name,
        strategy=discovery.name,
        estimate=discovery.estimate([family], client),
        resumed=opened.resumed,
    )
    before = _stats(client)
    clock = time.monotonic()
    stage = opened.stage
    problems = load_problems(stage)
    result = RunResult(
        None,
        family.name,
        opened.started_at,
        "complete",
        discovery.name,
        resumed=opened.resumed,
        source=SOURCE,
    )
    try:
        after_crawl = None
        try:
            discovery.collect([family], client, stage, problems, progress)
            after_crawl = _stats(client)
            _look_up_missing(stage, client, previous, problems)
        except CollectorError as exc:
            result.status, result.error = "failed", str(exc)
        _count(result, stage, client, before, after_crawl)
        result.problems = dict(problems.counts)
        result.rejected = problems.total
        stage.finish()
        result.repos_seen = stage.repo_count
        with warehouse.writer(db) as con:
            check_clock(con, family.name, opened.started_at, PLATFORM)
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


def _look_up_missing(
    stage: Stage,
    client: ModelScopeClient,
    previous: list[tuple[str, str | None]],
    problems: Problems,
) -> None:
    """A previous member the listing did not show (listings sorted by downloads can shift
    while paging) is fetched by id; a model that is gone is left out: it departs."""
    found = []
    for repo_id, _ in stage.unseen(previous):
        item = client.model(repo_id)
        record = parse_model(item, problems) if item is not None else None
        if record is not None and record.repo_id.lower() == repo_id.lower():
            found.append(record)
    stage.add(found)


def _stats(client: ModelScopeClient) -> tuple[int, int, int]:
    return client.stats.requests, client.stats.retries, client.stats.rate_limited


def _count(
    result: RunResult,
    stage: Stage,
    client: ModelScopeClient,
    before: tuple[int, int, int],
    after_crawl: tuple[int, int, int] | None,
) -> None:
    """Requests, retries and 429s: every attempt's crawl (saved in the stage with its
    pages), then this attempt's lookups."""
    saved = saved_stats(stage)
    now_counts = _stats(client)
    if saved is None:
        spent = [n - b for n, b in zip(now_counts, before, strict=True)]
    else:
        since = after_crawl or now_counts
        crawl = (saved["requests"], saved["retries"], saved["rate_limited"])
        spent = [c + n - a for c, n, a in zip(crawl, now_counts, since, strict=True)]
    result.requests, result.retries, result.rate_limited = spent
