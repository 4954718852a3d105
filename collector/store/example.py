"""Builds `warehouse.duckdb.example`: a small, deterministic, SIMULATED warehouse.

We cannot ship real Hub data, so this invents two families (qwen and llama) with official
repos, derivatives up to depth 3, daily growth, new repos, a deletion and a revised
(decreased) counter, over 60 days, and writes them through the same commit path as a real
snapshot. A `meta` row marks the file as simulated; reading commands say so.

    python -m collector.store.example warehouse.duckdb.example
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from collector.families import Family
from collector.snapshot.commit import RunResult, commit_stage
from collector.snapshot.stage import Stage
from collector.sources.items import Edge, RepoRecord
from collector.store import warehouse

START = datetime(2026, 9, 29, 6, 0)
DAYS = 60
SEED = 20260929
RELATIONS = ("finetune", "quantized", "adapter", "merge")


@dataclass
class SimRepo:
    repo_id: str
    created: datetime
    total: int
    rate: float  # expected downloads per day
    likes: int
    parent: str | None = None
    relation: str | None = None
    deleted_on: int | None = None
    recent: list[int] | None = None  # daily downloads of the last 30 days


def _simulate(
    org: str,
    prefix: str,
    n_official: int,
    n_derived: int,
    scale: int,
    history: tuple[int, int],
    rng: random.Random,
) -> list[SimRepo]:
    repos: list[SimRepo] = []
    for i in range(n_official):
        created = START - timedelta(days=rng.randint(30, 700))
        rate = scale * rng.lognormvariate(0, 1.2)
        repos.append(
            SimRepo(
                f"{org}/{prefix}-{i + 1}B",
                created,
                int(rate * rng.randint(*history)),
                rate,
                rng.randint(10, 2000),
            )
        )
    for i in range(n_derived):
        parent = rng.choice(repos)
        relation = rng.choice(RELATIONS)
        created = parent.created + timedelta(days=rng.randint(1, 120))
        rate = parent.rate * rng.uniform(0.001, 0.05)
        age = max(0, (START - created).days)
        repos.append(
            SimRepo(
                f"user{i % 97}/{prefix}-{relation}-{i}",
                created,
                int(rate * age),
                rate,
                rng.randint(0, 50),
                parent.repo_id,
                relation,
            )
        )
    return repos


def build_example(path: str | Path) -> Path:
    """Write the simulated warehouse to `path` (replacing it) and return the path."""
    final = Path(path)
    out = final.with_name(final.name + ".building")
    for p in (final, out):
        for suffix in ("", ".wal"):
            Path(f"{p}{suffix}").unlink(missing_ok=True)
    rng = random.Random(SEED)
    families = {
        "qwen": (
            Family("qwen", ("Qwen",)),
            _simulate("Qwen", "Qwen3", 24, 240, 66_000, (30, 200), rng),
        ),
        "llama": (
            Family("llama", ("meta-llama",)),
            _simulate("meta-llama", "Llama-3", 12, 120, 40_000, (200, 600), rng),
        ),
    }
    # A deletion and a counter revision, so the example shows both kinds of anomaly.
    families["qwen"][1][30].deleted_on = 25
    revised = families["qwen"][1][2]
    with warehouse.writer(out) as con:
        con.execute("INSERT INTO meta VALUES ('simulated', 'true')")
        con.execute(
            "INSERT INTO meta VALUES ('note', 'Simulated data from collector.store.example; "
            "not real Hugging Face figures.')"
        )
    for day in range(DAYS):
        now = START + timedelta(days=day)
        for family, repos in families.values():
            stage = Stage()
            records = []
            for repo in repos:
                if repo.created > now or (repo.deleted_on is not None and day >= repo.deleted_on):
                    continue
                if repo.recent is None:
                    repo.recent = [int(repo.rate)] * 30
                if day > 0:
                    got = int(rng.expovariate(1 / max(repo.rate, 1e-9)))
                    repo.total += got
                    repo.recent = repo.recent[1:] + [got]
                    repo.likes += rng.random() < 0.05
                if repo is revised and day == 40:
                    repo.total = int(repo.total * 0.9)
                records.append(_record(repo, now))
            stage.add(records)
            stage.finish()
            result = RunResult(None, family.name, now, "complete", "simulated")
            with warehouse.writer(out) as con:
                commit_stage(con, stage, family, result)
            stage.close()
    # Many small commits leave free blocks behind: copy into a fresh, compact file.
    con = duckdb.connect()
    con.execute(f"ATTACH '{out}' AS src (READ_ONLY)")
    con.execute(f"ATTACH '{final}' AS dst")
    con.execute("COPY FROM DATABASE src TO dst")
    con.close()
    out.unlink()
    return final


def _record(repo: SimRepo, now: datetime) -> RepoRecord:
    parents = (Edge(repo.parent, repo.relation or "unspecified"),) if repo.parent else ()
    return RepoRecord(
        repo_id=repo.repo_id,
        hub_id=None,
        author=repo.repo_id.split("/", 1)[0],
        created_at=repo.created,
        last_modified=now,
        pipeline_tag="text-generation",
        library_name="transformers",
        downloads_30d=sum(repo.recent or []),
        downloads_all_time=repo.total,
        likes=repo.likes,
        parents=parents,
    )


if __name__ == "__main__":
    target = build_example(sys.argv[1] if len(sys.argv) > 1 else "warehouse.duckdb.example")
    print(f"wrote {target} ({target.stat().st_size / 1e6:.1f} MB, simulated data)")
