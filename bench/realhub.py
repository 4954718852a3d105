"""The shipped daily job against a Hub of real size, quota and latency, in scaled time.

`python -m bench.realhub` serves a synthetic Hub of 3.2M models (bench/synth.py: a
Qwen-shaped family of ~160,000 members) from its own process, with the real Hub's
anonymous quota (500 requests per 5 min) and 1 s per request, and runs what the daemon
runs for schedules/qwen-daily.toml: `take_snapshot` of the packaged `qwen` family, no
strategy given, the schedule's timeout as the time budget. Then again on a fresh
warehouse with a 10-minute outage (bare 429s and 503s in turn) from the middle of the
crawl. It reports the strategy chosen, the duration against the quota-bound and
latency-bound times, the ETA the plan printed, requests and totals.

Time is scaled by `--scale` (10: a second of the Hub is 0.1 s here): the server's
latency, quota window and outage, and the client's waits are all divided by it, so an
hour-long crawl takes six minutes. The work of the client (parsing, staging, the
commit) is not scaled: it counts `--scale` times more against the Hub's time than it
would on the real Hub, so the ratios here are pessimistic.

`--real-time` measures without scaling instead, on a smaller Hub: 500,000 models (a
Qwen-shaped family of ~24,000 members, still far too many for a lineage crawl within the
schedule's 2 h), the real 1 s per request and 500 requests per 5 min. A day of the job
runs first (the day before: the plan then knows the Hub's size and the last crawl's time
per page, as the daemon's plan does every day after its first), then the measured day on
a copy of that warehouse, without and with the outage. About 9 + 9 + 19 minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

import duckdb

from bench.synth import SynthHub

PAGE = 1000


class Served:
    """The synthetic Hub with the real Hub's latency, fixed-window quota and an outage."""

    def __init__(self, hub: SynthHub, latency: float, quota: int, window: float) -> None:
        self.hub = hub
        self.latency, self.quota, self.window = latency, quota, window
        self.index = {repo_id: i for i, repo_id in enumerate(hub.ids)}
        self.children: dict[int, list[int]] = {}
        for i in range(hub.n - 1, -1, -1):
            for p in hub.parents[i]:
                self.children.setdefault(p, []).append(i)
        self.qwen = [i for i in range(hub.n - 1, -1, -1) if hub.ids[i].startswith("Qwen/")]
        self.lock = threading.Lock()
        self.requests = 0
        self.window_start = time.monotonic()
        self.used = 0
        self.outage_after: int | None = None
        self.outage_seconds = 0.0
        self.outage_began: float | None = None
        self.outage_failures = 0

    def admit(self) -> tuple[int | None, int, int]:
        """(fault status or None, remaining, reset) for one request."""
        with self.lock:
            self.requests += 1
            now = time.monotonic()
            if self.outage_after is not None and self.requests > self.outage_after:
                self.outage_began = self.outage_began or now
                if now < self.outage_began + self.outage_seconds:
                    self.outage_failures += 1
                    return (429 if self.outage_failures % 2 else 503), 0, 0
            if now >= self.window_start + self.window:
                self.window_start, self.used = now, 0
            reset = max(1, round(self.window_start + self.window - now))
            if self.used >= self.quota:
                return 430, 0, reset  # over the quota: a 429 with its headers
            self.used += 1
            return None, self.quota - self.used, reset

    def page(self, ids: list[int], start: int) -> tuple[bytes, int | None]:
        chunk = ids[start : start + PAGE]
        body = b"[" + b",".join(self.hub.item_json(i) for i in chunk) + b"]"
        return body, (start + PAGE if start + PAGE < len(ids) else None)

    def listing(self, params: list[tuple[str, str]]) -> tuple[bytes, int | None]:
        query = dict(params)
        start = int(query.get("cursor", "0"))
        if "author" in query:
            return self.page(self.qwen if query["author"] == "Qwen" else [], start)
        filters = [v for k, v in params if k == "filter"]
        if filters:
            parent = self.index.get(filters[0].split(":")[-1])
            return self.page(self.children.get(parent, []) if parent is not None else [], start)
        n = self.hub.n
        stop = max(0, n - start - PAGE)
        body = (
            b"["
            + b",".join(self.hub.item_json(i) for i in range(n - 1 - start, stop - 1, -1))
            + b"]"
        )
        return body, (start + PAGE if stop > 0 else None)

    def detail(self, repo_id: str, params: list[tuple[str, str]]) -> bytes | None:
        i = self.index.get(repo_id)
        if i is None:
            return None
        if ("expand", "childrenModelCount") in params:
            count = len(self.children.get(i, []))
            return json.dumps({"id": repo_id, "childrenModelCount": count}).encode()
        return self.hub.item_json(i)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: Any

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        served: Served = self.server.served
        split = urlsplit(self.path)
        path, params = unquote(split.path), parse_qsl(split.query, keep_blank_values=True)
        if path == "/_stats":
            with served.lock:
                stats = {
                    "requests": served.requests,
                    "outage_failures": served.outage_failures,
                    "cpu": time.process_time(),  # the server's own work, all threads
                }
            return self._send(200, json.dumps(stats).encode(), [])
        if path == "/_outage":
            with served.lock:
                served.outage_after = served.requests + int(dict(params)["after"])
                served.outage_seconds = float(dict(params)["seconds"])
            return self._send(200, b"{}", [])
        arrived = time.monotonic()
        fault, remaining, reset = served.admit()
        rate = [
            ("ratelimit", f'"api";r={remaining};t={reset}'),
            ("ratelimit-policy", f'"fixed window";"api";q={served.quota};w={round(served.window)}'),
        ]
        if fault == 429:  # the CDN's: no headers at all
            return self._send(429, b"Too Many Requests", [], arrived)
        if fault == 503:
            return self._send(503, b'{"error":"Service Unavailable"}', [], arrived)
        if fault == 430:
            return self._send(429, b'{"error":"rate limited"}', rate, arrived)
        headers = [*rate, ("Content-Type", "application/json")]
        if path == "/api/models":
            body, cursor = served.listing(params)
            if cursor is not None:
                kept = [(k, v) for k, v in params if k != "cursor"]
                url = f"http://{self.headers['Host']}/api/models?{urlencode([*kept, ('cursor', cursor)])}"
                headers.append(("Link", f'<{url}>; rel="next"'))
            return self._send(200, body, headers, arrived)
        found = served.detail(path.removeprefix("/api/models/"), params)
        if found is None:
            return self._send(404, b'{"error":"Repository not found"}', headers, arrived)
        return self._send(200, found, headers, arrived)

    def _send(
        self, status: int, body: bytes, headers: list[tuple[str, str]], arrived: float = 0.0
    ) -> None:
        # The Hub's latency counts from the request's arrival and includes rendering the
        # answer: the body is built first, then the rest of the latency is waited out.
        if arrived:
            time.sleep(max(0.0, arrived + self.server.served.latency - time.monotonic()))
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


