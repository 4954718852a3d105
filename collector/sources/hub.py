"""Talking to the Hub: paged model listings through huggingface_hub, paced and retried.

huggingface_hub does every request (its session, headers, token and error types). We
drive the paging ourselves, one `http_backoff(..., max_retries=0)` call per attempt,
because a snapshot must count its requests and retries, read the rate-limit headers to
slow down *before* the quota runs out, and be able to resume from a page's next URL.

A listing page is retried with *patience*: past the client's `max_retries` attempts it
keeps trying (backing off up to `max_wait` between attempts, so an outage costs a few
requests a minute, far inside any quota) until the page has failed for `patience`
seconds. The snapshot sets the patience from the crawl's expected duration and, for a
scheduled run, its time budget (see `patience_for`), so an hour-long crawl, and any
scheduled one, survives a 10-minute outage of the Hub or its CDN.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import httpx2
from huggingface_hub.errors import OfflineModeIsEnabled
from huggingface_hub.utils import (
    HfHubHTTPError,
    build_hf_headers,
    http_backoff,
    parse_ratelimit_headers,
)

from collector.errors import CollectorError, HubUnreachable

DEFAULT_ENDPOINT = "https://huggingface.co"
# Exactly the listing fields a snapshot needs (the Hub returns only these, plus `id`).
EXPAND = (
    "author",
    "downloads",
    "downloadsAllTime",
    "likes",
    "createdAt",
    "lastModified",
    "tags",
    "pipeline_tag",
    "library_name",
)
PAGE_SIZE = 1000
RETRY_STATUSES = {408, 429, 500, 502, 503, 504}
# A detail lookup answering one of these: the repo is gone for us (a departure, not an error).
GONE_STATUSES = {401: "gone", 403: "disabled", 404: "gone"}
# Patience of a listing page: this share of the crawl's expected duration, at least
# MIN_PATIENCE seconds. 0.25 of an hour-long crawl is 15 minutes: a 10-minute outage plus
# the backoff that follows it.
PATIENCE_SHARE = 0.25
MIN_PATIENCE = 120.0
# A scheduled run (a time budget, nobody waiting) waits out an outage this long, however
# short its crawl: outages last minutes whatever the crawl's length. 15 min: a 10-minute
# outage plus the backoff after it.
SCHEDULED_PATIENCE = 900.0


def patience_for(expected_seconds: float, budget: float | None = None) -> float:
    """Seconds a listing page may keep failing before the crawl gives up, for a crawl
    expected to take `expected_seconds`, within `budget` seconds when it has one (a
    schedule's timeout): SCHEDULED_PATIENCE at least, as far as the budget leaves room
    after the crawl ($COLLECTOR_PATIENCE overrides)."""
    fixed = os.environ.get("COLLECTOR_PATIENCE")
    if fixed is not None:
        try:
            return max(0.0, float(fixed))
        except ValueError:
            raise CollectorError(
                f"COLLECTOR_PATIENCE={fixed!r} is not a number of seconds"
            ) from None
    patience = max(MIN_PATIENCE, PATIENCE_SHARE * expected_seconds)
    if budget is not None:
        patience = max(patience, min(SCHEDULED_PATIENCE, budget - expected_seconds))
    return patience


class HubError(CollectorError):
    """The Hub refused a request, or kept failing it after every retry."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def endpoint_from_env() -> str:
    """The Hub endpoint in force: $HF_ENDPOINT, else huggingface.co."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


@dataclass
class HubStats:
    """What a snapshot cost: requests (every attempt), retries, 429s, paced waits."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    paced_seconds: float = 0.0  # waited before a request to stay inside the quota
    quota: int | None = None
    window: int | None = None
    # Response time of the listing pages that came back whole (for the plan's latency
    # bound): the successful attempt only, from sending it to its body decoded; the waits
    # before it (pacing, backoff) are not the Hub's latency.
    page_seconds: float = 0.0
    pages_timed: int = 0
    # The caller's own time on each page of a listing (parsing, staging, progress): with
    # prefetch it overlaps the next page's latency, and bounds the crawl when it is longer.
    work_seconds: float = 0.0
    pages_worked: int = 0

    @property
    def page_latency(self) -> float | None:
        """Mean seconds per listing page so far (None before the first page)."""
        return self.page_seconds / self.pages_timed if self.pages_timed else None

    @property
    def page_work(self) -> float | None:
        """Mean seconds the caller spent on each listing page (None before the first)."""
        return self.work_seconds / self.pages_worked if self.pages_worked else None


def quota_reserve(limit: int | None) -> int:
    """Requests left unused in each rate-limit window: 2% of the quota, at least one.

    The Hub's windows are fixed (the whole quota comes back at the reset), so the fastest
    safe pace is to go at full speed and stop just short of the quota until the reset;
    spreading requests out would only delay a snapshot that fits in the window. The reserve
    absorbs requests made by other clients sharing the same quota (another collector run,
    the user's scripts) between two of our responses.
    """
    return max(1, (limit or 0) // 50)


def pace_delay(remaining: int, reset_in: float, limit: int | None, margin: float) -> float:
    """Seconds to wait before the next request, from a response's `ratelimit` header."""
    if reset_in <= 0 or remaining > quota_reserve(limit):
        return 0.0
    return reset_in + margin


@dataclass
class Page:
    """One page of a listing and the URL of the next one (None on the last page)."""

    items: list[Any]
    next_url: str | None


@dataclass
class HubClient:
    """A paced, retrying reader of the Hub's model listings."""

    endpoint: str = field(default_factory=endpoint_from_env)
    token: str | bool | None = None
    page_size: int = PAGE_SIZE
    max_retries: int = 6
    retry_wait: float = field(
        default_factory=lambda: float(os.environ.get("COLLECTOR_RETRY_WAIT", "1"))
    )
    max_wait: float = 60.0
    # Seconds a listing page may keep failing beyond max_retries (see the module doc).
    patience: float = field(default_factory=lambda: patience_for(0))
    timeout: float = field(
        default_factory=lambda: float(os.environ.get("COLLECTOR_HTTP_TIMEOUT", "30"))
    )
    # `t` in the ratelimit header is whole seconds: wait a little past it.
    reset_margin: float = 0.5
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    stats: HubStats = field(default_factory=HubStats)

    def __post_init__(self) -> None:
        self.endpoint = self.endpoint.rstrip("/")
        self._headers = build_hf_headers(token=self.token)
        self._reset_at: float | None = None  # when the current window resets (self.clock)
        self._paused_until = 0.0  # no request before this time (self.clock): quota reserve

    @property
    def authenticated(self) -> bool:
        return "authorization" in {k.lower() for k in self._headers}

    def listing_params(self, **query: str | list[str]) -> list[tuple[str, str]]:
        """Query parameters of a model listing that asks for exactly our fields."""
        params: list[tuple[str, str]] = []
        for key, value in query.items():
            for v in [value] if isinstance(value, str) else value:
                params.append((key, v))
        params += [("expand", f) for f in EXPAND]
        params += [("sort", "createdAt"), ("limit", str(self.page_size))]
        return params

    def pages(
        self,
        params: list[tuple[str, str]],
        start_url: str | None = None,
        *,
        prefetch: bool = False,
    ) -> Iterator[Page]:
        """Every page of `GET /api/models` with these params, following `Link: rel="next"`.

        `start_url` resumes a listing at a next-page URL saved from an earlier page. With
        `prefetch`, the next page is fetched while the caller works on the current one
        (a whole-Hub crawl is latency-bound: its parsing and staging then cost no time);
        a prefetched page the caller never takes is simply fetched again on resume.
        """
        url = start_url or f"{self.endpoint}/api/models"
        first_params: list[tuple[str, str]] | None = None if start_url else params
        if not prefetch:
            while True:
                page = self._page(url, first_params)
                yield from self._handed(page)
                if not page.next_url:
                    return
                url, first_params = page.next_url, None
        pending = _Fetch(self._page, url, first_params)
        while True:
            page = pending.result()
            if page.next_url:  # sent before the caller sees this page: the two overlap
                pending = _Fetch(self._page, page.next_url, None)
            yield from self._handed(page)
            if not page.next_url:
                return

    def _handed(self, page: Page) -> Iterator[Page]:
        """Yield `page`, timing the caller's work on it (until it asks for the next)."""
        handed = self.clock()
        yield page
        if len(page.items) >= min(100, self.page_size):  # as for the latency
            self.stats.work_seconds += self.clock() - handed
            self.stats.pages_worked += 1

    def _page(self, url: str, params: list[tuple[str, str]] | None) -> Page:
        took: list[float] = []
        response, body = self._get(url, params, patient=True, timed=took)
        if not isinstance(body, list):
            raise HubError(f"unexpected listing from {self.endpoint}: not a JSON list")
        if len(body) >= min(100, self.page_size):  # small pages say little of a full one
            self.stats.page_seconds += took[0]
            self.stats.pages_timed += 1
        return Page(body, response.links.get("next", {}).get("url"))

    def model(self, repo_id: str) -> Any | None:
        """`GET /api/models/{repo_id}` with our fields, or None when the repo is gone."""
        return self.lookup(repo_id)[0]

    def lookup(self, repo_id: str) -> tuple[Any | None, str | None]:
        """`GET /api/models/{repo_id}` (following a rename's 307): (item, None), or
        (None, why) when it is gone: "disabled" (403, "Access to this resource is
        disabled") or "gone" (404, or 401: the Hub's answer for a repo that is private
        or does not exist)."""
        url = f"{self.endpoint}/api/models/{quote(repo_id, safe='/')}"
        try:
            return self._get(url, [("expand", f) for f in EXPAND])[1], None
        except HubError as exc:
            if exc.status in GONE_STATUSES:
                return None, GONE_STATUSES[exc.status]
            raise

    def children_count(self, repo_id: str) -> int | None:
        """Direct derivatives of a repo (`childrenModelCount`, detail endpoint only), or None."""
        url = f"{self.endpoint}/api/models/{quote(repo_id, safe='/')}"
        try:
            body = self._get(url, [("expand", "childrenModelCount")])[1]
        except HubError as exc:
            if exc.status in GONE_STATUSES:
                return None
            raise
        value = body.get("childrenModelCount") if isinstance(body, dict) else None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            return None
        return value

    def get(
        self, url: str, params: list[tuple[str, str]] | None = None, *, follow: bool = True
    ) -> tuple[httpx2.Response, Any]:
        """One paced, retried GET: the response and its JSON body (None for a redirect
        not followed, with `follow=False`)."""
        return self._get(url, params, follow=follow)

    # -- one request, paced and retried -------------------------------------------------
    def _get(
        self,
        url: str,
        params: list[tuple[str, str]] | None,
        patient: bool = False,
        follow: bool = True,
        timed: list[float] | None = None,
    ) -> tuple[httpx2.Response, Any]:
        """One GET, retried on 408/429/5xx, network errors and unreadable JSON bodies:
        `max_retries` times, and with `patient` for as long as `patience` allows. `timed`
        receives the seconds of the attempt that succeeded (sent to body decoded)."""
        wait = self.retry_wait
        first_failure: float | None = None
        attempt = -1
        while True:
            attempt += 1
            pause = self._paused_until - self.clock()
            if pause > 0:
                self.stats.paced_seconds += pause
                self.sleep(pause)
            self.stats.requests += 1
            if attempt:
                self.stats.retries += 1
            delay: float | None = None
            sent = self.clock()
            try:
                response = http_backoff(
                    "GET",
                    url,
                    params=params,
                    headers=self._headers,
                    timeout=self.timeout,
                    max_retries=0,
                    follow_redirects=follow,
                )
                if not follow and 300 <= response.status_code < 400:
                    self._pace(response)
                    return response, None
                if response.status_code < 400:
                    self._pace(response)
                    try:
                        body = json.loads(response.content)
                    except ValueError:
                        error = f"invalid JSON ({len(response.content)} bytes)"
                    else:
                        if timed is not None:
                            timed.append(self.clock() - sent)
                        return response, body
                else:
                    error = f"HTTP {response.status_code}"
                    if response.status_code not in RETRY_STATUSES:
                        raise self._refused(response.status_code, url, patient)
                    delay = self._retry_delay(response)
            except HfHubHTTPError as exc:
                status = exc.response.status_code if exc.response is not None else None
                error = f"HTTP {status}"
                if status not in RETRY_STATUSES:
                    raise self._refused(status, url, patient) from None
                if exc.response is not None:
                    delay = self._retry_delay(exc.response)
            except OfflineModeIsEnabled:
                raise HubUnreachable(
                    f"huggingface_hub is in offline mode (HF_HUB_OFFLINE is set): unset "
                    f"HF_HUB_OFFLINE to reach the Hub at {self.endpoint}"
                ) from None
            except httpx2.ConnectError as exc:
                if self.stats.requests == 1:
                    raise HubUnreachable(_unreachable(self.endpoint, exc)) from None
                error = f"connection failed ({_reason(exc)})"
            except (
                httpx2.TimeoutException,
                httpx2.NetworkError,
                httpx2.RemoteProtocolError,
            ) as exc:
                error = f"network error ({_reason(exc)})"
            now = self.clock()
            first_failure = now if first_failure is None else first_failure
            if attempt >= self.max_retries and not (
                patient and now - first_failure < self.patience
            ):
                break
            if delay is None:
                delay = wait
                wait = min(self.max_wait, wait * 2)
            self.sleep(delay)
        if error.startswith("connection failed"):
            raise HubUnreachable(_unreachable(self.endpoint, None))
        failing = self.clock() - (first_failure if first_failure is not None else self.clock())
        raise HubError(
            f"{error} from {self.endpoint} for {_path(url)} after {attempt + 1} attempts"
            + (f" over {format_seconds(failing)}" if failing >= 60 else "")
        )

    def _refused(self, status: int | None, url: str, listing: bool) -> HubError:
        """The error of a request the Hub refused for good (not worth retrying)."""
        if status == 401 and listing and self.authenticated:
            return HubError(
                f"the Hub at {self.endpoint} rejected the token (HTTP 401 for {_path(url)}): "
                "it is expired, revoked or mistyped; log in again with `hf auth login`, "
                "or unset HF_TOKEN (and `hf auth logout`) to go anonymous",
                status=status,
            )
        return HubError(f"HTTP {status} from {self.endpoint} for {_path(url)}", status=status)

    def _retry_delay(self, response: httpx2.Response) -> float | None:
        """The wait before retrying a failed response, or None for exponential backoff.

        A 429 says how long to wait in its `ratelimit` header (`t` when `r=0`) or in
        `Retry-After`; a bare 429 (from the CDN, no headers) waits for the reset of the
        window that earlier responses announced, when it is still ahead.
        """
        retry_after = response.headers.get("retry-after", "").strip()
        if response.status_code != 429:
            return min(float(retry_after), self.max_wait) if retry_after.isdigit() else None
        self.stats.rate_limited += 1
        info = parse_ratelimit_headers(response.headers)
        if info is not None and info.remaining == 0:
            self._reset_at = self.clock() + info.reset_in_seconds
            return float(info.reset_in_seconds) + self.reset_margin
        if retry_after.isdigit():
            return float(retry_after) + self.reset_margin
        if self._reset_at is not None and self._reset_at > self.clock():
            return self._reset_at - self.clock() + self.reset_margin
        return None

    def _pace(self, response: httpx2.Response) -> None:
        """Stop short of the quota: when a response leaves only the reserve of its window,
        the next request (if any) waits for the window to reset (see `quota_reserve`)."""
        info = parse_ratelimit_headers(response.headers)
        if info is None:
            return
        if info.limit:
            self.stats.quota = info.limit
            self.stats.window = info.window_seconds
        self._reset_at = self.clock() + info.reset_in_seconds
        delay = pace_delay(
            info.remaining,
            info.reset_in_seconds,
            info.limit or self.stats.quota,
            self.reset_margin,
        )
        if delay:
            self._paused_until = self.clock() + delay


class _Fetch:
    """One page fetched in a daemon thread (never holding up the process's exit when the
    caller stops early); `result` waits for it and re-raises its error."""

    def __init__(self, fetch: Callable[..., Page], *args: Any) -> None:
        self._page: Page | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(fetch, *args), daemon=True)
        self._thread.start()

    def _run(self, fetch: Callable[..., Page], *args: Any) -> None:
        try:
            self._page = fetch(*args)
        except BaseException as exc:  # handed to the caller's thread
            self._error = exc

    def result(self) -> Page:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._page is not None
        return self._page


def format_seconds(seconds: float) -> str:
    """A wait as "45 s" or "12 min"."""
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def _path(url: str) -> str:
    return urlsplit(url).path


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:120]


def _unreachable(endpoint: str, exc: BaseException | None) -> str:
    why = f": {_reason(exc)}" if exc else ""
    source = (
        "set by HF_ENDPOINT"
        if os.environ.get("HF_ENDPOINT")
        else "the default; set HF_ENDPOINT to use another"
    )
    return f"cannot reach the Hub at {endpoint} ({source}){why}"
