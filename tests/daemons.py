"""Helpers for running the real `collector daemon` in a subprocess against the fake Hub."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]


def write_schedule(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def collector_env(**extra: str) -> dict[str, str]:
    """The test's environment (COLLECTOR_DB, HF_ENDPOINT ...) for a child process."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), **extra)
    env.pop("COLUMNS", None)
    return env


class DaemonProcess:
    """`python -m collector daemon ...` with its stderr in a file we can poll."""

    def __init__(self, args: list[str], log: Path, **env: str) -> None:
        self.log_path = log
        self.signalled = False
        self._log_file = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "collector", "daemon", *args],
            env=collector_env(**env),
            stdout=subprocess.DEVNULL,
            stderr=self._log_file,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text()

    def wait_for_log(self, predicate: Callable[[str], bool], timeout: float = 60) -> str:
        """Poll the log until predicate(log) holds; fail with the log otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log()
            if predicate(text):
                return text
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"daemon log never matched (exit {self.proc.poll()}):\n{self.log()}")

    def signal(self, signum: int = signal.SIGTERM) -> None:
        self.signalled = True
        self.proc.send_signal(signum)

    def terminate(self, timeout: float = 60) -> int:
        """SIGTERM (unless already sent), then the exit status (bounds for a loaded
        machine: the suite runs on every core, so a daemon mid-commit may be slow)."""
        if self.proc.poll() is None and not self.signalled:
            self.signal()
        try:
            return self.proc.wait(timeout)
        finally:
            self._log_file.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._log_file.close()


def run_collector(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """One `python -m collector ...` in a child process."""
    return subprocess.run(
        [sys.executable, "-m", "collector", *args],
        env=collector_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def query(db: Path, sql: str) -> list[tuple]:
    """Read the warehouse once the daemon is gone (a plain read-only connection)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()
