"""Opening the DuckDB warehouse, for reading or writing, and saying clearly what went wrong.

DuckDB allows one writing process per file, and a reader cannot open a file that a writer
holds. Writers hold the file only for a snapshot's final commit, and both readers and
writers wait (briefly, with retries) for the lock instead of failing at once.

A failure of the storage itself (a full disk, a file-size limit, a read-only mount, a
damaged file, a file from a newer DuckDB) becomes one sentence that says what happened and
what to do; the file is never repaired or rewritten behind the user's back.
"""

from __future__ import annotations

import os
import re
import struct
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from collector.errors import CollectorError, StorageFailure, WarehouseBusy, WarehouseError
from collector.store import migrations, views

DB_ENV = "COLLECTOR_DB"
DEFAULT_DB = "warehouse.duckdb"
# The OS errors a disk or mount gives, as DuckDB and Python spell them, and what they mean.
_CAUSES = [
    ("No space left on device", "the disk is full"),
    ("File too large", "a file-size limit was reached (ulimit -f)"),
    ("Read-only file system", "the file system is mounted read-only"),
    ("Permission denied", "the file or its folder is not writable"),
    ("Operation not permitted", "the file or its folder is not writable"),
    ("Not a directory", "a file stands where a folder should be"),
    ("File exists", "a file stands where a folder should be"),
    ("Disk quota exceeded", "the disk quota is exceeded"),
]
_RESTORE = " (restore your last backup with `collector restore`, or pass --db the right file)"
_PATH_RE = re.compile(r'"(/[^"]+)"')


def db_path(path: str | os.PathLike[str] | None = None) -> Path:
    """The warehouse in force: an explicit path, else $COLLECTOR_DB, else ./warehouse.duckdb."""
    return Path(path or os.environ.get(DB_ENV) or DEFAULT_DB)


def wal_path(path: Path) -> Path:
    """DuckDB's write-ahead log beside a warehouse: committed runs not yet in the file."""
    return path.with_name(path.name + ".wal")


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
        except duckdb.Error as exc:
            text = str(exc)
            if not _is_lock_error(text):
                raise open_error(path, exc, read_only) from None
            if time.monotonic() >= deadline:
                holder = _lock_holder(text)
                why = (
                    "a snapshot is committing"
                    if read_only
                    else "another process has it open: a snapshot, or a reader such as a "
                    "duckdb shell or a notebook"
                )
                raise WarehouseBusy(
                    f"warehouse {path} is busy{holder}; waited {wait:g}s "
                    f"({why}; try again, or raise COLLECTOR_LOCK_WAIT)"
                ) from None
            time.sleep(delay)
            delay = min(delay * 2, 0.5)


def _is_lock_error(text: str) -> bool:
    # DuckDB: 'Could not set lock on file "...": Conflicting lock is held in ... (PID 12)'
    low = text.lower()
    return "could not set lock" in low or "conflicting lock" in low


def open_error(path: Path, exc: BaseException, read_only: bool = True) -> CollectorError:
    """Why DuckDB refused to open the warehouse, and what to do about it."""
    text = str(exc)
    first = _first_line(text)
    if "newer version of DuckDB" in text or "storage version" in text.lower():
        return WarehouseError(_newer_duckdb(path, text))
    if "WAL does not match" in text:
        wal = wal_path(path)
        return WarehouseError(
            f"warehouse {path} has a write-ahead log {wal.name} that belongs to another "
            f"database file (the warehouse was replaced while its log stayed?); both were "
            f"left untouched: move {wal} aside (it is not this file's log) and run again"
        )
    if _is_damage(text):
        return WarehouseError(
            f"warehouse {path} is damaged ({_strip_kind(first)}); it was left untouched: "
            f"restore your last backup (`collector restore BACKUP --db {path} --force`) "
            "or move the file aside to start a new warehouse"
        )
    cause = _cause(exc)
    if cause is not None and not read_only:
        return WarehouseError(
            f"cannot open warehouse {path} for writing: {cause} (reading commands still "
            "work); make it writable, or pass --db a writable copy"
        )
    return WarehouseError(f"cannot open warehouse {path}: {first}")


def _is_damage(text: str) -> bool:
    return any(
        marker in text
        for marker in ("not a valid DuckDB database", "Corrupt", "checksum", "Could not read")
    )


def _newer_duckdb(path: Path, text: str) -> str:
    info = header(path) or {}
    writer = info.get("library") or "a newer DuckDB"
    readable = re.search(r"between (\d+) and (\d+)", text)
    version = duckdb.__version__
    span = f", which reads storage versions {readable[1]} to {readable[2]}" if readable else ""
    return (
        f"warehouse {path} was written by DuckDB {writer} (storage version "
        f"{info.get('storage', '?')}), newer than this install's DuckDB {version}{span}; "
        f"upgrade duckdb (pip install -U duckdb), or move it with the newer DuckDB: "
        f"ATTACH '{path}' AS src (READ_ONLY); ATTACH '{path}.v{version}' AS dst "
        f"(STORAGE_VERSION 'v{version}'); COPY FROM DATABASE src TO dst; "
        f"then pass --db {path}.v{version}"
    )


