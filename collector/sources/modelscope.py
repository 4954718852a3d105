"""Talking to ModelScope: an org's model listing (`/openapi/v1/models`), paged, paced, retried.

The public OpenAPI lists models by owner, `page_size` at most 50 and at most 3,000 models
(`page_number * page_size`) per query; no login is needed for public models. Its
`downloads` counter has no documented window (it looks all-time); we store it as the
repo's all-time downloads and every report that uses it says so. ModelScope has no
lineage (base_model) and no 30-day counter. 429s honour `Retry-After`; 408/429/5xx,
network errors and unreadable bodies are retried with doubling waits, like the Hub.
No Hugging Face token is ever sent here.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import httpx2

from collector.errors import CollectorError
from collector.sources.hub import RETRY_STATUSES, HubStats, Page
from collector.sources.items import REPO_ID_RE, Problems, RepoRecord, _counter

ENDPOINT_ENV = "MODELSCOPE_ENDPOINT"
DEFAULT_ENDPOINT = "https://modelscope.cn"
PAGE_SIZE = 50  # the largest page the API serves
MAX_PER_QUERY = 3000  # page_number * page_size beyond this is refused


class ModelScopeError(CollectorError):
    """ModelScope refused a request, answered nonsense, or kept failing after every retry."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ModelScopeUnreachable(ModelScopeError):
    """The ModelScope endpoint could not be reached at all."""


def endpoint_from_env() -> str:
    """The ModelScope endpoint in force: $MODELSCOPE_ENDPOINT, else modelscope.cn."""
    return (os.environ.get(ENDPOINT_ENV) or DEFAULT_ENDPOINT).rstrip("/")


@dataclass
class ModelScopeClient:
    """A paced, retrying reader of ModelScope's per-owner model listings."""

    endpoint: str = field(default_factory=endpoint_from_env)
    page_size: int = PAGE_SIZE
    max_retries: int = 6
    retry_wait: float = field(
        default_factory=lambda: float(os.environ.get("COLLECTOR_RETRY_WAIT", "1"))
    )
    max_wait: float = 60.0
    timeout: float = field(
        default_factory=lambda: float(os.environ.get("COLLECTOR_HTTP_TIMEOUT", "30"))
    )
    sleep: Callable[[float], None] = time.sleep
    stats: HubStats = field(default_factory=HubStats)

    def __post_init__(self) -> None:
        self.endpoint = self.endpoint.rstrip("/")
        if not 1 <= self.page_size <= PAGE_SIZE:
            raise ValueError(f"page_size must be 1..{PAGE_SIZE}")
        self._http = httpx2.Client(timeout=self.timeout, follow_redirects=True)

    def listing_url(self, owner: str, page_number: int = 1) -> str:
        query = urlencode(
            {
                "owner": owner,
                "sort": "downloads",
                "page_number": page_number,
                "page_size": self.page_size,
            }
        )
        return f"{self.endpoint}/openapi/v1/models?{query}"

    def pages(self, owner: str, start_url: str | None = None) -> Iterator[Page]:
        """Every page of an owner's listing; `start_url` resumes at a saved next-page URL.

        An owner with more models than one query can page through (MAX_PER_QUERY) is an
        error rather than a silent undercount.
        """
        url = start_url or self.listing_url(owner)
        while True:
            body = self._get(url)
            data = body.get("data") if isinstance(body, dict) else None
            models = data.get("models") if isinstance(data, dict) else None
            total = data.get("total_count") if isinstance(data, dict) else None
            if not isinstance(models, list) or type(total) is not int or total < 0:
                raise ModelScopeError(
                    f"unexpected listing from {self.endpoint} for owner {owner!r}: "
                    "no data.models list with a total_count"
                )
            if total > MAX_PER_QUERY:
                raise ModelScopeError(
                    f"owner {owner!r} has {total:,} models on ModelScope, more than the "
                    f"{MAX_PER_QUERY:,} one listing can page through"
                )
            number = _page_number(url)
            more = models and number * self.page_size < total
            next_url = self.listing_url(owner, number + 1) if more else None
            yield Page(models, next_url)
            if next_url is None:
                return
            url = next_url

    def model(self, repo_id: str) -> Any | None:
        """One model (`/openapi/v1/models/{owner}/{name}`), or None when it does not exist."""
        try:
            body = self._get(f"{self.endpoint}/openapi/v1/models/{quote(repo_id, safe='/')}")
        except ModelScopeError as exc:
            if exc.status == 404:
                return None
            raise
        data = body.get("data") if isinstance(body, dict) else None
        return data if isinstance(data, dict) else None

    def close(self) -> None:
        self._http.close()

    # -- one request, retried ------------------------------------------------------------
    def _get(self, url: str) -> Any:
        wait = self.retry_wait
        error = "no attempt"
        for attempt in range(self.max_retries + 1):
            self.stats.requests += 1
            if attempt:
                self.stats.retries += 1
            delay: float | None = None
            try:
                response = self._http.get(url, headers={"Accept": "application/json"})
                self.stats.bytes += len(response.content)
                status = response.status_code
                if status < 400:
                    try:
                        body = json.loads(response.content)
                    except ValueError:
                        error = f"invalid JSON ({len(response.content)} bytes)"
                    else:
                        if isinstance(body, dict) and body.get("success") is False:
                            raise ModelScopeError(
                                f"ModelScope refused {_path(url)}: "
                                f"{str(body.get('message') or 'success: false')[:120]}"
                            )
                        return body
                else:
                    error = f"HTTP {status}"
                    if status not in RETRY_STATUSES:
                        raise ModelScopeError(
                            f"{error} from {self.endpoint} for {_path(url)}", status=status
                        )
                    if status == 429:
                        self.stats.rate_limited += 1
                    retry_after = response.headers.get("retry-after", "").strip()
                    if retry_after.isdigit():
                        delay = min(float(retry_after), self.max_wait)
            except httpx2.ConnectError as exc:
                if self.stats.requests == 1:
                    raise ModelScopeUnreachable(_unreachable(self.endpoint, exc)) from None
                error = f"connection failed ({_reason(exc)})"
            except (httpx2.TimeoutException, httpx2.NetworkError, httpx2.RemoteProtocolError) as e:
                error = f"network error ({_reason(e)})"
            if attempt == self.max_retries:
                break
            if delay is None:
                delay = wait
                wait = min(self.max_wait, wait * 2)
            self.stats.backoff_seconds += delay
            self.sleep(delay)
        raise ModelScopeError(
            f"{error} from {self.endpoint} for {_path(url)} after {self.max_retries + 1} attempts"
        )


