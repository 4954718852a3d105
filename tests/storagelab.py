"""The bench of the storage fault matrix (tests/storagefaults.py): a warehouse holding
history, its backup, a fake Hub a day further on, the CLI run in-process or in a child
process (under a file-size limit), and the checks every row ends with.

The checks, once a fault is removed: the rows the reports read (family_daily and
members_daily) hold every row they held before, once (rows lost, rows doubled), and the
next `collector snapshot --resume` completes with exactly the Hub's counters for its day.
"""

from __future__ import annotations

import os
import random
import resource
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
from typer.testing import CliRunner

from collector.cli import app
from collector.snapshot.run import take_snapshot
from tests import faultmatrix as fm

ROOT = Path(__file__).resolve().parent.parent
COLUMNS = [
    "fault",
    "exit",
    "user saw",
    "reads",
    "days before",
    "days kept",
    "rows lost",
    "rows doubled",
    "next run",
]


@dataclass
class Settings:
    size: int = 20  # repos in the family
    days: int = 3  # days of history before the faults
    hold: float = 3.0  # seconds a second writer or a reader holds the warehouse
    lock_wait: float = 1.0  # COLLECTOR_LOCK_WAIT of the faulted command


@dataclass
class Row:
    fault: str
    exit: int | None = None
    saw: str = ""
    clear: bool = False  # one `Error:` line, no traceback
    reads: int | None = None  # exit status of `collector report` while the fault lasts
    days_before: int = 0
    days_kept: int = 0
    lost: int = 0
    doubled: int = 0
    next_run: str = ""
    skipped: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.skipped is not None or (
            self.lost == self.doubled == 0
            and self.clear
            and self.next_run == "complete"
            and self.days_kept >= self.days_before
        )


@dataclass
class Lab:
    """The shared setup: the Hub, the warehouse with history, its backup, the next day."""

    settings: Settings
    work: Path
    world: fm.World
    base: Path
    backup: Path
    families: Path
    when: datetime
    before: dict[str, list[tuple]]
    expected: dict[str, tuple[int, int, int]]
    seconds: dict[str, float] = field(default_factory=dict)

    def env(self, db: Path) -> dict[str, str]:
        return {
            "COLLECTOR_DB": str(db),
            "COLLECTOR_FAMILIES": str(self.families),
            "HF_ENDPOINT": self.world.hub.url,
            "COLLECTOR_NOW": self.when.isoformat(),
            "COLLECTOR_LOCK_WAIT": f"{self.settings.lock_wait:g}",
            "COLLECTOR_RETRY_WAIT": "0.01",
        }


def build_lab(settings: Settings, work: Path) -> Lab:
    """History of `settings.days` days, a backup of it, and the Hub moved on one day."""
    world = fm.build_world(fm.Settings(size=settings.size, page_size=50), random.Random(17))
    base = work / "base" / "warehouse.duckdb"
    base.parent.mkdir(parents=True)
    for day in range(settings.days):
        if day:
            world.change_counters()
        take_snapshot(
            [fm.FAMILY], db=base, client=fm.client_for(world), now=fm.DAY0 + timedelta(days=day)
        )
    world.change_counters()
    families = work / "families.toml"
    families.write_text(
        f'[families.acme]\nauthors = ["acme"]\nname_pattern = "{fm.FAMILY.name_pattern}"\n'
    )
    lab = Lab(
        settings,
        work,
        world,
        base,
        work / "backups",
        families,
        fm.DAY0 + timedelta(days=settings.days),
        history(base),
        world.expected(),
    )
    code, _, err = cli(lab, base, "backup", str(lab.backup))
    assert code == 0, err
    return lab


def history(db: Path) -> dict[str, list[tuple]]:
    """The rows reports read: the daily series and the members of each day."""
    with duckdb.connect(str(db), read_only=True) as con:
        return {
            "family_daily": con.execute(
                "SELECT * EXCLUDE (run_id, started_at) FROM family_daily ORDER BY ALL"
            ).fetchall(),
            "members_daily": con.execute(
                """SELECT family, date, repo_id, role, relation, depth, parent_id,
                          downloads_all_time, downloads_30d, likes
                   FROM members_daily ORDER BY ALL"""
            ).fetchall(),
        }


