"""Three snapshots on three dates, with repos added, renamed, deleted, a counter decreasing
and a repo gaining its base_model tag: every number of `report` and `verify` is checked
against values computed by hand (the arithmetic is spelled out next to each figure).
"""

from __future__ import annotations

import json

import duckdb
import pytest

from tests.conftest import Cli
from tests.fakehub import FakeHub

DAY1, DAY2, DAY3 = "2026-01-01T12:00:00", "2026-01-02T12:00:00", "2026-01-03T12:00:00"
OLD = "2025-01-01T00:00:00.000Z"


def build_history(hub: FakeHub, cli: Cli) -> None:
    hub.add("Qwen/A", downloads_all_time=1000, downloads=100, likes=5, created_at=OLD)
    hub.add("Qwen/B", downloads_all_time=500, downloads=50, likes=1, created_at=OLD)
    hub.add_derivative(
        "u/ft",
        parent="Qwen/A",
        relation="finetune",
        downloads_all_time=200,
        downloads=20,
        created_at=OLD,
    )
    hub.add_derivative(
        "u/gguf",
        parent="u/ft",
        relation="quantized",
        downloads_all_time=30,
        downloads=3,
        created_at=OLD,
    )
    hub.add_derivative(
        "u/merge",
        parent=["Qwen/A", "Qwen/B"],
        relation="merge",
        downloads_all_time=7,
        downloads=1,
        created_at=OLD,
    )
    hub.add("u/old", downloads_all_time=60, downloads=6, created_at="2025-06-01T00:00:00.000Z")
    hub.add("x/qwen-lookalike", downloads_all_time=99, downloads=9, created_at=OLD)
    cli("snapshot", "--quiet", now=DAY1)

    hub.set("Qwen/A", downloads_all_time=1100, downloads=110)
    hub.set("u/ft", downloads_all_time=150)  # a revised (decreased) counter
    hub.add_derivative(
        "u/new",
        parent="Qwen/B",
        relation="adapter",
        downloads_all_time=40,
        downloads=40,
        likes=2,
        created_at="2026-01-01T15:00:00.000Z",
    )
    hub.set_tags("u/old", ["base_model:Qwen/B", "base_model:finetune:Qwen/B"])
    hub.rename("u/gguf", "u/gguf2")
    cli("snapshot", "--quiet", now=DAY2)

    hub.delete("u/merge")
    hub.set("Qwen/B", downloads_all_time=600)
    cli("snapshot", "--quiet", now=DAY3)


EXPECTED_SERIES = [
    {
        "date": "2026-01-01",
        "repos": 5,  # A, B, ft, gguf, merge (u/old has no lineage yet, lookalike never)
        "downloads_all_time": 1737,  # 1000 + 500 + 200 + 30 + 7
        "official_downloads_all_time": 1500,  # 1000 + 500
        "derivative_downloads_all_time": 237,  # 200 + 30 + 7
        "downloads_30d": 174,  # 100 + 50 + 20 + 3 + 1
        "likes": 6,  # 5 + 1
        "new_downloads": None,
        "partial": False,  # every member's listing answered
    },
    {
        "date": "2026-01-02",
        "repos": 7,  # + u/new, + u/old (gained its tag); u/gguf renamed, still one repo
        "downloads_all_time": 1887,  # 1100 + 500 + 150 + 30 + 7 + 40 + 60
        "official_downloads_all_time": 1600,  # 1100 + 500
        "derivative_downloads_all_time": 287,  # 150 + 30 + 7 + 40 + 60
        "downloads_30d": 230,  # 110 + 50 + 20 + 3 + 1 + 40 + 6
        "likes": 8,  # 5 + 1 + 2
        # A +100; ft 200 -> 150 clamped to 0; u/new created after day 1's run: +40 in full;
        # u/old existed before day 1 and only joined now: 0
        "new_downloads": 140,
        "partial": False,
    },
    {
        "date": "2026-01-03",
        "repos": 6,  # u/merge deleted
        "downloads_all_time": 1987,  # 1100 + 600 + 150 + 30 + 7 (kept) + 40 + 60
        "official_downloads_all_time": 1700,  # 1100 + 600
        "derivative_downloads_all_time": 287,  # unchanged: u/merge keeps its 7
        "downloads_30d": 229,  # 230 - 1 (u/merge no longer a member)
        "likes": 8,
        "new_downloads": 100,  # B +100
        "partial": False,
    },
]
EXPECTED_ANOMALIES = [
    {"date": "2026-01-02", "repo_id": "u/ft", "kind": "decrease", "previous": 200, "current": 150},
    {
        "date": "2026-01-02",
        "repo_id": "u/old",
        "kind": "joined_existing",
        "previous": None,
        "current": 60,
    },
    {
        "date": "2026-01-03",
        "repo_id": "u/merge",
        "kind": "departed",
        "previous": None,
        "current": 7,
    },
]


