"""Exact run outcomes through the CLI: failed and resumed, partial and marked, never lost."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from tests.conftest import Cli
from tests.fakehub import FakeHub

FAMILIES = '[families.acme]\nauthors = ["acme"]\nstrategy = "lineage"\n'


@pytest.fixture
def families(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "families.toml"
    path.write_text(FAMILIES)
    monkeypatch.setenv("COLLECTOR_FAMILIES", str(path))
    return path


@pytest.fixture
def small(monkeypatch: pytest.MonkeyPatch, families: Path) -> Iterator[FakeHub]:
    """A Hub paging 2 items at a time, holding acme's 3 repos and 6 derivatives."""
    with FakeHub(max_page_size=2) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        for i in range(3):
            hub.add(f"acme/m{i}", downloads_all_time=100 * (i + 1), downloads=10, likes=1)
        for i in range(5):
            hub.add_derivative(f"u{i}/ft{i}", parent=f"acme/m{i % 3}", downloads_all_time=10)
        hub.add_derivative("z/q", parent="u0/ft0", relation="quantized", downloads_all_time=7)
        yield hub


def _plain(text: str) -> str:
    return re.sub(r"\d+\.\d+s$", "<t>s", text.strip(), flags=re.M)


def _listings(hub: FakeHub, since: int = 0) -> list[str]:
    """What each listing request asked for: 'author=acme' or 'filter=base_model:...'."""
    out = []
    for r in hub.requests[since:]:
        params = dict(r.params)
        if "cursor" in params:
            out.append("next page")
        elif "author" in params:
            out.append(f"author={params['author']}")
        elif "filter" in params:
            out.append(f"filter={params['filter']}")
    return out


def test_failed_snapshot_is_recorded_and_resume_continues_where_it_stopped(
    cli: Cli, small: FakeHub, isolated_env: Path
) -> None:
    # 2 author pages (newest first: m2, m1, m0), m2's children, then m1's listing fails
    # 7 times (every retry)
    small.inject("500", times=7, after=3)
    failed = cli("snapshot", "-f", "acme", "-q", now="2026-01-01T10:00:00", ok=False)
    assert failed.exit_code == 1
    assert failed.stderr.strip() == (
        f"Error: snapshot of acme failed: 1 listing failed after retries (first: parent "
        f"acme/m1: HTTP 500 from {small.url} for /api/models after 7 attempts); no earlier "
        "snapshot to keep their members from (recorded as run 1; `collector snapshot` "
        "continues it)"
    )
    stage = isolated_env.with_name("warehouse.duckdb.stage") / "acme.duckdb"
    assert stage.exists()
    done = len(small.requests)

    resumed = cli("snapshot", "-f", "acme", "-q", "--resume", now="2026-01-01T12:00:00")
    assert _plain(resumed.stdout) == (
        "acme: run 2 complete (resumed) at 2026-01-01 10:00:00 UTC: 9 members (3 official, "
        "6 derivatives), 18 requests (6 retries), <t>s"
    )
    # only what was left: the failed listing and the children it finds (the first
    # attempt went on past the failure with the other parents)
    assert _listings(small, done) == [
        "filter=base_model:acme/m1",
        "filter=base_model:u4/ft4",
        "filter=base_model:u1/ft1",
    ]
    assert not stage.exists()
    with duckdb.connect(str(isolated_env), read_only=True) as con:
        runs = con.execute(
            "SELECT run_id, started_at::VARCHAR, status, members, requests FROM runs"
        ).fetchall()
        assert runs == [
            (1, "2026-01-01 10:00:00", "failed", 0, 15),
            (2, "2026-01-01 10:00:00", "complete", 9, 18),
        ]
        assert con.execute("SELECT count(*), count(DISTINCT repo_key) FROM counts").fetchall() == [
            (9, 9)
        ]
    report = json.loads(cli("report", "-f", "acme", "--format", "json").stdout)
    assert report["series"][0]["downloads_all_time"] == 600 + 50 + 7


def test_plain_snapshot_starts_an_unfinished_one_over(cli: Cli, small: FakeHub) -> None:
    small.inject("500", times=7, after=0)
    cli("snapshot", "-f", "acme", "-q", now="2026-01-01T10:00:00", ok=False)
    again = cli("snapshot", "-f", "acme", now="2026-01-01T11:00:00")
    assert (
        "acme: starting over, discarding an unfinished snapshot (--resume was not given)"
        in again.stderr
    )
    assert _plain(again.stdout) == (
        "acme: run 2 complete at 2026-01-01 11:00:00 UTC: 9 members (3 official, "
        "6 derivatives), 11 requests (0 retries), <t>s"
    )


