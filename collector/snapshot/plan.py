"""Choosing how a snapshot finds its families on the Hub, and saying what that will cost.

A family's `strategy` (families file, or `snapshot --strategy`) is `lineage`, `hub` or
`auto`. `auto` compares the requests of both ways and takes the cheaper:

- lineage costs about one listing per member (each member is asked for its children),
  plus the official listings. The member count comes from the family's last complete run
  in the warehouse; without one, from the official listing and the `childrenModelCount`
  (direct derivatives) of the most downloaded official repos, scaled by their share of
  the official downloads (deeper levels add more, so this leans low).
- hub costs ceil(models / page size) requests, models from the last complete hub crawl
  in the warehouse, else DEFAULT_HUB_MODELS. One crawl serves every family, so when any
  family of the snapshot is crawled that way, the `auto` ones ride along for free.

Time has two bounds, and the larger is the ETA: the quota (requests / quota x window) and
the latency (requests x seconds per page). Seconds per page: measured on the pages this
run read before the plan, else on the last whole-Hub crawl (kept in the warehouse's
`meta`), else DEFAULT_PAGE_LATENCY. The crawl fetches each page while the last is
parsed and staged, so that work costs nothing while it is shorter than the latency; when
the last crawl measured it longer (a slow machine), it is the time per page instead.
A full page of 1,000 expanded items takes about 1.2 s on the real Hub, so a whole-Hub
crawl is latency-bound: about an hour, with or without a token.
`auto` never picks a lineage crawl whose ETA exceeds the time budget (the schedule's
timeout, DEFAULT_TIME_BUDGET without one): a run the schedule would kill every day
never produces a history, while the crawl's cost is bounded.

`--official-only` snapshots the official repos alone, as the family `<name>:official`
(its own history: mixing it into the full family would make every derivative depart).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

import duckdb

from collector.dates import format_duration
from collector.families import Family
from collector.snapshot.discovery import (
    DEFAULT_HUB_MODELS,
    Estimate,
    HubDiscovery,
    LineageDiscovery,
)
from collector.sources.hub import HubClient, HubError, patience_for
from collector.sources.items import Problems, parse_item

ANONYMOUS_QUOTA = 500  # requests per window, the Hub's anonymous API bucket
ACCOUNT_QUOTA = 1000  # a free account's bucket (PRO and teams get more)
QUOTA_WINDOW = 300  # seconds
SAMPLE_SIZE = 8  # official repos whose childrenModelCount is read to size a new family
OFFICIAL_SUFFIX = ":official"
# Seconds per listing page before any is measured: a page of 1,000 expanded items took
# about 1.2 s in a census of the whole Hub (October 2026).
DEFAULT_PAGE_LATENCY = 1.2
DEFAULT_TIME_BUDGET = 2 * 3600.0  # the shipped schedule's timeout (schedules/qwen-daily.toml)
PAGE_TIMES_KEY = "hub_page_seconds"  # `meta` key: the last whole-Hub crawl's page times


@dataclass
class Quota:
    """Requests allowed per fixed window, and where that figure comes from."""

    requests: int
    window: int
    source: str  # "anonymous quota", "free-account quota" (a token) or "Hub's quota" (headers)

    def seconds(self, requests: int) -> float:
        """Time `requests` take at this quota (no wait when they fit in one window)."""
        if requests <= self.requests:
            return 0.0
        return requests / self.requests * self.window

    def describe(self) -> str:
        return f"the {self.source} of {self.requests:,} requests per {format_duration(self.window, about=True)}"


@dataclass
class Choice:
    """How one family will be found: strategy, its estimated requests, and why."""

    family: Family
    strategy: str
    estimate: Estimate
    why: str
    floor: bool = False  # the estimate is a floor: the family's size is not known yet


@dataclass
class History:
    """What earlier snapshots in the warehouse say about sizes."""

    members: dict[str, int]  # family -> members at its last complete run
    hub_models: int | None  # repos seen by the last complete whole-Hub crawl
    # that crawl's mean seconds per page: the Hub's latency, and the client's own work
    page_latency: float | None = None
    page_work: float | None = None


@dataclass
class Plan:
    """Every family's strategy, and the requests and time of the whole snapshot."""

    choices: list[Choice]
    hub: Estimate | None  # the one whole-Hub crawl, when any family uses it
    quota: Quota
    official_only: bool = False
    hub_models: int = DEFAULT_HUB_MODELS  # expected size of the crawl, for progress
    asked: list[str] = field(default_factory=list)  # the families as named by the caller
    page_latency: float = DEFAULT_PAGE_LATENCY  # seconds per request, for the latency bound
    latency_source: str = "expected"  # where page_latency comes from, as the plan says it

    @property
    def requests(self) -> int:
        lineage = sum(c.estimate.requests for c in self.choices if c.strategy != "hub")
        return lineage + (self.hub.requests if self.hub else 0)

    @property
    def exact(self) -> bool:
        return all(c.estimate.exact for c in self.choices) and (self.hub is None or self.hub.exact)

    @property
    def quota_seconds(self) -> float:
        """Time the requests take at the quota (0 when they fit in one window)."""
        return self.quota.seconds(self.requests)

    @property
    def latency_seconds(self) -> float:
        """Time the requests take one after the other at the per-page latency."""
        return self.requests * self.page_latency

    @property
    def seconds(self) -> float:
        """The ETA: the larger of the quota-bound and the latency-bound times."""
        return max(self.quota_seconds, self.latency_seconds)

    def hub_families(self) -> list[Family]:
        return [c.family for c in self.choices if c.strategy == "hub"]

    def describe(self) -> list[str]:
        """Human lines: each family's strategy and why, then requests and time."""
        grouped: dict[tuple[str, str, str], list[str]] = {}
        for c in self.choices:  # families sharing a strategy, estimate and reason share a line
            est = c.estimate
            bound = "" if est.exact else "at least " if c.floor else "about "
            expect = f"expecting {bound}{_plural(est.requests, 'request')} ({est.why})"
            grouped.setdefault((c.strategy, expect, c.why), []).append(c.family.name)
        lines = [
            f"{', '.join(names)}: strategy {s}, {expect}; {why}"
            for (s, expect, why), names in grouped.items()
        ]
        bound = "" if self.exact else "about "
        if any(c.floor for c in self.choices):
            bound = "at least "
        time = self.seconds
        quota = (
            f"within {self.quota.describe()}"
            if self.quota_seconds == 0
            else f"{format_duration(self.quota_seconds, about=True)} at {self.quota.describe()}"
        )
        latency = (
            f"{format_duration(self.latency_seconds, about=True)} at {self.page_latency:.2g} s per "
            f"request ({self.latency_source})"
        )
        which = "latency" if self.latency_seconds >= self.quota_seconds else "quota"
        lines.append(
            f"Expecting {bound}{_plural(self.requests, 'request')} in all: {quota}; "
            f"{latency}; ETA about {format_duration(time, about=True)} ({which}-bound)"
        )
        if not self.official_only and time > 60:
            flags = "".join(f" -f {name}" for name in self.asked)
            lines.append(
                f"Official repos only, in seconds: collector snapshot{flags} --official-only"
            )
        return lines


