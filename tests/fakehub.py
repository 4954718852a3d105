"""A fake of the Hugging Face Hub model API, served on 127.0.0.1 for tests.

It mimics what the real Hub does (see docs in ``hub-api.md``) closely enough that code passing
against it should work against https://huggingface.co:

* ``GET /api/models``: filter/author/search/pipeline_tag/sort, ``limit`` pages, ``expand`` (both
  ``expand=`` and ``expand[]=`` keys), keyset ``cursor`` paging with a ``Link: <...>; rel="next"``
  header carrying every original parameter.
* ``GET /api/models/{org}/{name}``: detail, 307 after a rename, 404 ``RepoNotFound`` when unknown.
* Fixed-window rate limiting with ``ratelimit`` / ``ratelimit-policy`` headers.
* Fault injection (429s, 5xx, connection resets, slow, truncated or non-JSON bodies) and data
  faults (pages repeating an item, a callback after each page to mutate state mid-listing).
* The real Hub's hard parts: a per-request ``latency``, ``outage()`` lasting minutes on the
  hub's clock (CDN-style bare 429s and 503s), repos disabled with a 403 (``disable``),
  legacy ids without an org that redirect (``add_redirect``), detail lookups in any letter
  case, and ``breaks``: assumptions of the client (see ``BREAKS``) the fake can be told to
  violate, for ``collector doctor``.

Standard library only. Nothing is logged; requests are recorded in ``FakeHub.requests``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import socket
import struct
import sys
import threading
import time
from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import islice
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

LISTING_EXPAND = frozenset(
    "author cardData config createdAt disabled downloads downloadsAllTime evalResults gated gguf "
    "inference inferenceProviderMapping lastModified library_name likes mask_token model-index "
    "pipeline_tag private safetensors sha siblings spaces tags transformersInfo trendingScore "
    "widgetData resourceGroup".split()
)
DETAIL_ONLY_EXPAND = frozenset({"baseModels", "childrenModelCount", "usedStorage"})
DETAIL_EXPAND = LISTING_EXPAND | DETAIL_ONLY_EXPAND
SORTS = frozenset({"createdAt", "downloads", "likes", "lastModified", "trendingScore"})
DATE_SORTS = frozenset({"createdAt", "lastModified"})
RELATIONS = ("finetune", "adapter", "quantized", "merge")
FAULT_KINDS = frozenset(
    "429 429_retry_after 429_bare 500 502 503 reset slow truncated invalid_json".split()
)
RATE_LIMIT_MODES = frozenset({"headers", "retry_after", "bare"})
# Assumptions about the Hub the fake can be told to break (FakeHub(breaks=...)):
BREAKS = frozenset(
    {
        "types",  # expanded listing items carry downloads as a string
        "underscore_id",  # expanded listing items carry no _id
        "page_size",  # pages hold at most 100 items whatever the limit
        "link_params",  # next-page links keep only the cursor
        "sort",  # sort=createdAt lists oldest first
        "ratelimit",  # no ratelimit headers
        "base_model_filter",  # filter=base_model:X returns only fine-tunes
        "redirect",  # a renamed repo's old id answers 404
    }
)
LEGACY_CREATED_AT = "2022-03-02T23:29:04.000Z"  # createdAt of every repo older than the field

# Python-style keyword names accepted by add()/set(), mapped to the Hub's field names.
_HUB_NAMES = {
    "downloads_all_time": "downloadsAllTime",
    "created_at": "createdAt",
    "last_modified": "lastModified",
    "trending_score": "trendingScore",
    "used_storage": "usedStorage",
}
_FIRST_UID = 0x65A000000000000000000000  # _ids are 24 hex digits, like MongoDB ObjectIds
_FIRST_CREATED = datetime(2024, 1, 1, tzinfo=UTC)
_JSON = ("Content-Type", "application/json; charset=utf-8")


class VirtualClock:
    """A clock that real time moves, and that `sleep` moves forward without sleeping.

    Give its `now` and `sleep` to both the FakeHub (clock, latency) and the client: minutes
    of latency, backoff and rate-limit waits then cost nothing, while the real time spent
    computing still counts.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset = 0.0

    def now(self) -> float:
        with self._lock:
            return time.monotonic() + self._offset

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            with self._lock:
                self._offset += seconds


