"""Storage and ingest: 30 daily snapshots of a family, 20% of its repos changing each day.

Each day goes through collector's own write path (Stage, then the snapshot commit:
repos, counters only when changed, membership intervals, the rollup), minus the HTTP.
The same history is then laid out every row every day, as the naive baseline keeps it
and in collector's own schema, and the files are compared per repo-day.
"""

from __future__ import annotations

import os
import random
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from bench import naive
from collector.families import Family
from collector.snapshot.commit import RunResult, commit_stage
from collector.snapshot.stage import Stage
from collector.sources.items import Edge, RepoRecord
from collector.store import warehouse

FAMILY = Family("store", ("Store",))
START = datetime(2026, 1, 1, 12, 0)
OFFICIAL = 400


@dataclass
class StorageResult:
    repos: int
    days: int
    change: float
    file_bytes: int = 0  # collector's warehouse file as written (with DuckDB's free blocks)
    used_bytes: int = 0  # its blocks in use
    used_by_day: list[int] = field(default_factory=list)
    counts_rows: int = 0
    tables: dict[str, int] = field(default_factory=dict)  # bytes of each table, on its own
    every_row_counts_bytes: int = 0  # the counters table with every row every day
    naive_bytes: int = 0  # the naive baseline's table (date, repo_id, counters)
    stage_rows_per_s: float = 0.0
    first_commit_rows_per_s: float = 0.0
    day_commit_s: list[float] = field(default_factory=list)
    naive_insert_rows_per_s: float = 0.0

    @property
    def every_row_used_bytes(self) -> int:
        """The warehouse with its counters stored every row every day instead."""
        return self.used_bytes - self.tables["counts"] + self.every_row_counts_bytes


def _records(n: int, day: int, values: list[list[int]], rng: random.Random) -> list[RepoRecord]:
    out = []
    for i in range(n):
        author = "Store" if i < OFFICIAL else f"user{i % 5000}"
        parent = (
            () if i < OFFICIAL else (Edge(_repo(rng.randrange(min(i, OFFICIAL * 4))), "finetune"),)
        )
        d30, total, likes = values[i]
        out.append(
            RepoRecord(
                repo_id=_repo(i),
                hub_id=f"{0x66A000000000000000000000 + i:024x}",
                author=author,
                created_at=datetime(2025, 1, 1) + timedelta(minutes=i),
                last_modified=None,
                pipeline_tag="text-generation",
                library_name="transformers",
                downloads_30d=d30,
                downloads_all_time=total,
                likes=likes,
                parents=parent,
            )
        )
    return out


def _repo(i: int) -> str:
    return f"Store/base-{i}" if i < OFFICIAL else f"user{i % 5000}/derived-{i}"


def _size(path: Path) -> int:
    return os.path.getsize(path) + (
        os.path.getsize(f"{path}.wal") if Path(f"{path}.wal").exists() else 0
    )


