"""A fast fake Hub for the benchmark: a synthetic Hub served from pre-rendered bytes.

tests/fakehub.py is built for correctness (keyset cursors, faults, any filter); here the
whole-Hub pages (`sort=createdAt`, 1,000 per page) are rendered once at start, and the
lineage listings (`filter=base_model:<id>`), author listings and detail lookups come from
indexes, so that the client, not the server, is what gets measured. The server runs in
its own process: `python -m bench.hubserver --models N` prints `ready <port>` when up.
`GET /_stats` answers {"requests": ..., "bytes": ...} (bodies sent) and `/_reset` zeroes them.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from bench.synth import FIRST_UID, SynthHub

PAGE = 1000
QUOTA = 1_000_000  # rate-limit headers are sent (the client parses them); `--quota` to change


class Served:
    """The synthetic Hub, indexed for every request the collector and the baseline make."""

    def __init__(self, hub: SynthHub) -> None:
        self.hub = hub
        self.items = [hub.item_json(i) for i in range(hub.n)]
        order = list(hub.newest_first())
        self.pages = [
            b"[" + b",".join(self.items[i] for i in order[k : k + PAGE]) + b"]"
            for k in range(0, hub.n, PAGE)
        ]
        self.index = {repo_id: i for i, repo_id in enumerate(hub.ids)}
        self.children: dict[int, list[int]] = {}
        self.by_author: dict[str, list[int]] = {}
        for i in order:
            for p in hub.parents[i]:
                self.children.setdefault(p, []).append(i)
            author = hub.ids[i].split("/", 1)[0]
            if author in ("Qwen", "meta-llama"):
                self.by_author.setdefault(author, []).append(i)
        self.requests = 0
        self.bytes = 0
        self.quota = QUOTA
        self.lock = threading.Lock()

    def listing(self, params: list[tuple[str, str]]) -> tuple[bytes, str | None]:
        """A page of a listing and the cursor of the next one."""
        query = dict(params)
        limit = min(int(query.get("limit", PAGE)), PAGE)
        page = int(query.get("cursor", "0"))
        filters = [v for k, v in params if k == "filter"]
        if filters or "author" in query:
            if filters:
                parent = self.index.get(filters[0].removeprefix("base_model:"))
                chosen = self.children.get(parent, []) if parent is not None else []
            else:
                chosen = self.by_author.get(query["author"], [])
            part = chosen[page * limit : (page + 1) * limit]
            body = b"[" + b",".join(self.items[i] for i in part) + b"]"
            more = (page + 1) * limit < len(chosen)
        elif limit == PAGE:
            body = self.pages[page]
            more = page + 1 < len(self.pages)
        else:
            order = range(
                self.hub.n - 1 - page * limit, max(-1, self.hub.n - 1 - (page + 1) * limit), -1
            )
            body = b"[" + b",".join(self.items[i] for i in order) + b"]"
            more = (page + 1) * limit < self.hub.n
        return body, (str(page + 1) if more else None)

    def detail(self, repo_id: str, params: list[tuple[str, str]]) -> bytes | None:
        i = self.index.get(repo_id)
        if i is None:
            return None
        if ("expand", "childrenModelCount") in params:
            count = len(self.children.get(i, []))
            uid = f"{FIRST_UID + i:024x}"
            return json.dumps({"_id": uid, "id": repo_id, "childrenModelCount": count}).encode()
        return self.items[i]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: Any

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        served: Served = self.server.served
        split = urlsplit(self.path)
        path = unquote(split.path)
        params = parse_qsl(split.query, keep_blank_values=True)
        headers = [("Content-Type", "application/json; charset=utf-8")]
        status = 200
        if path == "/_stats":
            body = json.dumps({"requests": served.requests, "bytes": served.bytes}).encode()
            self._send(status, body, headers)
            return
        if path == "/_reset":
            with served.lock:
                served.requests = served.bytes = 0
            self._send(status, b"{}", headers)
            return
        if path == "/api/models":
            body, cursor = served.listing(params)
            if cursor is not None:
                kept = [(k, v) for k, v in params if k != "cursor"]
                host = self.headers.get("Host", "127.0.0.1")
                url = f"http://{host}/api/models?{urlencode([*kept, ('cursor', cursor)])}"
                headers.append(("Link", f'<{url}>; rel="next"'))
        elif path.startswith("/api/models/"):
            found = served.detail(path[len("/api/models/") :], params)
            status, body = (200, found) if found is not None else (404, b'{"error":"not found"}')
        else:
            status, body = 404, b'{"error":"Not Found"}'
        with served.lock:
            served.requests += 1
            served.bytes += len(body)
            quota = served.quota
            remaining = quota - served.requests % quota
        headers.append(("ratelimit", f'"api";r={remaining};t=300'))
        headers.append(("ratelimit-policy", f'"fixed window";"api";q={quota};w=300'))
        self._send(status, body, headers)

    def _send(self, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--models", type=int, default=500_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--quota", type=int, default=QUOTA, help="announced requests per 5 min")
    args = ap.parse_args()
    served = Served(SynthHub(args.models, args.seed).build())
    served.quota = args.quota
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.served = served  # type: ignore[attr-defined]
    print(f"ready {server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.05)
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
