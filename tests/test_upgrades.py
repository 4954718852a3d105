"""Upgrades from every recorded schema version give the reports of a current warehouse.

The same history (growth, a failed run, a day-run replaced later that day, a repo
created since the previous day-run, one first seen though older, a counter decrease, a
departure and, from m003 on, a partial run with a member kept stale) is written into a
warehouse made at each recorded schema version, as the collector of that version stored
it, and into a warehouse made at the current version. After `collector migrate`, every
view and every report of the old one equals the current one's, and both equal
hand-computed totals.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from collector.store import frozen, migrations, rollup
from tests.conftest import Cli

# (the version a warehouse was made at, whether that version knew partial runs)
VERSIONS = [
    ("m001_initial", False),
    ("m003_partial_runs", False),
    ("m003_partial_runs", True),
    ("m007_daily_rollup", True),
    ("m008_sources", True),
    ("m009_repo_new_downloads", True),
    ("m010_imports", True),
    ("m011_lookups", True),
    ("m012_hubstats", True),
    ("m013_repo_new_totals", True),
]
# What each migration since m008 added, so that a warehouse of its time can be emulated
LATER_TABLES = {
    "m009_repo_new_downloads": ["rollup_repo_new", "rollup_repo_runs"],
    "m010_imports": ["imports"],
    "m011_lookups": ["departures", "unresolved_parents"],
    "m012_hubstats": [],  # a row of `sources` (its insert is idempotent)
    "m013_repo_new_totals": ["rollup_repo_total"],
}
HISTORY = """
INSERT INTO runs (run_id, family, started_at, status, strategy, members) VALUES
    (1, 'acme', '2026-01-01 10:00', 'complete', 'lineage', 2),
    (2, 'acme', '2026-01-02 10:00', 'failed', 'lineage', 0),
    (3, 'acme', '2026-01-02 11:00', 'complete', 'lineage', 2),
    (4, 'acme', '2026-01-03 10:00', 'complete', 'lineage', 3),
    (5, 'acme', '2026-01-03 12:00', 'complete', 'lineage', 4),
    (6, 'acme', '2026-01-04 10:00', 'complete', 'lineage', 3);
INSERT INTO repos (repo_key, hub_id, repo_id, author, created_at, first_seen_run, last_seen_run)
VALUES (1, 'h1', 'acme/a', 'acme', '2025-01-01', 1, 6),
       (2, 'h2', 'u/b', 'u', '2025-01-01', 1, 5),
       (3, 'h3', 'q/c', 'q', '2026-01-02 12:00', 4, 6),
       (4, 'h4', 'old/d', 'old', '2025-06-01', 5, 6);
INSERT INTO repo_names VALUES (1, 'acme/a', 1), (2, 'u/b', 1), (3, 'q/c', 4), (4, 'old/d', 5);
INSERT INTO counts VALUES
    (1, 1, 5, 100, 1), (2, 1, 1, 10, 0),
    (1, 3, 6, 130, 2),
    (3, 4, 2, 20, 0), (2, 4, 1, 8, 0),
    (1, 5, 7, 150, 2), (3, 5, 2, 25, 0), (4, 5, 3, 40, 1),
    (1, 6, 8, 170, 3);
INSERT INTO membership (family, repo_key, first_run, last_run, role, relation, depth, parent_key)
VALUES ('acme', 1, 1, 6, 'official', NULL, 0, NULL),
       ('acme', 2, 1, 5, 'derivative', 'finetune', 1, 1),
       ('acme', 3, 4, 6, 'derivative', 'quantized', 2, 2),
       ('acme', 4, 5, 6, 'derivative', 'merge', 1, 1);
INSERT INTO edges (family, child_key, parent_id, relation, first_run, last_run)
VALUES ('acme', 2, 'acme/a', 'finetune', 1, 5),
       ('acme', 3, 'u/b', 'quantized', 4, 6),
       ('acme', 4, 'acme/a', 'merge', 5, 6);
