"""The storage fault matrix: a warehouse holding history meets a failing disk or file.

Every row starts from a copy of the same warehouse (days of snapshots of a generated
family), runs the real CLI under one fault, removes the fault, and checks:

- what the user saw: the exit status and the single `Error:` line (a traceback fails);
- the history: what the reports read (family_daily and members_daily rows) after the
  fault holds every row it held before, once (rows lost, rows doubled);
- the next run: with the fault removed, `collector snapshot --resume` completes, and its
  day holds exactly the Hub's counters, once.

Faults that need a process of their own (a file-size limit, kill -9) run the CLI in a
subprocess; the others run it in-process. Faults that need root (a tmpfs that fills up, a
read-only remount) are skipped, and say so, without it. Used by tests/test_storage_faults.py
(small) and bench/reliability.py (`make reliability`).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from collector.snapshot.run import take_snapshot
from tests import faultmatrix as fm
from tests.storagelab import (  # noqa: F401 - the matrix's names, for its users
    COLUMNS,
    SNAPSHOT,
    Case,
    Lab,
    Outcome,
    Row,
    Settings,
    build_lab,
    cli,
    days,
    finish,
    history,
    settle,
    start,
    table_rows,
)

# A fault gets the row's warehouse, runs the faulted command under the fault and yields
# what it gave; it then removes the fault (what the error line asks the user to do).
Fault = Callable[[Case], Iterator[Outcome]]


def _fsize(limit: int) -> Fault:
    def fault(c: Case) -> Iterator[Outcome]:
        yield finish(start(c.lab, c.db, *SNAPSHOT, fsize=limit))

    return fault


def _kill_in_checkpoint(c: Case) -> Iterator[Outcome]:
    """kill -9 once the commit is in the log and the file is being rewritten."""
    wal = c.db.with_name(c.db.name + ".wal")
    for attempt in range(1, 9):
        mtime = c.db.stat().st_mtime_ns
        proc = start(c.lab, c.db, *SNAPSHOT)
        landed = False
        while proc.poll() is None:
            if wal.exists() and c.db.stat().st_mtime_ns != mtime:
                proc.send_signal(signal.SIGKILL)
                landed = wal.exists()
                break
            time.sleep(0.0002)
        code, out, err = finish(proc)
        if landed:
            c.row.notes.append(f"killed inside the checkpoint on attempt {attempt}")
            yield code, out, "(killed: the process printed nothing)"
            return
        shutil.copyfile(c.lab.base, c.db)  # it finished first: start again from history
        wal.unlink(missing_ok=True)
    c.row.notes.append("never caught inside the checkpoint in 8 attempts")
    yield code, out, err


def _chattr(path: Path, flag: str) -> bool:
    return subprocess.run(["chattr", flag, str(path)], capture_output=True).returncode == 0


@contextmanager
def _unwritable(path: Path) -> Iterator[str | None]:
    """`path` made unwritable: immutable as root (root ignores modes), else chmod."""
    if os.geteuid() == 0:
        if not _chattr(path, "+i"):
            yield "chattr +i is not available here"
            return
        try:
            yield None
        finally:
            _chattr(path, "-i")
    else:
        mode = path.stat().st_mode
        path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield None
        finally:
            path.chmod(mode)


def _read_only(target: Callable[[Case], Path]) -> Fault:
    def fault(c: Case) -> Iterator[Outcome]:
        with _unwritable(target(c)) as why:
            if why:
                c.row.skipped = why
                return
            outcome = c.snapshot()
            c.reads()
        yield outcome

    return fault


def _stage_dir(c: Case) -> Path:
    stage = c.db.with_name(c.db.name + ".stage")
    stage.mkdir()
    return stage


def _remounted_read_only(c: Case) -> Iterator[Outcome]:
    folder = c.db.parent
    if not _mount(["--bind", str(folder), str(folder)]):
        c.row.skipped = "needs root and mount (a read-only bind mount)"
        return
    try:
        if not _mount(["-o", "remount,bind,ro", str(folder)]):
            c.row.skipped = "cannot remount read-only here"
            return
        outcome = c.snapshot()
        c.reads()
    finally:
        subprocess.run(["umount", str(folder)], capture_output=True)
    yield outcome


def _mount(args: list[str]) -> bool:
    if os.geteuid() != 0:
        return False
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


@contextmanager
def _full_disk(where: Path) -> Iterator[bool]:
    """A small tmpfs at `where`, filled to the last byte (False when not possible)."""
    where.mkdir(parents=True, exist_ok=True)
    if not _mount(["-t", "tmpfs", "-o", "size=16m", "tmpfs", str(where)]):
        yield False
        return
    try:
        yield True
    finally:
        subprocess.run(["umount", str(where)], capture_output=True)


def _fill(folder: Path) -> Path:
    """Fill the disk of `folder` to its last byte; the filler file, to delete as the fix."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        for size in (1 << 20, 65536, 4096, 512, 1):
            try:
                while os.write(fd, b"\0" * size) == size:
                    pass
            except OSError:
                pass
    finally:
        os.close(fd)
    return filler


