"""The set-based rollup of imported days (collector/store/import_rollup.py) equals the
rollup rebuilt from the event views, table for table.

The dataset is tests/pulse_data.py's (gaps, a partial day, flagged days, `dl_all` NULL
before 2025-02-27, a rename) with three more moves, so that every kind of event occurs:
u2/A-ft-gguf first appears on 2025-02-27 (a late joiner), u1/A-ft is missing on
2025-12-12 (a departure) and back on 2026-01-10, and u2/A-ft-gguf goes 4M -> 3M on
2026-01-13 (a decrease). With `gap`, u3/new-name's dl_all is missing on 2026-01-10: the
16M of that day is not known, its 15M of 2025-12-12 is carried over (the costlier path of
imports._insert).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from collector.families import get_families
from collector.snapshot import backfill as backfill_mod
from collector.store import import_rollup, imports, rollup
from tests import pulse_data
from tests.conftest import Cli
from tests.fakedatasets import FakeDatasets
from tests.fakehub import FakeHub

M = pulse_data.M
NOW = "2026-12-01T00:00:00"
OWN = "2026-01-31T12:00:00"
TABLES = {
    "rollup_days": "run_id",
    "rollup_groups": "run_id, dimension, grp",
    "rollup_anomalies": "run_id, repo_key, kind",
    "rollup_state": "repo_key",
    "rollup_undo": "repo_key",
    "rollup_repo_new": "run_id, repo_key",
    "rollup_repo_runs": "run_id",
    "rollup_repo_total": "repo_key",
}
FAMILIES = """
[families.qwen]
authors = ["Qwen"]

[families.small]
authors = ["Qwen"]
max_depth = 1

