"""Opening the DuckDB warehouse, for reading or writing, with clear errors.

DuckDB allows one writing process per file, and a reader cannot open a file that a writer
holds. Writers hold the file only for a snapshot's final commit, and both readers and
writers wait (briefly, with retries) for the lock instead of failing at once.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from collector.errors import WarehouseBusy, WarehouseError
from collector.store import migrations, views

DB_ENV = "COLLECTOR_DB"
DEFAULT_DB = "warehouse.duckdb"


def db_path(path: str | os.PathLike[str] | None = None) -> Path:
    """The warehouse in force: an explicit path, else $COLLECTOR_DB, else ./warehouse.duckdb."""
    return Path(path or os.environ.get(DB_ENV) or DEFAULT_DB)


def lock_wait() -> float:
    """Seconds to wait for another process's lock ($COLLECTOR_LOCK_WAIT, default 30)."""
    try:
        return float(os.environ.get("COLLECTOR_LOCK_WAIT", "30"))
    except ValueError:
        return 30.0


def _connect(path: Path, read_only: bool, wait: float) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + wait
    delay = 0.05
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            text = str(exc)
            if "lock" not in text.lower():
                raise WarehouseError(f"cannot open warehouse {path}: {_first_line(text)}") from None
            if time.monotonic() >= deadline:
                holder = _lock_holder(text)
                why = (
                    "a snapshot is committing"
                    if read_only
                    else "another process is reading or writing it"
                )
                raise WarehouseBusy(
                    f"warehouse {path} is busy{holder}; waited {wait:g}s "
                    f"({why}; try again, or raise COLLECTOR_LOCK_WAIT)"
                ) from None
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
        except duckdb.Error as exc:
            raise WarehouseError(f"cannot open warehouse {path}: {_first_line(str(exc))}") from None


@contextmanager
def reader(path: str | os.PathLike[str] | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to an existing, up-to-date warehouse."""
    p = db_path(path)
    if not p.exists():
        raise WarehouseError(f"no warehouse at {p}; run `collector snapshot` first or pass --db")
    if p.is_dir():
        raise WarehouseError(f"cannot open warehouse {p}: it is a directory")
    con = _connect(p, read_only=True, wait=lock_wait())
    try:
        todo = migrations.pending(con)
        if todo:
            raise WarehouseError(
                f"warehouse {p} uses an older schema (missing {todo[0]}); "
                f"run `collector migrate --db {p}`"
            )
        if views.installed(con) != views.VERSION:
            raise WarehouseError(
                f"warehouse {p} holds older views; run `collector migrate --db {p}`"
            )
        yield con
    finally:
        con.close()


@contextmanager
def writer(path: str | os.PathLike[str] | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A writing connection, with every pending migration applied first."""
    p = db_path(path)
    if p.is_dir():
        raise WarehouseError(f"cannot open warehouse {p}: it is a directory")
    if p.exists() and p.stat().st_size > 0 and not _looks_like_duckdb(p):
        raise WarehouseError(f"cannot open warehouse {p}: not a DuckDB file")
    con = _connect(p, read_only=False, wait=lock_wait())
    try:
        migrations.migrate(con)
        yield con
    finally:
        con.close()


def is_simulated(con: duckdb.DuckDBPyConnection) -> bool:
    """True for a warehouse of simulated data (the shipped example)."""
    row = con.execute("SELECT value FROM meta WHERE key = 'simulated'").fetchall()
    return bool(row and row[0][0] == "true")


def _looks_like_duckdb(path: Path) -> bool:
    # DuckDB files carry the magic "DUCK" at byte 8 of the header.
    with path.open("rb") as f:
        head = f.read(12)
    return len(head) >= 12 and head[8:12] == b"DUCK"


def _lock_holder(text: str) -> str:
    marker = "(PID "
    if marker in text:
        pid = text.split(marker, 1)[1].split(")", 1)[0]
        return f" (held by process {pid})"
    return ""


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "unknown error"
