"""The real Hub's hard parts: outages that last minutes, disabled repos, rejected tokens,
offline mode, and the time bounds of the plan."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from collector.families import Family
from collector.snapshot.plan import History, make_plan
from collector.sources.hub import HubClient, HubError, patience_for
from tests.conftest import Cli
from tests.fakehub import FakeHub, VirtualClock

LINEAGE = '[families.acme]\nauthors = ["acme"]\nstrategy = "lineage"\n'


def _crawl(hub: FakeHub, clock: VirtualClock, patience: float) -> tuple[list[str], HubClient]:
    client = HubClient(
        endpoint=hub.url, page_size=10, retry_wait=1.0, sleep=clock.sleep, clock=clock.now
    )
    client.patience = patience
    ids = [i["id"] for page in client.pages(client.listing_params()) for i in page.items]
    return ids, client


def test_a_ten_minute_outage_mid_crawl_is_survived_within_the_quota() -> None:
    clock = VirtualClock()
    with FakeHub(quota=500, clock=clock.now, sleep=clock.sleep, latency=1.0) as hub:
        for i in range(200):
            hub.add(f"org/m{i:03}")
        # 20 pages of 10 at 1 s each; the Hub and its CDN fail for 10 minutes after 10
        hub.outage(600, after=10, kinds=("429_bare", "503"))
        start = clock.now()
        ids, client = _crawl(hub, clock, patience=900)
        took = clock.now() - start
    assert sorted(ids) == [f"org/m{i:03}" for i in range(200)]  # every page, once
    failed = hub.outage_failures
    assert client.stats.requests == 20 + failed  # each page once, plus the retries
    assert client.stats.retries == failed
    # backoff 1, 2, 4 ... 60 s: a handful of requests a minute, never near the quota
    assert failed == 11  # bare 429s wait for the window's reset, 503s back off
    # the Hub's latency is the answering attempt's time: the outage's waits are not in it
    assert client.stats.page_latency == pytest.approx(1.0, abs=0.2)
    assert 600 <= took <= 600 + 60 + 20 * 1.0 + 30


def test_a_page_failing_longer_than_the_patience_fails_the_listing() -> None:
    clock = VirtualClock()
    with FakeHub(quota=500, clock=clock.now, sleep=clock.sleep, latency=1.0) as hub:
        for i in range(30):
            hub.add(f"org/m{i:03}")
        hub.outage(3600, after=1)
        with pytest.raises(HubError, match=r"HTTP 429 .* after 7 attempts over 6 min"):
            _crawl(hub, clock, patience=300)


def test_patience_scales_with_the_crawl(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLLECTOR_PATIENCE")
    assert patience_for(0) == 120  # short crawls: two minutes
    assert patience_for(3600) == 900  # an hour-long crawl survives a 10-minute outage
    # so does a scheduled one, however short, as far as its budget leaves room
    assert patience_for(500, budget=7200) == 900
    assert patience_for(500, budget=800) == 300
    assert patience_for(500, budget=400) == 125
    monkeypatch.setenv("COLLECTOR_PATIENCE", "soon")
    with pytest.raises(Exception, match="COLLECTOR_PATIENCE='soon' is not a number"):
        patience_for(10)


def test_a_snapshot_survives_an_outage_of_bare_429s_and_503s(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    families = tmp_path / "families.toml"
    families.write_text(LINEAGE)
    monkeypatch.setenv("COLLECTOR_FAMILIES", str(families))
    monkeypatch.setenv("COLLECTOR_PATIENCE", "5")
    with FakeHub(page_size=2) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        for i in range(5):
            hub.add(f"acme/m{i}", downloads_all_time=10 + i)
        hub.outage(1.5, after=1)  # seconds: 0.01 s doubling, 7 attempts last 1.3 s
        result = cli("snapshot", "-f", "acme", "-q", now="2026-01-01T10:00:00")
    failed = hub.outage_failures
    assert failed >= 8  # more than the 7 attempts a page gets without patience
    assert result.stdout.startswith(
        "acme: run 1 complete at 2026-01-01 10:00:00 UTC: 5 members (5 official, 0 derivatives), "
        f"{6 + failed} requests ({failed} retries, "
    )


def test_a_disabled_member_departs_and_every_day_completes(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    families = tmp_path / "families.toml"
    families.write_text(LINEAGE)
    monkeypatch.setenv("COLLECTOR_FAMILIES", str(families))
    with FakeHub(page_size=10) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        hub.add("acme/keep", downloads_all_time=100)
        hub.add("acme/taken-down", downloads_all_time=40)
        cli("snapshot", "-f", "acme", "-q", now="2026-01-01T10:00:00")
        hub.disable("acme/taken-down")
        day2 = cli("snapshot", "-f", "acme", "-q", now="2026-01-02T10:00:00")
        day3 = cli("snapshot", "-f", "acme", "-q", now="2026-01-03T10:00:00")
    # the author listing, acme/keep's (empty) children, and one lookup of the departed
    # repo, answered 403; on day 3 it is no longer a member to look up
    assert day2.stdout.startswith(
        "acme: run 2 complete at 2026-01-02 10:00:00 UTC: 1 members (1 official, "
        "0 derivatives), 3 requests (0 retries), 1 data problems (1 disabled repo), "
    )
    assert day3.stdout.startswith(
        "acme: run 3 complete at 2026-01-03 10:00:00 UTC: 1 members (1 official, "
        "0 derivatives), 2 requests (0 retries), "
    )
    statuses = [r.status for r in hub.requests if r.path == "/api/models/acme/taken-down"]
    assert statuses == [403]
    report = json.loads(cli("report", "-f", "acme", "--format", "json").stdout)
    # flagged with its own kind on day 2, once; its 40 downloads stay in the history
    assert report["anomalies"] == [
        {
            "date": "2026-01-02",
            "repo_id": "acme/taken-down",
            "kind": "disabled",
            "previous": None,
            "current": 40,
        }
    ]
    totals = [(d["date"], d["repos"], d["downloads_all_time"]) for d in report["series"]]
    assert totals == [("2026-01-01", 2, 140), ("2026-01-02", 1, 140), ("2026-01-03", 1, 140)]
    table = cli("report", "-f", "acme").stdout
    assert "Anomalies: 1 disabled" in table


def test_a_gone_member_is_a_plain_departure(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    families = tmp_path / "families.toml"
    families.write_text(LINEAGE)
    monkeypatch.setenv("COLLECTOR_FAMILIES", str(families))
    with FakeHub(page_size=10) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        hub.add("acme/keep", downloads_all_time=100)
        hub.add("acme/deleted", downloads_all_time=40)
        cli("snapshot", "-f", "acme", "-q", now="2026-01-01T10:00:00")
        hub.delete("acme/deleted")
        cli("snapshot", "-f", "acme", "-q", now="2026-01-02T10:00:00")
    report = json.loads(cli("report", "-f", "acme", "--format", "json").stdout)
    assert [(a["repo_id"], a["kind"]) for a in report["anomalies"]] == [
        ("acme/deleted", "departed")
    ]


def test_a_rejected_token_says_how_to_fix_it(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    families = tmp_path / "families.toml"
    families.write_text(LINEAGE)
    monkeypatch.setenv("COLLECTOR_FAMILIES", str(families))
    monkeypatch.setenv("HF_TOKEN", "hf_expired0000000000000000000000000")
    with FakeHub(reject_tokens=True) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        hub.add("acme/m0")
        result = cli("snapshot", "-f", "acme", "-q", now="2026-01-01T10:00:00", ok=False)
        url = hub.url
    assert result.exit_code == 1
    assert result.output == (
        f"Error: snapshot of acme failed: the Hub at {url} rejected the token (HTTP 401 for /api/models): it is "
        "expired, revoked or mistyped; log in again with `hf auth login`, or unset HF_TOKEN "
        "(and `hf auth logout`) to go anonymous (recorded as run 1; `collector snapshot` "
        "continues it)\n"
    )


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"HF_HUB_OFFLINE": "1", "HF_ENDPOINT": "http://127.0.0.1:9"},
            "Error: snapshot of acme failed: huggingface_hub is in offline mode (HF_HUB_OFFLINE is set): unset "
            "HF_HUB_OFFLINE to reach the Hub at http://127.0.0.1:9 (recorded as run 1",
        ),
        (
            {"HF_ENDPOINT": "http://no-such-host.invalid"},
            "Error: snapshot of acme failed: cannot reach the Hub at "
            "http://no-such-host.invalid (set by HF_ENDPOINT): ",
        ),
    ],
    ids=["offline", "dns"],
)
def test_offline_and_unresolvable_hub_are_one_line(
    tmp_path: Path, env: dict[str, str], expected: str
) -> None:
    families = tmp_path / "families.toml"
    families.write_text(LINEAGE)
    full = {**os.environ, **env, "COLLECTOR_FAMILIES": str(families)}
    proc = subprocess.run(
        [sys.executable, "-m", "collector", "snapshot", "-f", "acme", "-q"],
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith(expected)
    assert len(proc.stderr.splitlines()) == 1


def test_tls_failure_is_one_line(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    families = tmp_path / "families.toml"
    families.write_text(LINEAGE)
    monkeypatch.setenv("COLLECTOR_FAMILIES", str(families))
    with FakeHub() as hub:  # plain HTTP: a TLS handshake with it fails
        endpoint = hub.url.replace("http://", "https://")
        monkeypatch.setenv("HF_ENDPOINT", endpoint)
        result = cli("snapshot", "-f", "acme", "-q", ok=False)
    assert result.exit_code == 1
    assert result.output.startswith(
        f"Error: snapshot of acme failed: cannot reach the Hub at {endpoint} (set by HF_ENDPOINT): "
    )
    assert len(result.output.splitlines()) == 1


def test_auto_never_picks_a_lineage_crawl_longer_than_the_time_budget() -> None:
    family = Family("acme", ("acme",), strategy="auto")
    history = History({"acme": 999}, None)  # 1,000 requests: fewer than the crawl's 3,200
    client = HubClient(endpoint="http://127.0.0.1:9")  # no request is made: sizes are known
    within = make_plan([family], client, history, time_budget=2 * 3600)
    assert within.choices[0].strategy == "lineage"
    too_long = make_plan([family], client, history, time_budget=600)
    assert too_long.choices[0].strategy == "hub"
    assert too_long.choices[0].why == (
        "chosen by auto: lineage would take about 1,000 requests, 20 min, more than the time "
        "budget of 10 min (999 members at the last run, one listing each)"
    )
    # 3,200 pages: 32 min at the anonymous quota, 64 min at 1.2 s a page: latency-bound
    assert too_long.describe()[-2:] == [
        "Expecting about 3,200 requests in all: 32 min at the anonymous quota of 500 requests "
        "per 5 min; 64 min at 1.2 s per request (expected); ETA about 64 min (latency-bound)",
        "Official repos only, in seconds: collector snapshot -f acme --official-only",
    ]
    assert client.patience == 0  # COLLECTOR_PATIENCE=0 in tests; else patience_for(ETA)


def test_old_id_and_other_case_parents_link_children_and_unresolved_ones_are_counted(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    families = tmp_path / "families.toml"
    families.write_text('[families.qwen]\nauthors = ["Qwen"]\nstrategy = "hub"\n')
    monkeypatch.setenv("COLLECTOR_FAMILIES", str(families))
    with FakeHub(page_size=3) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        hub.add("Qwen/Qwen-7B", downloads_all_time=1000)
        hub.add_derivative("a/ft", parent="Qwen/Qwen-7B", downloads_all_time=100)
        hub.rename("Qwen/Qwen-7B", "Qwen/Qwen1-7B")  # a/ft's tag names the old id
        hub.add_derivative("b/q", parent="A/FT", relation="quantized", downloads_all_time=10)
        hub.add_derivative("c/lost", parent="gone/parent", downloads_all_time=5)
        hub.add("d/other", downloads_all_time=1)
        result = cli("snapshot", "-f", "qwen", "-q", now="2026-01-01T10:00:00")
        lookups = [r.path for r in hub.requests if r.path != "/api/models"]
    # 6 repos in one page, then one lookup of each dangling parent (the old id's 307
    # followed to the new one)
    assert lookups == [
        "/api/models/Qwen/Qwen-7B",
        "/api/models/Qwen/Qwen1-7B",
        "/api/models/gone/parent",
    ]
    assert result.stdout.startswith(
        "qwen: run 1 complete at 2026-01-01 10:00:00 UTC: 3 members (1 official, 2 derivatives), "
        "3 requests (0 retries), 1 data problems (1 unresolved base_model parent), "
    )
    out = json.loads(cli("members", "-f", "qwen", "--format", "json").stdout)
    depth = {m["repo_id"]: m["depth"] for m in out["members"]}
    assert depth == {"Qwen/Qwen1-7B": 0, "a/ft": 1, "b/q": 2}
    # the unresolved parent is listed, with the repos that tag it
    listed = json.loads(cli("members", "-f", "qwen", "--dangling", "--format", "json").stdout)
    assert listed == {
        "family": "qwen",
        "as_of": "2026-01-01",
        "dangling": [{"parent_id": "gone/parent", "children": 1}],
        "parents": 1,
        "children": 1,
    }
    monkeypatch.setenv("COLUMNS", "80")
    table = cli("members", "-f", "qwen", "--dangling").stdout
    assert table == (
        "qwen: 1 unresolved base_model parents at 2026-01-01, tagged by 1 repos (not\n"
        "members)\n"
        "\n"
        "  parent        children\n"
        " ────────────────────────\n"
        "  gone/parent          1\n"
    )
    csv = cli("members", "-f", "qwen", "--dangling", "--format", "csv").stdout
    assert csv.splitlines() == ["parent_id,children", "gone/parent,1"]
    both = cli("members", "-f", "qwen", "--dangling", "--unlinked", ok=False)
    assert both.exit_code == 2
    assert both.output == "Error: --dangling and --unlinked are two lists: give one\n"


@pytest.mark.parametrize("strategy", ["lineage", "hub"])
def test_a_renamed_parent_keeps_the_children_that_tag_its_old_id(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, strategy: str
) -> None:
    families = tmp_path / "families.toml"
    families.write_text(f'[families.qwen]\nauthors = ["Qwen"]\nstrategy = "{strategy}"\n')
    monkeypatch.setenv("COLLECTOR_FAMILIES", str(families))
    with FakeHub(page_size=3) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        hub.add("Qwen/Qwen-7B", downloads_all_time=1000)
        hub.add_derivative("a/ft", parent="Qwen/Qwen-7B", downloads_all_time=100)
        hub.add_derivative("b/q", parent="a/ft", relation="quantized", downloads_all_time=10)
        cli("snapshot", "-f", "qwen", "-q", now="2026-01-01T10:00:00")
        day1 = len(hub.requests)
        # renamed: a/ft's tag names the old id, and so does a new fine-tune's
        hub.rename("Qwen/Qwen-7B", "Qwen/Qwen1-7B")
        hub.add_derivative(
            "c/new", parent="Qwen/Qwen-7B", downloads_all_time=7,
            created_at="2026-01-01T12:00:00.000Z",
        )  # fmt: skip
        cli("snapshot", "-f", "qwen", "-q", now="2026-01-02T10:00:00")
        filters = [v for r in hub.requests[day1:] for k, v in r.params if k == "filter"]
    out = json.loads(cli("members", "-f", "qwen", "--format", "json").stdout)
    depth = {m["repo_id"]: m["depth"] for m in out["members"]}
    assert depth == {"Qwen/Qwen1-7B": 0, "a/ft": 1, "c/new": 1, "b/q": 2}
    report = json.loads(cli("report", "-f", "qwen", "--format", "json").stdout)
    assert [d["downloads_all_time"] for d in report["series"]] == [1110, 1117]
    assert report["anomalies"] == []
    if strategy == "lineage":  # day 2 lists the children of the new id and of the old one
        assert sorted(filters) == [
            "base_model:Qwen/Qwen-7B",
            "base_model:Qwen/Qwen1-7B",
            "base_model:a/ft",
            "base_model:b/q",
            "base_model:c/new",
        ]
