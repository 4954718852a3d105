"""Finding a family's repos on the Hub. Each strategy fills a Stage; membership is then
computed the same way for all of them (see stage.py).

- `lineage`: the official repos by author, then children with `filter=base_model:<parent>`,
  breadth first, each parent queried once per snapshot. Cheap for small families.
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
            why += ", then one listing per parent found (known as the crawl goes)"
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


STRATEGIES: dict[str, Callable[[], Discovery]] = {"lineage": LineageDiscovery}


def get_strategy(name: str) -> Discovery:
    """A discovery strategy by name."""
    return STRATEGIES[name]()


def unlinked(
    family: Family, client: HubClient, member_ids: set[str], problems: Problems
) -> list[RepoRecord]:
    """Repos whose id contains the family's search name but that are not members.

    Many re-uploads carry no base_model tag, so they cannot be counted; this shows how large
    that untagged remainder is, without ever adding it to the family totals.
    """
    known = {m.lower() for m in member_ids}
    out: dict[str, RepoRecord] = {}
    for page in client.pages(client.listing_params(search=family.search)):
        for item in page.items:
            record = parse_item(item, problems)
            if record is not None and record.repo_id.lower() not in known:
                out[record.repo_id.lower()] = record
    return sorted(out.values(), key=lambda r: (-(r.downloads_all_time or 0), r.repo_id))
