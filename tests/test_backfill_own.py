"""Backfills next to own snapshots, newer revisions, bad datasets and offline mode.

The fake Hub serves both the family's models (for own snapshots) and the Model Pulse
dataset (tests/pulse_data.py: family totals by hand in its docstring).
"""

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
OWN = "2026-01-31T12:00:00"  # an own snapshot on the dataset's last day


@pytest.fixture
def pulse(hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDatasets]:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))  # a cache of its own
    datasets = FakeDatasets().attach(hub)
    pulse_data.publish(datasets)
    # The Hub today: the same five members, counters of the own snapshot.
    pulse_data.add_members_today(hub)
    hub.add("other/big", downloads_all_time=900 * M)
    yield datasets


def daily(db: Path) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            """SELECT CAST(date AS VARCHAR), repos, downloads_all_time, source
               FROM family_daily WHERE family = 'qwen' ORDER BY date"""
        ).fetchall()
    finally:
        con.close()


OWN_DAY = ("2026-01-31", 5, (510 + 195 + 14 + 5 + 19) * M, "hub")  # 743M


def test_own_snapshot_first_then_backfill_keeps_it(
    pulse: FakeDatasets, cli: Cli, isolated_env: Path
) -> None:
    cli("snapshot", "--quiet", now=OWN)
    run_id = duckdb.connect(str(isolated_env)).execute("SELECT max(run_id) FROM runs").fetchall()
    out = cli("backfill", "--quiet", now=NOW).stdout
    assert f"lineage from the warehouse's snapshot of 2026-01-31 (run {run_id[0][0]})" in out
    assert "9 imported days (9 added" in out
    assert "Note: 1 dataset days on or after the first own snapshot (2026-01-31)" in out
    rows = daily(isolated_env)
    assert rows[-1] == OWN_DAY
    assert [r[2] for r in rows[:-1]] == [
        None,
        None,
        158 * M,
        160 * M,
        459 * M,
        598 * M,
        613 * M,
        692 * M,
        701 * M,
    ]
    assert {r[3] for r in rows[:-1]} == {"modelpulse"}
    con = duckdb.connect(str(isolated_env), read_only=True)
    basis = con.execute(
        "SELECT DISTINCT lineage_basis FROM runs JOIN imports USING (run_id)"
    ).fetchall()
    assert basis == [(f"snapshot:{run_id[0][0]}",)]
    # the renamed repo is the snapshot's repo, under its old id too
    assert con.execute("SELECT count(*) FROM repos").fetchall() == [(5,)]


def test_backfill_then_snapshot_then_newer_revision(
    pulse: FakeDatasets, cli: Cli, isolated_env: Path
) -> None:
    cli("backfill", "--quiet", now=NOW)
    cli("snapshot", "--quiet", now=OWN)
    after_snapshot = daily(isolated_env)
    assert after_snapshot[-1] == OWN_DAY  # the day's own snapshot beats its import
    assert len(after_snapshot) == 10
    # the same revision again: the lineage now comes from the own snapshot, the same rows;
    # the import shadowed by the own snapshot is dropped
    again = cli("backfill", "--quiet", now=NOW).stdout
    assert "lineage from the warehouse's snapshot of 2026-01-31" in again
    assert "9 imported days (0 added, 0 changed, 1 removed)" in again
    assert daily(isolated_env) == after_snapshot
    assert "nothing to add" in cli("backfill", "--quiet", now=NOW).stdout
    assert daily(isolated_env) == after_snapshot
    # a corrected revision: Qwen/A on 2025-12-10 was 421M, not 420M; one more day in 2025-03
    rows = {repo: dict(days) for repo, days in pulse_data.ROWS.items()}
    rows["Qwen/A"]["2025-12-10"] = (6000, 421, 45)
    for repo, value in {
        "Qwen/A": (940, 102, 11),
        "Qwen/B": (520, 51, 5),
        "u1/A-ft": (50, 5, 1),
        "u2/A-ft-gguf": (10, 1, 0),
        "u3/old-name": (20, 2, 0),
    }.items():
        rows[repo]["2025-03-01"] = value
    files = pulse_data.files(rows)
    meta = dict(pulse_data.META, days=sorted([*pulse_data.DAYS, "2025-03-01"]))
    files["meta.json"] = json.dumps(meta).encode()
    newer = pulse.commit(pulse_data.REPO, files, "Daily update 2026-02-01")
    out = cli("backfill", "--quiet", now=NOW).stdout
    assert f"@{newer[:12]}" in out
    assert "10 imported days (1 added, 1 changed, 0 removed)" in out
    final = daily(isolated_env)
    assert final[-1] == OWN_DAY
    assert [(r[0], r[2]) for r in final if r[0] in ("2025-03-01", "2025-12-10")] == [
        ("2025-03-01", 161 * M),  # 102 + 51 + 5 + 1 + 2
        ("2025-12-10", 599 * M),
    ]
    con = duckdb.connect(str(isolated_env), read_only=True)
    assert con.execute(
        "SELECT DISTINCT revision FROM runs JOIN imports USING (run_id)"
    ).fetchall() == [(newer,)]
    # the own snapshot's counters are intact: its members and values at its run
    own = con.execute(
        """SELECT repo_id, downloads_all_time FROM members_daily
           WHERE family = 'qwen' AND date = '2026-01-31' ORDER BY repo_id"""
    ).fetchall()
    assert own == [
        ("Qwen/A", 510 * M),
        ("Qwen/B", 195 * M),
        ("u1/A-ft", 14 * M),
        ("u2/A-ft-gguf", 5 * M),
        ("u3/new-name", 19 * M),
    ]


