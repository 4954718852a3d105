"""Finding a family's repos on the Hub. Each strategy fills a Stage; membership is then
computed the same way for all of them (see stage.py).

- `lineage`: the official repos by author, then children with `filter=base_model:<parent>`,
  breadth first, each parent queried once per snapshot. Cheap for small families.
- `hub`: one listing of every model on the Hub (`sort=createdAt`, 1,000 per page), pages
  committed to the stage as they come (resumable like a lineage crawl). It costs
  ceil(models / 1000) requests whatever the families' size, and one crawl serves every
  family of the snapshot.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import duckdb

from collector.errors import HubUnreachable
from collector.families import Family
from collector.snapshot.crawl import ROOT_KINDS, Crawl, Task
from collector.snapshot.stage import Stage
from collector.sources.hub import PAGE_SIZE, HubClient, HubError
from collector.sources.items import Problems, RepoRecord, parse_item

# What a snapshot reports while it runs, with the data each event carries:
#   plan      plan: Plan                  the strategies and estimates, before any crawl
#   discarded family: str, why: str       an unfinished crawl's stage was started over
#   start     family: str, strategy: str, estimate: Estimate, resumed: bool
#   page      requests: int, and pages/repos/queued: int (how far the crawl is)
#   failed    target: str, error: str     a listing failed after every retry
#   staging   repos: int                  membership is being computed over the stage
#   done      result: RunResult           a family's run is committed (or recorded failed)
ProgressEvent = Literal["plan", "discarded", "start", "page", "failed", "staging", "done"]


class Progress(Protocol):
    """A progress callback: `progress(event, **data)`; it must not raise on "done"."""

    def __call__(self, event: ProgressEvent, **data: Any) -> None: ...


def no_progress(event: ProgressEvent, **data: Any) -> None:
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


class LineageDiscovery:
    """Official repos by author, then derivatives parent by parent, breadth first.

    The crawl is resumable (see crawl.py): every page is committed to the stage with the
    listings it queues. A parent listing that still fails after the client's retries is
    recorded as failed and the crawl goes on (the snapshot becomes `partial`); a failing
    root listing (an author or a listed repo), an unreachable Hub, or
    `MAX_CONSECUTIVE_FAILURES` failed listings in a row stop it (the snapshot fails and
    can be resumed).
    """

    name = "lineage"
    MAX_CONSECUTIVE_FAILURES = 3

    def __init__(self, former: dict[str, list[str]] | None = None) -> None:
        """`former`: every id the warehouse saw each repo under (`former_names`). Children
        may still tag a parent by an old id, so each old id is listed too, and its
        children linked to the repo it now is."""
        self.former = former or {}

    def estimate(self, families: list[Family], client: HubClient) -> Estimate:
        floor = sum(len(f.authors) + len(f.repos) for f in families)
        derived = any(f.derivatives for f in families)
        why = "one listing per author and one lookup per listed repo"
        if derived:
            why += ", then one listing per member found (known as the crawl goes)"
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
        crawl = Crawl(stage, client.stats, problems)
        if not crawl.started:
            crawl.begin(
                [("author", a) for a in family.authors] + [("repo", r) for r in family.repos]
            )
        try:
            self._crawl(family, client, crawl, progress)
        finally:
            crawl.flush()

    def _crawl(self, family: Family, client: HubClient, crawl: Crawl, progress: Progress) -> None:
        def follows(depth: int) -> bool:
            return family.derivatives and (family.max_depth is None or depth < family.max_depth)

        failed_in_a_row = 0
        while (task := crawl.next_task()) is not None:
            try:
                self._run_task(task, family, client, crawl, follows, self.former)
            except HubError as exc:
                crawl.fail(task, str(exc))
                failed_in_a_row += 1
                if task.kind in ROOT_KINDS or failed_in_a_row >= self.MAX_CONSECUTIVE_FAILURES:
                    raise
                progress("failed", target=task.target, error=str(exc))
                continue
            except HubUnreachable as exc:
                crawl.fail(task, str(exc))
                raise
            failed_in_a_row = 0
            progress(
                "page", repos=crawl.fetched, requests=client.stats.requests, queued=crawl.queued
            )

    @staticmethod
    def _run_task(
        task: Task,
        family: Family,
        client: HubClient,
        crawl: Crawl,
        follows: Callable[[int], bool],
        former: dict[str, list[str]],
    ) -> None:
        if task.kind == "repo":
            item = client.model(task.target)
            if item is None:
                crawl.problems.add("listed repo not found", task.target)
                crawl.save_page(task, [], None, [])
                return
            records = _parse([item], crawl.problems)
            crawl.save_page(task, records, None, [(r.repo_id, 0) for r in records if follows(0)])
            return
        if task.kind == "author":
            params = client.listing_params(author=task.target)
        else:
            params = client.listing_params(filter=f"base_model:{task.target}")
        child_depth = 0 if task.kind == "author" else task.depth + 1
        for page in client.pages(params, start_url=task.next_url):
            records = _parse(page.items, crawl.problems)
            takes = [
                r
                for r in records
                if task.kind != "author" or family.is_official(r.repo_id, r.author)
            ]
            parents = [(r.repo_id, child_depth) for r in takes if follows(child_depth)]
            for r in takes if follows(child_depth) else []:
                # children tagging an old id of this repo are its children too
                known = (r.hub_id and former.get(r.hub_id)) or former.get(r.repo_id.lower(), [])
                for old_id in known:
                    if old_id.lower() != r.repo_id.lower():
                        crawl.stage.add_alias(old_id, r.repo_id)
                        parents.append((old_id, child_depth))
            crawl.save_page(task, records, page.next_url, parents)


def _parse(items: list[Any], problems: Problems) -> list[RepoRecord]:
    return [r for r in (parse_item(item, problems) for item in items) if r is not None]


class HubDiscovery:
    """Every model on the Hub, page by page into the stage (never all in memory).

    One crawl task, `hub`, whose next-page URL is committed with each batch of pages, so
    an interrupted crawl resumes where it stopped. Then the *dangling parents* (parents
    that base_model tags name but that no crawled repo is, under any letter case: mostly
    old ids of renamed repos) are looked up once each, most children first, up to
    `dangling_budget` lookups: the Hub's 307 names the current id, and the children are
    linked to it. Those not found, or past the budget, are counted as problems. `sort=createdAt` keeps the order stable
    while paging (new repos go to the front, already read), and the stage keeps one row
    per repo if a page repeats one. A page that still fails after the client's retries
    fails the crawl: without it the families' membership would be incomplete.
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
        crawl = Crawl(stage, client.stats, problems)
        if not crawl.started:
            crawl.begin([("hub", "*")])
        pages = 0
        try:
            while (task := crawl.next_task()) is not None:
                try:
                    for page in client.pages(
                        client.listing_params(), start_url=task.next_url, prefetch=True
                    ):
                        records = _parse(page.items, crawl.problems)
                        crawl.save_page(task, records, page.next_url, [])
                        pages += 1
                        progress(
                            "page",
                            repos=crawl.fetched,
                            requests=client.stats.requests,
                            pages=pages,
                            expected=self.expected_models,
                        )
                except (HubError, HubUnreachable) as exc:
                    crawl.fail(task, str(exc))
                    raise
            # between two flushes: the pages are in the stage, and the counters committed
            # last include the lookups
            crawl.flush()
            resolve_dangling(stage, client, crawl.problems, self.dangling_budget(pages))
        finally:
            crawl.flush()

    def dangling_budget(self, pages: int) -> int:
        """Lookups of dangling parents a crawl may spend: 2% of its pages, at least 50."""
        expected = -(-(self.expected_models or DEFAULT_HUB_MODELS) // PAGE_SIZE)
        return max(DANGLING_MIN, round(DANGLING_SHARE * max(pages, expected)))


DANGLING_SHARE = 0.02
DANGLING_MIN = 50


def resolve_dangling(stage: Stage, client: HubClient, problems: Problems, budget: int) -> None:
    """Look up each dangling parent of the stage once (see HubDiscovery), within `budget`."""
    for parent in stage.unresolved_parents():  # looked up by an interrupted attempt
        problems.add("unresolved base_model parent", parent)
    for n, (parent, _children) in enumerate(stage.dangling_parents()):
        if n >= budget:
            problems.add("unresolved base_model parent (not looked up)", parent)
            continue
        try:
            item, _gone = client.lookup(parent)
        except HubError:  # asked again by the next snapshot
            problems.add("unresolved base_model parent (lookup failed)", parent)
            continue
        new_id = item.get("id") if isinstance(item, dict) else None
        if isinstance(new_id, str) and new_id.lower() != parent.lower():
            stage.add_alias(parent, new_id)
        else:
            stage.add_alias(parent, None)
            problems.add("unresolved base_model parent", parent)


# Models on the whole Hub when no earlier crawl says better: a census of October 2026
# counted 3,117,871; 3.2M leaves room for growth (an estimate too low only makes the
# progress bar finish late).
DEFAULT_HUB_MODELS = 3_200_000


def former_names(con: duckdb.DuckDBPyConnection, family: str) -> dict[str, list[str]]:
    """Every id the warehouse saw each member of the family under, by the repo's `_id` and
    by its last id (lower case): `LineageDiscovery` lists the children of each id a repo
    had, not only of its current one (a rename found today included)."""
    rows = con.execute(
        """SELECT r.hub_id, lower(r.repo_id), list(DISTINCT n.repo_id ORDER BY n.repo_id)
           FROM repo_names n JOIN repos r USING (repo_key)
           WHERE r.platform = 'huggingface'
             AND r.repo_key IN (SELECT repo_key FROM membership WHERE family = ?)
           GROUP BY ALL""",
        [family],
    ).fetchall()
    out: dict[str, list[str]] = {}
    for hub_id, last, ids in rows:
        if hub_id:
            out[str(hub_id)] = [str(i) for i in ids]
        out[str(last)] = [str(i) for i in ids]
    return out


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