def serve(args: argparse.Namespace) -> None:
    hub = SynthHub(args.models).build()
    served = Served(hub, args.latency / args.scale, args.quota, args.window / args.scale)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.served = served  # type: ignore[attr-defined]
    print(f"ready {server.server_address[1]} {len(hub.members('qwen'))}", flush=True)
    server.serve_forever(poll_interval=0.05)


def _get(url: str) -> dict[str, Any]:
    import urllib.request

    with urllib.request.urlopen(url) as r:  # noqa: S310 - our own local server
        return dict(json.loads(r.read()))


def run_once(
    args: argparse.Namespace,
    outage: bool,
    db: Path,
    scale: float | None = None,
    seed: bool = False,
) -> dict[str, Any]:
    """One snapshot as the daemon runs it into `db`, against a fresh server; its figures.
    `seed`: the day before, without the outage."""
    s = scale or args.scale
    cmd = [sys.executable, "-m", "bench.realhub", "serve", "--models", str(args.models)]
    cmd += ["--scale", str(s), "--quota", str(args.quota), "--window", str(args.window)]
    cmd += ["--latency", str(args.latency)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        _, port, qwen = proc.stdout.readline().split()
        url = f"http://127.0.0.1:{port}"
        os.environ["HF_ENDPOINT"] = url
        os.environ.pop("COLLECTOR_FAMILIES", None)
        from collector.families import get_families
        from collector.scheduling.schedules import load_schedules
        from collector.snapshot.run import take_snapshot
        from collector.sources.hub import HubClient

        [schedule] = load_schedules(Path(__file__).parent.parent / "schedules", None)
        families = get_families(list(schedule.families))
        client = HubClient(endpoint=url, retry_wait=1 / s, max_wait=60 / s, reset_margin=0.5 / s)
        plans: list[Any] = []
        pages = -(-args.models // PAGE)

        marks: dict[str, float] = {}

        def progress(event: str, **data: Any) -> None:
            now = time.monotonic()
            if event == "page":
                marks.setdefault("first_page", now)
                marks["last_page"] = now
            elif event in ("staging", "done"):
                marks.setdefault(event, now)
            if event == "plan":
                plans.append(data["plan"])
                if outage and not seed:  # from the middle of the crawl
                    _get(f"{url}/_outage?after={pages // 2}&seconds={args.outage / s}")

        load_before = os.getloadavg()
        cpu = time.process_time()
        start = time.monotonic()
        [result] = take_snapshot(
            families,
            db=db,
            client=client,
            progress=progress,
            time_budget=schedule.timeout / s,
        )
        took = time.monotonic() - start
        cpu = time.process_time() - cpu
        load_after = os.getloadavg()
        stats = _get(f"{url}/_stats")
    finally:
        proc.terminate()
        proc.wait()
    plan = plans[0]
    con = duckdb.connect(str(db), read_only=True)
    total = con.execute(
        "SELECT sum(downloads_all_time) FROM members_daily WHERE family = 'qwen'"
    ).fetchall()[0][0]
    con.close()
    requests = result.requests
    return {
        "strategy": result.strategy,
        "members": result.members,
        "synthetic_members": int(qwen),
        "requests": requests,
        "retries": result.retries,
        "outage_failures": stats["outage_failures"],
        "seconds": took * s,
        "quota_bound": requests / args.quota * args.window if requests > args.quota else 0.0,
        "latency_bound": requests * args.latency,
        "eta": plan.seconds * s,
        # Hub seconds from the start to the first page, of the pages, and after the last
        "phases": (
            (marks["first_page"] - start) * s,
            (marks["last_page"] - marks["first_page"]) * s,
            (marks["done"] - marks["last_page"]) * s,
        ),
        "plan": plan.describe(),
        "downloads_all_time": int(total or 0),
        "client_cpu": cpu,  # real seconds, unscaled
        "server_cpu": stats["cpu"],
        "load": (load_before, load_after),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("mode", nargs="?", default="bench", choices=["bench", "serve"])
    ap.add_argument("--models", type=int, default=None, help="3,200,000 (500,000 real-time)")
    ap.add_argument("--scale", type=float, default=10.0)
    ap.add_argument("--latency", type=float, default=1.0, help="Hub seconds per request")
    ap.add_argument("--quota", type=int, default=500)
    ap.add_argument("--window", type=float, default=300.0)
    ap.add_argument("--outage", type=float, default=600.0, help="Hub seconds of outage")
    ap.add_argument(
        "--seed-scale",
        type=float,
        default=0.0,
        help="first run the job once at this scale (the day before: the measured runs' plan "
        "then knows the Hub's size and the time per page from that crawl; at another scale "
        "than --scale, that time per page is the other scale's)",
    )
    ap.add_argument(
        "--real-time",
        action="store_true",
        help="unscaled: --scale 1 --seed-scale 1 on a Hub of 500,000 models (see above)",
    )
    args = ap.parse_args()
    if args.real_time:
        args.scale = args.seed_scale = 1.0
    if args.models is None:
        args.models = 500_000 if args.real_time else 3_200_000
    if args.mode == "serve":
        serve(args)
        return
    seeded = None
    with tempfile.TemporaryDirectory(prefix="collector-realhub-") as tmp:
        plain_db, outage_db = Path(tmp) / "plain.duckdb", Path(tmp) / "outage.duckdb"
        if args.seed_scale:  # the day before, so that the plan knows the Hub's size
            seeded = run_once(args, False, plain_db, scale=args.seed_scale, seed=True)
            shutil.copyfile(plain_db, outage_db)  # both measured runs are the next day
        plain = run_once(args, False, plain_db)
        broken = run_once(args, True, outage_db) if args.outage else None
    runs = [("the day before (seed)", seeded), ("no outage", plain), ("10-min outage", broken)]
    for name, r in runs:
        if r is None:
            continue
        bound = max(r["quota_bound"], r["latency_bound"])
        print(f"## {name}")
        print("\n".join(f"    {line}" for line in r["plan"]))
        print(
            f"strategy {r['strategy']}; {r['members']:,} members (synthetic: "
            f"{r['synthetic_members']:,}); {r['requests']:,} requests, {r['retries']} retries "
            f"({r['outage_failures']} failed by the outage); {r['seconds']:.0f} s against "
            f"quota-bound {r['quota_bound']:.0f} s, latency-bound {r['latency_bound']:.0f} s: "
            f"{r['seconds'] / bound:.3f}x; ETA {r['eta']:.0f} s: {r['eta'] / r['seconds']:.2f}x "
            f"the duration; downloads {r['downloads_all_time']:,}"
        )
        before, crawl, after = r["phases"]
        pages = max(1, r["requests"] - 1)
        (b1, b5, b15), (a1, a5, a15) = r["load"]
        print(
            f"phases: {before:.0f} s to the first page, {crawl:.0f} s of pages "
            f"({crawl / pages:.3f} s each), {after:.0f} s after the last "
            f"(dangling lookups, membership, commit); CPU (real s): client "
            f"{r['client_cpu']:.0f} s ({r['client_cpu'] / pages:.3f} s a page), server "
            f"{r['server_cpu']:.0f} s; load average {b1:.2f} {b5:.2f} {b15:.2f} before, "
            f"{a1:.2f} {a5:.2f} {a15:.2f} after"
        )
    if broken is None:
        return
    extra = broken["requests"] / (1.02 * plain["requests"] + broken["retries"])
    print(
        f"requests with the outage / (1.02 x without + retries) = {extra:.3f}; totals equal: "
        f"{broken['downloads_all_time'] == plain['downloads_all_time'] and broken['members'] == plain['members']}"
    )


if __name__ == "__main__":
    main()
