"""Where an unfinished snapshot waits to be resumed: one stage file per crawl.

A snapshot stages what it fetches in `<warehouse>.stage/<name>.duckdb` (the family's
name, or `_hub` for a crawl of the whole Hub: no family name starts with "_") and deletes
the file once its runs are committed to the warehouse. A file left behind (the Hub failed,
the process was killed, the machine rebooted) is picked up by the next `collector
snapshot` (`--resume` is the default), which goes on from the last committed page with
the snapshot's original time; `collector snapshot --fresh` discards it and starts over.
Each stage carries a `stage_id` that the committed runs record, so a stage whose runs
were committed just before a crash is recognised and never committed twice.
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


def stage_path(db: str | os.PathLike[str] | None, name: str) -> Path:
    """The stage file of an unfinished crawl, beside the warehouse."""
    p = warehouse.db_path(db)
    return p.with_name(p.name + ".stage") / f"{name}.duckdb"


def fingerprint(family: Family | None, strategy: str) -> str:
    """What a stage must have been made for to be resumed: the family's definition, or
    (`family` None) nothing but the strategy, for a crawl of the whole Hub that serves
    any families."""
    made_for: dict[str, object] = {"strategy": strategy, "version": STAGE_VERSION}
    if family is not None:
        spec = asdict(family)
        spec.pop("source", None)
        made_for["family"] = spec
    return json.dumps(made_for, sort_keys=True)


def open_stage(
    path: Path, wanted: str, now: datetime, resume: bool
) -> tuple[OpenStage, str | None]:
    """The stage to snapshot into, and why an earlier one was discarded (None if not).

    With `resume`, an existing stage made for the same `fingerprint` is continued (its
    failed listings are tried again); anything else starts a new stage.
    """
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
