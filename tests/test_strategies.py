"""Finding families on the Hub: the whole-Hub crawl, `auto`, and the official-only fast path.

Every test drives the real CLI against tests/fakehub.py; the fake Hub's `max_page_size`
forces small pages so that paging is exercised with a handful of repos.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from tests.conftest import Cli
from tests.fakehub import FakeHub

NOW = "2026-01-02T12:00:00"
FAMILIES = """
[families.qwen]
authors = ["Qwen"]
strategy = "{qwen}"

[families.llama]
authors = ["meta-llama"]
strategy = "{llama}"
"""


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    """A fake Hub that serves at most 4 repos per page, whatever the client asks."""
    with FakeHub(max_page_size=4) as fake:
        monkeypatch.setenv("HF_ENDPOINT", fake.url)
        yield fake


def families_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, qwen: str = "auto", llama: str = "auto"
) -> Path:
    path = tmp_path / "families.toml"
    path.write_text(FAMILIES.format(qwen=qwen, llama=llama))
    monkeypatch.setenv("COLLECTOR_FAMILIES", str(path))
    return path


def build_hub(hub: FakeHub) -> None:
    """Two families and bystanders: depth-3 chains, a cycle, merges, dangling parents."""
    hub.add("Qwen/Qwen3-8B", downloads_all_time=1000, downloads=100, likes=10)
    hub.add("Qwen/Qwen3-32B", downloads_all_time=2000, downloads=200, likes=20)
    hub.add("meta-llama/Llama-3-8B", downloads_all_time=500, downloads=50, likes=5)
    hub.add("someone/unrelated", downloads_all_time=7)
    hub.add_derivative("ft/qwen-ft", "Qwen/Qwen3-8B", downloads_all_time=300)
    hub.add_derivative("ft/qwen-ft-GGUF", "ft/qwen-ft", relation="quantized", downloads_all_time=40)
    hub.add_derivative(
        "q/qwen-ft-GGUF-imat", "ft/qwen-ft-GGUF", relation="quantized", downloads_all_time=4
    )
    hub.add_derivative("a/adapter", "Qwen/Qwen3-32B", relation="adapter", downloads_all_time=30)
    # a cycle below an official repo: c1 <- Qwen, c2 <- c1, and c1 also names c2
    hub.add_derivative("cyc/c1", ["Qwen/Qwen3-8B", "cyc/c2"], downloads_all_time=11)
    hub.add_derivative("cyc/c2", "cyc/c1", downloads_all_time=12)
    # a merge of both official Qwen repos, and one of Qwen and Llama (member of both)
    hub.add_derivative(
        "m/qwen-merge", ["Qwen/Qwen3-8B", "Qwen/Qwen3-32B"], relation="merge", downloads_all_time=9
    )
    hub.add_derivative(
        "m/cross-merge",
        ["Qwen/Qwen3-32B", "meta-llama/Llama-3-8B"],
        relation="merge",
        downloads_all_time=8,
    )
    hub.add_derivative("ll/llama-ft", "meta-llama/Llama-3-8B", downloads_all_time=60)
    hub.add_derivative("x/orphan", "gone/deleted-base", downloads_all_time=3)
    for i in range(9):
        hub.add(f"noise{i}/model", downloads_all_time=i)


def json_of(cli: Cli, *args: str) -> object:
    return json.loads(cli(*args, "--format", "json").stdout)


def run_ids(db: Path) -> list[tuple[str, str, int, int]]:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "SELECT family, strategy, requests, repos_seen FROM runs ORDER BY run_id"
        ).fetchall()
    return [tuple(r) for r in rows]


def test_hub_and_lineage_find_the_same_members_and_report(
    cli: Cli, small_pages: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    families_file(tmp_path, monkeypatch)
    build_hub(small_pages)
    out = {}
    for strategy in ("hub", "lineage"):
        db = str(tmp_path / f"{strategy}.duckdb")
        cli("snapshot", "-f", "qwen", "-f", "llama", "--strategy", strategy, "--db", db, now=NOW)
        small_pages.set("ft/qwen-ft", downloads_all_time=350)
        small_pages.set("cyc/c2", downloads_all_time=20)
        cli(
            "snapshot",
            "-f",
            "qwen",
            "-f",
            "llama",
            "--strategy",
            strategy,
            "--db",
            db,
            now="2026-01-03T12:00:00",
        )
        small_pages.set("ft/qwen-ft", downloads_all_time=300)
        small_pages.set("cyc/c2", downloads_all_time=12)
        out[strategy] = {
            family: (
                json_of(cli, "members", "-f", family, "--db", db),
                json_of(cli, "report", "-f", family, "--db", db),
                json_of(cli, "report", "-f", family, "--by", "depth", "--db", db),
            )
            for family in ("qwen", "llama")
        }
    assert out["hub"] == out["lineage"]
    members = {m["repo_id"]: (m["depth"], m["relation"]) for m in out["hub"]["qwen"][0]["members"]}
    assert members == {
        "Qwen/Qwen3-8B": (0, None),
        "Qwen/Qwen3-32B": (0, None),
        "ft/qwen-ft": (1, "finetune"),
        "ft/qwen-ft-GGUF": (2, "quantized"),
        "q/qwen-ft-GGUF-imat": (3, "quantized"),
        "a/adapter": (1, "adapter"),
        "cyc/c1": (1, "finetune"),
        "cyc/c2": (2, "finetune"),
        "m/qwen-merge": (1, "merge"),
        "m/cross-merge": (1, "merge"),
    }
    series = out["hub"]["qwen"][1]["series"]
    assert [
        (r["date"], r["repos"], r["downloads_all_time"], r["new_downloads"]) for r in series
    ] == [
        ("2026-01-02", 10, 3414, None),
        ("2026-01-03", 10, 3472, 58),
    ]
    assert [m["repo_id"] for m in out["hub"]["llama"][0]["members"]] == [
        "meta-llama/Llama-3-8B",
        "ll/llama-ft",
        "m/cross-merge",
    ]


def test_one_crawl_serves_every_family_in_ceil_n_over_page_requests(
    isolated_env: Path,
    cli: Cli,
    small_pages: FakeHub,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    families_file(tmp_path, monkeypatch, qwen="hub", llama="hub")
    build_hub(small_pages)
    total = len(small_pages._items)
    result = cli("snapshot", "-f", "qwen", "-f", "llama", now=NOW)
    pages = math.ceil(total / 4)
    assert total == 23 and pages == 6
    # the pages, and one lookup of the dangling parent of x/orphan
    assert small_pages.request_count() == pages + 1
    assert small_pages.requests[-1].path == "/api/models/gone/deleted-base"
    for request in small_pages.requests[:-1]:
        assert request.path == "/api/models"
        params = dict(request.params)
        assert params["sort"] == "createdAt" and params["limit"] == "1000"
        assert "filter" not in params and "author" not in params
        assert [v for k, v in request.params if k == "expand"] == [
            "author",
            "downloads",
            "downloadsAllTime",
            "likes",
            "createdAt",
            "lastModified",
            "tags",
            "pipeline_tag",
            "library_name",
        ]
    lines = [re.sub(r"\d+\.\ds$", "Xs", line) for line in result.stdout.splitlines()]
    assert lines == [
        "qwen: run 1 complete at 2026-01-02 12:00:00 UTC: 10 members (2 official, "
        "8 derivatives), 7 requests (0 retries), 1 data problems (1 unresolved base_model "
        "parent), Xs",
        "llama: run 2 complete at 2026-01-02 12:00:00 UTC: 3 members (1 official, "
        "2 derivatives), 7 requests (0 retries), 1 data problems (1 unresolved base_model "
        "parent), Xs",
    ]
    assert result.stderr.splitlines()[:3] == [
        "qwen, llama: strategy hub, expecting about 3,200 requests (3,200,000 models at "
        "1,000 per page; default size, no crawl yet); set in the families file",
        "Expecting about 3,200 requests in all: 32 min at the anonymous quota of 500 "
        "requests per 5 min; 64 min at 1.2 s per request (expected); ETA about 64 min "
        "(latency-bound)",
        "Official repos only, in seconds: collector snapshot -f qwen -f llama --official-only",
    ]
    assert run_ids(isolated_env) == [("qwen", "hub", 7, 23), ("llama", "hub", 7, 23)]


def test_hub_crawl_that_fails_records_a_failed_run_per_family(
    isolated_env: Path,
    cli: Cli,
    small_pages: FakeHub,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    families_file(tmp_path, monkeypatch, qwen="hub", llama="hub")
    build_hub(small_pages)
    small_pages.inject("500", times=50, after=2)
    result = cli("snapshot", "-f", "qwen", "-f", "llama", "--quiet", now=NOW, ok=False)
    assert result.exit_code == 1
    # two pages, then the third one 7 times
    assert result.stderr.splitlines() == [
        f"Error: snapshot of qwen failed: HTTP 500 from {small_pages.url} for /api/models "
        "after 7 attempts (recorded as run 1; `collector snapshot` continues it)"
    ]
    with duckdb.connect(str(isolated_env), read_only=True) as con:
        rows = con.execute("SELECT family, status, requests FROM runs ORDER BY run_id").fetchall()
        assert con.execute("SELECT count(*) FROM membership").fetchall() == [(0,)]
    assert rows == [("qwen", "failed", 9), ("llama", "failed", 9)]

    # --resume goes on at the third page, and both families are committed from the crawl
    small_pages._faults.clear()
    result = cli("snapshot", "-f", "qwen", "-f", "llama", "--resume", now="2026-01-02T13:00:00")
    resumed = small_pages.requests[9:]
    assert len(resumed) == 5 and "cursor" in dict(resumed[0].params)  # 4 pages, 1 lookup
    assert result.stderr.splitlines()[3] == (
        "qwen, llama: resuming an unfinished snapshot (--fresh starts over)"
    )
    lines = [re.sub(r"\d+\.\ds$", "Xs", line) for line in result.stdout.splitlines()]
    assert lines == [
        "qwen: run 3 complete (resumed) at 2026-01-02 12:00:00 UTC: 10 members (2 official, "
        "8 derivatives), 14 requests (6 retries), 1 data problems (1 unresolved base_model "
        "parent), Xs",
        "llama: run 4 complete (resumed) at 2026-01-02 12:00:00 UTC: 3 members (1 official, "
        "2 derivatives), 14 requests (6 retries), 1 data problems (1 unresolved base_model "
        "parent), Xs",
    ]
    assert not (isolated_env.parent / "warehouse.duckdb.stage").exists()


def test_auto_takes_lineage_for_a_small_new_family(
    isolated_env: Path,
    cli: Cli,
    small_pages: FakeHub,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    families_file(tmp_path, monkeypatch)
    build_hub(small_pages)
    result = cli("snapshot", "-f", "qwen", now=NOW)
    # sizing: the official listing (1 page) and childrenModelCount of both official repos
    assert result.stderr.splitlines()[:2] == [
        "qwen: strategy lineage, expecting about 9 requests (2 official repos with 6 direct "
        "derivatives; one listing per member); chosen by auto: the whole Hub would take "
        "about 3,200 (3,200,000 models at 1,000 per page; default size, no crawl yet)",
        "Expecting about 9 requests in all: within the anonymous quota of 500 requests per "
        "5 min; 11 s at 1.2 s per request (expected); ETA about 11 s (latency-bound)",
    ]
    assert [(r.path, r.params) for r in small_pages.requests[1:3]] == [
        ("/api/models/Qwen/Qwen3-32B", [("expand", "childrenModelCount")]),
        ("/api/models/Qwen/Qwen3-8B", [("expand", "childrenModelCount")]),
    ]
    assert dict(small_pages.requests[0].params)["author"] == "Qwen"
    assert [r[:2] for r in run_ids(isolated_env)] == [("qwen", "lineage")]


def test_auto_uses_the_last_run_and_the_last_crawl_and_picks_the_cheaper(
    isolated_env: Path,
    cli: Cli,
    small_pages: FakeHub,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    families_file(tmp_path, monkeypatch, llama="hub")
    build_hub(small_pages)
    cli("snapshot", "-f", "qwen", "--strategy", "lineage", "--quiet", now=NOW)
    # the last run knows the family: 10 members; no crawl yet: the default Hub size
    result = cli("snapshot", "-f", "qwen", now="2026-01-03T12:00:00")
    assert result.stderr.splitlines()[0] == (
        "qwen: strategy lineage, expecting about 11 requests (10 members at the last run, "
        "one listing each); chosen by auto: the whole Hub would take about 3,200 (3,200,000 "
        "models at 1,000 per page; default size, no crawl yet)"
    )
    # a crawl for llama (its file says hub) measures the Hub: 23 models, 1 page of 1,000
    result = cli("snapshot", "-f", "llama", "-f", "qwen", now="2026-01-04T12:00:00")
    assert result.stderr.splitlines()[:2] == [
        "llama: strategy hub, expecting about 3,200 requests (3,200,000 models at 1,000 per "
        "page; default size, no crawl yet); set in the families file",
        "qwen: strategy hub, expecting about 3,200 requests (3,200,000 models at 1,000 per "
        "page; default size, no crawl yet); chosen by auto: the whole Hub is crawled anyway "
        "for llama",
    ]
    result = cli("snapshot", "-f", "qwen", now="2026-01-05T12:00:00")
    assert result.stderr.splitlines()[0] == (
        "qwen: strategy hub, expecting about 1 request (23 models at 1,000 per page, as many "
        "as the last crawl); chosen by auto: lineage would take about 11 (10 members at the "
        "last run, one listing each)"
    )
    assert [r[:2] for r in run_ids(isolated_env)] == [
        ("qwen", "lineage"),
        ("qwen", "lineage"),
        ("llama", "hub"),
        ("qwen", "hub"),
        ("qwen", "hub"),
    ]


def test_official_only_is_fast_and_kept_apart(
    cli: Cli, small_pages: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    families_file(tmp_path, monkeypatch)
    build_hub(small_pages)
    result = cli("snapshot", "--official-only", now=NOW)
    assert result.stderr.splitlines()[:2] == [
        "qwen:official: strategy lineage, expecting 1 request (one listing per author and "
        "one lookup per listed repo); official repos only (--official-only)",
        "Expecting 1 request in all: within the anonymous quota of 500 requests per 5 min; "
        "1 s at 1.2 s per request (expected); ETA about 1 s (latency-bound)",
    ]
    assert re.sub(r"\d+\.\ds$", "Xs", result.stdout.strip()) == (
        "qwen:official: run 1 complete at 2026-01-02 12:00:00 UTC: 2 members (2 official, "
        "0 derivatives), 1 requests (0 retries), Xs"
    )
    assert [(r.path, dict(r.params)["author"]) for r in small_pages.requests] == [
        ("/api/models", "Qwen")
    ]
    report = json_of(cli, "report", "-f", "qwen:official")
    assert report["series"] == [
        {
            "date": "2026-01-02",
            "repos": 2,
            "downloads_all_time": 3000,
            "official_downloads_all_time": 3000,
            "derivative_downloads_all_time": 0,
            "downloads_30d": 300,
            "likes": 30,
            "new_downloads": None,
            "partial": False,
            "source": "hub",
        }
    ]
    missing = cli("report", "-f", "qwen", ok=False)
    assert missing.exit_code == 2
    assert missing.stderr.strip() == (
        "Error: no snapshots of family 'qwen' in this warehouse (families: qwen:official)"
    )


def test_official_only_refuses_a_strategy(cli: Cli, small_pages: FakeHub) -> None:
    result = cli("snapshot", "--official-only", "--strategy", "hub", ok=False)
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "Error: --official-only lists official repos by author; drop --strategy"
    )
    assert small_pages.requests == []


def test_plan_reads_the_quota_from_the_hub_and_suggests_the_fast_path(
    isolated_env: Path, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    families_file(tmp_path, monkeypatch)
    with FakeHub(quota=1000, window=300) as fake:
        monkeypatch.setenv("HF_ENDPOINT", fake.url)
        # ten official repos; the most downloaded one has nearly all the derivatives
        fake.add("Qwen/M0", downloads_all_time=9000)
        for k in range(1, 10):
            fake.add(f"Qwen/M{k}", downloads_all_time=100)
        for i in range(3500):
            fake.add_derivative(f"e/e{i}", "Qwen/M0")
        for i in range(5):
            fake.add_derivative(f"f/f{i}", "Qwen/M9")  # not sampled: M9 ties last by name
        result = cli("snapshot", "-f", "qwen", now=NOW)
        details = [r.path for r in fake.requests if r.path != "/api/models"]
    # the 8 most downloaded have 9,700 of 9,900 downloads: 3,500 x 9,900 / 9,700 = 3,572
    assert result.stderr.splitlines()[:3] == [
        "qwen: strategy hub, expecting about 3,200 requests (3,200,000 models at 1,000 per "
        "page; default size, no crawl yet); chosen by auto: lineage would take about 3,583 "
        "(10 official repos; the 8 most downloaded have 3,500 direct derivatives and 98% of "
        "the official downloads: about 3,572 in all; one listing per member)",
        "Expecting about 3,200 requests in all: 16 min at the Hub's quota of 1,000 "
        "requests per 5 min; 64 min at 1.2 s per request (expected); ETA about 64 min "
        "(latency-bound)",
        "Official repos only, in seconds: collector snapshot -f qwen --official-only",
    ]
    assert details == [f"/api/models/Qwen/M{k}" for k in range(8)]
    assert "3,515 members" in result.stdout  # the crawl: 4 pages of 1,000
    assert [r[:3] for r in run_ids(isolated_env)] == [("qwen", "hub", 4)]


def test_auto_takes_the_crawl_when_the_family_cannot_be_sized(
    isolated_env: Path,
    cli: Cli,
    small_pages: FakeHub,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    families_file(tmp_path, monkeypatch)
    build_hub(small_pages)
    small_pages.inject("500", times=7, path_prefix="/api/models/")  # the detail endpoint
    result = cli("snapshot", "-f", "qwen", now=NOW)
    assert result.stderr.splitlines()[0] == (
        "qwen: strategy hub, expecting about 3,200 requests (3,200,000 models at 1,000 per "
        "page; default size, no crawl yet); chosen by auto: the family could not be sized on "
        f"the Hub (HTTP 500 from {small_pages.url} for /api/models/Qwen/Qwen3-32B after 7 "
        "attempts)"
    )
    assert "10 members" in result.stdout
    assert [r[:2] for r in run_ids(isolated_env)] == [("qwen", "hub")]