def _disk_full_stage(c: Case) -> Iterator[Outcome]:
    disk = c.db.parent / "disk"
    with _full_disk(disk) as ok:
        if not ok:
            c.row.skipped = "needs root and mount (a small tmpfs)"
            return
        (disk / "stage").mkdir()
        c.db.with_name(c.db.name + ".stage").symlink_to(disk / "stage")
        filler = _fill(disk)
        outcome = c.snapshot()
        c.reads()
        filler.unlink()  # the fix: free space (the next run uses the same disk)
        yield outcome
        settle(c)


def _disk_full_commit(c: Case) -> Iterator[Outcome]:
    """The warehouse on a full disk, its stage elsewhere: the commit's log cannot grow."""
    disk = c.db.parent / "disk"
    with _full_disk(disk) as ok:
        if not ok:
            c.row.skipped = "needs root and mount (a small tmpfs)"
            return
        db = disk / c.db.name
        shutil.copyfile(c.db, db)
        c.db.unlink()
        c.db = db
        elsewhere = disk.parent / "stage-elsewhere"
        elsewhere.mkdir()
        db.with_name(db.name + ".stage").symlink_to(elsewhere)
        filler = _fill(disk)
        outcome = c.snapshot()
        c.reads()
        filler.unlink()
        yield outcome
        settle(c)


def _damage(how: Callable[[bytes], bytes]) -> Fault:
    def fault(c: Case) -> Iterator[Outcome]:
        damaged = how(c.db.read_bytes())
        c.db.write_bytes(damaged)
        outcome = c.snapshot()
        c.reads()
        if c.db.read_bytes() != damaged:
            c.row.notes.append("the damaged file was rewritten")
            c.row.lost += 1
        code, _, err = cli(c.lab, c.db, "restore", str(c.lab.backup), "--force")  # the fix
        if code:
            c.row.notes.append(f"restore failed: {err.strip()}")
        yield outcome

    return fault


def _garbage_after_header(data: bytes) -> bytes:
    rng = random.Random(3)
    return data[:12288] + rng.randbytes(len(data) - 12288)


def _newer_duckdb(c: Case) -> Iterator[Outcome]:
    original = c.db.read_bytes()
    c.db.write_bytes(newer_header(original))
    outcome = c.snapshot()
    c.reads()
    c.db.write_bytes(original)  # the fix: an install whose DuckDB reads it
    yield outcome


def newer_header(data: bytes, storage: int = 1000, library: bytes = b"v3.0.0") -> bytes:
    """A DuckDB file as a newer DuckDB would stamp it: a higher storage version number and
    library, with the header's checksum made right again."""
    head = bytearray(data[:4096])
    head[12:20] = struct.pack("<Q", storage)
    head[52:84] = library.ljust(32, b"\0")
    total = 5381
    for i in range(8, 4096, 8):  # DuckDB's block checksum: xor of words times a constant
        (word,) = struct.unpack_from("<Q", head, i)
        total ^= (word * 0xBF58476D1CE4E5B9) % 2**64
    head[0:8] = struct.pack("<Q", total)
    return bytes(head) + data[4096:]


