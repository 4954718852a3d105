"""Checking, with a handful of real requests, every assumption collector makes about the Hub.

A snapshot trusts the Hub to answer as /work/shared/hub-api.md says: expanded listing
items with our fields and their types, an `_id`, pages of 1,000 linked by `Link:
rel="next"` URLs that carry every parameter, `sort=createdAt` newest first, RateLimit
headers, `filter=base_model:X` listing children of every relation, and a 307 from a
renamed repo's old id. `diagnose` makes four requests and says, for each assumption,
whether it holds and what was seen. A broken one that would make a snapshot wrong is
`fatal`; the others (no `_id`, no RateLimit headers) only make it slower or weaker.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from huggingface_hub.utils import parse_ratelimit_headers

from collector.errors import HubUnreachable
from collector.sources.hub import EXPAND, HubClient, HubError
from collector.sources.items import HUB_ID_RE, RELATIONS, REPO_ID_RE

# A repo the Hub renamed (legacy ids moved to their orgs in 2024): its old id must redirect.
RENAMED = ("gpt2", "openai-community/gpt2")
# Fields every expanded item must carry, and the type each expanded field has when present.
REQUIRED = ("id", "downloads", "downloadsAllTime", "likes", "createdAt", "tags")
TYPES: dict[str, tuple[type, ...]] = {
    "id": (str,),
    "author": (str,),
    "downloads": (int,),
    "downloadsAllTime": (int,),
    "likes": (int,),
    "createdAt": (str,),
    "lastModified": (str,),
    "tags": (list,),
    "pipeline_tag": (str, type(None)),
    "library_name": (str, type(None)),
}


@dataclass
class Check:
    """One assumption: whether it holds, what was seen, and whether a snapshot needs it."""

    name: str
    ok: bool
    seen: str
    fatal: bool = True


def diagnose(client: HubClient, renamed: tuple[str, str] = RENAMED) -> list[Check]:
    """Check every Hub assumption with real requests; one Check each, in a fixed order.

    A request that fails outright fails the checks that needed it (the others still run);
    a Hub that cannot be reached at all raises HubUnreachable (one line, nothing to check).
    """
    checks: list[Check] = []
    url = f"{client.endpoint}/api/models"
    params = client.listing_params()
    try:
        first, page1 = client.get(url, params)
    except HubError as exc:
        failed = f"GET /api/models failed: {exc}"
        names = ("listing fields", "_id", "page size", "paging", "rate limit", "sort")
        return [Check(n, False, failed) for n in names] + [
            Check("base_model filter", False, failed),
            _redirect(client, renamed),
        ]
    items = page1 if isinstance(page1, list) else []
    checks.append(_fields(page1))
    checks.append(_underscore_id(items))
    next_url = first.links.get("next", {}).get("url")
    checks.append(_page_size(items, client.page_size, next_url))
    checks.append(_paging(next_url, params))
    checks.append(_ratelimit(first.headers))
    page2: list[Any] = []
    if next_url:
        try:
            _, body = client.get(next_url)
            page2 = body if isinstance(body, list) else []
        except (HubError, HubUnreachable) as exc:
            checks.append(Check("sort", False, f"the next page failed: {exc}"))
    if len(checks) < 6:
        checks.append(_sort(items, page2))
    checks.append(_base_model_filter(client, items + page2))
    checks.append(_redirect(client, renamed))
    return checks


def _fields(body: Any) -> Check:
    name = "listing fields"
    if not isinstance(body, list) or not body:
        return Check(name, False, f"expected a non-empty JSON list, got {type(body).__name__}")
    missing: Counter[str] = Counter()
    wrong: dict[str, str] = {}
    for item in body:
        if not isinstance(item, dict):
            return Check(name, False, f"an item is a {type(item).__name__}, not an object")
        for key in REQUIRED:
            if key not in item:
                missing[key] += 1
        for key, types in TYPES.items():
            value = item.get(key)
            if key in item and (isinstance(value, bool) or not isinstance(value, types)):
                wrong.setdefault(key, f"{key} is {type(value).__name__} ({value!r:.30})")
        for key in ("createdAt", "lastModified"):
            if isinstance(item.get(key), str) and not _iso(item[key]):
                wrong.setdefault(key, f"{key} is not ISO 8601 ({item[key]!r:.30})")
        if isinstance(item.get("tags"), list) and not all(isinstance(t, str) for t in item["tags"]):
            wrong.setdefault("tags", "tags holds non-strings")
        if isinstance(item.get("id"), str) and not REPO_ID_RE.match(item["id"]):
            wrong.setdefault("id", f"id {item['id']!r:.40} is not a repo id")
    if missing or wrong:
        parts = [f"{k} missing in {n:,} of {len(body):,} items" for k, n in missing.items()]
        return Check(name, False, "; ".join(parts + list(wrong.values())))
    return Check(name, True, f"{len(body):,} items, each with {', '.join(EXPAND)} as expected")


def _iso(value: str) -> bool:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _underscore_id(items: list[Any]) -> Check:
    ids = [i.get("_id") for i in items if isinstance(i, dict)]
    good = sum(1 for v in ids if isinstance(v, str) and HUB_ID_RE.match(v))
    if ids and good == len(ids):
        return Check("_id", True, f"a 24-hex _id on all {good:,} items", fatal=False)
    return Check(
        "_id",
        False,
        f"_id on {good:,} of {len(ids):,} items: repos are keyed by id, renames found by lookups",
        fatal=False,
    )


def _page_size(items: list[Any], wanted: int, next_url: str | None) -> Check:
    if len(items) == wanted or (next_url is None and len(items) < wanted):
        return Check("page size", True, f"{len(items):,} items for limit={wanted:,}")
    return Check(
        "page size", False, f"{len(items):,} items for limit={wanted:,}: every estimate is off"
    )


def _paging(next_url: str | None, params: list[tuple[str, str]]) -> Check:
    if not next_url:
        return Check("paging", False, 'no Link: rel="next" header on the first page')
    query = parse_qsl(urlsplit(next_url).query, keep_blank_values=True)
    lost = sorted({f"{k}={v}" for k, v in params} - {f"{k}={v}" for k, v in query})
    if not any(k == "cursor" for k, _ in query):
        return Check("paging", False, f"the next link has no cursor: {next_url[:100]}")
    if lost:
        return Check("paging", False, f"the next link drops {', '.join(lost[:4])}")
    return Check("paging", True, "Link rel=next with a cursor and every parameter")


def _ratelimit(headers: Any) -> Check:
    info = parse_ratelimit_headers(headers)
    if info is None:
        return Check(
            "rate limit",
            False,
            "no RateLimit headers: the quota is found by hitting it (slower)",
            fatal=False,
        )
    quota = f", quota {info.limit:,} per {info.window_seconds} s" if info.limit else ""
    return Check(
        "rate limit", True, f"r={info.remaining} t={info.reset_in_seconds}{quota}", fatal=False
    )


def _sort(page1: list[Any], page2: list[Any]) -> Check:
    dates = [i.get("createdAt") for i in page1 + page2 if isinstance(i, dict)]
    ids = [i.get("id") for i in page1 + page2 if isinstance(i, dict)]
    if not all(isinstance(d, str) and _iso(d) for d in dates) or len(dates) < 2:
        return Check("sort", False, "too few items with a createdAt to check the order")
    parsed = [datetime.fromisoformat(str(d).replace("Z", "+00:00")) for d in dates]
    bad = next((k for k in range(1, len(parsed)) if parsed[k] > parsed[k - 1]), None)
    if bad is not None:
        return Check(
            "sort",
            False,
            f"sort=createdAt not newest first: {dates[bad - 1]} then {dates[bad]} "
            f"(a crawl would skip repos created while it runs)",
        )
    repeated = len(ids) - len(set(ids))
    if repeated:
        return Check("sort", True, f"newest first over 2 pages; {repeated} repos on both pages")
    return Check("sort", True, f"newest first over {len(dates):,} items on 2 pages")


def _base_model_filter(client: HubClient, items: list[Any]) -> Check:
    """The parent most named by the items' lineage tags, with the most relations: its
    `filter=base_model:` listing must hold every child tagged with it, whatever the relation."""
    name = "base_model filter"
    children: dict[str, dict[str, str]] = {}  # parent -> child -> relation
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("tags"), list):
            continue
        for tag in item["tags"]:
            if isinstance(tag, str) and tag.startswith("base_model:"):
                head, _, tail = tag[len("base_model:") :].partition(":")
                if head in RELATIONS and tail:
                    children.setdefault(tail, {})[str(item.get("id"))] = head
    if not children:
        return Check(name, False, "no base_model:<relation>:<parent> tags on the first pages")
    parent = max(children, key=lambda p: (len(set(children[p].values())), len(children[p]), p))
    try:
        pages = client.pages(client.listing_params(filter=f"base_model:{parent}"))
        listed = {i.get("id") for i in next(pages).items if isinstance(i, dict)}
    except (HubError, HubUnreachable) as exc:
        return Check(name, False, f"filter=base_model:{parent} failed: {exc}")
    wanted = children[parent]
    relations = Counter(wanted.values())
    missing = Counter(r for c, r in wanted.items() if c not in listed)
    kinds = ", ".join(f"{n} {r}" for r, n in sorted(relations.items()))
    if missing:
        lost = ", ".join(f"{n} {r}" for r, n in sorted(missing.items()))
        return Check(name, False, f"filter=base_model:{parent} misses {lost} of its {kinds}")
    return Check(name, True, f"filter=base_model:{parent} lists its {kinds} children")


def _redirect(client: HubClient, renamed: tuple[str, str]) -> Check:
    old, new = renamed
    name = "rename redirect"
    try:
        response, _ = client.get(f"{client.endpoint}/api/models/{old}", follow=False)
    except (HubError, HubUnreachable) as exc:
        return Check(name, False, f"GET /api/models/{old}: {exc}, expected a 307 to {new}")
    location = response.headers.get("location", "")
    if response.status_code in (301, 302, 307, 308) and urlsplit(location).path.endswith(
        f"/api/models/{new}"
    ):
        return Check(name, True, f"{old} answers {response.status_code} to {new}")
    return Check(
        name,
        False,
        f"{old} answers {response.status_code} {location[:80]}, expected a 307 to {new}",
    )