class LoggedRequest(NamedTuple):
    """One request seen by the hub. ``status`` is None when the connection was reset."""

    method: str
    path: str
    params: list[tuple[str, str]]
    status: int | None


@dataclass
class _Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    is_page: bool = False  # a complete listing page: triggers the on_page callback
    ratelimit: tuple[int, int] | None = None  # (remaining, reset) overriding the window's values
    bare: bool = False  # no ratelimit headers at all


@dataclass
class _Fault:
    kind: str
    times: int
    after: int
    path_prefix: str
    seen: int = 0

    def fires(self, path: str) -> bool:
        """Count a request; True when it is one of the ``times`` after the ``after`` skipped."""
        if not path.startswith(self.path_prefix):
            return False
        self.seen += 1
        return self.after < self.seen <= self.after + self.times

    @property
    def spent(self) -> bool:
        return self.seen >= self.after + self.times


@dataclass
class _Outage:
    """From the first request after ``after`` (under ``path_prefix``), every request fails
    for ``seconds`` of the hub's clock, cycling through ``kinds``."""

    seconds: float
    after: int
    kinds: tuple[str, ...]
    path_prefix: str
    seen: int = 0
    began: float | None = None
    failed: int = 0

    def fires(self, path: str, now: float) -> str | None:
        if not path.startswith(self.path_prefix):
            return None
        self.seen += 1
        if self.seen <= self.after:
            return None
        if self.began is None:
            self.began = now
        if now >= self.began + self.seconds:
            return None
        self.failed += 1
        return self.kinds[(self.failed - 1) % len(self.kinds)]


class _BadRequest(Exception):
    pass


def _json_response(status: int, obj: Any, **kwargs: Any) -> _Response:
    response = _Response(status, json.dumps(obj).encode(), **kwargs)
    response.headers.append(_JSON)
    return response


def _error(status: int, message: str, **kwargs: Any) -> _Response:
    return _json_response(status, {"error": message}, **kwargs)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _sort_value(item: dict, sort: str | None) -> float | None:
    """The item's value for ``sort`` as a number (dates as timestamps); None if missing/garbage."""
    if sort is None:
        return None
    value = item.get(sort)
    if sort in DATE_SORTS:
        try:
            return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return value if _is_number(value) else None


def _order_key(value: float | None, uid: str) -> tuple:
    """Position in a listing: value descending, missing values last, ties by ``_id`` ascending."""
    return (1, 0, uid) if value is None else (0, -value, uid)


def _encode_cursor(value: float | None, uid: str) -> str:
    raw = json.dumps([value, uid], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[float | None, str]:
    try:
        value, uid = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError) as exc:
        raise _BadRequest(f"Invalid cursor: {cursor!r}") from exc
    if not isinstance(uid, str) or not (value is None or _is_number(value)):
        raise _BadRequest(f"Invalid cursor: {cursor!r}")
    return value, uid


