"""The shipped example warehouse: queryable at once, and marked as simulated."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from tests.conftest import Cli

EXAMPLE = Path(__file__).resolve().parent.parent / "warehouse.duckdb.example"


def test_example_reports_with_a_notice(cli: Cli) -> None:
    result = cli("report", "--db", str(EXAMPLE), "--format", "json")
    assert result.stderr.startswith("Notice: simulated data (from `make example`)")
    series = json.loads(result.stdout)["series"]
    assert len(series) == 60
    assert series[0]["date"] == "2026-09-29" and series[-1]["date"] == "2026-11-27"
    # the cumulative total of a day equals its parts
    assert all(
        r["downloads_all_time"]
        == r["official_downloads_all_time"] + r["derivative_downloads_all_time"]
        for r in series
    )


def test_example_is_marked_simulated_for_sql_users() -> None:
    con = duckdb.connect(str(EXAMPLE), read_only=True)
    assert con.execute("SELECT value FROM meta WHERE key = 'simulated'").fetchall() == [("true",)]
    assert EXAMPLE.stat().st_size < 8_000_000
