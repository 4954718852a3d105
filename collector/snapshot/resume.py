"""Where an unfinished snapshot waits to be resumed: one stage file per family.

A snapshot stages what it fetches in `<warehouse>.stage/<family>.duckdb` and deletes the
file once its run is committed to the warehouse. A file left behind (the Hub failed, the
process was killed, the machine rebooted) is picked up by the next `collector snapshot`
(`--resume` is the default), which goes on from the last committed page with the
snapshot's original time; `collector snapshot --fresh` discards it and starts over. Each stage carries a `stage_id` that
the committed run records, so a stage whose run was committed just before a crash is
recognised and never committed twice.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from collector.errors import CollectorError
from collector.families import Family
from collector.snapshot import crawl
from collector.snapshot.stage import Stage
from collector.store import warehouse

STAGE_VERSION = "1"


@dataclass
class OpenStage:
    """A stage ready for a snapshot: new, or resumed from an earlier attempt."""

    stage: Stage
    path: Path
    stage_id: str
    started_at: datetime
    resumed: bool


def stage_path(db: str | os.PathLike[str] | None, family: str) -> Path:
    """The stage file of a family's unfinished snapshot, beside the warehouse."""
    p = warehouse.db_path(db)
    return p.with_name(p.name + ".stage") / f"{family}.duckdb"


def fingerprint(family: Family, strategy: str) -> str:
    """What a stage must have been made for to be resumed: the family's definition."""
    spec = asdict(family)
    spec.pop("source", None)
    return json.dumps(
        {"family": spec, "strategy": strategy, "version": STAGE_VERSION}, sort_keys=True
    )


def open_stage(
    path: Path, family: Family, strategy: str, now: datetime, resume: bool
) -> tuple[OpenStage, str | None]:
    """The stage to snapshot into, and why an earlier one was discarded (None if not).

    With `resume`, an existing stage made for the same family definition is continued
    (its failed listings are tried again); anything else starts a new stage.
    """
    wanted = fingerprint(family, strategy)
    discarded = None
    if path.exists():
        stage = _open_existing(path)
        if stage is not None:
            ok = crawl.get_meta(stage, "fingerprint") == wanted
            started = crawl.get_meta(stage, "started_at")
            stage_id = crawl.get_meta(stage, "stage_id")
            if resume and ok and started and stage_id:
                crawl.retry_failed(stage)
                return OpenStage(stage, path, stage_id, datetime.fromisoformat(started), True), None
            stage.close()
            discarded = (
                ("its family definition changed" if not ok else "--fresh was given")
                if started
                else "it was empty"
            )
        else:
            discarded = "its file was unreadable"
        discard(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    stage = _connect(path)
    crawl.prepare(stage)
    stage_id = uuid.uuid4().hex
    for key, value in (
        ("fingerprint", wanted),
        ("started_at", now.isoformat()),
        ("stage_id", stage_id),
    ):
        crawl.set_meta(stage, key, value)
    return OpenStage(stage, path, stage_id, now, False), discarded


def discard(path: Path) -> None:
    """Delete a stage file (and its write-ahead log)."""
    for p in (path, path.with_name(path.name + ".wal")):
        p.unlink(missing_ok=True)
    try:
        path.parent.rmdir()  # only when no other family's stage is left
    except OSError:
        pass


def _open_existing(path: Path) -> Stage | None:
    try:
        stage = _connect(path)
        crawl.prepare(stage)
        return stage
    except CollectorError:
        raise
    except duckdb.Error:
        return None  # a stage is scratch: an unreadable one is started over


def _connect(path: Path) -> Stage:
    try:
        return Stage(path)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise CollectorError(
                f"another snapshot of this family is running (its stage {path} is locked)"
            ) from None
        raise
