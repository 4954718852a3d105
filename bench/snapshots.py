"""Snapshot benchmark: each strategy, and the naive baseline, against the fast fake Hub.

Every run is its own process (measured with os.wait4: wall, CPU, peak RSS); requests and
bytes are counted by the server. The collector runs through its real CLI.
"""

from __future__ import annotations

import math
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb

from bench.measure import Measured, Server, run_measured
from bench.synth import FAMILIES_TOML

NOW = "2026-03-01T12:00:00"
NEXT_DAY = "2026-03-02T12:00:00"


@dataclass
class SnapshotRun:
    name: str
    families: str
    requests: int
    bytes: int
    measured: Measured
    members: dict[str, int]
    note: str = ""


def _env(server: Server, home: str, families: str, now: str = NOW) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        HF_ENDPOINT=server.url,
        HF_HOME=home,
        HF_HUB_DISABLE_TELEMETRY="1",
        COLLECTOR_NOW=now,
        COLLECTOR_FAMILIES=families,
    )
    env.pop("HF_TOKEN", None)
    return env


def _collector(
    server: Server, work: Path, name: str, args: list[str], db_name: str = "", now: str = NOW
) -> SnapshotRun:
    families = work / "families.toml"
    families.write_text(FAMILIES_TOML)
    db = work / f"{db_name or name}.duckdb"
    server.reset()
    measured = run_measured(
        [sys.executable, "-m", "collector", "snapshot", "--db", str(db), *args],
        env=_env(server, str(work / "hf"), str(families), now),
    )
    if measured.returncode != 0:
        raise RuntimeError(f"collector snapshot {name} failed: {measured.stderr[-2000:]}")
    stats = server.stats()
    members = {
        m.group(1): int(m.group(2).replace(",", ""))
        for m in re.finditer(
            r"^(\S+): run \d+ complete .*?: ([\d,]+) members", measured.stdout, re.M
        )
    }
    plan = [line for line in measured.stderr.splitlines() if line.strip()]
    return SnapshotRun(
        name,
        ", ".join(members),
        stats["requests"],
        stats["bytes"],
        measured,
        members,
        note=" / ".join(plan[:3]),
    )


def _naive(server: Server, work: Path) -> SnapshotRun:
    db = work / "naive.duckdb"
    server.reset()
    measured = run_measured(
        [
            sys.executable,
            "-m",
            "bench.naive",
            "--endpoint",
            server.url,
            "--db",
            str(db),
            "--date",
            NOW[:10],
            "--author",
            "Qwen",
        ],
        env=_env(server, str(work / "hf"), ""),
    )
    if measured.returncode != 0:
        raise RuntimeError(f"naive snapshot failed: {measured.stderr[-2000:]}")
    stats = server.stats()
    rows = int(measured.stdout.split()[0])
    return SnapshotRun("naive", "qwen", stats["requests"], stats["bytes"], measured, {"qwen": rows})


def run(server: Server, models: int, lineage: bool, naive: bool) -> list[SnapshotRun]:
    """Hub and lineage for qwen, auto for qwen+llama the next day (knowing the Hub's size
    from the first crawl: one crawl for both), official-only, and the baseline."""
    out = []
    with tempfile.TemporaryDirectory(prefix="bench-snapshot-") as tmp:
        work = Path(tmp)
        out.append(_collector(server, work, "hub", ["-f", "qwen", "--strategy", "hub"]))
        out.append(
            _collector(
                server,
                work,
                "auto (next day)",
                ["-f", "qwen", "-f", "llama"],
                db_name="hub",
                now=NEXT_DAY,
            )
        )
        if lineage:
            out.append(_collector(server, work, "lineage", ["-f", "qwen", "--strategy", "lineage"]))
        out.append(_collector(server, work, "official-only", ["-f", "qwen", "--official-only"]))
        if naive:
            out.append(_naive(server, work))
        _check_same_members(work, out)
    return out


def _check_same_members(work: Path, runs: list[SnapshotRun]) -> None:
    """Every strategy must find the same qwen members (the benchmark is void otherwise)."""
    found = {r.name: r.members.get("qwen") for r in runs if r.name != "official-only"}
    found = {k: v for k, v in found.items() if v is not None}
    if len(set(found.values())) != 1:
        raise RuntimeError(f"strategies disagree on qwen's members: {found}")
    sets = []
    for name in ("hub", "lineage"):
        db = work / f"{name}.duckdb"
        if db.exists():
            with duckdb.connect(str(db), read_only=True) as con:
                sets.append(
                    set(
                        con.execute(
                            "SELECT repo_id FROM members_daily WHERE family = 'qwen'"
                        ).fetchall()
                    )
                )
    if len(sets) == 2 and sets[0] != sets[1]:
        raise RuntimeError("hub and lineage found different qwen members")


def table(runs: list[SnapshotRun], models: int) -> list[str]:
    pages = math.ceil(models / 1000)
    lines = [
        "| run | families | members | requests | vs ceil(N/1000) | MB received | wall s "
        "| CPU s | CPU ms / 1,000 models | peak RSS MB |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        m = r.measured
        members = ", ".join(f"{v:,}" for v in r.members.values())
        lines.append(
            f"| {r.name} | {r.families} | {members} | {r.requests:,} | {r.requests / pages:.3f} "
            f"| {r.bytes / 1e6:,.1f} | {m.wall:,.1f} | {m.cpu:,.1f} "
            f"| {1000 * m.cpu / (models / 1000):,.1f} | {m.peak_rss_mb:,.0f} |"
        )
    return lines