def run(repos: int, days: int = 30, change: float = 0.2, seed: int = 11) -> StorageResult:
    """`days` daily commits, then the size of each layout."""
    res = StorageResult(repos, days, change)
    rng = random.Random(seed)
    values = [
        [rng.randrange(1, 10**5), rng.randrange(10**3, 10**8), rng.randrange(0, 500)]
        for _ in range(repos)
    ]
    with tempfile.TemporaryDirectory(prefix="bench-storage-") as tmp:
        db = Path(tmp) / "compact.duckdb"
        for day in range(days):
            if day:
                for i in rng.sample(range(repos), int(repos * change)):
                    v = values[i]
                    v[0] = max(0, v[0] + rng.randrange(-500, 1000))
                    v[1] += rng.randrange(1, 5000)
                    v[2] += rng.random() < 0.2
            records = _records(repos, day, values, random.Random(seed))
            stage = Stage()
            t = time.perf_counter()
            for k in range(0, repos, 1000):
                stage.add(records[k : k + 1000])
            stage.finish()
            stage_s = time.perf_counter() - t
            result = RunResult(None, FAMILY.name, START + timedelta(days=day), "complete", "bench")
            t = time.perf_counter()
            with warehouse.writer(db) as con:
                commit_stage(con, stage, FAMILY, result)
                commit_s = time.perf_counter() - t
                con.execute("CHECKPOINT")
                res.used_by_day.append(_used(con))
            stage.close()
            if day == 0:
                res.stage_rows_per_s = repos / stage_s
                res.first_commit_rows_per_s = repos / commit_s
            else:
                res.day_commit_s.append(commit_s)
        with duckdb.connect(str(db)) as con:
            res.counts_rows = con.execute("SELECT count(*) FROM counts").fetchall()[0][0]
            res.used_bytes = _used(con)
            names = [
                t
                for (t,) in con.execute(
                    "SELECT table_name FROM duckdb_tables() WHERE NOT temporary ORDER BY 1"
                ).fetchall()
            ]
        res.file_bytes = _size(db)
        for name in names:
            res.tables[name] = _table_size(db, f"SELECT * FROM src.{name}", Path(tmp) / "t.duckdb")
        res.every_row_counts_bytes = _table_size(
            db,
            """SELECT m.repo_key, m.run_id, c.downloads_30d, c.downloads_all_time, c.likes
               FROM (SELECT repo_key, run_id FROM src.members_daily) m
               ASOF JOIN src.counts c ON c.repo_key = m.repo_key AND c.run_id <= m.run_id
               ORDER BY m.run_id, m.repo_key""",
            Path(tmp) / "t.duckdb",
        )
        res.naive_bytes = _table_size(
            db,
            """SELECT date, repo_id, downloads_30d, downloads_all_time, likes
               FROM src.members_daily ORDER BY date, repo_id""",
            Path(tmp) / "t.duckdb",
        )
        res.naive_insert_rows_per_s = _naive_insert_rate(Path(tmp) / "naive-rate.duckdb", values)
    return res


def _used(con: duckdb.DuckDBPyConnection) -> int:
    """Bytes of the blocks in use (PRAGMA database_size)."""
    row = con.execute("SELECT block_size, used_blocks FROM pragma_database_size()").fetchall()[0]
    return int(row[0]) * int(row[1])


def _table_size(src: Path, select: str, dst: Path) -> int:
    """Bytes of used blocks a query's rows take as the only table of a fresh file."""
    dst.unlink(missing_ok=True)
    with duckdb.connect(str(dst)) as con:
        con.execute(f"ATTACH '{src}' AS src (READ_ONLY)")
        con.execute(f"CREATE TABLE t AS {select}")
        con.execute("DETACH src")
        con.execute("CHECKPOINT")
        size = _used(con)
    dst.unlink()
    return size


def _naive_insert_rate(db: Path, values: list[list[int]], rows: int = 2_000) -> float:
    """Rows per second of the baseline's one INSERT per row."""
    data = [(START.date(), _repo(i), *values[i % len(values)]) for i in range(rows)]
    t = time.perf_counter()
    naive.insert_rows(str(db), data)
    return rows / (time.perf_counter() - t)


def table(r: StorageResult) -> list[str]:
    repo_days = r.repos * r.days
    rows = [
        (
            "counters, only when changed (collector's `counts`)",
            r.tables["counts"],
            r.every_row_counts_bytes,
        ),
        (
            "counters, every row every day (same columns)",
            r.every_row_counts_bytes,
            r.every_row_counts_bytes,
        ),
        ("whole collector warehouse (blocks in use)", r.used_bytes, r.every_row_used_bytes),
        (
            "whole warehouse, counters every row every day",
            r.every_row_used_bytes,
            r.every_row_used_bytes,
        ),
        ("naive baseline table (date, repo_id, counters)", r.naive_bytes, r.naive_bytes),
    ]
    lines = ["| layout | MB | bytes per repo-day | vs the every-row form |", "|---|---:|---:|---:|"]
    for name, size, every in rows:
        lines.append(
            f"| {name} | {size / 1e6:,.1f} | {size / repo_days:,.2f} | {size / every:.1%} |"
        )
    return lines
