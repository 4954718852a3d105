"""The daemon's process lock, and the cron/systemd lines that share it."""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from collector.scheduling.lockfile import DaemonRunning, ProcessLock, holder
from tests.conftest import Cli
from tests.daemons import ROOT


def test_a_second_lock_is_refused_with_who_holds_it(isolated_env: Path) -> None:
    first = ProcessLock(isolated_env)
    first.acquire()
    try:
        found = holder(isolated_env)
        assert found is not None
        assert (found.pid, found.host) == (os.getpid(), socket.gethostname())
        with pytest.raises(DaemonRunning) as err:
            ProcessLock(isolated_env).acquire(wait=0)
        assert str(err.value) == (
            f"another daemon already runs on warehouse {isolated_env}: pid {os.getpid()} on "
            f"{socket.gethostname()}, running since {found.started_at} "
            f"(lock {isolated_env}.daemon.lock); stop it first"
        )
    finally:
        first.release()
    assert holder(isolated_env) is None
    assert Path(f"{isolated_env}.daemon.lock").read_text() == ""  # emptied, never deleted
    again = ProcessLock(isolated_env)
    again.acquire(wait=0)
    again.release()


@pytest.mark.skipif(shutil.which("flock") is None, reason="needs flock(1)")
def test_flock_in_cron_and_systemd_lines_excludes_the_daemon(isolated_env: Path) -> None:
    lock_file = f"{isolated_env}.daemon.lock"
    daemon = ProcessLock(isolated_env)
    daemon.acquire()
    try:
        assert subprocess.run(["flock", "-n", lock_file, "true"]).returncode == 1
    finally:
        daemon.release()
    assert subprocess.run(["flock", "-n", lock_file, "true"]).returncode == 0
    with subprocess.Popen(["flock", lock_file, "sleep", "30"]) as cron_job:
        try:
            for _ in range(100):
                if holder(isolated_env) is not None:
                    break
                subprocess.run(["sleep", "0.02"])
            with pytest.raises(DaemonRunning, match="already runs on .*: another process"):
                ProcessLock(isolated_env).acquire(wait=0)
        finally:
            cron_job.kill()


def _collector_args(command: str) -> list[str]:
    words = shlex.split(command)
    start = next(i for i, w in enumerate(words) if w.endswith("bin/collector"))
    args = words[start + 1 :]
    return args[: args.index(">>")] if ">>" in args else args


@pytest.mark.parametrize(
    ("file", "prefix"),
    [
        ("crontab", "30 3 * * *"),
        ("collector-daemon.service", "ExecStart="),
        ("collector-snapshot.service", "ExecStart="),
    ],
)
def test_shipped_cron_and_systemd_lines_use_real_options(cli: Cli, file: str, prefix: str) -> None:
    [line] = [
        line
        for line in (ROOT / "schedules" / file).read_text().splitlines()
        if line.startswith(prefix)
    ]
    args = _collector_args(line[len(prefix) :])
    assert args[0] in ("daemon", "snapshot")
    cli(*args, "--help")  # click refuses unknown options even with --help
