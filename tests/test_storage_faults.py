"""The storage fault matrix, one row per kind of failure (`make reliability` runs them
all): one clear line, history intact, and the next run completes."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import duckdb
import pytest

from collector.scheduling.daemon import Daemon
from collector.scheduling.schedules import load_schedules
from collector.store import backup, warehouse
from tests import storagefaults as sf
from tests.conftest import Cli
from tests.daemons import write_schedule
from tests.fakehub import FakeHub

QUICK = [
    "file-size limit in the checkpoint (1 MiB)",
    "disk full in the commit (tmpfs)",
    "warehouse folder read-only",
    "stage folder is a file",
    "warehouse truncated",
    "file from a newer DuckDB",
    "reader holds the file",
]


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> dict[str, sf.Row]:
    chosen = [s for s in sf.SCENARIOS if s.name in QUICK]
    found, _ = sf.run_matrix(
        sf.Settings(size=12, days=2, hold=1.5, lock_wait=0.5),
        tmp_path_factory.mktemp("storage"),
        chosen,
    )
    return {r.fault: r for r in found}


def test_every_fault_keeps_the_history_and_the_next_run_completes(
    rows: dict[str, sf.Row],
) -> None:
    assert set(rows) == set(QUICK)
    for row in rows.values():
        if row.skipped:
            continue
        assert (row.lost, row.doubled) == (0, 0), (row.fault, row.notes)
        assert row.clear and row.exit, (row.fault, row.saw)
        assert row.next_run == "complete", (row.fault, row.notes)
        assert row.days_kept >= row.days_before == 2, row.fault


@pytest.mark.parametrize(
    ("fault", "exit", "start"),
    [
        (
            "file-size limit in the checkpoint (1 MiB)",
            1,
            "Error: the snapshot is committed and safe in warehouse.duckdb.wal, but writing it "
            "into ./warehouse.duckdb failed: cannot write ./warehouse.duckdb: a file-size limit "
            "was reached (ulimit -f); never delete warehouse.duckdb.wal",
        ),
        (
            "disk full in the commit (tmpfs)",
            1,
            "Error: snapshot failed: cannot write ./disk/warehouse.duckdb.wal: the disk is "
            "full; nothing of it was written and the history is intact; fix that and run it "
            "again (`collector snapshot --resume` reuses what was fetched)",
        ),
        (
            "warehouse folder read-only",
            1,
            "Error: snapshot failed: cannot write ./warehouse.duckdb.stage: the file or its "
            "folder is not writable; nothing of it was written",
        ),
        (
            "stage folder is a file",
            1,
            "Error: snapshot failed: cannot write ./warehouse.duckdb.stage: a file stands "
            "where a folder should be",
        ),
        (
            "warehouse truncated",
            2,
            "Error: warehouse ./warehouse.duckdb is damaged (Could not read enough bytes",
        ),
        (
            "file from a newer DuckDB",
            2,
            f"Error: warehouse ./warehouse.duckdb was written by DuckDB v3.0.0 (storage "
            f"version 1000), newer than this install's DuckDB {duckdb.__version__}",
        ),
        ("reader holds the file", 1, "Error: warehouse ./warehouse.duckdb is busy (held by"),
    ],
)
def test_what_the_user_sees(rows: dict[str, sf.Row], fault: str, exit: int, start: str) -> None:
    row = rows[fault]
    if row.skipped:
        pytest.skip(row.skipped)
    assert row.exit == exit
    assert row.saw.startswith(start), row.saw


def test_a_committed_run_is_kept_when_only_its_checkpoint_failed(
    rows: dict[str, sf.Row],
) -> None:
    row = rows["file-size limit in the checkpoint (1 MiB)"]
    assert (row.days_before, row.days_kept) == (2, 3)  # the run was safe in the log


def test_reading_still_works_on_a_read_only_warehouse(rows: dict[str, sf.Row]) -> None:
    if rows["warehouse folder read-only"].skipped:
        pytest.skip(rows["warehouse folder read-only"].skipped)
    assert rows["warehouse folder read-only"].reads == 0
    assert rows["warehouse truncated"].reads == 2  # damaged: refused with the same line


def test_newer_file_message_says_how_to_move_it(cli: Cli, tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    cli("migrate", "--db", str(db))
    original = db.read_bytes()
    db.write_bytes(sf.newer_header(original))
    assert warehouse.header(db) == {"storage": 1000, "library": "v3.0.0"}
    result = cli("runs", "--db", str(db), ok=False)
    moved = f"{db}.v{duckdb.__version__}"
    assert result.exit_code == 2
    assert result.stderr.endswith(
        f"upgrade duckdb (pip install -U duckdb), or move it with the newer DuckDB: "
        f"ATTACH '{db}' AS src (READ_ONLY); ATTACH '{moved}' AS dst "
        f"(STORAGE_VERSION 'v{duckdb.__version__}'); COPY FROM DATABASE src TO dst; "
        f"then pass --db {moved}\n"
    )
    # the advice works: the same statements move a file this DuckDB reads
    db.write_bytes(original)
    con = duckdb.connect()
    con.execute(f"ATTACH '{db}' AS src (READ_ONLY)")
    con.execute(f"ATTACH '{moved}' AS dst (STORAGE_VERSION 'v{duckdb.__version__}')")
    con.execute("COPY FROM DATABASE src TO dst")
    con.close()
    assert cli("runs", "--db", moved).exit_code == 0


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.lstrip("v").split(".")[:3])


def test_the_duckdb_range_is_one_whose_storage_format_the_tests_open() -> None:
    """pyproject allows only DuckDBs that read the files this project ships and tests."""
    root = Path(__file__).resolve().parent.parent
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    [spec] = [d for d in project["dependencies"] if d.startswith("duckdb")]
    low, high = re.fullmatch(r"duckdb>=([\d.]+),<([\d.]+)", spec).groups()  # type: ignore[union-attr]
    assert _version(low) <= _version(duckdb.__version__) < _version(high)
    example = root / "warehouse.duckdb.example"
    info = warehouse.header(example)
    assert info is not None and isinstance(info["library"], str)
    # DuckDB writes the storage format of its own major version (999: "see the version
    # tags", which only 2.x reads); an older DuckDB than the range allows cannot open it
    assert _version(low)[0] == _version(info["library"])[0]
    with warehouse.reader(example) as con:
        assert con.execute("SELECT count(*) FROM family_daily").fetchall()[0][0] > 0
        tags = con.execute(
            "SELECT tags['storage_version'] FROM duckdb_databases() "
            "WHERE database_name = current_database()"
        ).fetchall()[0][0]
    assert _version(tags.rstrip("+")) >= _version(low)


def test_the_daemon_logs_a_storage_failure_in_one_line_and_goes_on(
    hub: FakeHub, cli: Cli, isolated_env: Path, tmp_path: Path
) -> None:
    hub.add("Qwen/A", downloads_all_time=100, downloads=10, likes=1)
    folder = tmp_path / "schedules"
    write_schedule(
        folder,
        "daily",
        f'families = ["qwen"]\ncron = "0 3 * * *"\nbackup = {{dir = "{tmp_path / "b"}", keep = 1}}\n',
    )
    lines: list[str] = []
    daemon = Daemon(load_schedules(folder), log=lines.append)
    [schedule] = daemon.schedules
    stray = isolated_env.with_name(isolated_env.name + ".stage")
    stray.write_text("not a folder\n")  # the stage cannot be made
    daemon._run_job(schedule)
    assert re.fullmatch(
        r"daily qwen: failed, not recorded, \S+Z to \S+Z \(\d+\.\ds\), \d+ requests, 0 retries: "
        rf"cannot write {re.escape(str(stray))}: a file stands where a folder should be",
        lines[0],
    ), lines
    assert re.fullmatch(
        rf"daily: backup {re.escape(str(tmp_path / 'b'))}/\S+ \(0 runs\), keeping the newest 1",
        lines[1],
    )
    stray.unlink()
    daemon._run_job(schedule)
    assert lines[2].startswith("daily qwen: complete, run 1, ")
    assert lines[3].endswith("(1 runs), keeping the newest 1, removed 1 older")
    assert len(backup.list_backups(tmp_path / "b", "warehouse")) == 1