def _log(c: Case, torn: bool) -> Iterator[Outcome]:
    """A write-ahead log left beside the warehouse: torn mid-commit, or another file's."""
    donor = c.db.parent / "donor" / c.db.name
    donor.parent.mkdir()
    shutil.copyfile(c.lab.base if torn else c.lab.base.parent / "other.duckdb", donor)
    wal = c.db.with_name(c.db.name + ".wal")
    # a commit whose checkpoint failed (see the file-size row) leaves its log behind
    finish(start(c.lab, donor, *SNAPSHOT, fsize=1 << 20))
    log = donor.with_name(donor.name + ".wal").read_bytes()
    wal.write_bytes(log[: len(log) * 2 // 3] if torn else log)
    outcome = c.snapshot()
    c.reads()
    if not torn:
        if not wal.exists() or wal.read_bytes() != log:
            c.row.notes.append("the foreign log was replayed or deleted")
        wal.unlink()  # the fix the message gives: move it aside
    yield outcome


def _holder(read_only: bool) -> Fault:
    def fault(c: Case) -> Iterator[Outcome]:
        code = (
            "import duckdb, sys, time\n"
            f"con = duckdb.connect(sys.argv[1], read_only={read_only})\n"
            "print('held', flush=True)\n"
            f"time.sleep({c.lab.settings.hold})\n"
        )
        proc = subprocess.Popen(
            [sys.executable, "-c", code, str(c.db)], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None and proc.stdout.readline() == "held\n"
        outcome = c.snapshot()
        c.reads()
        proc.wait(timeout=c.lab.settings.hold + 60)  # the fix: it lets go
        yield outcome

    return fault


def _stage_is_a_file(c: Case) -> Iterator[Outcome]:
    stray = c.db.with_name(c.db.name + ".stage")
    stray.write_text("not a folder\n")
    outcome = c.snapshot()
    c.reads()
    stray.unlink()
    yield outcome


@dataclass(frozen=True)
class Scenario:
    name: str
    fault: Fault
    fails: bool = True  # False: carrying on is right (a torn log is an unfinished commit)


SCENARIOS = [
    Scenario("file-size limit in stage writes (8 KiB)", _fsize(8 << 10)),
    Scenario("file-size limit in the checkpoint (1 MiB)", _fsize(1 << 20)),
    Scenario("disk full in stage writes (tmpfs)", _disk_full_stage),
    Scenario("disk full in the commit (tmpfs)", _disk_full_commit),
    Scenario("kill -9 in the checkpoint after a commit", _kill_in_checkpoint),
    Scenario("warehouse file read-only", _read_only(lambda c: c.db)),
    Scenario("warehouse folder read-only", _read_only(lambda c: c.db.parent)),
    Scenario("file system remounted read-only", _remounted_read_only),
    Scenario("stage folder unwritable", _read_only(_stage_dir)),
    Scenario("stage folder is a file", _stage_is_a_file),
    Scenario("warehouse truncated", _damage(lambda d: d[:20000])),
    Scenario("warehouse is garbage", _damage(lambda d: random.Random(1).randbytes(len(d)))),
    Scenario("garbage after a valid header", _damage(_garbage_after_header)),
    Scenario("log torn by a crash mid-commit", lambda c: _log(c, torn=True), fails=False),
    Scenario("log of another database file", lambda c: _log(c, torn=False)),
    Scenario("file from a newer DuckDB", _newer_duckdb),
    Scenario("second writer holds the lock", _holder(read_only=False)),
    Scenario("reader holds the file", _holder(read_only=True)),
]


# -- running and checking ---------------------------------------------------------------
def run_row(lab: Lab, scenario: Scenario) -> Row:
    """One fault against a fresh copy of the history, then its recovery and the checks."""
    clock = time.monotonic()
    try:
        return _run_row(lab, scenario)
    finally:
        lab.seconds[scenario.name] = time.monotonic() - clock


def _run_row(lab: Lab, scenario: Scenario) -> Row:
    folder = lab.work / _slug(scenario.name)
    folder.mkdir()
    db = folder / "warehouse.duckdb"
    shutil.copyfile(lab.base, db)
    row = Row(scenario.name, days_before=days(lab.before))
    case = Case(lab, db, row)
    steps = scenario.fault(case)
    outcome = next(steps, None)
    if outcome is None:
        return row  # skipped
    row.exit, _, err = outcome
    lines = [line for line in err.strip().splitlines() if line]
    row.saw = lines[0].replace(str(folder) + "/", "./") if lines else ""
    if scenario.fails:
        one_line = len(lines) == 1 and lines[0].startswith("Error: ")
        row.clear = row.exit != 0 and (one_line or err.startswith("(killed"))
    else:  # the right outcome is to carry on: nothing to say, the run completes
        row.clear = row.exit == 0 and not lines
        row.saw = row.saw or "nothing: the snapshot completed"
    for _ in steps:  # a fault on a disk of its own checks the next run on that disk
        pass
    if not row.next_run:
        settle(case)
    return row


def run_matrix(
    settings: Settings, work: Path, scenarios: list[Scenario] | None = None
) -> tuple[list[Row], Lab]:
    """Every scenario (or those given) against a copy of one warehouse with history."""
    lab = build_lab(settings, work)
    try:
        _other_warehouse(lab)
        return [run_row(lab, s) for s in scenarios or SCENARIOS], lab
    finally:
        lab.world.hub.stop()


def _other_warehouse(lab: Lab) -> None:
    """A second, unrelated warehouse: the donor of a log that is not ours."""
    other = lab.base.parent / "other.duckdb"
    take_snapshot([fm.FAMILY], db=other, client=fm.client_for(lab.world), now=fm.DAY0)


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower())
