"""`collector snapshot --source modelscope` end to end: the real CLI against a fake Hub and a
fake ModelScope server (tests/fakemodelscope.py, reached through MODELSCOPE_ENDPOINT).

qwen on ModelScope: 60 models (two pages of 50), downloads 1,000 x (i + 1): 1,830,000 in all.
qwen on the Hub: Qwen/Qwen3-8B (400M) and a GGUF of it (50M): 450,000,000.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from tests.conftest import Cli
from tests.fakehub import FakeHub
from tests.fakemodelscope import FakeModelScope
from tests.test_golden import check

M = 1_000_000
MS_TOTAL = 1000 * 60 * 61 // 2  # 1,830,000
HUB_TOTAL = 450 * M


@pytest.fixture
def ms(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeModelScope]:
    with FakeModelScope() as fake:
        for i in range(60):
            fake.add(f"Qwen/model-{i:02d}", downloads=1000 * (i + 1), likes=1)
        fake.add("someone/else", downloads=10**9)
        monkeypatch.setenv("MODELSCOPE_ENDPOINT", fake.url)
        yield fake


@pytest.fixture
def qwen_hub(hub: FakeHub) -> FakeHub:
    hub.add("Qwen/Qwen3-8B", downloads_all_time=400 * M, downloads=4 * M, likes=10)
    hub.add_derivative(
        "u/Qwen3-8B-GGUF",
        parent="Qwen/Qwen3-8B",
        relation="quantized",
        downloads_all_time=50 * M,
        downloads=1 * M,
        likes=1,
    )
    return hub


def js(cli: Cli, *args: str, now: str = "2026-03-02T00:00:00") -> dict:
    return json.loads(cli(*args, "--format", "json", now=now).stdout)


def sql(db: Path, query: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(query).fetchall()
    finally:
        con.close()


def test_snapshot_pages_past_50_and_totals(
    ms: FakeModelScope, cli: Cli, isolated_env: Path
) -> None:
    result = cli("snapshot", "--source", "modelscope", "--quiet", now="2026-03-01T12:00:00")
    lines = result.stdout.splitlines()
    assert lines[0].startswith(
        "qwen on modelscope: run 1 complete at 2026-03-01 12:00:00 UTC: "
        "60 members (60 official, 0 derivatives), 2 requests (0 retries)"
    )
    assert lines[1].startswith("Note: ModelScope does not document the counting window")
    assert [q["page_number"] for _, q, _ in ms.requests] == ["1", "2"]
    series = js(cli, "report", "--source", "modelscope")["series"]
    assert [(r["date"], r["repos"], r["downloads_all_time"]) for r in series] == [
        ("2026-03-01", 60, MS_TOTAL)
    ]
    assert sql(isolated_env, "SELECT platform, count(*) FROM repos GROUP BY ALL") == [
        ("modelscope", 60)
    ]


def test_rerun_doubles_nothing(ms: FakeModelScope, cli: Cli, isolated_env: Path) -> None:
    cli("snapshot", "--source", "modelscope", "--quiet", now="2026-03-01T12:00:00")
    cli("snapshot", "--source", "modelscope", "--quiet", now="2026-03-01T18:00:00")
    ms.set("Qwen/model-00", downloads=5000)  # +4,000
    cli("snapshot", "--source", "modelscope", "--quiet", now="2026-03-02T12:00:00")
    series = js(cli, "report", "--source", "modelscope")["series"]
    assert [
        (r["date"], r["repos"], r["downloads_all_time"], r["new_downloads"]) for r in series
    ] == [
        ("2026-03-01", 60, MS_TOTAL, None),
        ("2026-03-02", 60, MS_TOTAL + 4000, 4000),
    ]
    assert sql(isolated_env, "SELECT count(*) FROM repos") == [(60,)]
    # counters are stored when they change: 60 at first, then the one that changed
    assert sql(isolated_env, "SELECT count(*) FROM counts") == [(61,)]


def test_429_retry_after_5xx_and_garbage(ms: FakeModelScope, cli: Cli, isolated_env: Path) -> None:
    ms.inject("429", after=1, retry_after=1)
    ms.inject("502", after=2)  # the retry of that page fails once more
    ms.add_garbage("Qwen", "junk")
    ms.add("Qwen/bad", downloads="lots")
    out = cli("snapshot", "--source", "modelscope", "--quiet", now="2026-03-01T12:00:00").stdout
    assert (
        "61 members (61 official, 0 derivatives), 4 requests (2 retries, 1 rate-limited), "
        "2 data problems (1 item not an object, 1 non-integer downloads)" in out
    )
    assert sql(isolated_env, "SELECT requests, retries, rate_limited FROM runs") == [(4, 2, 1)]
    series = js(cli, "report", "--source", "modelscope")["series"]
    assert series[-1]["downloads_all_time"] == MS_TOTAL  # Qwen/bad has no counter stored


def test_failed_then_resumed_fetches_only_what_is_missing(
    ms: FakeModelScope, cli: Cli, isolated_env: Path
) -> None:
    ms.inject("500", after=1, times=100)  # the second page never comes
    failed = cli(
        "snapshot", "--source", "modelscope", "--quiet", now="2026-03-01T12:00:00", ok=False
    )
    assert failed.exit_code == 1
    assert sql(isolated_env, "SELECT status FROM runs") == [("failed",)]
    ms.faults.clear()
    before = ms.count()
    out = cli(
        "snapshot", "--source", "modelscope", "--resume", "--quiet", now="2026-03-01T13:00:00"
    )
    assert "complete (resumed) at 2026-03-01 12:00:00 UTC: 60 members" in out.stdout
    assert [q["page_number"] for _, q, _ in ms.requests[before:]] == ["2"]
    assert (
        js(cli, "report", "--source", "modelscope")["series"][-1]["downloads_all_time"] == MS_TOTAL
    )


def test_global_scope_adds_modelscope_to_the_hub_family(
    ms: FakeModelScope,
    qwen_hub: FakeHub,
    cli: Cli,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    isolated_env: Path,
) -> None:
    families = tmp_path / "families.toml"
    families.write_text(
        '[families.qwen]\nauthors = ["Qwen"]\nsources = ["hub", "modelscope"]\n', encoding="utf-8"
    )
    monkeypatch.setenv("COLLECTOR_FAMILIES", str(families))
    out = cli("snapshot", "--quiet", now="2026-03-01T12:00:00").stdout
    assert out.splitlines()[0].startswith("qwen: run 1 complete")
    assert out.splitlines()[1].startswith("qwen on modelscope: run 2 complete")
    # the Hub report is the Hub's alone
    hub_series = js(cli, "report")["series"]
    assert hub_series[-1]["downloads_all_time"] == HUB_TOTAL
    claim = js(cli, "verify", "451M downloads")
    scopes = {a["scope"]: (a["verdict"], a.get("measured")) for a in claim["scopes"]}
    assert scopes == {
        "official": ("not_supported", 400 * M),
        "family": ("not_supported", HUB_TOTAL),
        "global": ("supported", HUB_TOTAL + MS_TOTAL),
    }
    assert claim["supported_by"] == ["global"]
    assert claim["notes"][0].startswith("ModelScope does not document the counting window")
    text = cli("verify", "451M downloads", now="2026-03-02T00:00:00").stdout
    assert "Note: ModelScope does not document the counting window" in text
    check("verify-global.txt", text)
    # the README's SQL for the global scope gives the same number
    assert (
        sql(
            isolated_env,
            """SELECT h.date, h.downloads_all_time + m.downloads_all_time AS global_downloads
        FROM family_daily h ASOF JOIN family_daily m
          ON m.family = h.family AND m.platform = 'modelscope' AND m.date <= h.date
        WHERE h.family = 'qwen' AND h.platform = 'huggingface' ORDER BY h.date""",
        )[-1][1]
        == claim["scopes"][2]["measured"]
    )


def test_missing_from_the_listing_is_looked_up_gone_departs(
    ms: FakeModelScope, cli: Cli, isolated_env: Path
) -> None:
    cli("snapshot", "--source", "modelscope", "--quiet", now="2026-03-01T12:00:00")
    ms.hidden.add("Qwen/model-59")  # 60,000 downloads: skipped by a shifting listing
    del ms.models["Qwen/model-58"]  # 59,000 downloads: deleted
    out = cli("snapshot", "--source", "modelscope", "--quiet", now="2026-03-02T12:00:00").stdout
    assert "59 members (59 official, 0 derivatives), 4 requests" in out  # 2 pages + 2 lookups
    report = js(cli, "report", "--source", "modelscope", now="2026-03-03T00:00:00")
    # the deleted model departs but its downloads stay in the cumulative total
    assert [(r["repos"], r["downloads_all_time"]) for r in report["series"]] == [
        (60, MS_TOTAL),
        (59, MS_TOTAL),
    ]
    assert [(a["repo_id"], a["kind"]) for a in report["anomalies"]] == [
        ("Qwen/model-58", "departed")
    ]
