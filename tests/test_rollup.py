"""The daily rollup (collector/store/rollup.py) kept by each snapshot equals its rebuild.

A small warehouse goes through everything that moves a daily series: growth, a repo
created after the previous day-run, one first seen though older, a counter decrease,
a relation and a depth change, a departure and a return, a rename, a failed run, and
later runs on the same day replacing the day's run. After every snapshot, the views
that read the incrementally kept rollup must equal the same views after the rollup is
rebuilt from every member event, row for row (both apply the rules of views.py).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from collector.store import migrations, rollup, views
from tests.conftest import Cli
from tests.fakehub import FakeHub

FAMILIES = """
[families.qwen]
authors = ["Qwen"]
strategy = "lineage"

[families.small]
authors = ["Qwen"]
max_depth = 1
strategy = "lineage"
"""
ROLLUP_TABLES = ("rollup_days", "rollup_groups", "rollup_anomalies", "rollup_state", "rollup_undo")
VIEWS = {
    "family_daily": "ORDER BY family, run_id",
    "family_groups_daily": 'ORDER BY family, run_id, dimension, "group"',
    "report_anomalies": "ORDER BY family, date, kind, repo_id",
}


def rows_equal_events(db: Path) -> dict[str, int]:
    """Assert each rollup view, as the snapshots left it, equals the same view after the
    rollup is rebuilt from every member event; return the row counts."""

    def read(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[object, ...]]]:
        return {
            view: con.execute(f"SELECT * FROM {view} {order}").fetchall()
            for view, order in VIEWS.items()
        }

    with duckdb.connect(str(db), read_only=True) as con:
        got = read(con)
    copy = db.with_name("rebuilt.duckdb")
    shutil.copyfile(db, copy)
    try:
        with duckdb.connect(str(copy)) as con:
            rollup.rebuild(con)
            want = read(con)
    finally:
        copy.unlink()
    for view in VIEWS:
        assert got[view] == want[view], view
    return {view: len(rows) for view, rows in got.items()}


def snapshot(cli: Cli, now: str) -> None:
    cli("snapshot", "-f", "qwen", "-f", "small", "--quiet", now=now)


@pytest.fixture
def families(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "families.toml"
    path.write_text(FAMILIES)
    monkeypatch.setenv("COLLECTOR_FAMILIES", str(path))


def test_rollup_equals_the_event_views_through_a_busy_history(
    cli: Cli, hub: FakeHub, isolated_env: Path, families: None
) -> None:
    hub.add("Qwen/Qwen3-8B", downloads_all_time=1000, downloads=100, likes=10)
    hub.add("Qwen/Qwen3-32B", downloads_all_time=2000, downloads=200, likes=20)
    hub.add_derivative("ft/a", "Qwen/Qwen3-8B", downloads_all_time=300, downloads=30, likes=3)
    hub.add_derivative("q/a-GGUF", "ft/a", relation="quantized", downloads_all_time=40)
    hub.add_derivative("q/a-GGUF-2", "q/a-GGUF", relation="quantized", downloads_all_time=4)
    hub.add_derivative(
        "m/merge", ["Qwen/Qwen3-8B", "Qwen/Qwen3-32B"], relation="merge", downloads_all_time=9
    )
    hub.add("late/old", downloads_all_time=77, created_at="2025-06-01T00:00:00.000Z")
    snapshot(cli, "2026-01-01T12:00:00")
    counts = [rows_equal_events(isolated_env)]

    # day 2: growth, a decrease, a repo created since, an old repo now linked
    hub.set("Qwen/Qwen3-8B", downloads_all_time=1500, downloads=120, likes=11)
    hub.set("ft/a", downloads_all_time=250)
    hub.add_derivative(
        "new/b", "Qwen/Qwen3-32B", downloads_all_time=60, created_at="2026-01-02T01:00:00.000Z"
    )
    hub.set_tags("late/old", ["base_model:Qwen/Qwen3-8B", "base_model:finetune:Qwen/Qwen3-8B"])
    snapshot(cli, "2026-01-02T12:00:00")
    counts.append(rows_equal_events(isolated_env))

    # day 3, three runs: the day-run is replaced twice (the rollup takes the day back)
    hub.set_tags("q/a-GGUF", ["base_model:Qwen/Qwen3-8B", "base_model:adapter:Qwen/Qwen3-8B"])
    hub.set("Qwen/Qwen3-32B", downloads_all_time=2100)
    snapshot(cli, "2026-01-03T08:00:00")
    rows_equal_events(isolated_env)
    hub.set_tags("ft/a", [])  # departs (its child was re-parented at 08:00)
    hub.rename("m/merge", "m/merge-v2")
    snapshot(cli, "2026-01-03T12:00:00")
    rows_equal_events(isolated_env)
    hub.set("Qwen/Qwen3-32B", downloads_all_time=2150, downloads=210)
    snapshot(cli, "2026-01-03T20:00:00")
    counts.append(rows_equal_events(isolated_env))

    # a failed run changes nothing
    hub.inject("500", times=100)
    cli("snapshot", "-f", "qwen", "--quiet", now="2026-01-04T06:00:00", ok=False)
    hub._faults.clear()
    rows_equal_events(isolated_env)

    # day 4: the departed repo returns; counters moved while it was away
    hub.set_tags("ft/a", ["base_model:Qwen/Qwen3-8B"])
    hub.set("ft/a", downloads_all_time=500)
    hub.set("q/a-GGUF-2", downloads_all_time=3)
    snapshot(cli, "2026-01-04T12:00:00")
    counts.append(rows_equal_events(isolated_env))

    assert counts[-1] == {"family_daily": 8, "family_groups_daily": 68, "report_anomalies": 8}
    with duckdb.connect(str(isolated_env), read_only=True) as con:
        kinds = con.execute(
            "SELECT kind, count(*) FROM report_anomalies WHERE family = 'qwen' GROUP BY 1 "
            "ORDER BY 1"
        ).fetchall()
        series = con.execute(
            "SELECT date::VARCHAR, repos, downloads_all_time, new_downloads FROM family_daily "
            "WHERE family = 'qwen' ORDER BY date"
        ).fetchall()
    assert kinds == [("decrease", 2), ("departed", 1), ("joined_existing", 1)]
    assert series == [
        ("2026-01-01", 6, 3353, None),
        # 8B +500, ft/a 300 -> 250 (a decrease: 0 new), new/b 60 (created since), late/old
        # 77 (older: in the total, not new)
        ("2026-01-02", 8, 3940, 560),
        # only the last run counts: 32B +150; ft/a departs and keeps its 250 in the total
        ("2026-01-03", 7, 4090, 150),
        # ft/a back at 500 (+250), q/a-GGUF-2 4 -> 3 (a decrease)
        ("2026-01-04", 8, 4339, 250),
    ]
    # member_events of some repos, from those repos' rows only (views.events_of)
    with duckdb.connect(str(isolated_env), read_only=True) as con:
        for family in ("qwen", "small"):
            for subset in ("SELECT repo_key FROM repos WHERE repo_key % 2 = 0", "SELECT 1"):
                want = con.execute(
                    f"""SELECT * FROM member_events WHERE family = ?
                        AND repo_key IN ({subset}) ORDER BY ALL""",
                    [family],
                ).fetchall()
                got = con.execute(
                    f"SELECT * FROM ({views.events_of(family, 'huggingface', subset)}) ORDER BY ALL"
                ).fetchall()
                assert got == want and (want or subset == "SELECT 1")


def test_migration_from_an_empty_warehouse(cli: Cli, isolated_env: Path) -> None:
    cli("migrate")
    with duckdb.connect(str(isolated_env), read_only=True) as con:
        names = [n for (n,) in con.execute("SELECT name FROM _migrations ORDER BY name").fetchall()]
        assert names == [name for name, _ in migrations.MIGRATIONS]
        assert "m007_daily_rollup" in names
        assert con.execute("SELECT count(*) FROM family_daily").fetchall() == [(0,)]
        tables = {
            t
            for (t,) in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_name LIKE 'rollup%'"
            ).fetchall()
        }
    # m009, m013
    assert tables == set(ROLLUP_TABLES) | {
        "rollup_repo_new",
        "rollup_repo_runs",
        "rollup_repo_total",
    }


def test_rollup_equals_the_event_views_with_partial_days(
    cli: Cli, hub: FakeHub, isolated_env: Path, families: None
) -> None:
    def qwen(now: str, fail_a_parent: bool = False) -> None:
        if fail_a_parent:  # the first parent listing fails after every retry: partial
            hub.inject("500", times=7, after=1)
        cli("snapshot", "-f", "qwen", "--quiet", now=now)

    hub.add("Qwen/Qwen3-8B", downloads_all_time=1000, downloads=10)
    hub.add_derivative("ft/a", "Qwen/Qwen3-8B", downloads_all_time=300, downloads=3)
    hub.add_derivative("q/b", "ft/a", relation="quantized", downloads_all_time=40)
    qwen("2026-01-01T12:00:00")
    hub.set("Qwen/Qwen3-8B", downloads_all_time=1100)
    hub.set("q/b", downloads_all_time=45)
    qwen("2026-01-02T08:00:00", fail_a_parent=True)  # the day's run, for now: partial
    rows_equal_events(isolated_env)
    hub.set("ft/a", downloads_all_time=330)
    qwen("2026-01-02T12:00:00")  # complete: replaces the partial run as the day's run
    rows_equal_events(isolated_env)
    hub.set("ft/a", downloads_all_time=360)
    qwen("2026-01-02T18:00:00", fail_a_parent=True)  # partial after a complete: not the day's
    rows_equal_events(isolated_env)
    hub.set("q/b", downloads_all_time=50)
    qwen("2026-01-03T12:00:00")
    hub.set("Qwen/Qwen3-8B", downloads_all_time=1200)
    qwen("2026-01-04T12:00:00", fail_a_parent=True)  # a day with a partial run only
    rows_equal_events(isolated_env)
    with duckdb.connect(str(isolated_env), read_only=True) as con:
        series = con.execute(
            "SELECT date::VARCHAR, partial, stale_repos, repos, downloads_all_time, "
            "new_downloads FROM family_daily WHERE family = 'qwen' ORDER BY date"
        ).fetchall()
    assert series == [
        ("2026-01-01", False, 0, 3, 1340, None),
        ("2026-01-02", False, 0, 3, 1475, 135),  # 12:00: 8B +100, ft/a +30, q/b +5
        ("2026-01-03", False, 0, 3, 1510, 35),  # ft/a +30 (not fetched at 18:00), q/b +5
        ("2026-01-04", True, 2, 3, 1610, 100),  # ft/a's listing failed: ft/a, q/b kept
    ]