def read_history(con: duckdb.DuckDBPyConnection) -> History:
    """Member counts of each family's last complete run, and the last crawl's Hub size."""
    rows = con.execute(
        """SELECT family, members FROM runs WHERE status = 'complete' AND source = 'hub'
           QUALIFY row_number() OVER (PARTITION BY family ORDER BY run_id DESC) = 1"""
    ).fetchall()
    hub = con.execute(
        """SELECT repos_seen FROM runs
           WHERE status = 'complete' AND source = 'hub' AND strategy = 'hub'
           ORDER BY run_id DESC LIMIT 1"""
    ).fetchall()
    times = con.execute("SELECT value FROM meta WHERE key = ?", [PAGE_TIMES_KEY]).fetchall()
    saved = json.loads(times[0][0]) if times else {}
    return History(
        {f: int(m) for f, m in rows},
        int(hub[0][0]) if hub else None,
        saved.get("latency"),
        saved.get("work"),
    )


def official_family(family: Family) -> Family:
    """The family restricted to its official repos, under its own name."""
    return dataclasses.replace(
        family, name=family.name + OFFICIAL_SUFFIX, derivatives=False, strategy="lineage"
    )


def make_plan(
    families: list[Family],
    client: HubClient,
    history: History,
    *,
    strategy: str | None = None,
    official_only: bool = False,
    time_budget: float | None = None,
) -> Plan:
    """Decide each family's strategy; may spend a few requests sizing a new `auto` family.

    With `official_only`, each family is replaced by its official repos (`official_family`).
    `time_budget` (seconds, DEFAULT_TIME_BUDGET when None) bounds the lineage crawls that
    `auto` may pick. The client's listing patience is set from the plan's ETA and the
    budget (see `patience_for`).
    """
    plan = _make_plan(families, client, history, strategy, official_only, time_budget)
    client.patience = patience_for(plan.seconds, time_budget)
    return plan