def test_pinned_old_revision(pulse: FakeDatasets, cli: Cli, isolated_env: Path) -> None:
    first = pulse.head(pulse_data.REPO)
    rows = {repo: dict(days) for repo, days in pulse_data.ROWS.items()}
    rows["Qwen/A"]["2025-12-10"] = (6000, 421, 45)
    pulse.commit(pulse_data.REPO, pulse_data.files(rows), "newer")
    cli("backfill", "--revision", first, "--quiet", now=NOW)
    assert [r[2] for r in daily(isolated_env) if r[0] == "2025-12-10"] == [598 * M]
    bad = cli("backfill", "--revision", "0" * 40, now=NOW, ok=False)
    assert bad.exit_code == 2
    assert bad.output.strip().splitlines()[-1] == (
        f"Error: --revision {'0' * 40}: modelpulse/model-pulse-data has no such revision"
    )


def test_schema_drift_fails_in_one_line_and_stores_nothing(
    pulse: FakeDatasets, cli: Cli, isolated_env: Path
) -> None:
    cli("backfill", "--until", "2025-12-31", "--quiet", now=NOW)
    before = daily(isolated_env)
    import pyarrow as pa

    drifted = pulse_data.parquet(
        pa.table(
            {"id": ["Qwen/A"], "day": ["2026-01-10"], "dl30": [1], "downloads": [5], "likes": [1]}
        )
    )
    sha = pulse.commit(pulse_data.REPO, {"series/2026-01.parquet": drifted}, "new layout")
    result = cli("backfill", "--quiet", now=NOW, ok=False)
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"Error: modelpulse/model-pulse-data@{sha[:12]} series/2026-01.parquet: column "
        "'day' is VARCHAR, expected a date; the dataset's layout changed"
    )
    assert daily(isolated_env) == before


