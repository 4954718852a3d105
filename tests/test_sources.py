"""Runs of other sources land on the one commit path: the day choice and the platforms.

An own Hub snapshot beats an imported day of the same date; a ModelScope run of the same
family and repo ids is another platform, kept apart from the Hugging Face numbers that
every report shows.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from collector.errors import UsageError
from collector.snapshot.commit import RunResult, commit
from collector.store import warehouse
from tests.conftest import Cli


def members(*rows: tuple[str, str, int]) -> pa.Table:
    """Members (repo_id, role, downloads_all_time); derivatives are fine-tunes of acme/a."""
    return pa.table(
        {
            "hub_id": pa.array([None] * len(rows), pa.string()),
            "repo_id": [r[0] for r in rows],
            "author": [r[0].split("/")[0] for r in rows],
            "created_at": pa.array([datetime(2025, 1, 1)] * len(rows), pa.timestamp("us")),
            "pipeline_tag": pa.array([None] * len(rows), pa.string()),
            "library_name": pa.array([None] * len(rows), pa.string()),
            "downloads_30d": pa.array([None] * len(rows), pa.int64()),
            "downloads_all_time": pa.array([r[2] for r in rows], pa.int64()),
            "likes": pa.array([None] * len(rows), pa.int64()),
            "role": [r[1] for r in rows],
            "relation": [None if r[1] == "official" else "finetune" for r in rows],
            "depth": [0 if r[1] == "official" else 1 for r in rows],
            "parent_id": [None if r[1] == "official" else "acme/a" for r in rows],
        }
    )


NO_EDGES = pa.table(
    {
        "child_id": pa.array([], pa.string()),
        "parent_id": pa.array([], pa.string()),
        "relation": pa.array([], pa.string()),
    }
)


def run(when: str, source: str, **kw: str) -> RunResult:
    return RunResult(
        None, "acme", datetime.fromisoformat(when), "complete", "import", source=source, **kw
    )


def test_sources_share_the_commit_path_and_keep_their_platforms(
    cli: Cli, isolated_env: Path
) -> None:
    with warehouse.writer(isolated_env) as con:
        pulse = run("2026-01-01T06:00", "modelpulse", revision="abc123", lineage_basis="latest")
        commit(
            con, pulse, members(("acme/a", "official", 100), ("u/b", "derivative", 10)), NO_EDGES
        )
        own = run("2026-01-01T12:00", "hub")
        commit(con, own, members(("acme/a", "official", 120), ("u/b", "derivative", 10)), NO_EDGES)
        commit(
            con,
            run("2026-01-02T06:00", "modelpulse"),
            members(("acme/a", "official", 150), ("u/b", "derivative", 12)),
            NO_EDGES,
        )
        commit(
            con, run("2026-01-02T07:00", "modelscope"), members(("acme/a", "official", 7)), NO_EDGES
        )
        with pytest.raises(UsageError, match="history only moves forward"):
            commit(con, run("2026-01-01T18:00", "hub"), members(), NO_EDGES)
        with pytest.raises(UsageError, match="unknown source 'elsewhere'"):
            commit(con, run("2026-01-03T06:00", "elsewhere"), members(), NO_EDGES)
    with duckdb.connect(str(isolated_env), read_only=True) as con:
        days = con.execute(
            """SELECT platform, date::VARCHAR, source, run_id, repos, downloads_all_time,
                      new_downloads FROM family_daily ORDER BY platform, date"""
        ).fetchall()
        runs = con.execute(
            "SELECT run_id, source, revision, lineage_basis FROM runs ORDER BY run_id"
        ).fetchall()
        repos = con.execute("SELECT repo_id, platform FROM repos ORDER BY ALL").fetchall()
    assert days == [
        # the own snapshot of 2026-01-01 beats the import of that day
        ("huggingface", "2026-01-01", "hub", 2, 2, 130, None),
        ("huggingface", "2026-01-02", "modelpulse", 3, 2, 162, 32),
        ("modelscope", "2026-01-02", "modelscope", 4, 1, 7, None),
    ]
    assert runs == [
        (1, "modelpulse", "abc123", "latest"),
        (2, "hub", None, None),
        (3, "modelpulse", None, None),
        (4, "modelscope", None, None),
    ]
    assert repos == [
        ("acme/a", "huggingface"),
        ("acme/a", "modelscope"),
        ("u/b", "huggingface"),
    ]
    # every report is of the Hugging Face platform
    report = cli("report", "-f", "acme", "--format", "csv").stdout.splitlines()
    assert report[1:] == ["2026-01-01,2,130,120,10,0,0,", "2026-01-02,2,162,150,12,0,0,32"]
