"""A fake of ModelScope's OpenAPI model listing, served on 127.0.0.1 for tests.

It behaves as /work/shared/history-sources.md describes the real one:

* ``GET /openapi/v1/models?owner=...&sort=downloads&page_number=N&page_size=S``:
  ``{"success": true, "data": {"models": [...], "total_count": N}}``; ``page_size`` above
  50 or ``page_number * page_size`` above 3,000 is a 400 with ``success: false``.
* ``GET /openapi/v1/models/{owner}/{name}``: one model, or 404 with ``success: false``.
* Fault injection: 429 with ``Retry-After``, 500/502/503, invalid JSON bodies; garbage
  items placed in an owner's listing.

Standard library only; requests are recorded in ``FakeModelScope.requests``.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

MAX_PAGE_SIZE = 50
MAX_PER_QUERY = 3000
FAULTS = frozenset({"429", "500", "502", "503", "invalid_json"})


@dataclass
class _Fault:
    kind: str
    times: int
    after: int
    retry_after: int | None
    seen: int = 0


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        status, body, headers = self.server.fake.handle(self.path)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for key, value in headers:
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence stderr
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeModelScope


class FakeModelScope:
    """The fake server: models by id, faults, and the log of requests (path, params, status)."""

    def __init__(self) -> None:
        self.models: dict[str, dict[str, Any]] = {}
        self.garbage: dict[str, list[Any]] = {}
        self.hidden: set[str] = set()  # left out of listings, still served by id
        self.faults: list[_Fault] = []
        self.requests: list[tuple[str, dict[str, str], int]] = []
        self._lock = threading.Lock()
        self._server: _Server | None = None

    # -- lifecycle ---------------------------------------------------------------------
    def __enter__(self) -> FakeModelScope:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- state -------------------------------------------------------------------------
    def add(self, repo_id: str, downloads: int, likes: int = 0, **fields: Any) -> None:
        """A model; `created_at` is epoch seconds unless given (the API's form varies)."""
        self.models[repo_id] = {
            "id": repo_id,
            "display_name": repo_id.split("/", 1)[1],
            "description": "",
            "downloads": downloads,
            "likes": likes,
            "created_at": 1735689600,
            "last_modified": 1735689600,
            "license": "apache-2.0",
            "tasks": ["text-generation"],
            **fields,
        }

    def set(self, repo_id: str, **fields: Any) -> None:
        self.models[repo_id].update(fields)

    def add_garbage(self, owner: str, item: Any) -> None:
        """An unusable item served in the owner's listing (it counts in total_count)."""
        self.garbage.setdefault(owner, []).append(item)

    def inject(
        self, kind: str, times: int = 1, after: int = 0, retry_after: int | None = None
    ) -> None:
        """Answer `times` requests, after `after` good ones, with a fault."""
        assert kind in FAULTS, kind
        self.faults.append(_Fault(kind, times, after, retry_after))

    def count(self, path_prefix: str = "/openapi/v1/models") -> int:
        return sum(1 for p, _, _ in self.requests if p.startswith(path_prefix))

    # -- serving -----------------------------------------------------------------------
    def handle(self, raw: str) -> tuple[int, bytes, list[tuple[str, str]]]:
        parts = urlsplit(raw)
        path, params = unquote(parts.path), dict(parse_qsl(parts.query))
        with self._lock:
            status, body, headers = self._answer(path, params)
            self.requests.append((path, params, status))
        return status, body, headers

    def _answer(self, path: str, params: dict[str, str]) -> tuple[int, bytes, list]:
        for fault in self.faults:  # every fault counts every request
            fault.seen += 1
        for fault in self.faults:
            if fault.after < fault.seen <= fault.after + fault.times:
                if fault.kind == "invalid_json":
                    return 200, b'{"success": true, "data": {"models": [', []
                headers = (
                    [("Retry-After", str(fault.retry_after))]
                    if fault.retry_after is not None
                    else []
                )
                return int(fault.kind), _dump({"success": False, "message": "busy"}), headers
        if path == "/openapi/v1/models":
            return self._listing(params)
        prefix = "/openapi/v1/models/"
        if path.startswith(prefix) and path[len(prefix) :] in self.models:
            return 200, _dump({"success": True, "data": self.models[path[len(prefix) :]]}), []
        return 404, _dump({"success": False, "message": "model not found"}), []

    def _listing(self, params: dict[str, str]) -> tuple[int, bytes, list]:
        try:
            number = int(params.get("page_number", "1"))
            size = int(params.get("page_size", "10"))
        except ValueError:
            return 400, _dump({"success": False, "message": "bad paging"}), []
        if size > MAX_PAGE_SIZE or size < 1 or number < 1:
            return 400, _dump({"success": False, "message": "page_size must be 1..50"}), []
        if number * size > MAX_PER_QUERY:
            return 400, _dump({"success": False, "message": "at most 3000 results"}), []
        owner = params.get("owner", "")
        items: list[Any] = sorted(
            (
                m
                for m in self.models.values()
                if m["id"].split("/", 1)[0] == owner and m["id"] not in self.hidden
            ),
            key=lambda m: (-m["downloads"] if isinstance(m["downloads"], int) else 0, m["id"]),
        )
        items += self.garbage.get(owner, [])
        page = items[(number - 1) * size : number * size]
        return (
            200,
            _dump({"success": True, "data": {"models": page, "total_count": len(items)}}),
            [],
        )


def _dump(obj: Any) -> bytes:
    return json.dumps(obj).encode()