def _multi(params: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in params:
        out.setdefault(key, []).append(value)
    return out


def _last(multi: dict[str, list[str]], key: str) -> str | None:
    values = multi.get(key)
    return values[-1] if values else None


def _parse_expand(multi: dict[str, list[str]], allowed: frozenset[str]) -> list[str] | None:
    keys = multi.get("expand", []) + multi.get("expand[]", [])
    if not keys:
        return None
    bad = [key for key in keys if key not in allowed]
    if bad:
        raise _BadRequest(f"Invalid expand value(s): {', '.join(map(repr, bad))}")
    return list(dict.fromkeys(keys))


def _tags(item: dict) -> list:
    tags = item.get("tags")
    return tags if isinstance(tags, list) else []


def _parents(item: dict) -> tuple[list[str], str | None]:
    """Direct parents and relation named by an item's ``base_model:`` tags."""
    parents: list[str] = []
    relation = None
    for tag in _tags(item):
        if not isinstance(tag, str) or not tag.startswith("base_model:"):
            continue
        rest = tag[len("base_model:") :]
        head, _, tail = rest.partition(":")
        if head in RELATIONS and tail:
            relation = relation or head
            rest = tail
        if rest not in parents:
            parents.append(rest)
    return parents, relation


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    hub: FakeHub

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Record unexpected errors quietly; a client hanging up is not one."""
        exc = sys.exc_info()[1]
        if not isinstance(exc, ConnectionError | TimeoutError):
            self.hub.errors.append(repr(exc))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real Hub
    disable_nagle_algorithm = True  # headers and body go out in two writes: avoid a 40 ms stall
    server_version = "FakeHub"
    sys_version = ""
    timeout = 30
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.hub._connections.add(self.connection)

    def finish(self) -> None:
        self.server.hub._connections.discard(self.connection)
        super().finish()

    def do_GET(self) -> None:
        self.server.hub._handle(self)

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence stderr
        pass


class FakeHub:
    """An in-memory Hub serving ``/api/models`` over HTTP on 127.0.0.1 (a random port).

    Use as ``with FakeHub(...) as hub:`` or ``hub.start()`` / ``hub.stop()``. All methods are
    thread-safe. Attributes tests may set at any time: ``repeat_across_pages``,
    ``slow_seconds`` (sleep of the "slow" fault), ``retry_after_seconds`` (the ``t`` and
    ``Retry-After`` of injected 429s), ``rate_limit_mode``, ``expand_includes_underscore_id``.
    """

    def __init__(
        self,
        page_size: int = 1000,
        *,
        max_page_size: int = 1000,
        expand_includes_underscore_id: bool = True,
        quota: int | None = None,
        window: int = 300,
        clock: Callable[[], float] = time.monotonic,
        rate_limit_mode: str = "headers",
        slow_seconds: float = 2.0,
        retry_after_seconds: int = 1,
        token_quota: int | None = None,
        latency: float = 0.0,
        sleep: Callable[[float], None] = time.sleep,
        breaks: Iterable[str] = (),
        reject_tokens: bool = False,
    ) -> None:
        if rate_limit_mode not in RATE_LIMIT_MODES:
            raise ValueError(f"rate_limit_mode must be one of {sorted(RATE_LIMIT_MODES)}")
        self.breaks = frozenset(breaks)
        self.reject_tokens = reject_tokens  # a request with a token: 401 (expired token)
        if self.breaks - BREAKS:
            raise ValueError(
                f"unknown breaks {sorted(self.breaks - BREAKS)}; known: {sorted(BREAKS)}"
            )
        # Seconds every request takes before it is answered, slept with `sleep` (give a
        # virtual clock's sleep to make minutes of latency cost nothing).
        self.latency = latency
        self.sleep = sleep
        self._outages: list[_Outage] = []
        self._disabled: set[str] = set()
        self.page_size = page_size
        self.max_page_size = max_page_size
        self.expand_includes_underscore_id = expand_includes_underscore_id
        self.quota = quota
        # Requests with an Authorization header count in a bucket of their own, this large
        # (as a logged-in user's larger quota on the Hub); None: one bucket for all.
        self.token_quota = token_quota
        self.authorizations: list[str] = []  # Authorization header of each request ("" if none)
        self.window = window
        self.clock = clock
        self.rate_limit_mode = rate_limit_mode
        self.slow_seconds = slow_seconds
        self.retry_after_seconds = retry_after_seconds
        self.repeat_across_pages = False
        self.datasets: Any = None  # dataset repos (tests/fakedatasets.py), when attached
        self.bytes_sent = 0  # bytes of response bodies sent
        self.pages_served = 0  # complete listing pages served, all listings together
        self.errors: list[str] = []  # unexpected server-side exceptions (should stay empty)
        self._lock = threading.RLock()
        self._items: dict[str, dict] = {}  # repo id -> stored item
        self._redirects: dict[str, str] = {}  # old repo id -> current repo id
        self._order_cache: dict[str | None, tuple[list[tuple], list[dict]]] = {}
        self._counter = 0
        self._faults: list[_Fault] = []
        self._log: list[LoggedRequest] = []
        self._page_callback: Callable[[int], Any] | None = None
        self._windows: dict[bool, tuple[float, int]] = {}  # bucket -> (window start, used)
        self._connections: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> FakeHub:
        """Bind 127.0.0.1 on a free port and serve in a daemon thread."""
        if self._server is None:
            self._server = _Server(("127.0.0.1", 0), _Handler)
            self._server.hub = self
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and drop open keep-alive connections. Idempotent."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        for conn in list(self._connections):
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeHub:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321`` (use as ``HfApi(endpoint=hub.url)``)."""
        if self._server is None:
            raise RuntimeError("FakeHub is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # ----------------------------------------------------------------- data
    def add(
        self,
        repo_id: str,
        downloads_all_time: int | None = 0,
        downloads: int | None = 0,
        likes: int | None = 0,
        created_at: str | None = None,
        tags: Iterable[str] = (),
        pipeline_tag: str | None = None,
        library_name: str | None = None,
        _id: str | None = None,
        last_modified: str | None = None,
        **extra: Any,
    ) -> dict:
        """Add a model repo; return a copy of the stored item.

        ``_id``, ``sha`` and ``createdAt`` (one hour apart per added repo, from 2024-01-01) are
        generated deterministically when not given; ``lastModified`` defaults to ``createdAt``.
        A counter or field given as None is omitted. ``extra`` fields (Hub names, or the
        snake_case names of ``set``) are stored verbatim, garbage included, overriding the rest.
        """
        if repo_id.count("/") != 1 or not all(repo_id.split("/")):
            raise ValueError(f"repo id must be 'org/name': {repo_id!r}")
        with self._lock:
            if repo_id in self._items:
                raise ValueError(f"repo already exists: {repo_id}")
            self._counter += 1
            n = self._counter
            uid = _id if _id is not None else f"{_FIRST_UID + n:024x}"
            if any(item["_id"] == uid for item in self._items.values()):
                raise ValueError(f"_id already used: {uid}")
            created = created_at or (_FIRST_CREATED + timedelta(hours=n)).strftime(
                "%Y-%m-%dT%H:%M:%S.000Z"
            )
            item = {
                "_id": uid,
                "id": repo_id,
                "modelId": repo_id,
                "author": repo_id.split("/")[0],
                "private": False,
                "downloads": downloads,
                "downloadsAllTime": downloads_all_time,
                "likes": likes,
                "createdAt": created,
                "lastModified": last_modified or created,
                "tags": list(tags),
                "pipeline_tag": pipeline_tag,
                "library_name": library_name,
                "sha": hashlib.sha1(f"{repo_id}:{n}".encode()).hexdigest(),
            }
            item = {key: value for key, value in item.items() if value is not None}
            item.update({_HUB_NAMES.get(key, key): value for key, value in extra.items()})
            self._items[repo_id] = item
            self._redirects.pop(repo_id, None)
            self._order_cache.clear()
            return dict(item)

    def add_derivative(
        self,
        repo_id: str,
        parent: str | list[str],
        relation: str | None = "finetune",
        tags: Iterable[str] = (),
        **kwargs: Any,
    ) -> dict:
        """Add a repo derived from ``parent`` (a list for a merge), tagged as the Hub does.

        Adds ``base_model:<parent>`` and, unless ``relation`` is None,
        ``base_model:<relation>:<parent>`` for each parent. Other arguments as for ``add``.
        """
        if relation is not None and relation not in RELATIONS:
            raise ValueError(f"relation must be one of {RELATIONS} or None")
        lineage = []
        for p in [parent] if isinstance(parent, str) else parent:
            lineage.append(f"base_model:{p}")
            if relation is not None:
                lineage.append(f"base_model:{relation}:{p}")
        return self.add(repo_id, tags=[*tags, *lineage], **kwargs)

    def get(self, repo_id: str) -> dict:
        """A copy of the stored item (KeyError if absent)."""
        with self._lock:
            return dict(self._items[repo_id])

    def set(self, repo_id: str, **fields: Any) -> dict:
        """Change fields (``downloads_all_time=`` or raw Hub names); None removes a field."""
        with self._lock:
            item = self._items[repo_id]
            for name, value in fields.items():
                key = _HUB_NAMES.get(name, name)
                if key in ("id", "_id", "modelId"):
                    raise ValueError("use rename() to change a repo id")
                if value is None:
                    item.pop(key, None)
                else:
                    item[key] = value
            self._order_cache.clear()
            return dict(item)

    def set_tags(self, repo_id: str, tags: Iterable[str]) -> dict:
        """Replace a repo's tags (e.g. to gain or lose a ``base_model:`` tag)."""
        return self.set(repo_id, tags=list(tags))

    def rename(self, old_id: str, new_id: str) -> dict:
        """Rename a repo: it keeps its ``_id``; ``GET /api/models/{old_id}`` answers 307."""
        if new_id.count("/") != 1 or not all(new_id.split("/")):
            raise ValueError(f"repo id must be 'org/name': {new_id!r}")
        with self._lock:
            if new_id in self._items:
                raise ValueError(f"repo already exists: {new_id}")
            item = self._items.pop(old_id)
            item.update(id=new_id, modelId=new_id, author=new_id.split("/")[0])
            self._items[new_id] = item
            for old, target in list(self._redirects.items()):
                if target == old_id:
                    self._redirects[old] = new_id
            self._redirects.pop(new_id, None)
            self._redirects[old_id] = new_id
            self._order_cache.clear()
            return dict(item)

    def delete(self, repo_id: str) -> None:
        """Delete a repo: gone from listings, detail 404 (also via its old ids)."""
        with self._lock:
            del self._items[repo_id]
            for old, target in list(self._redirects.items()):
                if target == repo_id:
                    del self._redirects[old]
            self._order_cache.clear()

    def disable(self, repo_id: str) -> None:
        """Disable a repo: gone from listings, its detail answers 403 "Access to this
        resource is disabled." (as the Hub does for repos taken down)."""
        with self._lock:
            self._items[repo_id]  # KeyError when absent
            self._disabled.add(repo_id)
            self._order_cache.clear()

    def add_redirect(self, old_id: str, new_id: str) -> None:
        """Make ``GET /api/models/{old_id}`` answer 307 to ``new_id`` (an existing repo);
        ``old_id`` may be a legacy id without an org ("gpt2")."""
        with self._lock:
            self._items[new_id]  # KeyError when absent
            self._redirects[old_id] = new_id

    # ----------------------------------------------------------------- faults & observation
    def outage(
        self,
        seconds: float,
        after: int = 0,
        kinds: Iterable[str] = ("429_bare", "503"),
        path_prefix: str = "/api/models",
    ) -> None:
        """An outage: from the first request after ``after`` of them, every request under
        ``path_prefix`` fails for ``seconds`` of the hub's clock, with ``kinds`` in turn
        (default: the CDN's bare 429s and 503s)."""
        kinds = tuple(kinds)
        if not kinds or set(kinds) - FAULT_KINDS:
            raise ValueError(f"outage kinds must be among {sorted(FAULT_KINDS)}")
        with self._lock:
            self._outages.append(_Outage(seconds, after, kinds, path_prefix))

    @property
    def outage_failures(self) -> int:
        """Requests failed by outages so far."""
        with self._lock:
            return sum(o.failed for o in self._outages)

    def inject(
        self, kind: str, times: int = 1, after: int = 0, path_prefix: str = "/api/models"
    ) -> None:
        """Make the next ``times`` requests under ``path_prefix``, after ``after`` of them pass,
        fail with ``kind`` (see ``FAULT_KINDS``). Faults are independent; the earliest injected
        wins when several fire on the same request."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; expected one of {sorted(FAULT_KINDS)}")
        with self._lock:
            self._faults.append(_Fault(kind, times, after, path_prefix))

    def on_page(self, callback: Callable[[int], Any] | None) -> None:
        """Call ``callback(page_number)`` (1-based, counted over all listings) once each listing
        page is computed and before it is sent, so changes show in the following pages.
        None removes the callback."""
        self._page_callback = callback

    @property
    def requests(self) -> list[LoggedRequest]:
        """Requests seen so far: (method, path, params as a list of pairs, status)."""
        with self._lock:
            return list(self._log)

    def request_count(self, path_prefix: str = "") -> int:
        """Number of requests whose path starts with ``path_prefix``."""
        with self._lock:
            return sum(1 for r in self._log if r.path.startswith(path_prefix))

    # ----------------------------------------------------------------- request handling
    def _handle(self, handler: _Handler) -> None:
        split = urlsplit(handler.path)
        path, params = unquote(split.path), parse_qsl(split.query, keep_blank_values=True)
        authorization = handler.headers.get("Authorization", "")
        if self.latency:
            self.sleep(self.latency)
        with self._lock:
            self.authorizations.append(authorization)
            rate = self._hit_window(bool(authorization) and self.token_quota is not None)
            fault = self._take_fault(path)
            if fault is None:
                now = self.clock()
                fault = next(
                    (k for o in self._outages if (k := o.fires(path, now)) is not None), None
                )
        if fault == "reset":
            self._record(handler.command, path, params, None)
            self._reset(handler)
            return
        if fault == "slow":
            time.sleep(self.slow_seconds)
        try:
            if self.reject_tokens and authorization:
                response = _error(401, "Invalid credentials in Authorization header")
            elif fault in ("429", "429_retry_after", "429_bare", "500", "502", "503"):
                response = self._fault_response(fault)
            elif fault == "invalid_json":
                html = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
                response = _Response(200, html, [("Content-Type", "text/html")])
            elif rate is not None and not rate[0]:
                response = self._quota_response(rate[2])
            elif self.datasets is not None and self.datasets.serves(path):
                response = self.datasets.respond(handler.command, path, params, handler.headers)
            else:
                response = self._route(handler.command, path, params)
        except Exception as exc:  # a bug in the fake: answer, and keep it visible to tests
            self.errors.append(repr(exc))
            response = _error(500, f"FakeHub error: {exc!r}")
        if fault == "truncated":
            response.body, response.is_page = response.body[: len(response.body) // 2], False
        if response.is_page:
            self._page_served()
        self._add_ratelimit_headers(response, rate)
        self._record(handler.command, path, params, response.status, len(response.body))
        self._send(handler, response)

    def _route(self, method: str, path: str, params: list[tuple[str, str]]) -> _Response:
        try:
            if method == "GET" and path == "/api/models":
                return self._list_models(params)
            if method == "GET" and path.startswith("/api/models/"):
                repo_id = path[len("/api/models/") :]
                if repo_id.count("/") <= 1 and all(repo_id.split("/")):
                    return self._model_info(repo_id, params)
            return _error(404, "Not Found")
        except _BadRequest as exc:
            return _error(400, str(exc))

    def _list_models(self, params: list[tuple[str, str]]) -> _Response:
        multi = _multi(params)
        sort = _last(multi, "sort")
        if sort is not None and sort not in SORTS:
            raise _BadRequest(f"Invalid sort: {sort!r}; expected one of {sorted(SORTS)}")
        expand = _parse_expand(multi, LISTING_EXPAND)
        limit = self.page_size
        if (raw_limit := _last(multi, "limit")) is not None:
            try:
                limit = int(raw_limit)
            except ValueError:
                raise _BadRequest(f"Invalid limit: {raw_limit!r}") from None
            if limit < 1:
                raise _BadRequest(f"Invalid limit: {raw_limit!r}")
        limit = min(limit, 100 if "page_size" in self.breaks else self.max_page_size)
        raw_cursor = _last(multi, "cursor")
        cursor = _decode_cursor(raw_cursor) if raw_cursor is not None else None
        filters = multi.get("filter", [])
        author = (_last(multi, "author") or "").lower()
        search = (_last(multi, "search") or "").lower()
        pipeline_tag = _last(multi, "pipeline_tag")

        def matches(item: dict) -> bool:
            tags = _tags(item)
            if item["id"] in self._disabled:
                return False
            if "base_model_filter" in self.breaks and any(
                f.startswith("base_model:") for f in filters
            ):
                if _parents(item)[1] not in (None, "finetune"):
                    return False
            return (
                all(f in tags for f in filters)
                and (not author or str(item.get("author", "")).lower() == author)
                and (not search or search in str(item.get("id", "")).lower())
                and (not pipeline_tag or item.get("pipeline_tag") == pipeline_tag)
            )

        with self._lock:
            keys, ordered = self._ordered(sort)
            start = bisect_right(keys, _order_key(*cursor)) if cursor else 0
            page: list[dict] = []
            more = False
            for item in islice(ordered, start, None):
                if matches(item):
                    if len(page) == limit:
                        more = True
                        break
                    page.append(item)
            last = page[-1] if page else None
            if self.repeat_across_pages and cursor is not None:
                previous = next((i for i in ordered if i["_id"] == cursor[1]), None)
                if previous is not None:
                    page.insert(0, previous)
            response = _json_response(200, [self._render(i, expand) for i in page], is_page=True)
        if more and last is not None:
            next_cursor = _encode_cursor(_sort_value(last, sort), last["_id"])
            kept = [
                (k, v)
                for k, v in params
                if k != "cursor" and not ("link_params" in self.breaks and k != "limit")
            ]
            query = urlencode([*kept, ("cursor", next_cursor)])
            response.headers.append(("Link", f'<{self.url}/api/models?{query}>; rel="next"'))
        return response

    def _model_info(self, repo_id: str, params: list[tuple[str, str]]) -> _Response:
        expand = _parse_expand(_multi(params), DETAIL_EXPAND)
        with self._lock:
            item = self._items.get(repo_id)
            if item is None:  # repo ids are case-insensitive on the Hub
                lowered = repo_id.lower()
                item = next((i for k, i in self._items.items() if k.lower() == lowered), None)
            if item is not None and item["id"] in self._disabled:
                return _error(403, "Access to this resource is disabled.")
            if item is not None:
                return _json_response(200, self._render(item, expand, detail=True))
            new_id = self._redirects.get(repo_id)
            if "redirect" in self.breaks:
                new_id = None
        if new_id is not None:
            location = f"{self.url}/api/models/{quote(new_id, safe='/')}"
            if params:
                location += "?" + urlencode(params)
            body = f"Temporary Redirect. Redirecting to {location}".encode()
            return _Response(307, body, [("Location", location), ("Content-Type", "text/plain")])
        return _error(
            404,
            "Repository not found",
            headers=[("X-Error-Code", "RepoNotFound"), ("X-Error-Message", "Repository not found")],
        )

    def _ordered(self, sort: str | None) -> tuple[list[tuple], list[dict]]:
        """All items in listing order for ``sort`` and their order keys (cached until a change)."""
        if sort not in self._order_cache:
            entries = sorted(
                ((_order_key(_sort_value(i, sort), i["_id"]), i) for i in self._items.values()),
                key=lambda entry: entry[0],
            )
            if "sort" in self.breaks and sort == "createdAt":  # oldest first, keys kept sorted
                entries = [
                    (k, i) for (k, _), (_, i) in zip(entries, reversed(entries), strict=True)
                ]
            self._order_cache[sort] = ([k for k, _ in entries], [i for _, i in entries])
        return self._order_cache[sort]

    def _render(self, item: dict, expand: list[str] | None, detail: bool = False) -> dict:
        """An item as the API returns it: default fields, or ``id`` plus the expanded ones."""
        if expand is None:
            return {k: v for k, v in item.items() if k != "downloadsAllTime"}
        out = {"id": item["id"]}
        if self.expand_includes_underscore_id and "underscore_id" not in self.breaks:
            out["_id"] = item["_id"]
        for key in expand:
            if detail and key == "baseModels":
                parents, relation = _parents(item)
                if parents:
                    models = [{"id": p} for p in parents]
                    for model in models:
                        if model["id"] in self._items:
                            model["_id"] = self._items[model["id"]]["_id"]
                    inferred = "merge" if len(parents) > 1 else "finetune"
                    out[key] = {"relation": relation or inferred, "models": models}
            elif detail and key == "childrenModelCount":
                tag = f"base_model:{item['id']}"
                out[key] = sum(1 for i in self._items.values() if tag in _tags(i))
            elif detail and key == "usedStorage":
                out[key] = item.get("usedStorage", 0)
            elif key in item:
                out[key] = item[key]
        if "types" in self.breaks and "downloads" in out:
            out["downloads"] = str(out["downloads"])
        return out

    def _hit_window(self, token: bool = False) -> tuple[bool, int, int, int] | None:
        """Count a request in its fixed window: (allowed, remaining, seconds to reset, quota)."""
        if self.quota is None:
            return None
        quota = self.token_quota if token and self.token_quota is not None else self.quota
        now = self.clock()
        start, used = self._windows.get(token, (None, 0))
        if start is None or now >= start + self.window:
            start, used = now, 0
        reset = max(0, math.ceil(start + self.window - now))
        if used >= quota:
            self._windows[token] = (start, used)
            return False, 0, reset, quota
        self._windows[token] = (start, used + 1)
        return True, quota - used - 1, reset, quota

    def _take_fault(self, path: str) -> str | None:
        fired = [fault for fault in self._faults if fault.fires(path)]
        self._faults = [fault for fault in self._faults if not fault.spent]
        return fired[0].kind if fired else None

    def _fault_response(self, kind: str) -> _Response:
        if not kind.startswith("429"):
            return _error(int(kind), f"Injected HTTP {kind}")
        response = _error(429, "Too Many Requests (injected)")
        response.ratelimit = (0, self.retry_after_seconds)
        response.bare = kind == "429_bare"
        if kind == "429_retry_after":
            response.headers.append(("Retry-After", str(self.retry_after_seconds)))
        return response

    def _quota_response(self, reset: int) -> _Response:
        response = _error(429, "Too Many Requests: rate limit exceeded for the 'api' bucket")
        response.ratelimit = (0, reset)
        response.bare = self.rate_limit_mode == "bare"
        if self.rate_limit_mode == "retry_after":
            response.headers.append(("Retry-After", str(reset)))
        return response

    def _add_ratelimit_headers(
        self, response: _Response, rate: tuple[bool, int, int, int] | None
    ) -> None:
        values = response.ratelimit or (rate[1:3] if rate is not None else None)
        if response.bare or values is None or "ratelimit" in self.breaks:
            return
        response.headers.append(("ratelimit", f'"api";r={values[0]};t={values[1]}'))
        if self.quota is not None:
            quota = rate[3] if rate is not None else self.quota
            policy = f'"fixed window";"api";q={quota};w={int(self.window)}'
            response.headers.append(("ratelimit-policy", policy))

    def _page_served(self) -> None:
        with self._lock:
            self.pages_served += 1
            number = self.pages_served
        callback = self._page_callback
        if callback is not None:
            try:
                callback(number)
            except Exception as exc:  # keep serving; the test sees it in hub.errors
                self.errors.append(repr(exc))

    def _record(
        self, method: str, path: str, params: list, status: int | None, size: int = 0
    ) -> None:
        # Recorded before the response goes out, so a client never outruns the log.
        with self._lock:
            self._log.append(LoggedRequest(method, path, params, status))
            self.bytes_sent += size

    @staticmethod
    def _reset(handler: _Handler) -> None:
        """Drop the connection without answering (RST), as a failing proxy does."""
        handler.close_connection = True
        try:
            handler.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
            handler.connection.close()
        except OSError:
            pass

    @staticmethod
    def _send(handler: _Handler, response: _Response) -> None:
        handler.send_response(response.status)
        for name, value in response.headers:
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(response.body)))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(response.body)
