"""Finding a family's official models on ModelScope: one listing per owner, into a Stage.

ModelScope has no lineage, so a ModelScope snapshot holds the family's official org(s)
only (`modelscope_owners` in the families file, default: its Hub authors, with the same
`name_pattern`). The crawl is the Hub's resumable Crawl (crawl.py): each page is committed
to the stage with the next page's URL, so a killed snapshot resumes where it stopped and
a page seen twice is stored once.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from collector.families import Family
from collector.snapshot.crawl import Crawl
from collector.snapshot.discovery import Estimate, Progress
from collector.snapshot.stage import Stage
from collector.sources.items import Problems, RepoRecord
from collector.sources.modelscope import ModelScopeClient, ModelScopeError, parse_model


def modelscope_family(family: Family) -> Family:
    """The family as ModelScope sees it: its ModelScope owners, official repos only."""
    return replace(family, authors=family.modelscope_owners or family.authors, derivatives=False)


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


def _parse(items: list[Any], problems: Problems) -> list[RepoRecord]:
    return [r for r in (parse_model(item, problems) for item in items) if r is not None]
