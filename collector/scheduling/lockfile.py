"""The daemon's process lock: one scheduling daemon per warehouse.

`<warehouse>.daemon.lock` is locked with flock(2) for the daemon's lifetime and holds who
has it (pid, host, start time). The kernel drops the lock when the process dies, however it
dies, so a stale file never blocks a restart. The file is never deleted (deleting a lock
file races with the next daemon opening it); it is emptied on a clean stop.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from collector.errors import CollectorError


class DaemonRunning(CollectorError):
    """Another daemon already schedules snapshots into this warehouse."""


@dataclass(frozen=True)
class Holder:
    """Who holds a daemon lock."""

    pid: int | None
    host: str | None
    started_at: str | None

    def describe(self) -> str:
        if self.pid is None:
            return "another process"
        return f"pid {self.pid} on {self.host}, running since {self.started_at}"


def lock_path(db: Path) -> Path:
    """The daemon lock file of a warehouse."""
    return db.with_name(db.name + ".daemon.lock")


class ProcessLock:
    """An exclusive flock on a warehouse's daemon lock file, with its holder written in it."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.path = lock_path(db)
        self._fd: int | None = None

    def acquire(self, wait: float = 0.5) -> None:
        """Take the lock, retrying for `wait` seconds; DaemonRunning names who has it."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise CollectorError(
                f"cannot create daemon lock {self.path}: {exc.strerror or exc}"
            ) from None
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _read_holder(fd)
                    os.close(fd)
                    raise DaemonRunning(
                        f"another daemon already runs on warehouse {self.db}: "
                        f"{holder.describe()} (lock {self.path}); stop it first"
                    ) from None
                time.sleep(0.05)
        record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Empty the file and drop the lock. Idempotent."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)
        finally:
            os.close(fd)  # closing the last descriptor releases the flock


def holder(db: Path) -> Holder | None:
    """Who runs a daemon on this warehouse now, or None when nobody does."""
    path = lock_path(db)
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            # A shared probe: it fails while a daemon holds the exclusive lock, and never
            # stops a daemon from taking it (the daemon retries for a moment).
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_holder(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _read_holder(fd: int) -> Holder:
    try:
        data: Any = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
    except (OSError, ValueError):
        data = {}
    if not isinstance(data, dict):
        data = {}
    pid = data.get("pid")
    return Holder(pid if isinstance(pid, int) else None, data.get("host"), data.get("started_at"))