"""
# A partial run: old/d's listing failed, so it stays a member at its last counters.
PARTIAL = """
INSERT INTO runs (run_id, family, started_at, status, strategy, members, stale, error)
VALUES (7, 'acme', '2026-01-05 10:00', 'partial', 'lineage', 3, 1, '1 listing failed');
INSERT INTO stale VALUES (7, 4);
INSERT INTO counts VALUES (1, 7, 9, 200, 3), (3, 7, 2, 30, 0);
UPDATE membership SET last_run = 7 WHERE last_run = 6;
UPDATE edges SET last_run = 7 WHERE last_run = 6;
"""
# downloads_all_time by day, by hand: a + b on day 1 and 2; day 3 (the 12:00 run) a 150,
# b 8 (down from 10), c 25, d 40; day 4 b departed and keeps its 8; day 5 d kept at 40.
TOTALS = [110, 140, 223, 243]
PARTIAL_TOTAL = 278
VIEWS = ("day_runs", "family_daily", "family_groups_daily", "report_anomalies", "members_daily")
REPORTS = [
    ("report", "-f", "acme", "--format", "json"),
    ("report", "-f", "acme", "--by", "relation", "--format", "json"),
    ("report", "-f", "acme", "--by", "depth", "--format", "csv"),
    ("members", "-f", "acme", "--format", "json"),
    ("members", "-f", "acme", "--as-of", "2026-01-03", "--format", "json"),
    ("top", "-f", "acme", "--by", "new_downloads", "--format", "json"),
    ("why", "q/c", "-f", "acme", "--format", "json"),
    ("verify", "200 downloads", "-f", "acme", "--format", "json"),
]


def _make(path: Path, version: str, partial: bool) -> None:
    """A warehouse at `version` holding the history, as that version's collector left it."""
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE _migrations (name VARCHAR PRIMARY KEY, applied_at TIMESTAMP)")
    names = [name for name, _ in migrations.MIGRATIONS]
    for name, fn in migrations.MIGRATIONS[: names.index(version) + 1]:
        fn(con)
        con.execute("INSERT INTO _migrations VALUES (?, ?)", [name, datetime(2026, 1, 1)])
    con.execute(HISTORY)
    if partial:
        con.execute(PARTIAL)
    if version == "m007_daily_rollup":
        con.execute(frozen.M007_FILL)  # the rollup its snapshots kept
    elif names.index(version) >= names.index("m008_sources"):
        # the rollup its snapshots kept (today's rules), without what later migrations added
        migrations.migrate(con)
        rollup.rebuild(con)
        for later in names[names.index(version) + 1 :]:
            for table in LATER_TABLES[later]:
                con.execute(f"DROP TABLE {table}")
        con.execute("DELETE FROM _migrations WHERE name > ?", [version])
    con.close()


def _read(path: Path) -> dict[str, list[tuple[object, ...]]]:
    with duckdb.connect(str(path), read_only=True) as con:
        return {v: con.execute(f"SELECT * FROM {v} ORDER BY ALL").fetchall() for v in VIEWS}


def _reports(cli: Cli, path: Path) -> list[str]:
    return [cli(*args, "--db", str(path)).stdout for args in REPORTS]


@pytest.mark.parametrize(("version", "partial"), VERSIONS)
def test_an_upgraded_warehouse_reports_like_a_current_one(
    cli: Cli, tmp_path: Path, version: str, partial: bool
) -> None:
    old, current = tmp_path / "old.duckdb", tmp_path / "current.duckdb"
    _make(old, version, partial)
    _make(current, migrations.MIGRATIONS[-1][0], partial)

    todo = [n for n, _ in migrations.MIGRATIONS if n > version]
    if todo:
        result = cli("report", "-f", "acme", "--db", str(old), ok=False)
        assert result.exit_code == 2
        assert result.stderr.strip() == (
            f"Error: warehouse {old} uses an older schema (missing {todo[0]}); "
            f"run `collector migrate --db {old}`"
        )
    assert cli("migrate", "--db", str(old)).stdout.strip() == f"{old}: schema up to date"

    assert _read(old) == _read(current)
    assert _reports(cli, old) == _reports(cli, current)
    with duckdb.connect(str(old), read_only=True) as con:
        assert migrations.applied(con) == [n for n, _ in migrations.MIGRATIONS]
        totals = con.execute("SELECT downloads_all_time FROM family_daily ORDER BY date").fetchall()
        assert [t for (t,) in totals] == TOTALS + ([PARTIAL_TOTAL] if partial else [])
        assert con.execute("SELECT DISTINCT source, platform FROM family_daily").fetchall() == [
            ("hub", "huggingface")
        ]
        # counts lost its primary-key index in m007 (3x the bytes of the counters themselves)
        assert con.execute(
            "SELECT count(*) FROM duckdb_constraints() WHERE table_name = 'counts' "
            "AND constraint_type = 'PRIMARY KEY'"
        ).fetchall() == [(0,)]