def test_offline_uses_the_cache(
    pulse: FakeDatasets, cli: Cli, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli("backfill", "--until", "2025-02-28", "--quiet", now=NOW)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    served = len(pulse.downloads)
    requests = len(pulse._hub.requests) if pulse._hub else 0
    out = cli("backfill", "--until", "2025-02-28", "--quiet", now=NOW).stdout
    assert "nothing to add" in out
    assert len(pulse.downloads) == served
    assert pulse._hub is not None and len(pulse._hub.requests) == requests  # no request at all
    missing = cli("backfill", "--since", "2025-12-01", "--quiet", now=NOW, ok=False)
    assert missing.exit_code == 1
    assert "offline (HF_HUB_OFFLINE) and series/2025-12.parquet" in missing.output


def test_unreachable_hub(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    result = cli("backfill", "--quiet", now=NOW, ok=False)
    assert result.exit_code == 1
    assert result.output.startswith(
        "Error: cannot reach the Hub at http://127.0.0.1:9 (set by HF_ENDPOINT)"
    )
    assert len(result.output.strip().splitlines()) == 1


def test_check_compares_shared_days(pulse: FakeDatasets, cli: Cli) -> None:
    cli("snapshot", "--quiet", now=OWN)
    out = json.loads(cli("backfill", "--check", "--format", "json", "--quiet", now=NOW).stdout)
    assert out["days"] == [
        {
            "date": "2026-01-31",
            "repos": 5,
            "own_downloads_all_time": 743 * M,
            "dataset_downloads_all_time": 726 * M,
            "difference": -17 * M,
            "difference_pct": -2.29,
            "missing_in_dataset": 0,
            "largest": [
                {"repo_id": "Qwen/A", "own": 510 * M, "dataset": 500 * M, "difference": -10 * M},
                {"repo_id": "Qwen/B", "own": 195 * M, "dataset": 190 * M, "difference": -5 * M},
                {"repo_id": "u1/A-ft", "own": 14 * M, "dataset": 13 * M, "difference": -1 * M},
            ],
        }
    ]
    table = cli("backfill", "--check", "--quiet", now=NOW).stdout
    assert "Qwen/A -10,000,000, Qwen/B -5,000,000, u1/A-ft -1,000,000" in table
    later = cli("backfill", "--check", "--since", "2026-02", now=NOW, ok=False)
    assert later.exit_code == 2
    assert (
        later.output.strip()
        == "Error: no own snapshots of qwen in range to compare the dataset with"
    )


def test_sources_lists_imports(pulse: FakeDatasets, cli: Cli) -> None:
    sha = pulse.head(pulse_data.REPO)
    cli("backfill", "--quiet", now=NOW)
    rows = json.loads(cli("sources", "--format", "json", now=NOW).stdout)["sources"]
    assert [{k: v for k, v in r.items() if k != "imported_at"} for r in rows] == [
        {
            "family": "qwen",
            "source": "modelpulse",
            "dataset": "modelpulse/model-pulse-data",
            "revision": sha,
            "lineage_basis": f"dataset:{sha}",
            "days": 10,
            "first_day": "2025-02-25",
            "last_day": "2026-01-31",
        }
    ]


def test_report_shows_sources_when_mixed(pulse: FakeDatasets, cli: Cli) -> None:
    cli("snapshot", "--quiet", now=OWN)
    cli("backfill", "--quiet", now=NOW)
    rows = json.loads(cli("report", "--since", "2026-01-10", "--format", "json", now=NOW).stdout)
    assert [(r["date"], r["downloads_all_time"], r["source"]) for r in rows["series"]] == [
        ("2026-01-10", 692 * M, "modelpulse"),
        ("2026-01-13", 701 * M, "modelpulse"),
        ("2026-01-31", 743 * M, "hub"),
    ]
    table = cli("report", "--since", "2026-01-10", "--no-chart", now=NOW).stdout
    # hand-computed: 01-31 is the own snapshot (743M = 510+195+14+5+19; 30-day
    # 7300+3500+99+50+70; likes 60+25+2+0+1; new 743-701)
    assert table == TABLE
    verdict = json.loads(cli("verify", "700M+ downloads", "--format", "json", now=NOW).stdout)
    sha = pulse.head(pulse_data.REPO)
    assert (verdict["measured"], verdict["source"], verdict["first_reached"]) == (
        743 * M,
        "hub",
        "2026-01-13",
    )
    assert (verdict["first_reached_source"], verdict["first_reached_revision"]) == (
        "modelpulse",
        sha,
    )
    alone = cli("report", "--since", "2026-01-31", "--no-chart", now=NOW).stdout
    assert "source" not in alone.splitlines()[2]


TABLE = """\
qwen: downloads, daily

  date         repos      all-time      official   derivatives      30d   likes           new   source
 ──────────────────────────────────────────────────────────────────────────────────────────────────────────
  2026-01-10       5   692,000,000   660,000,000    32,000,000   10,400      75    79,000,000   modelpulse
  2026-01-13       5   701,000,000   667,000,000    34,000,000   10,600      76     9,000,000   modelpulse
  2026-01-31       5   743,000,000   705,000,000    38,000,000   11,019      88    42,000,000   hub

  Total                                                                           130,000,000

Anomalies: 1 low_day (see --format json)
"""


def test_bad_meta_json_fails_in_one_line(pulse: FakeDatasets, cli: Cli, isolated_env: Path) -> None:
    sha = pulse.commit(pulse_data.REPO, {"meta.json": b'{"days": ["2025-02-30"]}'}, "bad")
    result = cli("backfill", "--quiet", now=NOW, ok=False)
    assert (result.exit_code, result.output.strip()) == (
        1,
        f"Error: modelpulse/model-pulse-data@{sha[:12]} meta.json: 'days' holds '2025-02-30', "
        "not a date (YYYY-MM-DD)",
    )
    assert not isolated_env.exists() or daily(isolated_env) == []


def test_unknown_family_and_bad_range_are_usage_errors(pulse: FakeDatasets, cli: Cli) -> None:
    unknown = cli("backfill", "--family", "nope", "--quiet", now=NOW, ok=False)
    assert unknown.exit_code == 2 and "unknown family 'nope'" in unknown.output
    backwards = cli("backfill", "--since", "2026-01", "--until", "2025-01", now=NOW, ok=False)
    assert backwards.exit_code == 2
    assert backwards.output.strip() == "Error: --since 2026-01-01 is after --until 2025-01-31"
    source = cli("backfill", "--source", "elsewhere", now=NOW, ok=False)
    assert source.exit_code == 2
