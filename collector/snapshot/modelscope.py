"""ModelScope snapshots: a family's official org(s) on ModelScope, as runs of source `modelscope`.

ModelScope has no lineage, so a ModelScope snapshot holds the family's official org(s)
only (`modelscope_owners` in the families file, default: its Hub authors, with the same
`name_pattern`). It goes through the Hub snapshot's own path (run._snapshot_family): the
listing is staged page by page with the next page's URL (resumable, crawl.py), and the run
is committed on the one commit path (commit.py) in one transaction, its repos, membership
and rollup on the `modelscope` platform, apart from the Hub's (the same id on both is two
repos). A previous member missing from the listing is looked up by id: a model still
there is kept, one that is gone departs (its last downloads stay in the cumulative total).
"""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import datetime
from typing import Any

from collector.families import Family
from collector.snapshot.commit import RunResult, check_clock
from collector.snapshot.crawl import Crawl
from collector.snapshot.discovery import Estimate, Progress, no_progress
from collector.snapshot.run import _snapshot_family, now_utc
from collector.snapshot.stage import Stage
from collector.sources.items import Problems, RepoRecord
from collector.sources.modelscope import ModelScopeClient, ModelScopeError, parse_model
from collector.store import warehouse

SOURCE = "modelscope"
PLATFORM = "modelscope"


def modelscope_family(family: Family) -> Family:
    """The family as ModelScope sees it: its ModelScope owners, official repos only."""
    return replace(family, authors=family.modelscope_owners or family.authors, derivatives=False)


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
    return [
        _snapshot_family(
            modelscope_family(f),
            db,
            client,
            now,
            progress,
            resume,
            strategy=ModelScopeDiscovery(),
            source=SOURCE,
            platform=PLATFORM,
        )
        for f in families
    ]


class ModelScopeDiscovery:
    """Every model of the family's ModelScope owners, page by page (50 a page)."""

    name = "modelscope"

    def estimate(self, families: list[Family], client: ModelScopeClient) -> Estimate:
        owners = sum(len(modelscope_family(f).authors) for f in families)
        return Estimate(owners, exact=False, why="one listing per ModelScope owner, 50 a page")

    def collect(
        self,
        families: list[Family],
        client: ModelScopeClient,
        stage: Stage,
        problems: Problems,
        progress: Progress,
    ) -> None:
        crawl = Crawl(stage, client.stats, problems)
        if not crawl.started:
            owners = [a for f in families for a in modelscope_family(f).authors]
            crawl.begin([("author", a) for a in owners])
        try:
            while (task := crawl.next_task()) is not None:
                try:
                    for page in client.pages(task.target, start_url=task.next_url):
                        crawl.save_page(task, _parse(page.items, problems), page.next_url, [])
                        progress("page", repos=crawl.fetched, requests=client.stats.requests)
                except ModelScopeError as exc:
                    crawl.fail(task, str(exc))
                    raise
        finally:
            crawl.flush()

    @staticmethod
    def follow_departures(
        stage: Stage,
        client: ModelScopeClient,
        previous: list[tuple[str, str | None]],
        problems: Problems,
    ) -> None:
        """Fetch by id each previous member the listing did not show (a listing sorted by
        downloads can shift while paging); a model that is gone is left out: it departs."""
        found = []
        for repo_id, _ in stage.unseen(previous):
            item = client.model(repo_id)
            record = parse_model(item, problems) if item is not None else None
            if record is not None and record.repo_id.lower() == repo_id.lower():
                found.append(record)
        stage.add(found)


def _parse(items: list[Any], problems: Problems) -> list[RepoRecord]:
    return [r for r in (parse_model(item, problems) for item in items) if r is not None]
