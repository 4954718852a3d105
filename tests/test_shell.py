"""As a user would: `HF_ENDPOINT=<fake hub> collector snapshot`, then `collector report`,
each in its own process through the installed entry point (`python -m collector`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.fakehub import FakeHub


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "collector", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_snapshot_then_report_from_a_shell(hub: FakeHub, tmp_path: Path) -> None:
    hub.add("Qwen/A", downloads_all_time=1234, downloads=100, likes=7)
    hub.add_derivative("u/ft", parent="Qwen/A", downloads_all_time=66, downloads=6)
    env = {
        **os.environ,
        "HF_ENDPOINT": hub.url,
        "COLLECTOR_DB": str(tmp_path / "w.duckdb"),
        "COLLECTOR_NOW": "2026-04-01T08:00:00",
    }
    snap = run("snapshot", env=env)
    assert snap.returncode == 0, snap.stderr
    assert snap.stdout.startswith("qwen: run 1 complete at 2026-04-01 08:00:00 UTC: 2 members")
    assert "qwen: strategy lineage" in snap.stderr  # the plan goes to stderr
    report = run("report", "--format", "csv", env=env)
    assert report.returncode == 0, report.stderr
    assert report.stdout.splitlines()[1] == "2026-04-01,2,1300,1234,66,106,7,,false"
    assert report.stderr == ""


def test_version_and_help() -> None:
    out = run("--version", env=dict(os.environ))
    assert out.stdout.strip().startswith("collector ")
    helped = run("-h", env=dict(os.environ))
    for command in ("snapshot", "report", "verify", "members", "why", "migrate"):
        assert command in helped.stdout