@pytest.fixture(params=[True, False], ids=["with_id", "without_id"])
def history_hub(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    """The Hub may or may not send `_id` in expanded listings: both must give one history."""
    with FakeHub(page_size=2, expand_includes_underscore_id=request.param) as fake:
        monkeypatch.setenv("HF_ENDPOINT", fake.url)
        yield fake


def test_report_json_matches_hand_computed_history(history_hub: FakeHub, cli: Cli) -> None:
    build_history(history_hub, cli)
    out = json.loads(cli("report", "--format", "json").stdout)
    assert out == {
        "family": "qwen",
        "series": [dict(s, source="hub") for s in EXPECTED_SERIES],  # own snapshots
        "anomalies": EXPECTED_ANOMALIES,
        "partial_days": [],
    }


def test_report_range_and_csv(history_hub: FakeHub, cli: Cli) -> None:
    build_history(history_hub, cli)
    out = cli("report", "--since", "2026-01-02", "--until", "2026-01-02", "--format", "csv").stdout
    assert out == (
        "date,repos,downloads_all_time,official_downloads_all_time,"
        "derivative_downloads_all_time,downloads_30d,likes,new_downloads,partial\n"
        "2026-01-02,7,1887,1600,287,230,8,140,false\n"
    )


def test_report_table(history_hub: FakeHub, cli: Cli) -> None:
    build_history(history_hub, cli)
    out = cli("report").stdout
    assert out.splitlines()[4:7] == [
        "  2026-01-01       5      1,737      1,500           237   174       6",
        "  2026-01-02       7      1,887      1,600           287   230       8   140",
        "  2026-01-03       6      1,987      1,700           287   229       8   100",
    ]
    assert "Anomalies: 1 decrease, 1 departed, 1 joined_existing" in out


def test_rename_keeps_one_repo(history_hub: FakeHub, cli: Cli, isolated_env) -> None:
    build_history(history_hub, cli)
    con = duckdb.connect(str(isolated_env), read_only=True)
    names = con.execute(
        "SELECT repo_id FROM repo_names WHERE repo_key = "
        "(SELECT repo_key FROM repos WHERE repo_id = 'u/gguf2') ORDER BY first_run"
    ).fetchall()
    assert names == [("u/gguf",), ("u/gguf2",)]
    assert con.execute("SELECT count(*) FROM repos WHERE repo_id LIKE 'u/gguf%'").fetchall() == [
        (1,)
    ]


def test_views_give_the_report_numbers(history_hub: FakeHub, cli: Cli, isolated_env) -> None:
    """An analyst's SQL on the documented view returns what `report` prints."""
    build_history(history_hub, cli)
    con = duckdb.connect(str(isolated_env), read_only=True)
    rows = con.execute(
        "SELECT strftime(date, '%Y-%m-%d'), repos, downloads_all_time, new_downloads "
        "FROM family_daily WHERE family = 'qwen' ORDER BY date"
    ).fetchall()
    assert rows == [
        (s["date"], s["repos"], s["downloads_all_time"], s["new_downloads"])
        for s in EXPECTED_SERIES
    ]


def test_counts_are_stored_only_when_changed(hub: FakeHub, cli: Cli, isolated_env) -> None:
    hub.add("Qwen/A", downloads_all_time=10, downloads=1)
    hub.add("Qwen/B", downloads_all_time=20, downloads=2)
    cli("snapshot", "-q", now=DAY1)
    cli("snapshot", "-q", now=DAY2)  # nothing changed: no new counts rows
    hub.set("Qwen/B", downloads_all_time=25)
    cli("snapshot", "-q", now=DAY3)
    con = duckdb.connect(str(isolated_env), read_only=True)
    assert con.execute("SELECT count(*) FROM runs").fetchall() == [(3,)]
    assert con.execute(
        "SELECT run_id, downloads_all_time FROM counts ORDER BY run_id, 2"
    ).fetchall() == [(1, 10), (1, 20), (3, 25)]
    out = json.loads(cli("report", "--format", "json").stdout)
    assert [r["downloads_all_time"] for r in out["series"]] == [30, 30, 35]
    assert [r["new_downloads"] for r in out["series"]] == [None, 0, 5]


def test_same_day_snapshots_last_one_counts(hub: FakeHub, cli: Cli) -> None:
    hub.add("Qwen/A", downloads_all_time=10)
    cli("snapshot", "-q", now="2026-01-01T01:00:00")
    hub.set("Qwen/A", downloads_all_time=15)
    cli("snapshot", "-q", now="2026-01-01T23:00:00")
    out = json.loads(cli("report", "--format", "json").stdout)
    assert [(r["date"], r["downloads_all_time"]) for r in out["series"]] == [("2026-01-01", 15)]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        # family scope: 1737, 1887, 1987 -> 1.9K first met on day 3
        (
            ["1.9K downloads"],
            {
                "measured": 1987,
                "verdict": "supported",
                "first_reached": "2026-01-03",
                "scope": "family",
                "breakdown": {"official": 1700, "derivative": 287},
            },
        ),
        (
            ["1.9K downloads", "--as-of", "2026-01-02"],
            {
                "measured": 1887,
                "verdict": "not_supported",
                "first_reached": None,
                "snapshot_date": "2026-01-02",
            },
        ),
        # official scope: 1500, 1600, 1700
        (
            ["1,600 downloads", "--scope", "official"],
            {
                "measured": 1700,
                "verdict": "supported",
                "first_reached": "2026-01-02",
                "scope": "official",
            },
        ),
        (
            ["over 1.8 thousand downloads", "--scope", "official"],
            {"measured": 1700, "verdict": "not_supported", "first_reached": None},
        ),
        (
            ["2K downloads", "--as-of", "2025-12-31"],
            {"measured": None, "verdict": "insufficient_data", "first_reached": None},
        ),
        # derivatives: 3, 5, 4 -> 5 was reached on day 2 but does not hold on day 3
        (
            ["5 derivatives"],
            {
                "measured": 4,
                "verdict": "not_supported",
                "first_reached": "2026-01-02",
                "scope": "derivative",
            },
        ),
        (
            ["2 models"],
            {
                "measured": 2,
                "verdict": "supported",
                "first_reached": "2026-01-01",
                "scope": "official",
            },
        ),
        # monthly downloads: 174, 230, 229
        (
            ["200 monthly downloads"],
            {
                "measured": 229,
                "verdict": "supported",
                "first_reached": "2026-01-02",
                "metric": "downloads_30d",
            },
        ),
        (["8 likes"], {"measured": 8, "verdict": "supported", "first_reached": "2026-01-02"}),
    ],
)
def test_verify(history_hub: FakeHub, cli: Cli, args: list[str], expected: dict) -> None:
    build_history(history_hub, cli)
    out = json.loads(cli("verify", *args, "--format", "json").stdout)
    assert {k: out[k] for k in expected} == expected


def test_verify_table(hub: FakeHub, cli: Cli) -> None:
    build_history(hub, cli)
    out = cli("verify", "1.9K downloads").stdout
    assert out.startswith("Supported: the qwen family on Hugging Face")
    scopes = ("official", "family", "global")
    rows = {
        ln.split()[0]: ln.split()[1:3]
        for ln in out.splitlines()
        if ln.split()[:1] in [[s] for s in scopes]
    }
    assert rows == {
        "official": ["1,700", "not_supported"],
        "family": ["1,987", "supported"],
        "global": ["not_measured"],
    }
    assert "Breakdown (family): official=1,700, derivative=287" in out