def header(path: Path) -> dict[str, object] | None:
    """What a DuckDB file's main header says: storage version number and the library that
    wrote it (None when the file is too short or not a DuckDB file)."""
    try:
        with path.open("rb") as f:
            head = f.read(116)
    except OSError:
        return None
    if len(head) < 116 or head[8:12] != b"DUCK":
        return None
    (storage,) = struct.unpack_from("<Q", head, 12)
    library = head[52:84].split(b"\0", 1)[0].decode("ascii", "replace")
    return {"storage": storage, "library": library or None}


@contextmanager
def reader(
    path: str | os.PathLike[str] | None = None, *, current: bool = True
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to an existing warehouse, up to date unless `current` is
    False (a backup copies any schema)."""
    p = db_path(path)
    if not p.exists():
        raise WarehouseError(f"no warehouse at {p}; run `collector snapshot` first or pass --db")
    if p.is_dir():
        raise WarehouseError(f"cannot open warehouse {p}: it is a directory")
    if not _looks_like_duckdb(p):
        raise WarehouseError(f"cannot open warehouse {p}: not a DuckDB file{_RESTORE}")
    con = _connect(p, read_only=True, wait=lock_wait())
    try:
        if not current:
            yield con
            return
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
    """A writing connection, with every pending migration applied first.

    On leaving, what was committed is checkpointed into the file, so that a disk that
    cannot take it is reported now (the commit itself is safe in the write-ahead log).
    """
    p = db_path(path)
    if p.is_dir():
        raise WarehouseError(f"cannot open warehouse {p}: it is a directory")
    if p.exists() and p.stat().st_size > 0 and not _looks_like_duckdb(p):
        raise WarehouseError(f"cannot open warehouse {p}: not a DuckDB file{_RESTORE}")
    con = _connect(p, read_only=False, wait=lock_wait())
    try:
        try:
            migrations.migrate(con)
        except duckdb.Error as exc:
            raise StorageFailure(
                f"cannot update the schema of warehouse {p}: {describe(exc)}; nothing was "
                "changed; fix that and run the command again"
            ) from None
        yield con
        try:
            con.execute("CHECKPOINT")
        except duckdb.Error as exc:
            raise StorageFailure(
                f"the snapshot is committed and safe in {wal_path(p).name}, but writing it "
                f"into {p} failed: {describe(exc)}; never delete {wal_path(p).name}: once "
                "that is fixed, the next command that opens the warehouse finishes the job"
            ) from None
    finally:
        con.close()


@contextmanager
def storage_errors(doing: str) -> Iterator[None]:
    """Turn a DuckDB or OS failure inside `doing` (e.g. "snapshot") into one sentence.

    Every write to the warehouse is one transaction, so a failure leaves nothing of it.
    """
    try:
        yield
    except (duckdb.Error, OSError) as exc:
        raise StorageFailure(
            f"{doing} failed: {describe(exc)}; nothing of it was written and the history is "
            "intact; fix that and run it again (`collector snapshot --resume` reuses what "
            "was fetched)"
        ) from None


def describe(exc: BaseException) -> str:
    """What a storage failure means: the file and the cause when known, else DuckDB's line.

    A failed commit often surfaces as a later error (DuckDB's "no transaction is active"
    on the rollback), so the whole chain of exceptions is searched for the OS cause.
    """
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and seen not in chain:
        chain.append(seen)
        seen = seen.__context__ or seen.__cause__
    for e in chain:
        cause = _cause(e)
        if cause is not None:
            where = _where(e)
            return f"cannot write {where}: {cause}" if where else cause
    line = _strip_kind(_first_line(str(exc)))
    if _is_damage(str(exc)):
        return (
            f"a file is damaged ({line}); it was left untouched: restore your last backup "
            "(`collector restore BACKUP --force`)"
        )
    return line


def _cause(exc: BaseException) -> str | None:
    text = str(exc) if not isinstance(exc, OSError) else (exc.strerror or str(exc))
    for needle, meaning in _CAUSES:
        if needle.lower() in text.lower():
            return meaning
    return None


def _where(exc: BaseException) -> str | None:
    if isinstance(exc, OSError) and exc.filename:
        return str(exc.filename)
    found = _PATH_RE.search(str(exc))
    return found[1] if found else None


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


def _strip_kind(line: str) -> str:
    # "IO Error: Could not ..." -> "Could not ...": the kind says nothing to a user
    return re.sub(r"^[A-Za-z ]*Error: ", "", line)
