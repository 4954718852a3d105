"""Finding a family's repos on the Hub. Each strategy fills a Stage; membership is then
computed the same way for all of them (see stage.py).

- `lineage`: the official repos by author, then children with `filter=base_model:<parent>`,
  breadth first, each parent queried once per snapshot. Cheap for small families.
- `hub`: one listing of every model on the Hub (`sort=createdAt`, 1,000 per page), each
  page appended to the Stage as it arrives. It costs ceil(models / 1000) requests whatever
  the families' size, and one crawl serves every family of the snapshot.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from collector.families import Family
from collector.hub import HubClient
from collector.items import Problems, RepoRecord, parse_item
from collector.stage import Stage

Progress = Callable[..., None]


def no_progress(event: str, **data: Any) -> None:
    """The default progress callback: report nothing."""


@dataclass
class Estimate:
    """Requests a snapshot is expected to need; `exact` when it is known, else a floor."""

    requests: int
    exact: bool
    why: str


class Discovery(Protocol):
    """A way of filling a Stage with every repo the families need."""

    name: str

    def estimate(self, families: list[Family], client: HubClient) -> Estimate: ...

    def collect(
        self,
        families: list[Family],
        client: HubClient,
        stage: Stage,
        problems: Problems,
        progress: Progress,
    ) -> None: ...


def _add_page(
    stage: Stage, items: list[Any], problems: Problems
) -> list[RepoRecord]:
    records = [r for r in (parse_item(item, problems) for item in items) if r is not None]
    stage.add(records)
    return records


class LineageDiscovery:
    """Official repos by author, then derivatives parent by parent, breadth first."""

    name = "lineage"

    def estimate(self, families: list[Family], client: HubClient) -> Estimate:
        floor = sum(len(f.authors) + len(f.repos) for f in families)
        derived = any(f.derivatives for f in families)
        why = "one listing per author and one lookup per listed repo"
        if derived:
            why += ", then one listing per parent found"
        return Estimate(floor, exact=not derived, why=why)

    def collect(
        self,
        families: list[Family],
        client: HubClient,
        stage: Stage,
        problems: Problems,
        progress: Progress,
    ) -> None:
        for family in families:
            self._collect_one(family, client, stage, problems, progress)

    def _collect_one(
        self,
        family: Family,
        client: HubClient,
        stage: Stage,
        problems: Problems,
        progress: Progress,
    ) -> None:
        seen: set[str] = set()
        frontier: list[str] = []

        def take(records: list[RepoRecord], official_only: bool) -> None:
            for r in records:
                key = r.repo_id.lower()
                if key in seen:
                    continue
                if official_only and not family.is_official(r.repo_id, r.author):
                    continue
                seen.add(key)
                frontier.append(r.repo_id)
            progress("page", repos=len(seen), requests=client.stats.requests,
                     queued=len(frontier))

        for author in family.authors:
            for page in client.pages(client.listing_params(author=author)):
                take(_add_page(stage, page.items, problems), official_only=True)
        for repo_id in family.repos:
            item = client.model(repo_id)
            if item is None:
                problems.add("listed repo not found", repo_id)
                continue
            take(_add_page(stage, [item], problems), official_only=False)

        queried: set[str] = set()
        depth = 0
        while frontier and family.derivatives and (
            family.max_depth is None or depth < family.max_depth
        ):
            parents, frontier = frontier, []
            progress("level", depth=depth + 1, parents=len(parents),
                     requests=client.stats.requests)
            for parent in parents:
                if parent.lower() in queried:
                    continue
                queried.add(parent.lower())
                params = client.listing_params(filter=f"base_model:{parent}")
                for page in client.pages(params):
                    take(_add_page(stage, page.items, problems), official_only=False)
            depth += 1


class HubDiscovery:
    """Every model on the Hub, page by page, straight into the Stage (never all in memory).

    `sort=createdAt` keeps the order stable while paging (new repos go to the front, which
    was already read), and the Stage keeps one row per repo if a page repeats one.
    """

    name = "hub"

    def __init__(self, expected_models: int | None = None) -> None:
        self.expected_models = expected_models

    def estimate(self, families: list[Family], client: HubClient) -> Estimate:
        total = self.expected_models or DEFAULT_HUB_MODELS
        return Estimate(
            -(-total // client.page_size),
            exact=False,
            why=f"{total:,} models at {client.page_size:,} per page",
        )

    def collect(
        self,
        families: list[Family],
        client: HubClient,
        stage: Stage,
        problems: Problems,
        progress: Progress,
    ) -> None:
        pages = 0
        for page in client.pages(client.listing_params()):
            _add_page(stage, page.items, problems)
            pages += 1
            progress("page", repos=stage.rows, requests=client.stats.requests, pages=pages,
                     expected=self.expected_models)


# Models on the whole Hub when no earlier crawl says better (about 2.5M in early 2026).
DEFAULT_HUB_MODELS = 2_500_000

STRATEGIES: dict[str, Callable[[], Discovery]] = {
    "lineage": LineageDiscovery,
    "hub": HubDiscovery,
}


def get_strategy(name: str) -> Discovery:
    """A discovery strategy by name."""
    return STRATEGIES[name]()
