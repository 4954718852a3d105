"""Bad input anywhere: one clear line, exit 2 for usage errors, and the warehouse unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from collector.store import migrations
from tests.conftest import Cli
from tests.fakehub import FakeHub

DAY1, DAY2 = "2026-03-01T10:00:00", "2026-03-02T10:00:00"


@pytest.fixture
def one_snapshot(hub: FakeHub, cli: Cli) -> FakeHub:
    hub.add("Qwen/A", downloads_all_time=100, downloads=10, likes=1)
    hub.add_derivative("u/ft", parent="Qwen/A", downloads_all_time=5)
    cli("snapshot", "-q", now=DAY1)
    return hub


def one_line_error(result, code: int = 2) -> str:
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["report", "--family", "nope"],
            "no snapshots of family 'nope' in this warehouse (families: qwen)",
        ),
        (["report", "--since", "2026-13-01"], "bad date '2026-13-01'"),
        (["report", "--since", "yesterday-ish"], "bad date 'yesterday-ish'"),
        (
            ["report", "--since", "2026-03-05", "--until", "2026-03-01"],
            "--since 2026-03-05 is after --until 2026-03-01",
        ),
        (["verify", "30M MAU"], "the Hub does not measure 'mau'"),
        (["verify", "700M+"], "claim '700M+': it names no measure (downloads, derivatives,"),
        (["verify", "lots of downloads"], "cannot parse claim 'lots of downloads'"),
        (["verify", "0 downloads"], "threshold must be a positive whole number"),
        (["verify", "1M downloads", "--as-of", "March"], "bad date 'March'"),
        (["snapshot", "--family", "nope"], "unknown family 'nope'"),
    ],
)
def test_usage_errors(one_snapshot: FakeHub, cli: Cli, args: list[str], message: str) -> None:
    assert message in one_line_error(cli(*args, ok=False))


def test_bad_option_value_is_a_usage_error(one_snapshot: FakeHub, cli: Cli) -> None:
    result = cli("report", "--format", "yaml", ok=False)
    assert result.exit_code == 2 and "Invalid value for '--format'" in result.output


def test_not_a_duckdb_file(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("hello, this is not a warehouse\n" * 10)
    for args in (["report"], ["migrate"]):
        line = one_line_error(cli(*args, "--db", str(bad), ok=False))
        assert f"cannot open warehouse {bad}" in line
    assert bad.read_text() == "hello, this is not a warehouse\n" * 10


def test_missing_and_directory_warehouse(cli: Cli, tmp_path: Path) -> None:
    line = one_line_error(cli("report", "--db", str(tmp_path / "none.duckdb"), ok=False))
    assert "no warehouse at" in line
    line = one_line_error(cli("report", "--db", str(tmp_path), ok=False))
    assert "it is a directory" in line


def test_newer_schema_is_refused_and_left_alone(
    one_snapshot: FakeHub, cli: Cli, isolated_env: Path
) -> None:
    con = duckdb.connect(str(isolated_env))
    con.execute("INSERT INTO _migrations VALUES ('m999_future', now())")
    con.close()
    before = isolated_env.read_bytes()
    for args in (["report"], ["snapshot", "-q"]):
        line = one_line_error(cli(*args, ok=False, now=DAY2))
        assert "schema is newer than this collector (has m999_future)" in line
    assert isolated_env.read_bytes() == before


def test_migrations_from_empty_and_from_older_schema(tmp_path: Path, cli: Cli) -> None:
    names = [name for name, _ in migrations.MIGRATIONS]
    fresh = duckdb.connect(str(tmp_path / "fresh.duckdb"))
    assert migrations.migrate(fresh) == names
    assert migrations.migrate(fresh) == []
    # an older warehouse: only the first migration applied
    old_path = tmp_path / "old.duckdb"
    old = duckdb.connect(str(old_path))
    old.execute("CREATE TABLE _migrations (name VARCHAR PRIMARY KEY, applied_at TIMESTAMP)")
    migrations.MIGRATIONS[0][1](old)
    old.execute("INSERT INTO _migrations VALUES (?, now())", [names[0]])
    old.close()
    line = one_line_error(cli("report", "--db", str(old_path), ok=False))
    assert f"run `collector migrate --db {old_path}`" in line
    assert cli("migrate", "--db", str(old_path)).stdout == f"{old_path}: schema up to date\n"
    upgraded = duckdb.connect(str(old_path), read_only=True)
    assert [
        r[0] for r in upgraded.execute("SELECT name FROM _migrations ORDER BY name").fetchall()
    ] == names


def test_unreachable_hub_names_endpoint(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    line = one_line_error(cli("snapshot", "-q", ok=False), code=1)
    assert "cannot reach the Hub at http://127.0.0.1:9 (set by HF_ENDPOINT)" in line


def test_failed_snapshot_leaves_history_unchanged(
    one_snapshot: FakeHub, cli: Cli, isolated_env: Path
) -> None:
    before = cli("report", "--format", "json").stdout
    one_snapshot.set("Qwen/A", downloads_all_time=999)
    one_snapshot.inject("500", times=50, after=1)  # the author listing works, the rest fails
    line = one_line_error(cli("snapshot", "-q", ok=False, now=DAY2), code=1)
    assert "snapshot of qwen failed: HTTP 500" in line
    assert cli("report", "--format", "json").stdout == before
    con = duckdb.connect(str(isolated_env), read_only=True)
    assert con.execute("SELECT status FROM runs ORDER BY run_id").fetchall() == [
        ("complete",),
        ("failed",),
    ]
    assert con.execute("SELECT count(*) FROM counts WHERE run_id = 2").fetchall() == [(0,)]
    assert con.execute("SELECT count(*) FROM membership WHERE last_run = 2").fetchall() == [(0,)]


def test_snapshot_clock_cannot_go_back(one_snapshot: FakeHub, cli: Cli) -> None:
    line = one_line_error(cli("snapshot", "-q", ok=False, now="2026-02-01T00:00:00"))
    assert "is before the last snapshot of qwen" in line


def test_bad_api_items_are_stored_where_sound(hub: FakeHub, cli: Cli) -> None:
    hub.add("Qwen/A", downloads_all_time=100, downloads=10, likes=1)
    hub.add("Qwen/B", downloads_all_time="lots", downloads=-5, likes=2.5)
    hub.add("Qwen/C", downloads_all_time=None, downloads=3, likes=None)
    summary = cli("snapshot", "-q", now=DAY1).stdout
    assert "3 members" in summary and "3 data problems" in summary
    out = json.loads(cli("members", "--format", "json").stdout)
    got = {
        m["repo_id"]: (m["downloads_all_time"], m["downloads_30d"], m["likes"])
        for m in out["members"]
    }
    assert got == {"Qwen/A": (100, 10, 1), "Qwen/B": (None, None, None), "Qwen/C": (None, 3, None)}
    # a later sound value is stored; a missing one keeps the last stored value
    hub.set("Qwen/B", downloads_all_time=40, downloads=4, likes=2)
    hub.set("Qwen/A", downloads_all_time=None)
    cli("snapshot", "-q", now=DAY2)
    series = json.loads(cli("report", "--format", "json").stdout)["series"]
    assert [r["downloads_all_time"] for r in series] == [100, 140]
