"""`collector backfill --source hubstats`: each day from that day's revision of
cfahlgren1/hub-stats, served by the fake Hub through the real huggingface_hub client
(tests/hubstats_data.py holds the data and the hand-computed family totals pinned here)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from tests import hubstats_data as data
from tests.conftest import Cli
from tests.fakedatasets import FakeDatasets
from tests.fakehub import FakeHub

M = data.M
NOW = "2026-06-01T00:00:00"
OWN = "2026-03-03T15:00:00"  # an own snapshot on the dataset's third day
OFFICIAL_AND_TAGGED = ["Qwen/A", "Qwen/B", "u1/A-ft", "u2/A-ft-gguf"]


@pytest.fixture
def stats(
    hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[FakeDatasets, dict[str, str]]]:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))  # a cache of its own
    datasets = FakeDatasets(commits_page=2).attach(hub)  # 7 commits: 4 pages
    yield datasets, data.publish(datasets)


def daily(db: Path) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            """SELECT CAST(date AS VARCHAR), repos, downloads_30d, downloads_all_time, likes,
                      new_downloads, source
               FROM family_daily WHERE family = 'qwen' ORDER BY date"""
        ).fetchall()
    finally:
        con.close()


def members(db: Path) -> dict[str, list[str]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            """SELECT CAST(date AS VARCHAR), list(repo_id ORDER BY repo_id) FROM members_daily
               WHERE family = 'qwen' GROUP BY ALL ORDER BY 1"""
        ).fetchall()
    finally:
        con.close()
    return dict(rows)


# By hand (tests/hubstats_data.py): repos, 30-day, all-time, likes, new, source.
EXPECTED = [
    ("2026-03-01", 4, 165, None, 16, None, "hubstats"),
    # all-time appears on 03-02: no new downloads that day (the counter appearing is not)
    ("2026-03-02", 5, 190, 565 * M, 17, None, "hubstats"),
    ("2026-03-03", 5, 208, 579 * M, 20, 14 * M, "hubstats"),
    ("2026-03-04", 5, 226, 595 * M, 22, 16 * M, "hubstats"),
]


def test_each_day_from_its_own_revision_and_lineage(
    stats: tuple[FakeDatasets, dict[str, str]], cli: Cli, isolated_env: Path
) -> None:
    datasets, shas = stats
    out = cli("backfill", "--source", "hubstats", "--family", "qwen", "--quiet", now=NOW).stdout
    assert out.splitlines() == [
        "qwen: hubstats (cfahlgren1/hub-stats, 4 daily revisions 2026-03-01 to 2026-03-04, "
        f"newest {shas['2026-03-04'][:12]}), lineage from each day's own base_model tags "
        "(hubstats@<day>): 4 imported days (4 added, 0 changed, 0 removed), 5 members, 19 rows",
        "Note: 1 commit of models.parquet superseded by a later one the same day (each day "
        "is its last commit)",
        "Note: 1 day (2026-03-01) from revisions without downloadsAllTime (all-time downloads "
        "shown empty; claims there are insufficient_data)",
        f"Downloaded {sum(len(data.models_file(d)) for d in data.DAYS):,} bytes",
    ]
    assert daily(isolated_env) == EXPECTED
    # u4/B-lora joins the family on 03-02, the day its base_model tag appears
    assert members(isolated_env) == {
        "2026-03-01": OFFICIAL_AND_TAGGED,
        "2026-03-02": sorted([*OFFICIAL_AND_TAGGED, "u4/B-lora"]),
        "2026-03-03": sorted([*OFFICIAL_AND_TAGGED, "u4/B-lora"]),
        "2026-03-04": sorted([*OFFICIAL_AND_TAGGED, "u4/B-lora"]),
    }
    con = duckdb.connect(str(isolated_env), read_only=True)
    try:
        runs = con.execute(
            """SELECT CAST(i.day AS VARCHAR), r.source, r.revision, r.lineage_basis, i.dataset
               FROM runs r JOIN imports i USING (run_id) ORDER BY i.day"""
        ).fetchall()
        lineage = con.execute(
            """SELECT r.repo_id, m.role, m.relation, m.depth, p.repo_id
               FROM membership m JOIN repos r USING (repo_key)
               LEFT JOIN repos p ON p.repo_key = m.parent_key ORDER BY 1"""
        ).fetchall()
    finally:
        con.close()
    # one run per day, from the day's last commit touching models.parquet
    assert runs == [
        (d, "hubstats", shas[d], f"hubstats@{d}", "cfahlgren1/hub-stats") for d in data.DAYS
    ]
    assert lineage == [
        ("Qwen/A", "official", None, 0, None),
        ("Qwen/B", "official", None, 0, None),
        ("u1/A-ft", "derivative", "finetune", 1, "Qwen/A"),
        ("u2/A-ft-gguf", "derivative", "quantized", 2, "u1/A-ft"),
        ("u4/B-lora", "derivative", "adapter", 1, "Qwen/B"),
    ]
    # only models.parquet of the four snapshot revisions was downloaded, never the
    # superseded one nor datasets.parquet
    assert sorted(datasets.downloads) == ["models.parquet"] * 4


def test_second_backfill_adds_nothing(
    stats: tuple[FakeDatasets, dict[str, str]], cli: Cli, isolated_env: Path
) -> None:
    datasets, _ = stats
    cli("backfill", "--source", "hubstats", "--quiet", now=NOW)
    first = daily(isolated_env)
    served = list(datasets.downloads)
    out = cli("backfill", "--source", "hubstats", "--quiet", now=NOW).stdout
    assert "nothing to add (4 dataset days in range, all imported)" in out
    assert "All files from the cache" in out
    assert daily(isolated_env) == first
    assert datasets.downloads == served


def test_range_then_wider_range_then_new_day(
    stats: tuple[FakeDatasets, dict[str, str]], cli: Cli, isolated_env: Path
) -> None:
    datasets, _ = stats
    out = cli(
        "backfill",
        "--source",
        "hubstats",
        "--since",
        "2026-03-02",
        "--until",
        "2026-03-03",
        "--quiet",
        now=NOW,
    ).stdout
    assert "2 imported days (2 added, 0 changed, 0 removed)" in out
    assert [r[0] for r in daily(isolated_env)] == ["2026-03-02", "2026-03-03"]
    # only the two revisions in range were downloaded
    assert datasets.downloads == ["models.parquet"] * 2
    out = cli("backfill", "--source", "hubstats", "--quiet", now=NOW).stdout
    assert "4 imported days (2 added, 0 changed, 0 removed)" in out
    assert daily(isolated_env) == EXPECTED
    assert len(datasets.downloads) == 4  # the two from before came from the cache
    rows = {r: (v[0], v[1] + 1, v[2]) for r, v in data.ROWS["2026-03-04"].items()}
    sha = datasets.commit(
        data.REPO,
        {"models.parquet": data.models_file("2026-03-05", rows)},
        "Upload models.parquet with huggingface_hub",
        datetime(2026, 3, 5, 13, 5, tzinfo=UTC),
    )
    out = cli("backfill", "--source", "hubstats", "--quiet", now=NOW).stdout
    assert "5 imported days (1 added, 0 changed, 0 removed)" in out
    assert daily(isolated_env)[-1] == ("2026-03-05", 5, 226, 600 * M, 22, 5 * M, "hubstats")
    con = duckdb.connect(str(isolated_env), read_only=True)
    assert con.execute(
        "SELECT r.revision FROM runs r JOIN imports i USING (run_id) WHERE i.day = '2026-03-05'"
    ).fetchall() == [(sha,)]


def test_own_snapshot_wins(
    stats: tuple[FakeDatasets, dict[str, str]], hub: FakeHub, cli: Cli, isolated_env: Path
) -> None:
    hub.add("Qwen/A", downloads_all_time=500 * M, downloads=200, likes=20)
    hub.add("Qwen/B", downloads_all_time=200 * M, downloads=100, likes=10)
    hub.add_derivative("u1/A-ft", "Qwen/A", downloads_all_time=20 * M, downloads=20, likes=2)
    hub.add_derivative("u2/A-ft-gguf", "u1/A-ft", "quantized", downloads_all_time=5 * M)
    hub.add_derivative("u4/B-lora", "Qwen/B", "adapter", downloads_all_time=5 * M)
    cli("snapshot", "--quiet", now=OWN)
    out = cli("backfill", "--source", "hubstats", "--quiet", now=NOW).stdout
    assert "2 imported days (2 added" in out
    assert "Note: 2 dataset days on or after the first own snapshot (2026-03-03)" in out
    rows = daily(isolated_env)
    assert [(r[0], r[3], r[6]) for r in rows] == [
        ("2026-03-01", None, "hubstats"),
        ("2026-03-02", 565 * M, "hubstats"),
        ("2026-03-03", 730 * M, "hub"),  # 500 + 200 + 20 + 5 + 5
    ]
    again = cli("backfill", "--source", "hubstats", "--quiet", now=NOW).stdout
    assert "nothing to add" in again
    assert daily(isolated_env) == rows
    con = duckdb.connect(str(isolated_env), read_only=True)
    assert con.execute("SELECT count(*) FROM repos").fetchall() == [(5,)]  # the same repos


def test_missing_column_is_one_line_and_stores_nothing(
    stats: tuple[FakeDatasets, dict[str, str]], cli: Cli, isolated_env: Path
) -> None:
    datasets, _ = stats
    cli("backfill", "--source", "hubstats", "--until", "2026-03-02", "--quiet", now=NOW)
    before = daily(isolated_env)
    drifted = data.parquet(
        pa.table({"id": ["Qwen/A"], "downloads30d": [1], "likes": [1], "tags": [["x"]]})
    )
    sha = datasets.commit(
        data.REPO,
        {"models.parquet": drifted},
        "Upload models.parquet with huggingface_hub",
        datetime(2026, 3, 5, 13, 5, tzinfo=UTC),
    )
    day = "2026-03-05"
    result = cli("backfill", "--source", "hubstats", "--quiet", now=NOW, ok=False)
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"Error: cfahlgren1/hub-stats@{sha[:12]} models.parquet of {day}: column 'downloads' "
        "is missing (has downloads30d, id, likes, tags); the dataset's layout changed"
    )
    assert daily(isolated_env) == before


def test_other_source_and_revision_are_refused(
    stats: tuple[FakeDatasets, dict[str, str]], cli: Cli, isolated_env: Path
) -> None:
    bad = cli("backfill", "--source", "hubstats", "--revision", "a" * 40, now=NOW, ok=False)
    assert bad.exit_code == 2
    assert "--source hubstats imports each day from that day's revision" in bad.output
    check = cli("backfill", "--source", "hubstats", "--check", now=NOW, ok=False)
    assert check.exit_code == 2
    assert check.output.strip() == (
        f"Error: no warehouse at {isolated_env}; run `collector snapshot` first or pass --db"
    )
    cli("backfill", "--source", "hubstats", "--quiet", now=NOW)
    other = cli("backfill", "--source", "modelpulse", "--quiet", now=NOW, ok=False)
    assert other.exit_code == 2
    assert other.output.strip().splitlines()[-1] == (
        "Error: qwen: 4 days are imported from hubstats; a family's imported history comes "
        "from one source, so --source modelpulse would replace them"
    )


def test_sources_lists_it_and_progress_goes_to_stderr(
    stats: tuple[FakeDatasets, dict[str, str]], cli: Cli
) -> None:
    _, shas = stats
    loud = cli("backfill", "--source", "hubstats", now=NOW)
    assert "cfahlgren1/hub-stats: 4 daily revisions, 2026-03-01 to 2026-03-04" in loud.stderr
    assert "daily revisions, 2026-03-01" not in loud.stdout
    rows = json.loads(cli("sources", "--format", "json", now=NOW).stdout)["sources"]
    assert [{k: v for k, v in r.items() if k != "imported_at"} for r in rows] == [
        {
            "family": "qwen",
            "source": "hubstats",
            "dataset": "cfahlgren1/hub-stats",
            "revision": f"4 revisions: {shas['2026-03-01'][:12]} to {shas['2026-03-04'][:12]}",
            "lineage_basis": "hubstats@2026-03-01 to hubstats@2026-03-04",
            "days": 4,
            "first_day": "2026-03-01",
            "last_day": "2026-03-04",
        }
    ]
    verdict = json.loads(
        cli(
            "verify", "570M+ downloads", "--as-of", "2026-03-31", "--format", "json", now=NOW
        ).stdout
    )
    assert (verdict["measured"], verdict["first_reached"], verdict["source"]) == (
        595 * M,
        "2026-03-03",
        "hubstats",
    )
    assert (verdict["revision"], verdict["lineage_basis"]) == (
        shas["2026-03-04"],
        "hubstats@2026-03-04",
    )


def test_check_compares_own_days_with_each_days_revision(
    stats: tuple[FakeDatasets, dict[str, str]], hub: FakeHub, cli: Cli, isolated_env: Path
) -> None:
    _, shas = stats
    hub.add("Qwen/A", downloads_all_time=500 * M, downloads=200, likes=20)
    hub.add("Qwen/B", downloads_all_time=200 * M, downloads=100, likes=10)
    hub.add_derivative("u1/A-ft", "Qwen/A", downloads_all_time=20 * M, downloads=20, likes=2)
    hub.add_derivative("u2/A-ft-gguf", "u1/A-ft", "quantized", downloads_all_time=5 * M)
    hub.add_derivative("u4/B-lora", "Qwen/B", "adapter", downloads_all_time=5 * M)
    for at in (OWN, "2026-03-04T15:00:00", "2026-03-05T15:00:00"):  # no revision on 03-05
        cli("snapshot", "--quiet", now=at)
    out = cli("backfill", "--source", "hubstats", "--check", "--format", "json", "--quiet", now=NOW)
    doc = json.loads(out.stdout)
    assert (doc["source"], doc["revision"], doc["own_days"]) == ("hubstats", shas["2026-03-04"], 3)
    # own: 500 + 200 + 20 + 5 + 5 = 730 each day; the dumps: 579 on 03-03, 595 on 03-04
    assert doc["days"] == [
        {
            "date": "2026-03-03",
            "repos": 5,
            "own_downloads_all_time": 730 * M,
            "dataset_downloads_all_time": 579 * M,
            "difference": -151 * M,
            "difference_pct": -20.68,
            "missing_in_dataset": 0,
            "largest": [
                {"repo_id": "Qwen/A", "own": 500 * M, "dataset": 410 * M, "difference": -90 * M},
                {"repo_id": "Qwen/B", "own": 200 * M, "dataset": 152 * M, "difference": -48 * M},
                {"repo_id": "u1/A-ft", "own": 20 * M, "dataset": 11 * M, "difference": -9 * M},
            ],
        },
        {
            "date": "2026-03-04",
            "repos": 5,
            "own_downloads_all_time": 730 * M,
            "dataset_downloads_all_time": 595 * M,
            "difference": -135 * M,
            "difference_pct": -18.49,
            "missing_in_dataset": 0,
            "largest": [
                {"repo_id": "Qwen/A", "own": 500 * M, "dataset": 420 * M, "difference": -80 * M},
                {"repo_id": "Qwen/B", "own": 200 * M, "dataset": 155 * M, "difference": -45 * M},
                {"repo_id": "u1/A-ft", "own": 20 * M, "dataset": 12 * M, "difference": -8 * M},
            ],
        },
    ]
    # --since/--until narrow the days (each one a whole dump to download)
    table = cli(
        "backfill", "--source", "hubstats", "--check", "--since", "2026-03-04", "--quiet", now=NOW
    ).stdout
    lines = table.splitlines()
    assert lines[0] == (
        f"qwen: own snapshots vs cfahlgren1/hub-stats@{shas['2026-03-04'][:12]} of 2026-03-04 "
        "(downloads_all_time, same members)"
    )
    assert "2026-03-03" not in table
    assert "Qwen/A -80,000,000, Qwen/B -45,000,000, u1/A-ft -8,000,000" in table
    assert lines[-1].startswith("Note: each day of cfahlgren1/hub-stats is a dump taken at")
    # nothing stored
    assert [r[6] for r in daily(isolated_env)] == ["hub", "hub", "hub"]
    pinned = cli(
        "backfill", "--source", "hubstats", "--check", "--revision", "abc", now=NOW, ok=False
    )
    assert pinned.exit_code == 2
    assert pinned.output.strip() == (
        "Error: --revision: --source hubstats compares each day with that day's revision"
    )


def test_a_tag_naming_its_parent_by_an_id_from_before_a_rename(
    hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli, isolated_env: Path
) -> None:
    # u1/A-ft is listed as u1/A-ft-v2 on 03-04 (same _id); u2/A-ft-gguf's tags still name
    # u1/A-ft. The Hub resolves such a tag; the import resolves it by the _id u1/A-ft had
    # on 03-03, so u2/A-ft-gguf stays a member (depth 2) and the repo is counted once.
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    datasets = FakeDatasets().attach(hub)
    for day, renamed in (("2026-03-03", None), ("2026-03-04", {"u1/A-ft": "u1/A-ft-v2"})):
        datasets.commit(
            data.REPO,
            {"models.parquet": data.models_file(day, renamed=renamed)},
            "Upload models.parquet with huggingface_hub",
            datetime.fromisoformat(f"{day}T13:05:00+00:00"),
        )
    out = cli("backfill", "--source", "hubstats", "--quiet", now=NOW).stdout
    assert (
        "Note: 1 base_model parent named by an id the repo had before a rename, resolved by "
        "its Hub _id (e.g. u1/a-ft)"
    ) in out.splitlines()
    every = sorted(["Qwen/A", "Qwen/B", "u1/A-ft-v2", "u2/A-ft-gguf", "u4/B-lora"])
    assert members(isolated_env) == {"2026-03-03": every, "2026-03-04": every}
    assert daily(isolated_env) == [
        ("2026-03-03", 5, 208, 579 * M, 20, None, "hubstats"),
        ("2026-03-04", 5, 226, 595 * M, 22, 16 * M, "hubstats"),
    ]
    con = duckdb.connect(str(isolated_env), read_only=True)
    try:
        lineage = con.execute(
            """SELECT r.repo_id, m.depth, p.repo_id FROM membership m JOIN repos r
               USING (repo_key) LEFT JOIN repos p ON p.repo_key = m.parent_key
               WHERE r.repo_id LIKE 'u%' ORDER BY 1"""
        ).fetchall()
    finally:
        con.close()
    assert lineage == [
        ("u1/A-ft-v2", 1, "Qwen/A"),
        ("u2/A-ft-gguf", 2, "u1/A-ft-v2"),
        ("u4/B-lora", 1, "Qwen/B"),
    ]
