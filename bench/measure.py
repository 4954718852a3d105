"""Running things to measure them: a subprocess's wall time, CPU time and peak RSS, and
the benchmark's fake Hub server in its own process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Measured:
    """What one subprocess cost: wall seconds, CPU seconds (user+system), peak RSS (MB)."""

    wall: float
    cpu: float
    peak_rss_mb: float
    returncode: int
    stdout: str
    stderr: str


def run_measured(argv: list[str], env: dict[str, str] | None = None) -> Measured:
    """Run a command and read its own resource usage (os.wait4: this child only)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Measured(
            wall=wall,
            cpu=usage.ru_utime + usage.ru_stime,
            peak_rss_mb=usage.ru_maxrss / 1024,  # Linux: kilobytes
            returncode=proc.returncode,
            stdout=out.read().decode(errors="replace"),
            stderr=err.read().decode(errors="replace"),
        )


@dataclass
class Server:
    url: str
    build_seconds: float

    def stats(self) -> dict[str, int]:
        with urllib.request.urlopen(f"{self.url}/_stats") as r:
            return json.loads(r.read())

    def reset(self) -> None:
        urllib.request.urlopen(f"{self.url}/_reset").read()


@contextmanager
def hub_server(models: int, seed: int) -> Iterator[Server]:
    """Start bench/hubserver.py for a synthetic Hub of `models` models; stop it after."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.hubserver", "--models", str(models), "--seed", str(seed)],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parent.parent,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().split()
        if not line or line[0] != "ready":
            raise RuntimeError("the benchmark's hub server did not start")
        yield Server(f"http://127.0.0.1:{line[1]}", time.perf_counter() - start)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