def _make_plan(
    families: list[Family],
    client: HubClient,
    history: History,
    strategy: str | None,
    official_only: bool,
    time_budget: float | None,
) -> Plan:
    if official_only:
        choices = []
        for f in families:
            fam = official_family(f)
            est = LineageDiscovery().estimate([fam], client)
            choices.append(Choice(fam, "lineage", est, "official repos only (--official-only)"))
        return Plan(
            choices,
            None,
            current_quota(client),
            official_only=True,
            asked=[f.name for f in families],
            **_latency(client, history, crawl=False),
        )

    hub_models = history.hub_models or DEFAULT_HUB_MODELS
    hub = HubDiscovery(hub_models).estimate(families, client)
    hub.why += (
        ", as many as the last crawl" if history.hub_models else "; default size, no crawl yet"
    )
    wanted = {f.name: strategy or f.strategy for f in families}
    crawled = [name for name, s in wanted.items() if s == "hub"]
    auto = [f for f in families if wanted[f.name] == "auto"]

    lineage: dict[str, Estimate] = {}
    floors: set[str] = set()
    for f in families:
        if wanted[f.name] == "lineage":
            lineage[f.name] = lineage_estimate(f, client, history, probe=False)
            if f.derivatives and f.name not in history.members:
                floors.add(f.name)
    if auto and crawled:
        auto_pick = "hub"
        auto_why = f"chosen by auto: the whole Hub is crawled anyway for {', '.join(crawled)}"
    elif auto:
        failed = None
        total = 0
        # families known from their last run first: once lineage costs more than the crawl,
        # the others need no sizing (they ride along on the crawl)
        for f in sorted(auto, key=lambda f: f.name not in history.members):
            if total > hub.requests:
                lineage[f.name] = Estimate(0, exact=False, why="not sized, the crawl is cheaper")
                continue
            try:
                lineage[f.name] = lineage_estimate(
                    f, client, history, probe=True, stop_at=hub.requests
                )
            except HubError as exc:  # sizing failed: take the crawl, whose cost is bounded
                failed = failed or str(exc)
                lineage[f.name] = LineageDiscovery().estimate([f], client)
            total += lineage[f.name].requests
        budget = DEFAULT_TIME_BUDGET if time_budget is None else time_budget
        lineage_eta = _eta(total, client, history)
        too_long = total <= hub.requests and lineage_eta > budget
        auto_pick = "hub" if total > hub.requests or failed or too_long else "lineage"
        why = "; ".join(
            (f"{f.name}: " if len(auto) > 1 else "") + lineage[f.name].why for f in auto
        )
        if failed:
            auto_why = f"chosen by auto: the family could not be sized on the Hub ({failed})"
        elif too_long:
            auto_why = (
                f"chosen by auto: lineage would take about {total:,} requests, "
                f"{format_duration(lineage_eta, about=True)}, more than the time budget of "
                f"{format_duration(budget, about=True)} ({why})"
            )
        elif auto_pick == "hub":
            auto_why = f"chosen by auto: lineage would take about {total:,} ({why})"
        else:
            auto_why = (
                f"chosen by auto: the whole Hub would take about {hub.requests:,} ({hub.why})"
            )

    source = "set by --strategy" if strategy else "set in the families file"
    choices = []
    for f in families:
        if wanted[f.name] == "auto":
            chosen, why = auto_pick, auto_why
        else:
            chosen, why = wanted[f.name], source
        estimate = hub if chosen == "hub" else lineage[f.name]
        choices.append(Choice(f, chosen, estimate, why, floor=f.name in floors))
    uses_hub = any(c.strategy == "hub" for c in choices)
    # after any sizing requests: their headers tell the quota in force
    return Plan(
        choices,
        hub if uses_hub else None,
        current_quota(client),
        hub_models=hub_models,
        asked=[f.name for f in families],
        **_latency(client, history, crawl=uses_hub),
    )


