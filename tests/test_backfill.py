"""`collector backfill --source modelpulse`: history before the first snapshot, imported from
the Model Pulse dataset served by the fake Hub (tests/pulse_data.py holds the data and the
hand-computed family totals these tests pin)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from tests import pulse_data
from tests.conftest import Cli
from tests.fakedatasets import FakeDatasets
from tests.fakehub import FakeHub

M = pulse_data.M
NOW = "2026-12-01T00:00:00"


@pytest.fixture
def pulse(hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDatasets]:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))  # a cache of its own
    datasets = FakeDatasets().attach(hub)
    pulse_data.publish(datasets)
    yield datasets


def js(cli: Cli, *args: str, ok: bool = True) -> dict:
    return json.loads(cli(*args, "--format", "json", now=NOW, ok=ok).stdout)


def daily(db: Path) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            """SELECT CAST(date AS VARCHAR), repos, downloads_all_time, downloads_30d, likes,
                      new_downloads, source, partial
               FROM family_daily WHERE family = 'qwen' ORDER BY date"""
        ).fetchall()
    finally:
        con.close()


# Family totals by hand (tests/pulse_data.py): repos, all-time, 30-day, likes.
EXPECTED = [
    ("2025-02-25", 5, None, 900 + 500 + 50 + 10 + 20, 16, None, "modelpulse", False),
    ("2025-02-26", 5, None, 910 + 500 + 50 + 10 + 20, 16, None, "modelpulse", False),
    ("2025-02-27", 5, 158 * M, 920 + 510 + 50 + 10 + 20, 17, None, "modelpulse", False),
    ("2025-02-28", 5, 160 * M, 930 + 520 + 50 + 10 + 20, 17, 2 * M, "modelpulse", False),
    # partial: only Qwen/A in the dataset; the four others kept at their 02-28 values
    ("2025-11-24", 5, 459 * M, 5000 + 520 + 50 + 10 + 20, 46, 299 * M, "modelpulse", True),
    ("2025-12-10", 5, 598 * M, 6000 + 3000 + 80 + 30 + 60, 68, 139 * M, "modelpulse", False),
    ("2025-12-12", 5, 613 * M, 6100 + 3100 + 80 + 30 + 60, 70, 15 * M, "modelpulse", False),
    ("2026-01-10", 5, 692 * M, 7000 + 3200 + 90 + 40 + 70, 75, 79 * M, "modelpulse", False),
    ("2026-01-13", 5, 701 * M, 7100 + 3300 + 90 + 40 + 70, 76, 9 * M, "modelpulse", False),
    ("2026-01-31", 5, 726 * M, 7200 + 3400 + 95 + 50 + 70, 78, 25 * M, "modelpulse", False),
]


def test_backfill_stores_each_dataset_day_with_hand_computed_totals(
    pulse: FakeDatasets, cli: Cli, isolated_env: Path
) -> None:
    sha = pulse.head(pulse_data.REPO)
    out = cli("backfill", "--family", "qwen", "--quiet", now=NOW).stdout
    assert out.splitlines()[0] == (
        f"qwen: modelpulse (modelpulse/model-pulse-data@{sha[:12]}), lineage from the "
        f"dataset's lineage (models.parquet at {sha[:12]}): 10 imported days (10 added, "
        "0 changed, 0 removed), 5 members, 46 rows"
    )
    assert daily(isolated_env) == EXPECTED
    con = duckdb.connect(str(isolated_env), read_only=True)
    try:
        runs = con.execute(
            """SELECT r.source, r.revision, r.lineage_basis, count(*) FROM runs r
               JOIN imports i USING (run_id) WHERE r.family = 'qwen' GROUP BY ALL"""
        ).fetchall()
        assert runs == [("modelpulse", sha, f"dataset:{sha}", 10)]
        # the renamed repo is one repo, known under both ids
        names = con.execute(
            """SELECT list(n.repo_id ORDER BY n.repo_id) FROM repos r
               JOIN repo_names n USING (repo_key) WHERE r.repo_id = 'u3/new-name'"""
        ).fetchall()
        assert names == [(["u3/new-name", "u3/old-name"],)]
        assert con.execute(
            "SELECT count(*) FROM repos WHERE repo_id LIKE 'other/%'"
        ).fetchall() == [(0,)]
    finally:
        con.close()


def test_verify_claims_on_imported_history(pulse: FakeDatasets, cli: Cli) -> None:
    cli("backfill", "--quiet", now=NOW)
    v600 = js(cli, "verify", "600M+ downloads", "--as-of", "2025-12-31")
    assert (v600["verdict"], v600["measured"], v600["snapshot_date"], v600["first_reached"]) == (
        "supported",
        613 * M,
        "2025-12-12",
        "2025-12-12",  # 598M on 12-10: 613M there if the renamed repo counted twice
    )
    sha = pulse.head(pulse_data.REPO)
    assert (v600["source"], v600["revision"], v600["lineage_basis"]) == (
        "modelpulse",
        sha,
        f"dataset:{sha}",
    )
    v700 = js(cli, "verify", "700M+ downloads", "--as-of", "2026-01-31")
    assert v700["source"] == "modelpulse" and "first_reached_source" not in v700
    assert (v700["verdict"], v700["measured"], v700["first_reached"]) == (
        "supported",
        726 * M,
        "2026-01-13",
    )
    v700_early = js(cli, "verify", "700M+ downloads", "--as-of", "2026-01-12")
    assert (v700_early["verdict"], v700_early["measured"]) == ("not_supported", 692 * M)
    before = js(cli, "verify", "600M+ downloads", "--as-of", "2025-02-26")
    assert (before["verdict"], before["measured"]) == ("insufficient_data", None)


def test_second_backfill_adds_nothing(pulse: FakeDatasets, cli: Cli, isolated_env: Path) -> None:
    cli("backfill", "--quiet", now=NOW)
    first = daily(isolated_env)
    served = list(pulse.downloads)
    out = cli("backfill", "--quiet", now=NOW).stdout
    assert "nothing to add (10 dataset days in range, all imported)" in out
    assert "All files from the cache" in out
    assert daily(isolated_env) == first
    assert pulse.downloads == served  # nothing downloaded again


def test_range_and_flags(pulse: FakeDatasets, cli: Cli, isolated_env: Path) -> None:
    out = cli("backfill", "--since", "2025-11", "--until", "2025-12-31", "--quiet", now=NOW).stdout
    assert "3 imported days (3 added" in out
    assert "Note: days the dataset flags: 1 partial day, 1 skipped day" in out
    assert [r[0] for r in daily(isolated_env)] == ["2025-11-24", "2025-12-10", "2025-12-12"]
    report = js(cli, "report", "--since", "2025-11-01")
    kinds = sorted({(a["date"], a["kind"]) for a in report["anomalies"] if a["repo_id"] is None})
    assert kinds == [("2025-11-24", "partial_day"), ("2025-11-24", "skipped_day")]


def test_a_range_without_dataset_days_stores_nothing(
    pulse: FakeDatasets, cli: Cli, isolated_env: Path
) -> None:
    out = cli("backfill", "--since", "2027-01-01", "--quiet", now=NOW).stdout
    assert out.splitlines()[0] == (
        f"qwen: modelpulse ({pulse_data.REPO}@{pulse.head(pulse_data.REPO)[:12]}), lineage from "
        f"the dataset's lineage (models.parquet at {pulse.head(pulse_data.REPO)[:12]}): nothing "
        "to add (no dataset day in range)"
    )
    assert daily(isolated_env) == []