def parse_model(item: Any, problems: Problems) -> RepoRecord | None:
    """A record from one ModelScope listing item, or None (counted) without a usable id."""
    if not isinstance(item, dict):
        problems.add("item not an object", repr(item)[:80])
        return None
    repo_id = item.get("id")
    if not isinstance(repo_id, str) or "/" not in repo_id or not REPO_ID_RE.match(repo_id):
        problems.add("bad repo id", repr(repo_id)[:80])
        return None
    return RepoRecord(
        repo_id=repo_id,
        hub_id=None,
        author=repo_id.split("/", 1)[0],
        created_at=_when(item, "created_at", repo_id, problems),
        last_modified=_when(item, "last_modified", repo_id, problems),
        pipeline_tag=_first_task(item.get("tasks")),
        library_name=None,
        downloads_30d=None,
        downloads_all_time=_counter(item, "downloads", repo_id, problems),
        likes=_counter(item, "likes", repo_id, problems),
    )


def _when(item: dict[str, Any], key: str, repo_id: str, problems: Problems) -> datetime | None:
    """A date given as epoch seconds or ISO 8601 (the API's form is not documented)."""
    value = item.get(key)
    if value is None:
        return None
    try:
        if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 2**33:
            return datetime.fromtimestamp(value, UTC).replace(tzinfo=None)
        if isinstance(value, str):
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if parsed.tzinfo is not None:
                parsed = parsed.astimezone(UTC).replace(tzinfo=None)
            return parsed
    except (ValueError, OverflowError, OSError):
        pass
    problems.add(f"bad {key}", f"{repo_id}: {value!r}"[:80])
    return None


def _first_task(tasks: Any) -> str | None:
    if isinstance(tasks, list) and tasks and isinstance(tasks[0], str) and tasks[0]:
        return tasks[0]
    return None


def _page_number(url: str) -> int:
    value = dict(parse_qsl(urlsplit(url).query)).get("page_number", "1")
    return int(value) if value.isdigit() and int(value) > 0 else 1


def _path(url: str) -> str:
    return urlsplit(url).path


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:120]


def _unreachable(endpoint: str, exc: BaseException) -> str:
    source = (
        f"set by {ENDPOINT_ENV}"
        if os.environ.get(ENDPOINT_ENV)
        else f"the default; set {ENDPOINT_ENV} to use another"
    )
    return f"cannot reach ModelScope at {endpoint} ({source}): {_reason(exc)}"