def _latency(client: HubClient, history: History, *, crawl: bool) -> dict[str, Any]:
    """A plan's seconds per request and where they come from: the latency measured on this
    run's pages, else on the last whole-Hub crawl's, else the default. For a whole-Hub
    `crawl`, the client's own work per page at the last crawl instead when it was longer
    (prefetching overlaps the two, so the longer one paces the crawl)."""
    measured = client.stats.page_latency
    if measured is not None:
        latency, source = measured, "measured"
    elif history.page_latency is not None:
        latency, source = history.page_latency, "measured on the last crawl"
    else:
        latency, source = DEFAULT_PAGE_LATENCY, "expected"
    if crawl and history.page_work is not None and history.page_work > latency:
        latency = history.page_work
        source = "the client's own work per page at the last crawl, longer than the latency"
    return {"page_latency": latency, "latency_source": source}


def _eta(requests: int, client: HubClient, history: History) -> float:
    """The larger of the quota-bound and latency-bound times of `requests`."""
    latency = _latency(client, history, crawl=False)["page_latency"]
    return max(current_quota(client).seconds(requests), requests * latency)


def record_page_times(
    con: duckdb.DuckDBPyConnection, latency: float | None, work: float | None
) -> None:
    """Keep a complete whole-Hub crawl's mean seconds per page (latency, client work) in
    the warehouse, for the next plan (read back by `read_history`)."""
    if latency is None:
        return
    value = json.dumps({"latency": round(latency, 4), "work": round(work or 0.0, 4)})
    con.execute("DELETE FROM meta WHERE key = ?", [PAGE_TIMES_KEY])
    con.execute("INSERT INTO meta VALUES (?, ?)", [PAGE_TIMES_KEY, value])


def lineage_estimate(
    family: Family,
    client: HubClient,
    history: History,
    *,
    probe: bool,
    stop_at: int | None = None,
) -> Estimate:
    """Requests of a lineage crawl: the official listings, then one listing per member.

    With `probe` and no earlier run, sizes the family on the Hub (see the module doc);
    stops sampling once the official repos alone cost more than `stop_at`.
    """
    floor = len(family.authors) + len(family.repos)
    if not family.derivatives:
        return Estimate(floor, exact=False, why="official listings only")
    members = history.members.get(family.name)
    if members is not None:
        return Estimate(
            floor + members,
            exact=False,
            why=f"{members:,} members at the last run, one listing each",
        )
    if not probe:
        return LineageDiscovery().estimate([family], client)
    official: dict[str, int] = {}  # repo id -> all-time downloads
    pages = 0
    problems = Problems()
    for author in family.authors:
        for page in client.pages(client.listing_params(author=author)):
            pages += 1
            for item in page.items:
                rec = parse_item(item, problems)
                if rec is not None and family.is_official(rec.repo_id, rec.author):
                    official[rec.repo_id] = rec.downloads_all_time or 0
    for repo in family.repos:
        official.setdefault(repo, 0)
    known = pages + len(family.repos) + len(official)
    if not official or (stop_at is not None and known > stop_at):
        return Estimate(
            known, exact=False, why=f"{len(official):,} official repos, one listing each at least"
        )
    # Derivatives follow popularity: ask the most downloaded official repos, and scale their
    # direct derivatives by their share of the official downloads.
    ranked = sorted(official, key=lambda r: (-official[r], r))
    sample = ranked[:SAMPLE_SIZE]
    counts = {r: n for r in sample if (n := client.children_count(r)) is not None}
    downloads = sum(official.values())
    sampled = sum(official[r] for r in counts)
    found = sum(counts.values())
    if downloads and sampled:
        derived = round(found * downloads / sampled)
    else:
        derived = round(found * len(official) / max(1, len(counts)))
    if len(counts) == len(official):
        why = f"{_plural(len(official), 'official repo')} with {found:,} direct derivatives"
    else:
        share = f"{sampled / downloads:.0%}" if downloads else "none"
        why = (
            f"{len(official):,} official repos; the {len(counts)} most downloaded have "
            f"{found:,} direct derivatives and {share} of the official downloads: "
            f"about {derived:,} in all"
        )
    return Estimate(known + derived, exact=False, why=why + "; one listing per member")


def current_quota(client: HubClient) -> Quota:
    """The rate limit in force: from the Hub's headers once seen, else the documented default."""
    if client.stats.quota:
        return Quota(client.stats.quota, client.stats.window or QUOTA_WINDOW, "Hub's quota")
    if client.authenticated:
        return Quota(ACCOUNT_QUOTA, QUOTA_WINDOW, "free-account quota")
    return Quota(ANONYMOUS_QUOTA, QUOTA_WINDOW, "anonymous quota")


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")
