"""The real daemon (`python -m collector daemon`) in a subprocess against the fake Hub:
snapshots on schedule, one daemon per warehouse, a clean SIGTERM, readers while it writes.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import threading
import time
from pathlib import Path

import duckdb
import pytest

from tests.conftest import Cli
from tests.daemons import DaemonProcess, query, run_collector, write_schedule
from tests.fakehub import FakeHub

pytestmark = pytest.mark.slow

FAST = 'families = ["qwen"]\ninterval = "0.5s"\ntimeout = "1m"\n'
ONCE = 'families = ["qwen"]\ninterval = "1d"\ntimeout = "1m"\n'  # catch-up runs it at start
RUN_RE = re.compile(
    r"^fast qwen: complete, run (\d+), (\S+Z) to (\S+Z) \(\d+\.\ds\), 3 repos, 3 members, "
    r"4 requests, 0 retries$"
)

INTERRUPTED_RE = re.compile(
    r"^fast qwen: interrupted, not recorded, \S+Z to \S+Z \(\d+\.\ds\), \d+ requests, "
    r"0 retries: the daemon is stopping; nothing written$"
)

SKIPPED_RE = re.compile(r"^fast: run due \S+Z skipped: the previous run is still going$")


def seed(hub: FakeHub) -> None:
    hub.add("Qwen/Qwen3-8B", downloads_all_time=1000, downloads=100, likes=10)
    hub.add("Qwen/Qwen3-4B", downloads_all_time=500, downloads=50, likes=5)
    hub.add_derivative(
        "alice/Qwen3-8B-GGUF", parent="Qwen/Qwen3-8B", relation="quantized", downloads_all_time=70
    )


def completed(log: str) -> list[str]:
    return [line for line in log.splitlines() if RUN_RE.match(line)]


def table_counts(db: Path) -> dict[str, int]:
    return {
        t: query(db, f"SELECT count(*) FROM {t}")[0][0]
        for t in ("runs", "repos", "counts", "membership", "edges")
    }


def test_daemon_snapshots_on_schedule_and_a_second_daemon_is_refused(
    tmp_path: Path, hub: FakeHub, isolated_env: Path
) -> None:
    seed(hub)
    db, folder = isolated_env, tmp_path / "schedules"
    write_schedule(folder, "fast", FAST)
    daemon = DaemonProcess(["--schedules", str(folder)], tmp_path / "daemon.log")
    try:
        daemon.wait_for_log(lambda log: len(completed(log)) >= 1)
        hub.set("Qwen/Qwen3-8B", downloads_all_time=1200)
        second = run_collector("daemon", "--schedules", str(folder))
        before = len(completed(daemon.log()))
        daemon.wait_for_log(lambda log: len(completed(log)) >= before + 1)
    finally:
        status = daemon.terminate()
    assert status == 0, daemon.log()
    assert second.returncode == 1
    assert re.fullmatch(
        rf"Error: another daemon already runs on warehouse {re.escape(str(db))}: "
        rf"pid {daemon.pid} on {re.escape(socket.gethostname())}, running since \S+ "
        rf"\(lock {re.escape(str(db))}\.daemon\.lock\); stop it first\n",
        second.stderr,
    ), second.stderr
    lines = daemon.log().splitlines()
    assert lines[0] == (
        f"daemon started: pid {daemon.pid} on {socket.gethostname()}, 1 schedule(s), warehouse {db}"
    )
    assert re.fullmatch(
        r"fast: qwen, every 0.5s, next run \S+Z "
        r"\(catching up: no successful snapshot yet\)",
        lines[1],
    )
    # SIGTERM may land while a run fetches (it stops, unrecorded) or commits (it completes).
    stopping = lines.index("daemon stopping (SIGTERM)")
    assert lines[-1] == "daemon stopped"
    for line in lines[stopping + 1 : -1]:
        assert RUN_RE.match(line) or INTERRUPTED_RE.match(line) or SKIPPED_RE.match(line), lines
    logged = [int(RUN_RE.match(line).group(1)) for line in completed("\n".join(lines))]
    rows = query(db, "SELECT run_id, status FROM runs ORDER BY run_id")
    assert rows == [(run_id, "complete") for run_id in logged]
    assert len(rows) >= 3
    # The later runs saw the Hub change: history is being built.
    latest = query(
        db,
        "SELECT downloads_all_time FROM counts JOIN repos USING (repo_key) "
        "WHERE repo_id = 'Qwen/Qwen3-8B' ORDER BY run_id",
    )
    assert latest == [(1000,), (1200,)]


def test_sigterm_while_fetching_leaves_no_trace(
    tmp_path: Path, hub: FakeHub, isolated_env: Path
) -> None:
    seed(hub)
    reached, release = threading.Event(), threading.Event()

    def hold(page: int) -> None:
        reached.set()
        release.wait(30)

    hub.on_page(hold)
    write_schedule(tmp_path / "schedules", "fast", ONCE)
    daemon = DaemonProcess(["--schedules", str(tmp_path / "schedules")], tmp_path / "daemon.log")
    try:
        assert reached.wait(30), daemon.log()  # the catch-up run is fetching its first page
        daemon.signal()
        daemon.wait_for_log(lambda log: "daemon stopping (SIGTERM)" in log)
    finally:
        release.set()
        status = daemon.terminate()
    assert status == 0, daemon.log()
    lines = daemon.log().splitlines()
    assert re.fullmatch(
        r"fast qwen: interrupted, not recorded, \S+Z to \S+Z \(\d+\.\ds\), "
        # auto sizes the family first (its official listing and childrenModelCount)
        r"\d+ requests, 0 retries: the daemon is stopping; nothing written",
        lines[-2],
    ), lines
    assert lines[-1] == "daemon stopped"
    assert table_counts(isolated_env) == {
        "runs": 0,
        "repos": 0,
        "counts": 0,
        "membership": 0,
        "edges": 0,
    }


def test_sigterm_while_committing_finishes_the_run(
    tmp_path: Path, hub: FakeHub, isolated_env: Path, cli: Cli
) -> None:
    seed(hub)
    cli("snapshot", "--quiet", "--db", str(tmp_path / "scratch.duckdb"))
    pages = hub.pages_served  # pages of one snapshot of this family
    db = isolated_env
    reader: list[duckdb.DuckDBPyConnection] = []
    last_page = threading.Event()

    def hold_the_warehouse(page: int) -> None:
        if page == 2 * pages:  # the daemon's run has all it needs: block its commit
            reader.append(duckdb.connect(str(db), read_only=True))
            last_page.set()

    hub.on_page(hold_the_warehouse)
    write_schedule(tmp_path / "schedules", "fast", ONCE)
    daemon = DaemonProcess(
        ["--schedules", str(tmp_path / "schedules")],
        tmp_path / "daemon.log",
        COLLECTOR_LOCK_WAIT="30",
    )
    try:
        assert last_page.wait(30), daemon.log()
        time.sleep(1.5)  # ample for the run to parse its last page and wait to commit
        daemon.signal()
        daemon.wait_for_log(lambda log: "daemon stopping (SIGTERM)" in log)
    finally:
        for con in reader:
            con.close()
        status = daemon.terminate()
    assert status == 0, daemon.log()
    lines = daemon.log().splitlines()
    assert lines[-3] == "daemon stopping (SIGTERM)"
    assert RUN_RE.match(lines[-2]) and lines[-2].startswith("fast qwen: complete, run 1, "), lines
    assert lines[-1] == "daemon stopped"
    assert table_counts(db) == {"runs": 1, "repos": 3, "counts": 3, "membership": 3, "edges": 1}


def test_reports_while_the_daemon_writes_succeed_or_wait(
    tmp_path: Path, hub: FakeHub, isolated_env: Path
) -> None:
    seed(hub)
    write_schedule(tmp_path / "schedules", "fast", FAST.replace("0.5s", "1s"))
    daemon = DaemonProcess(
        ["--schedules", str(tmp_path / "schedules")],
        tmp_path / "daemon.log",
        COLLECTOR_LOCK_WAIT="20",
    )
    results = []
    try:
        daemon.wait_for_log(lambda log: len(completed(log)) >= 1)
        start = len(completed(daemon.log()))
        # rounds of concurrent reports until a later snapshot has committed among them
        # (a bound, not a count of rounds: on a loaded machine the next run may start late)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            results += _reports(2)
            if len(completed(daemon.log())) >= start + 1:
                break
        assert len(completed(daemon.log())) >= start + 1, daemon.log()
    finally:
        # a commit may be waiting behind the readers' locks: allow it to finish on a busy machine
        status = daemon.terminate(timeout=60)
    assert status == 0, daemon.log()
    assert "failed" not in daemon.log()
    for code, out, err in results:
        assert code == 0 and "Traceback" not in err, err
        assert json.loads(out)["family"] == "qwen"


def _reports(n: int) -> list[tuple[int, str, str]]:
    out: list[tuple[int, str, str]] = []
    threads = [threading.Thread(target=lambda: out.append(_report())) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def _report() -> tuple[int, str, str]:
    done = run_collector("report", "--format", "json")
    return done.returncode, done.stdout, done.stderr


def test_report_waits_for_a_busy_warehouse_or_says_so_in_one_line(
    hub: FakeHub, isolated_env: Path, cli: Cli
) -> None:
    seed(hub)
    cli("snapshot", "--quiet", now="2026-01-02T03:30:00")
    writer = duckdb.connect(str(isolated_env))  # holds the file as a snapshot's commit does
    results: dict[str, subprocess.CompletedProcess[str]] = {}

    def report(wait: str) -> None:
        results[wait] = run_collector("report", "--format", "csv", COLLECTOR_LOCK_WAIT=wait)

    threads = {w: threading.Thread(target=report, args=(w,)) for w in ("0.3", "30")}
    for t in threads.values():
        t.start()
    threads["0.3"].join()  # gave up: both started while the file was held
    writer.close()
    threads["30"].join()
    patient, hasty = results["30"], results["0.3"]
    assert patient.returncode == 0, patient.stderr
    assert patient.stderr == ""
    assert patient.stdout.splitlines()[1].startswith("2026-01-02,3,1570,")
    assert hasty.returncode == 1
    assert hasty.stdout == ""
    assert hasty.stderr == (
        f"Error: warehouse {isolated_env} is busy (held by process {os.getpid()}); "
        "waited 0.3s (a snapshot is committing; try again, or raise COLLECTOR_LOCK_WAIT)\n"
    )
