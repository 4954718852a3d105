"""`collector backup` / `collector restore`: a consistent copy, also while the daemon
commits, that restores into a fresh warehouse with identical reports; the daemon's
`backup = {dir, keep}` keeps the newest N."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pytest

from collector.scheduling import lockfile
from collector.scheduling.schedules import load_schedule
from collector.store import backup
from tests.conftest import Cli
from tests.daemons import DaemonProcess, query, run_collector, write_schedule
from tests.fakehub import FakeHub

DAYS = ["2026-03-01T10:00:00", "2026-03-02T10:00:00", "2026-03-03T10:00:00"]
LINE_RE = re.compile(
    r"^Backed up (\S+): 3 runs, (\d+) rows in (\d+) tables, taken \S+$",
)


def views(cli: Cli, db: Path) -> list[str]:
    """What a user reads from a warehouse: the report, the members and the runs."""
    return [
        cli(*args, "--db", str(db), "--format", "json").stdout
        for args in (["report"], ["members"], ["runs"])
    ]


@pytest.fixture
def history(hub: FakeHub, cli: Cli) -> FakeHub:
    hub.add("Qwen/A", downloads_all_time=100, downloads=10, likes=1)
    hub.add_derivative("u/ft", parent="Qwen/A", relation="finetune", downloads_all_time=5)
    for i, day in enumerate(DAYS):
        hub.set("Qwen/A", downloads_all_time=100 + 40 * i)
        cli("snapshot", "-q", now=day)
    return hub


def test_backup_then_restore_into_a_fresh_warehouse_reports_identically(
    history: FakeHub, cli: Cli, isolated_env: Path, tmp_path: Path
) -> None:
    out = cli("backup", str(tmp_path / "backups")).stdout
    match = LINE_RE.match(out.strip())
    assert match, out
    folder = Path(match[1])
    manifest = json.loads((folder / "manifest.json").read_text())
    with duckdb.connect(str(isolated_env), read_only=True) as con:
        assert manifest["tables"] == backup.table_rows(con)
    assert int(match[2]) == sum(manifest["tables"].values())
    fresh = tmp_path / "fresh" / "restored.duckdb"
    restored = cli("restore", str(tmp_path / "backups"), "--db", str(fresh)).stdout
    assert restored.startswith(f"Restored {fresh} from {folder}: 3 runs")
    assert views(cli, fresh) == views(cli, isolated_env)
    series = json.loads(views(cli, fresh)[0])["series"]
    assert [r["downloads_all_time"] for r in series] == [105, 145, 185]
    # the restored warehouse goes on: the next run is run 4, nothing doubled
    history.set("Qwen/A", downloads_all_time=300)
    cli("snapshot", "-q", "--db", str(fresh), now="2026-03-04T10:00:00")
    assert query(fresh, "SELECT max(run_id), count(*) FROM runs") == [(4, 4)]
    assert query(fresh, "SELECT count(*) - count(DISTINCT (repo_key, run_id)) FROM counts") == [
        (0,)
    ]


def test_restore_never_overwrites_silently(
    history: FakeHub, cli: Cli, isolated_env: Path, tmp_path: Path
) -> None:
    cli("backup", str(tmp_path / "b"))
    before = isolated_env.read_bytes()
    refused = cli("restore", str(tmp_path / "b"), ok=False)
    assert refused.exit_code == 2
    assert refused.stderr == (
        f"Error: warehouse {isolated_env} already exists; pass --force to replace it "
        "(it is kept beside it as .before-restore-TIME)\n"
    )
    assert isolated_env.read_bytes() == before
    lock = lockfile.ProcessLock(isolated_env)
    lock.acquire()
    try:
        busy = cli("restore", str(tmp_path / "b"), "--force", ok=False)
    finally:
        lock.release()
    assert busy.exit_code == 2 and "stop it before restoring" in busy.stderr
    forced = cli("restore", str(tmp_path / "b"), "--force")
    [aside] = re.findall(r"kept as (\S+)", forced.stderr)
    assert Path(aside).read_bytes() == before
    assert views(cli, isolated_env) == views(cli, Path(aside))


def test_a_damaged_or_unfinished_backup_is_refused(
    history: FakeHub, cli: Cli, tmp_path: Path
) -> None:
    folder = Path(LINE_RE.match(cli("backup", str(tmp_path / "b")).stdout)[1])  # type: ignore[index]
    data = (folder / "warehouse.duckdb").read_bytes()
    (folder / "warehouse.duckdb").write_bytes(data[:20000])  # the header and a bit
    fresh = tmp_path / "fresh.duckdb"
    result = cli("restore", str(folder), "--db", str(fresh), ok=False)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: backup {folder} cannot be opened: ")
    assert not fresh.exists()
    (folder / "manifest.json").unlink()  # no manifest: unfinished, not a backup
    result = cli("restore", str(tmp_path / "b"), "--db", str(fresh), ok=False)
    assert result.stderr == (
        f"Error: no complete backup in {tmp_path / 'b'} (a backup folder holds manifest.json)\n"
    )


def test_keep_removes_the_oldest_backups(history: FakeHub, cli: Cli, tmp_path: Path) -> None:
    made = [Path(LINE_RE.match(cli("backup", str(tmp_path / "b")).stdout)[1]) for _ in range(3)]  # type: ignore[index]
    out = cli("backup", str(tmp_path / "b"), "--keep", "2").stdout
    assert out.strip().endswith("; removed 2 older")
    assert backup.list_backups(tmp_path / "b", "warehouse")[0] == made[2]
    assert len(backup.list_backups(tmp_path / "b", "warehouse")) == 2


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ('"backups"', 'must be a table such as {dir = "backups", keep = 7}'),
        ("{keep = 3}", "'dir' must be a folder path"),
        ('{dir = "b", keep = 0}', "'keep' must be a whole number of at least 1, not 0"),
        ('{dir = "b", keep = true}', "'keep' must be a whole number of at least 1, not true"),
        ('{dir = "b", every = 2}', "unknown key 'every' (known: dir, keep)"),
    ],
)
def test_backup_option_is_checked(tmp_path: Path, value: str, why: str) -> None:
    path = write_schedule(
        tmp_path, "daily", f'families = ["qwen"]\ncron = "0 3 * * *"\nbackup = {value}\n'
    )
    with pytest.raises(Exception, match=re.escape(f"{path}: field 'backup': {why}")):
        load_schedule(path)
    ok = write_schedule(
        tmp_path, "ok", 'families = ["qwen"]\ncron = "0 3 * * *"\nbackup = {dir = "b"}\n'
    )
    spec = load_schedule(ok).backup
    assert spec is not None and (spec.dir, spec.keep) == (Path("b"), 7)


@pytest.mark.slow
def test_backups_while_the_daemon_commits_restore_exactly(
    hub: FakeHub, cli: Cli, isolated_env: Path, tmp_path: Path
) -> None:
    hub.add("Qwen/A", downloads_all_time=100, downloads=10, likes=1)
    hub.add_derivative("u/ft", parent="Qwen/A", downloads_all_time=5)
    kept = tmp_path / "daemon-backups"
    schedules = tmp_path / "schedules"
    write_schedule(
        schedules,
        "fast",
        f'families = ["qwen"]\ninterval = "0.5s"\ntimeout = "1m"\n'
        f'backup = {{dir = "{kept}", keep = 2}}\n',
    )
    daemon = DaemonProcess(["--schedules", str(schedules)], tmp_path / "daemon.log")
    taken = []
    try:
        daemon.wait_for_log(lambda log: "fast qwen: complete" in log)
        for i in range(3):  # by hand, while the daemon snapshots and backs up
            hub.set("Qwen/A", downloads_all_time=200 + i)
            result = run_collector("backup", str(tmp_path / "manual"))
            assert result.returncode == 0, result.stderr
            taken.append(Path(result.stdout.split()[2].rstrip(":")))
        daemon.wait_for_log(lambda log: log.count("removed 1 older") >= 2)
        for i, folder in enumerate(taken):  # restored while the daemon goes on
            cli("restore", str(folder), "--db", str(tmp_path / f"fresh-{i}.duckdb"))
    finally:
        status = daemon.terminate()
    assert status == 0, daemon.log()
    assert re.search(r"^fast: backup \S+ \(\d+ runs\), keeping the newest 2$", daemon.log(), re.M)
    assert len(backup.list_backups(kept, "warehouse")) == 2
    # each copy taken mid-flight holds whole runs: equal to the warehouse up to its last run
    for i in range(len(taken)):
        fresh = tmp_path / f"fresh-{i}.duckdb"
        last = query(fresh, "SELECT max(run_id) FROM runs")[0][0]
        # (runs and counts only grow; membership intervals and the rollup are extended)
        for table, key in (("runs", "run_id"), ("counts", "run_id"), ("repo_names", "first_run")):
            sql = f"SELECT * FROM {table} WHERE {key} <= {last} ORDER BY ALL"
            assert query(fresh, sql) == query(isolated_env, sql), table
    final = tmp_path / "final"
    cli("backup", str(final))
    cli("restore", str(final), "--db", str(tmp_path / "final.duckdb"))
    assert views(cli, tmp_path / "final.duckdb") == views(cli, isolated_env)


def test_an_older_schema_is_backed_up_as_it_is_and_restored_up_to_date(
    cli: Cli, tmp_path: Path
) -> None:
    from collector.store import migrations

    old = tmp_path / "old.duckdb"
    con = duckdb.connect(str(old))
    con.execute("CREATE TABLE _migrations (name VARCHAR PRIMARY KEY, applied_at TIMESTAMP)")
    migrations.MIGRATIONS[0][1](con)
    con.execute("INSERT INTO _migrations VALUES (?, now())", [migrations.MIGRATIONS[0][0]])
    con.close()
    before = old.read_bytes()
    out = cli("backup", str(tmp_path / "b"), "--db", str(old)).stdout
    assert out.startswith(f"Backed up {tmp_path / 'b'}/old-")
    assert old.read_bytes() == before  # a backup never migrates
    fresh = tmp_path / "fresh.duckdb"
    cli("restore", str(tmp_path / "b"), "--db", str(fresh))
    with duckdb.connect(str(fresh), read_only=True) as con:
        assert migrations.pending(con) == []


def test_a_backup_from_a_newer_collector_is_refused_before_anything_moves(
    history: FakeHub, cli: Cli, tmp_path: Path
) -> None:
    folder = Path(LINE_RE.match(cli("backup", str(tmp_path / "b")).stdout)[1])  # type: ignore[index]
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["migrations"].append("m999_future")
    (folder / "manifest.json").write_text(json.dumps(manifest))
    fresh = tmp_path / "fresh.duckdb"
    result = cli("restore", str(folder), "--db", str(fresh), ok=False)
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: backup {folder} was made by a newer collector (schema m999_future); "
        "upgrade collector to restore it\n"
    )
    assert not fresh.exists()


def test_a_missing_warehouse_leaves_no_unfinished_backup(cli: Cli, tmp_path: Path) -> None:
    result = cli("backup", str(tmp_path / "b"), "--db", str(tmp_path / "none.duckdb"), ok=False)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: no warehouse at {tmp_path / 'none.duckdb'}")
    assert list((tmp_path / "b").iterdir()) == []