def cli(lab: Lab, db: Path, *args: str) -> tuple[int, str, str]:
    """The CLI in this process: exit status, stdout, stderr (a traceback shows as one)."""
    result = CliRunner().invoke(app, list(args), env=lab.env(db))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        e = result.exception
        return result.exit_code, result.stdout, f"Traceback: {type(e).__name__}: {e}"
    return result.exit_code, result.stdout, result.stderr


def start(lab: Lab, db: Path, *args: str, fsize: int | None = None) -> subprocess.Popen[str]:
    """The CLI in a child process, optionally under a file-size limit (RLIMIT_FSIZE)."""

    def limit() -> None:  # Python ignores SIGXFSZ: an oversized write fails with EFBIG
        if fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    env = {**os.environ, **lab.env(db), "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "collector", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=limit,
    )


def finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


# A fault runs the faulted command and gives back its exit status, stdout and stderr.
Outcome = tuple[int, str, str]
SNAPSHOT = ("snapshot", "-f", "acme", "-q")


@dataclass
class Case:
    lab: Lab
    db: Path
    row: Row

    def snapshot(self) -> Outcome:
        return cli(self.lab, self.db, *SNAPSHOT)

    def reads(self) -> None:
        self.row.reads = cli(self.lab, self.db, "report", "-f", "acme", "--format", "json")[0]


def settle(c: Case) -> None:
    """With the fault removed: the history as reports read it, then the next run."""
    after_fault = history(c.db)
    c.row.days_kept = days(after_fault)
    _compare(c, after_fault)
    c.row.next_run = _recover(c)
    _compare(c, history(c.db))


def _recover(c: Case) -> str:
    """The run the error message asks for, checked against the Hub."""
    code, out, err = cli(c.lab, c.db, *SNAPSHOT, "--resume")
    if code:
        c.row.notes.append(f"next run: {err.strip()}")
        return f"failed ({code})"
    with duckdb.connect(str(c.db), read_only=True) as con:
        run = con.execute(
            "SELECT max(run_id) FROM day_runs WHERE family = 'acme' AND date = ?",
            [c.lab.when.date()],
        ).fetchall()[0][0]
    check = fm.Row("next")
    fm.check_run(c.db, run, c.lab.expected, {}, check)
    c.row.lost += check.lost
    c.row.doubled += check.duplicates
    c.row.notes += check.notes
    return "complete" if " complete" in out else out.strip()


def _compare(c: Case, after: dict[str, list[tuple]]) -> None:
    """Rows of the history before the fault that are missing, or present twice, after."""
    new_day = c.lab.when.date()
    for table, before in c.lab.before.items():
        kept = [r for r in after[table] if r[1] != new_day]
        c.row.lost += len(set(before) - set(kept))
        c.row.doubled += len(kept) - len(set(kept))
        keys = [r[:3] if table == "members_daily" else r[:2] for r in after[table]]
        c.row.doubled += len(keys) - len(set(keys))


def days(h: dict[str, list[tuple]]) -> int:
    return len({r[1] for r in h["family_daily"]})


def table_rows(rows: list[Row]) -> list[dict[str, Any]]:
    """The matrix as rows for collector.output.render."""
    out = []
    for r in rows:
        if r.skipped:
            out.append({"fault": r.fault, "user saw": f"skipped: {r.skipped}"})
            continue
        out.append(
            {
                "fault": r.fault,
                "exit": r.exit,
                "user saw": _short(r.saw),
                "reads": r.reads,
                "days before": r.days_before,
                "days kept": r.days_kept,
                "rows lost": r.lost,
                "rows doubled": r.doubled,
                "next run": r.next_run,
            }
        )
    return out


def _short(line: str, width: int = 110) -> str:
    return line if len(line) <= width else line[: width - 3] + "..."