def test_partial_run_keeps_unrefreshed_members_at_their_last_value(
    cli: Cli, small: FakeHub, isolated_env: Path
) -> None:
    cli("snapshot", "-f", "acme", "-q", now="2026-01-01T10:00:00")
    small.set("acme/m0", downloads_all_time=150)
    small.set("u1/ft1", downloads_all_time=20)  # under m1, whose listing will fail
    small.set("z/q", downloads_all_time=9)
    small.inject("503", times=7, after=3)
    partial = cli("snapshot", "-f", "acme", "-q", now="2026-01-02T10:00:00")
    error = (
        f"1 listing failed after retries (first: parent acme/m1: HTTP 503 from "
        f"{small.url} for /api/models after 7 attempts)"
    )
    assert _plain(partial.stdout) == (
        "acme: run 2 partial at 2026-01-02 10:00:00 UTC: 9 members (3 official, "
        "6 derivatives, 2 kept at their last value), 17 requests (6 retries), <t>s"
    )
    assert partial.stderr.strip() == f"Warning: acme: partial snapshot: {error}"
    cli("snapshot", "-f", "acme", "-q", now="2026-01-03T10:00:00")

    table = cli("report", "-f", "acme").stdout
    lines = [line.split() for line in table.splitlines()[4:7]]
    # date, repos, all-time, official, derivative, 30d, likes, new
    assert lines == [
        ["2026-01-01", "9", "657", "600", "57", "30", "3"],
        ["2026-01-02", "9", "709", "650", "59", "30", "3", "52"],  # u1/ft1 kept at 10
        ["2026-01-03", "9", "719", "650", "69", "30", "3", "10"],  # refreshed: 20
    ]
    assert table.strip().endswith(
        f"Partial: 2026-01-02: 2 of 9 repos not refreshed, counted at their last value ({error})"
    )
    data = json.loads(cli("report", "-f", "acme", "--format", "json").stdout)
    assert data["partial_days"] == [
        {"date": "2026-01-02", "run_id": 2, "repos": 9, "stale_repos": 2, "error": error}
    ]
    with duckdb.connect(str(isolated_env), read_only=True) as con:
        assert con.execute(
            "SELECT date::VARCHAR, partial, stale_repos FROM family_daily ORDER BY date"
        ).fetchall() == [
            ("2026-01-01", False, 0),
            ("2026-01-02", True, 2),
            ("2026-01-03", False, 0),
        ]
        assert con.execute(
            "SELECT r.repo_id FROM stale JOIN repos r USING (repo_key) ORDER BY 1"
        ).fetchall() == [("u1/ft1",), ("u4/ft4",)]
        # stale members got no counts row at the partial run
        assert con.execute("SELECT count(*) FROM counts WHERE run_id = 2").fetchall() == [(2,)]


def test_a_complete_run_of_the_day_counts_over_a_later_partial_one(
    cli: Cli, small: FakeHub, isolated_env: Path
) -> None:
    cli("snapshot", "-f", "acme", "-q", now="2026-01-01T10:00:00")
    cli("snapshot", "-f", "acme", "-q", now="2026-01-02T08:00:00")
    small.set("acme/m0", downloads_all_time=1000)
    small.inject("503", times=7, after=3)
    cli("snapshot", "-f", "acme", "-q", now="2026-01-02T20:00:00")
    with duckdb.connect(str(isolated_env), read_only=True) as con:
        assert con.execute(
            "SELECT date::VARCHAR, run_id, partial FROM day_runs ORDER BY date"
        ).fetchall() == [("2026-01-01", 1, False), ("2026-01-02", 2, False)]


def test_a_stage_whose_run_was_committed_is_never_committed_twice(
    cli: Cli, small: FakeHub, isolated_env: Path
) -> None:
    small.inject("500", times=7, after=0)
    cli("snapshot", "-f", "acme", "-q", now="2026-01-01T10:00:00", ok=False)
    stage = isolated_env.with_name("warehouse.duckdb.stage") / "acme.duckdb"
    kept = stage.read_bytes()
    cli("snapshot", "-f", "acme", "-q", "--resume", now="2026-01-01T11:00:00")
    # as if the process died after committing run 2 but before deleting its stage
    stage.parent.mkdir(exist_ok=True)
    stage.write_bytes(kept)
    requests = len(small.requests)
    again = cli("snapshot", "-f", "acme", "-q", "--resume", now="2026-01-01T12:00:00")
    assert _plain(again.stdout) == (
        "acme: run 2 complete (resumed) at 2026-01-01 10:00:00 UTC: 9 members (3 official, "
        "6 derivatives), 18 requests (6 retries), <t>s"
    )
    assert len(small.requests) == requests  # nothing fetched
    assert not stage.exists()
    with duckdb.connect(str(isolated_env), read_only=True) as con:
        assert con.execute("SELECT run_id, status FROM runs ORDER BY 1").fetchall() == [
            (1, "failed"),
            (2, "complete"),
        ]
