"""Migration m003 (partial runs): from an empty warehouse and from the m002 schema."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb

from collector.store import migrations
from tests.conftest import Cli

NEW_RUN_COLUMNS = {"rate_limited", "stale", "problems", "stage_id"}


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]


def test_m003_from_an_empty_warehouse(cli: Cli, isolated_env: Path) -> None:
    assert cli("migrate").stdout.strip() == f"{isolated_env}: schema up to date"
    with duckdb.connect(str(isolated_env), read_only=True) as con:
        # (later migrations follow)
        assert migrations.applied(con)[:3] == ["m001_initial", "m002_views", "m003_partial_runs"]
        assert NEW_RUN_COLUMNS <= set(_columns(con, "runs"))
        assert _columns(con, "stale") == ["run_id", "repo_key"]
        assert _columns(con, "day_runs")[-1] == "partial"
        assert _columns(con, "family_daily")[-2:] == ["partial", "stale_repos"]


def test_m003_from_the_m002_schema_keeps_every_number(cli: Cli, isolated_env: Path) -> None:
    con = duckdb.connect(str(isolated_env))
    con.execute("CREATE TABLE _migrations (name VARCHAR PRIMARY KEY, applied_at TIMESTAMP)")
    for name, fn in migrations.MIGRATIONS[:2]:
        fn(con)
        con.execute("INSERT INTO _migrations VALUES (?, ?)", [name, datetime(2026, 1, 1)])
    con.execute(
        """
        INSERT INTO runs (run_id, family, started_at, status, strategy, members) VALUES
            (1, 'acme', '2026-01-01 10:00', 'complete', 'lineage', 2),
            (2, 'acme', '2026-01-02 10:00', 'failed', 'lineage', 0),
            (3, 'acme', '2026-01-02 11:00', 'complete', 'lineage', 2);
        INSERT INTO repos VALUES (1, NULL, 'acme/a', 'acme', '2025-01-01', NULL, NULL, 1, 3),
                                 (2, NULL, 'u/b', 'u', '2025-01-01', NULL, NULL, 1, 3);
        INSERT INTO counts VALUES (1, 1, 5, 100, 1), (2, 1, 1, 10, 0), (1, 3, 6, 130, 2);
        INSERT INTO membership VALUES ('acme', 1, 1, 3, 'official', NULL, 0, NULL),
                                      ('acme', 2, 1, 3, 'derivative', 'finetune', 1, 1);
        """
    )
    before = con.execute("SELECT * FROM family_daily ORDER BY date").fetchall()
    con.close()

    assert cli("migrate").stdout.strip() == f"{isolated_env}: schema up to date"
    with duckdb.connect(str(isolated_env), read_only=True) as con:
        assert "m003_partial_runs" in migrations.applied(con)
        after = con.execute(
            "SELECT * EXCLUDE (platform, source) FROM family_daily ORDER BY date"
        ).fetchall()
        assert con.execute(
            "SELECT run_id, rate_limited, stale, problems, stage_id FROM runs ORDER BY 1"
        ).fetchall() == [(1, 0, 0, None, None), (2, 0, 0, None, None), (3, 0, 0, None, None)]
    assert [row[:-2] for row in after] == before
    assert [row[-2:] for row in after] == [(False, 0), (False, 0)]
    assert [(r[1].isoformat(), r[5]) for r in after] == [("2026-01-01", 110), ("2026-01-02", 140)]
    report = cli("report", "-f", "acme", "--format", "csv").stdout.splitlines()
    assert report[1:] == ["2026-01-01,2,110,100,10,6,1,", "2026-01-02,2,140,130,10,7,2,30"]
