"""`collector runs` (history of collection runs) and `collector status` (is each schedule
keeping up?), through the real CLI with exact output."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import duckdb
import pytest

from collector.scheduling.lockfile import ProcessLock
from tests.conftest import Cli
from tests.daemons import ROOT, write_schedule
from tests.fakehub import FakeHub

SHIPPED = str(ROOT / "schedules")  # the shipped qwen-daily.toml: cron 30 3 * * * UTC, 2h


@pytest.fixture
def history(cli: Cli, isolated_env: Path) -> Path:
    cli("migrate")
    con = duckdb.connect(str(isolated_env))
    con.execute(
        """
        INSERT INTO runs (family, started_at, finished_at, status, strategy, repos_seen, members,
                          requests, retries, rejected, error) VALUES
        ('qwen', '2026-01-01 03:30:00', '2026-01-01 03:31:05.5', 'complete', 'lineage',
         1234, 1200, 56, 2, 0, NULL),
        ('qwen', '2026-01-02 03:30:00', '2026-01-02 03:30:09', 'failed', 'lineage',
         10, 0, 7, 6, 0, 'HTTP 503 from http://hub for /api/models after 7 attempts'),
        ('llama', '2026-01-02 04:00:00', '2026-01-02 04:02:00', 'complete', 'lineage',
         300, 290, 12, 0, 3, NULL)
        """
    )
    con.close()
    return isolated_env


def test_runs_lists_the_history_newest_first(cli: Cli, history: Path) -> None:
    out = cli("runs", "--format", "csv").stdout
    assert out == (
        "run_id,family,started_at,finished_at,status,strategy,repos_seen,members,"
        "requests,retries,rejected,error\n"
        "3,llama,2026-01-02T04:00:00,2026-01-02T04:02:00,complete,lineage,300,290,12,0,3,\n"
        "2,qwen,2026-01-02T03:30:00,2026-01-02T03:30:09,failed,lineage,10,0,7,6,0,"
        "HTTP 503 from http://hub for /api/models after 7 attempts\n"
        "1,qwen,2026-01-01T03:30:00,2026-01-01T03:31:05,complete,lineage,1234,1200,"
        "56,2,0,\n"
    )


def test_runs_table(cli: Cli, history: Path) -> None:
    out = cli("runs", "--family", "qwen").stdout
    assert out.splitlines() == [
        "runs, newest first",
        "",
        "  run_id   family   started_at            finished_at           status     strategy   "
        "repos_seen   members   requests   retries   rejected   error",
        " " + "\u2500" * 198,
        "       2   qwen     2026-01-02T03:30:00   2026-01-02T03:30:09   failed     lineage   "
        "         10         0          7         6          0   "
        "HTTP 503 from http://hub for /api/models after 7 attempts",
        "       1   qwen     2026-01-01T03:30:00   2026-01-01T03:31:05   complete   lineage   "
        "      1,234     1,200         56         2          0",
    ]


def test_runs_limit_and_family_as_json(cli: Cli, history: Path) -> None:
    data = json.loads(cli("runs", "-f", "qwen", "-n", "1", "--format", "json").stdout)
    assert data == {
        "runs": [
            {
                "run_id": 2,
                "family": "qwen",
                "started_at": "2026-01-02T03:30:00",
                "finished_at": "2026-01-02T03:30:09",
                "status": "failed",
                "strategy": "lineage",
                "repos_seen": 10,
                "members": 0,
                "requests": 7,
                "retries": 6,
                "rejected": 0,
                "error": "HTTP 503 from http://hub for /api/models after 7 attempts",
            }
        ]
    }


def test_runs_records_what_snapshots_did(cli: Cli, hub: FakeHub) -> None:
    hub.add("Qwen/Qwen3-8B", downloads_all_time=1000)
    hub.add_derivative("alice/ft", parent="Qwen/Qwen3-8B", downloads_all_time=5)
    cli("snapshot", "--quiet", now="2026-01-02T03:30:00")
    hub.inject("503", times=10)
    cli("snapshot", "--quiet", now="2026-01-03T03:30:00", ok=False)
    rows = json.loads(cli("runs", "--format", "json").stdout)["runs"]
    assert [
        (r["run_id"], r["status"], r["started_at"], r["members"], r["error"]) for r in rows
    ] == [
        (
            2,
            "failed",
            "2026-01-03T03:30:00",
            0,
            f"HTTP 503 from {hub.url} for /api/models after 7 attempts",
        ),
        (1, "complete", "2026-01-02T03:30:00", 2, None),
    ]


def test_runs_without_a_warehouse(cli: Cli, isolated_env: Path) -> None:
    result = cli("runs", ok=False)
    assert result.exit_code == 2
    assert result.output == (
        f"Error: no warehouse at {isolated_env}; run `collector snapshot` first or pass --db\n"
    )


STATUS_HEAD = (
    "schedules at {now} UTC\n\n"
    "  schedule     family   trigger               last_success          last_run              "
    "outcome{pad}   next_run              state\n"
    " {rule}\n"
)


def head(now: str, outcome_width: int) -> str:
    pad = " " * (outcome_width - len("outcome"))
    return STATUS_HEAD.format(now=now, pad=pad, rule="\u2500" * (120 + outcome_width))


@pytest.mark.parametrize(
    ("now", "next_run", "state"),
    [
        ("2026-01-02T12:00:00", "2026-01-03T03:30:00", "ok"),
        # the 03:30 run is due but may still be fetching: its 2h timeout has not run out
        ("2026-01-03T05:29:00", "2026-01-04T03:30:00", "ok"),
    ],
)
def test_status_of_a_schedule_on_time(
    cli: Cli, history: Path, now: str, next_run: str, state: str
) -> None:
    _success(history, "2026-01-02 03:30:04")
    out = cli("status", "--schedules", SHIPPED, now=now).stdout
    assert out == head(now, len("complete")) + (
        f"  qwen-daily   qwen     cron 30 3 * * * UTC   2026-01-02T03:30:04   2026-01-02T03:30:04"
        f"   complete   {next_run}   {state}\n"
        f"\nDaemon on {history}: not running\n"
    )


def test_status_warns_and_exits_1_when_a_family_is_late(cli: Cli, history: Path) -> None:
    result = cli("status", "--schedules", SHIPPED, now="2026-01-03T05:31:00", ok=False)
    assert result.exit_code == 1
    assert result.stdout == head("2026-01-03T05:31:00", len("outcome")) + (
        "  qwen-daily   qwen     cron 30 3 * * * UTC   2026-01-01T03:30:00   2026-01-02T03:30:00"
        "   failed    2026-01-04T03:30:00   late\n"
        f"\nDaemon on {history}: not running\n"
        "Warning: qwen (qwen-daily) is late: newest successful snapshot 2026-01-01T03:30:00, "
        "but one was due at 2026-01-02T03:30:00 (plus its 2h timeout)\n"
    )


def test_status_as_json(cli: Cli, history: Path) -> None:
    result = cli(
        "status", "--schedules", SHIPPED, "--format", "json", now="2026-01-03T05:31:00", ok=False
    )
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {
        "now": "2026-01-03T05:31:00",
        "schedules": [
            {
                "schedule": "qwen-daily",
                "family": "qwen",
                "trigger": "cron 30 3 * * * UTC",
                "last_success": "2026-01-01T03:30:00",
                "last_run": "2026-01-02T03:30:00",
                "outcome": "failed",
                "next_run": "2026-01-04T03:30:00",
                "state": "late",
                "db": str(history),
            }
        ],
        "daemons": [
            {"db": str(history), "running": False, "pid": None, "host": None, "since": None}
        ],
        "warnings": [
            "qwen (qwen-daily) is late: newest successful snapshot 2026-01-01T03:30:00, "
            "but one was due at 2026-01-02T03:30:00 (plus its 2h timeout)"
        ],
    }


def test_status_before_any_snapshot(cli: Cli, tmp_path: Path, isolated_env: Path) -> None:
    folder = tmp_path / "schedules"
    write_schedule(folder, "hourly", 'families = ["qwen", "llama"]\ninterval = "6h"\n')
    result = cli(
        "status", "--schedules", str(folder), "--format", "csv", now="2026-01-03T07:00:00", ok=False
    )
    assert result.exit_code == 1
    assert result.stdout == (
        "schedule,family,trigger,last_success,last_run,outcome,next_run,state\n"
        "hourly,qwen,every 6h,,,,2026-01-03T12:00:00,never\n"
        "hourly,llama,every 6h,,,,2026-01-03T12:00:00,never\n"
    )
    assert result.stderr == (
        "Warning: qwen (hourly): no successful snapshot yet\n"
        "Warning: llama (hourly): no successful snapshot yet\n"
    )
    assert not isolated_env.exists()  # status only reads


def test_status_names_the_running_daemon(cli: Cli, history: Path) -> None:
    _success(history, "2026-01-02 03:30:04")
    lock = ProcessLock(history)
    lock.acquire()
    try:
        out = cli(
            "status", "--schedules", SHIPPED, "--format", "json", now="2026-01-02T12:00:00"
        ).stdout
    finally:
        lock.release()
    [daemon] = json.loads(out)["daemons"]
    assert daemon["running"] is True
    assert (daemon["pid"], daemon["host"]) == (os.getpid(), socket.gethostname())
    assert daemon["since"].endswith("+00:00")
    after = json.loads(
        cli("status", "--schedules", SHIPPED, "--format", "json", now="2026-01-02T12:00:00").stdout
    )
    assert after["daemons"][0]["running"] is False


def _success(db: Path, started_at: str) -> None:
    con = duckdb.connect(str(db))
    con.execute(
        "INSERT INTO runs (family, started_at, finished_at, status, strategy) "
        "VALUES ('qwen', ?, ?, 'complete', 'lineage')",
        [started_at, started_at],
    )
    con.close()


def test_runs_of_the_simulated_example_say_so(cli: Cli) -> None:
    result = cli(
        "runs", "-n", "2", "--format", "csv", "--db", str(ROOT / "warehouse.duckdb.example")
    )
    assert result.stderr == (
        "Notice: simulated data (from `make example`), not real Hub figures.\n"
    )
    assert [line.split(",")[:3] for line in result.stdout.splitlines()] == [
        ["run_id", "family", "started_at"],
        ["120", "llama", "2026-11-27T06:00:00"],
        ["119", "qwen", "2026-11-27T06:00:00"],
    ]