[families.u2]
authors = ["u2"]
"""


def rows(gap: bool = False) -> dict[str, dict[str, tuple[int, int | None, int]]]:
    out = {repo: dict(days) for repo, days in pulse_data.ROWS.items()}
    if gap:
        out["u3/new-name"]["2026-01-10"] = (70, None, 1)
    for day in ("2025-02-25", "2025-02-26"):
        del out["u2/A-ft-gguf"][day]
    del out["u1/A-ft"]["2025-12-12"]
    out["u2/A-ft-gguf"]["2026-01-13"] = (40, 3, 0)
    return out


@pytest.fixture
def pulse(
    hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_env: Path
) -> Iterator[FakeDatasets]:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    families = tmp_path / "families.toml"
    families.write_text(FAMILIES)
    monkeypatch.setenv("COLLECTOR_FAMILIES", str(families))
    monkeypatch.setenv("COLLECTOR_NOW", NOW)
    datasets = FakeDatasets().attach(hub)
    pulse_data.publish(datasets)
    datasets.commit(pulse_data.REPO, pulse_data.files(rows()), "Daily update")
    # the Hub today, for own snapshots
    pulse_data.add_members_today(hub)
    yield datasets


def backfill(db: Path, family: str = "qwen") -> str:
    """Import in-process; how the rollup was made."""
    result = backfill_mod.backfill(get_families([family], None)[0], db=db)
    assert result.stored is not None
    return result.stored.rollup


def tables(con: duckdb.DuckDBPyConnection, family: str) -> dict[str, list[tuple[object, ...]]]:
    return {
        t: con.execute(f"SELECT * FROM {t} WHERE family = ? ORDER BY {o}", [family]).fetchall()
        for t, o in TABLES.items()
    }


def equals_rebuild(db: Path, family: str = "qwen") -> dict[str, list[tuple[object, ...]]]:
    """Assert every rollup table of the family equals its rebuild from the event views."""
    with duckdb.connect(str(db), read_only=True) as con:
        got = tables(con, family)
    copy = db.with_name("rebuilt.duckdb")
    shutil.copyfile(db, copy)
    try:
        with duckdb.connect(str(copy)) as con:
            rollup.rebuild(con)
            want = tables(con, family)
    finally:
        copy.unlink()
    for table in TABLES:
        assert got[table] == want[table], table
    return got


def anomalies(db: Path) -> list[tuple[object, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            """SELECT CAST(date AS VARCHAR), repo_id, kind, previous, current
               FROM report_anomalies WHERE family = 'qwen' AND repo_id IS NOT NULL
               ORDER BY date, repo_id"""
        ).fetchall()


@pytest.mark.parametrize("gap", [False, True])
def test_set_based_rollup_of_a_history_with_gaps_partial_days_and_a_rename(
    pulse: FakeDatasets, isolated_env: Path, gap: bool
) -> None:
    if gap:
        pulse.commit(pulse_data.REPO, pulse_data.files(rows(gap=True)), "Daily update")
    assert backfill(isolated_env) == "set-based"
    got = equals_rebuild(isolated_env)
    assert len(got["rollup_days"]) == 10
    assert anomalies(isolated_env) == [
        # first seen on the third day-run, created earlier (no created_at: not new)
        ("2025-02-27", "u2/A-ft-gguf", "joined_existing", None, 1 * M),
        ("2025-12-12", "u1/A-ft", "departed", None, 10 * M),
        ("2026-01-13", "u2/A-ft-gguf", "decrease", 4 * M, 3 * M),
    ]
    with duckdb.connect(str(isolated_env), read_only=True) as con:
        series = con.execute(
            """SELECT CAST(date AS VARCHAR), repos, downloads_all_time, new_downloads,
                      partial, stale_repos
               FROM family_daily WHERE family = 'qwen' ORDER BY date"""
        ).fetchall()
    assert series == [
        ("2025-02-25", 4, None, None, False, 0),
        ("2025-02-26", 4, None, None, False, 0),
        ("2025-02-27", 5, 158 * M, None, False, 0),
        ("2025-02-28", 5, 160 * M, 2 * M, False, 0),
        # partial: Qwen/A 101 -> 400, the four others kept
        ("2025-11-24", 5, 459 * M, 299 * M, True, 4),
        ("2025-12-10", 5, 598 * M, 139 * M, False, 0),
        # u1/A-ft departs keeping its 10M; 430+155+3+15 = 603 new 15
        ("2025-12-12", 4, 613 * M, 15 * M, False, 0),
        # u1/A-ft back at 12M (+2): 480+180+12+4+16 (u3 at 15 with the gap: 691, 78 new)
        ("2026-01-10", 5, (691 if gap else 692) * M, (78 if gap else 79) * M, False, 0),
        # u2/A-ft-gguf 4 -> 3 (a decrease, not new): 485+182+12+3+18 (u3 +3 with the gap)
        ("2026-01-13", 5, 700 * M, (10 if gap else 9) * M, False, 0),
        ("2026-01-31", 5, 726 * M, 26 * M, False, 0),
    ]
    # a second backfill of the same range adds nothing
    out = backfill_mod.backfill(get_families(["qwen"], None)[0], db=isolated_env)
    assert out.stored is None
    assert equals_rebuild(isolated_env) == got


def test_own_snapshot_first_then_backfill(
    pulse: FakeDatasets, cli: Cli, isolated_env: Path
) -> None:
    cli("snapshot", "-f", "qwen", "--quiet", now=OWN)
    cli("snapshot", "-f", "qwen", "--quiet", now="2026-02-01T12:00:00")
    assert backfill(isolated_env) == "set-based"
    got = equals_rebuild(isolated_env)
    # nine imported days, then the two own ones rolled up after them
    assert len(got["rollup_days"]) == 11 and len(got["rollup_repo_runs"]) == 11
    with duckdb.connect(str(isolated_env), read_only=True) as con:
        tail = con.execute(
            """SELECT CAST(date AS VARCHAR), downloads_all_time, new_downloads, source
               FROM family_daily WHERE family = 'qwen' ORDER BY date DESC LIMIT 2"""
        ).fetchall()
    # own 2026-01-31: 510+195+14+5+19 = 743, after 700 imported on 01-13
    assert tail == [("2026-02-01", 743 * M, 0, "hub"), ("2026-01-31", 743 * M, 43 * M, "hub")]


def test_newer_revision_after_an_own_snapshot(
    pulse: FakeDatasets, cli: Cli, isolated_env: Path
) -> None:
    assert backfill(isolated_env) == "set-based"
    cli("snapshot", "-f", "qwen", "--quiet", now=OWN)  # the day's own snapshot wins
    equals_rebuild(isolated_env)
    changed = rows()
    changed["Qwen/A"]["2025-12-10"] = (6000, 421, 45)
    files = pulse_data.files(changed)
    files["meta.json"] = json.dumps(pulse_data.META).encode()
    pulse.commit(pulse_data.REPO, files, "Daily update 2026-02-01")
    assert backfill(isolated_env) == "set-based"
    equals_rebuild(isolated_env)
    with duckdb.connect(str(isolated_env), read_only=True) as con:
        day = con.execute(
            """SELECT downloads_all_time, new_downloads FROM family_daily
               WHERE family = 'qwen' AND date = '2025-12-10'"""
        ).fetchall()
    assert day == [(599 * M, 140 * M)]


@pytest.mark.parametrize("chunk_rows", [imports.ROWS_PER_CHUNK, 1])
def test_import_of_repos_another_family_imported(
    pulse: FakeDatasets, isolated_env: Path, monkeypatch: pytest.MonkeyPatch, chunk_rows: int
) -> None:
    # small's members are qwen's too: qwen's counter rows fall among small's day-runs, so
    # the event views read them for small; the shared repos' events come from those views
    monkeypatch.setattr(imports, "ROWS_PER_CHUNK", chunk_rows)
    monkeypatch.setattr(import_rollup, "SHARED_REPOS_PER_CHUNK", 1 if chunk_rows == 1 else 2_000)
    assert backfill(isolated_env, "qwen") == "set-based"
    assert backfill(isolated_env, "small") == "set-based"
    small = equals_rebuild(isolated_env, "small")
    assert len(small["rollup_days"]) == 10
    # and after a newer revision for small only (qwen's rows now differ from small's)
    changed = rows()
    changed["Qwen/A"]["2025-12-10"] = (6000, 421, 45)
    pulse.commit(pulse_data.REPO, pulse_data.files(changed), "Daily update")
    assert backfill(isolated_env, "small") == "set-based"
    equals_rebuild(isolated_env, "small")


# Tables an import writes, each row with its repo named (keys are the warehouse's own)
# and without the times of writing.
WRITTEN = {
    "counts": "SELECT r.repo_id, c.* EXCLUDE (repo_key) FROM counts c JOIN repos r USING (repo_key)",
    "membership": """SELECT r.repo_id, p.repo_id AS parent, m.* EXCLUDE (repo_key, parent_key)
                     FROM membership m JOIN repos r USING (repo_key)
                     LEFT JOIN repos p ON p.repo_key = m.parent_key""",
    "edges": "SELECT r.repo_id, e.* EXCLUDE (child_key) FROM edges e JOIN repos r ON r.repo_key = e.child_key",
    "stale": "SELECT r.repo_id, s.run_id FROM stale s JOIN repos r USING (repo_key)",
    "runs": "SELECT * EXCLUDE (finished_at) FROM runs",
    "imports": "SELECT * EXCLUDE (imported_at) FROM imports",
    "repo_names": "SELECT r.repo_id, n.repo_id AS alias FROM repo_names n JOIN repos r USING (repo_key)",
    "family_daily": "SELECT * FROM family_daily",
    "report_anomalies": "SELECT * FROM report_anomalies",
    "rollup_repo_new": """SELECT r.repo_id, t.* EXCLUDE (repo_key)
                          FROM rollup_repo_new t JOIN repos r USING (repo_key)""",
    "rollup_groups": "SELECT * FROM rollup_groups",
}


def written(db: Path) -> dict[str, list[tuple[object, ...]]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return {
            name: sorted(con.execute(sql).fetchall(), key=repr) for name, sql in WRITTEN.items()
        }


@pytest.mark.parametrize("gap", [False, True])
def test_an_import_in_chunks_of_members_writes_what_one_chunk_does(
    pulse: FakeDatasets, isolated_env: Path, monkeypatch: pytest.MonkeyPatch, gap: bool
) -> None:
    if gap:
        pulse.commit(pulse_data.REPO, pulse_data.files(rows(gap=True)), "Daily update")
    qwen = get_families(["qwen"], None)[0]
    whole = isolated_env.with_name("whole.duckdb")
    one = backfill_mod.backfill(qwen, db=whole).stored
    assert one is not None and (one.chunks, one.rollup) == (1, "set-based")
    # a chunk per repo: u3's old name is outside its chunk's range of ids (read apart)
    monkeypatch.setattr(imports, "ROWS_PER_CHUNK", 1)
    events: list[tuple[str, dict[str, object]]] = []
    out = backfill_mod.backfill(
        qwen, db=isolated_env, progress=lambda e, **d: events.append((e, d))
    )
    many = out.stored
    assert many is not None and (many.chunks, many.rollup) == (5, "set-based")
    # the progress bar of storing counts the chunks
    assert [d for e, d in events if e == "stored"] == [
        {"done": i, "chunks": 5} for i in range(1, 6)
    ]
    assert (many.rows, many.days) == (one.rows, one.days)
    assert written(isolated_env) == written(whole)
    equals_rebuild(isolated_env)


def test_import_sharing_one_repo_with_another_familys_import(
    pulse: FakeDatasets, isolated_env: Path
) -> None:
    # u2/A-ft-gguf alone is family u2's, imported first: qwen's import shares that repo
    alone = isolated_env.with_name("alone.duckdb")
    assert backfill(alone, "qwen") == "set-based"
    assert backfill(isolated_env, "u2") == "set-based"
    assert backfill(isolated_env, "qwen") == "set-based"
    equals_rebuild(isolated_env, "qwen")
    # qwen's figures are those of qwen imported alone
    sql = "SELECT * EXCLUDE (run_id) FROM family_daily WHERE family = 'qwen' ORDER BY date"
    with duckdb.connect(str(isolated_env), read_only=True) as con:
        shared = con.execute(sql).fetchall()
    with duckdb.connect(str(alone), read_only=True) as con:
        assert shared == con.execute(sql).fetchall()


def test_first_familys_rollup_after_another_family_imports_its_repos(
    pulse: FakeDatasets, isolated_env: Path
) -> None:
    # small's import adds counter rows (equal values, between qwen's day-runs) to repos of
    # qwen: a rebuild of qwen from the event views then sees changes of nothing there, i.e.
    # group rows of delta 0 and undo rows equal to the state. qwen's set-based rollup has
    # fewer; every row that moves a figure is the same.
    assert backfill(isolated_env, "qwen") == "set-based"
    assert backfill(isolated_env, "small") == "set-based"
    with duckdb.connect(str(isolated_env), read_only=True) as con:
        got = tables(con, "qwen")
    copy = isolated_env.with_name("rebuilt.duckdb")
    shutil.copyfile(isolated_env, copy)
    with duckdb.connect(str(copy)) as con:
        rollup.rebuild(con)
        want = tables(con, "qwen")
    copy.unlink()
    state = {r[1]: r[2:] for r in want["rollup_state"]}

    def moving(t: dict[str, list[tuple[object, ...]]]) -> dict[str, list[tuple[object, ...]]]:
        out = dict(t)
        out["rollup_groups"] = [r for r in t["rollup_groups"] if r[4] != 0]
        # an undo row (repo, run, present, state...) that restores the state it has now
        out["rollup_undo"] = [
            r for r in t["rollup_undo"] if not (r[3] and (r[4], *r[5:]) == state[r[1]])
        ]
        return out

    zeros = [len([r for r in t["rollup_groups"] if r[4] == 0]) for t in (got, want)]
    assert zeros[0] < zeros[1]
    assert moving(got) == moving(want)
