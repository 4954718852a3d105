"""Backups of the warehouse: a consistent copy taken while snapshots go on, and its restore.

A backup is a folder `DIR/<warehouse>-<UTC time>/` holding `warehouse.duckdb`, one
self-contained DuckDB file, and `manifest.json` (rows per table, schema migrations, the
DuckDB and collector versions), written last: a folder without it is unfinished and never
restored or counted. The copy is taken under a read lock, so no snapshot commits while the
file and its write-ahead log are copied (a committing snapshot is waited for, and the next
one waits for the copy); the copy then folds that log into itself.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from collector import __version__
from collector.errors import StorageFailure, UsageError, WarehouseError
from collector.scheduling import lockfile
from collector.store import migrations, warehouse

FILE = "warehouse.duckdb"
MANIFEST = "manifest.json"
PARTIAL = ".partial"


def backup(
    db: str | os.PathLike[str] | None,
    directory: str | os.PathLike[str],
    *,
    keep: int | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Copy the warehouse into a new backup folder under `directory`; keep the newest
    `keep` backups of this warehouse there (all when None). Returns the manifest."""
    src = warehouse.db_path(db)
    folder = Path(directory)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"backup folder {folder} is a file")
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    name = _free_name(folder, f"{src.stem}-{moment:%Y%m%dT%H%M%SZ}")
    partial = folder / (name + PARTIAL)
    try:
        partial.mkdir(parents=True)
        copy = partial / FILE
        # a read lock: no commit can start while we copy (an older schema is copied as it is)
        with warehouse.reader(src, current=False):
            shutil.copyfile(src, copy)
            if warehouse.wal_path(src).exists():
                shutil.copyfile(warehouse.wal_path(src), warehouse.wal_path(copy))
        con = duckdb.connect(str(copy))  # replays the copied log into the copy
        try:
            con.execute("CHECKPOINT")
            manifest: dict[str, Any] = {
                "warehouse": str(src.resolve()),
                "created_at": moment.isoformat(timespec="seconds"),
                "collector": __version__,
                "duckdb": duckdb.__version__,
                "migrations": migrations.applied(con),
                "tables": table_rows(con),
            }
        finally:
            con.close()
        manifest["bytes"] = copy.stat().st_size
        _write_json(partial / MANIFEST, manifest)
        os.replace(partial, folder / name)
    except (OSError, duckdb.Error) as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise StorageFailure(
            f"backup of {src} into {folder} failed: {warehouse.describe(exc)}; "
            "the warehouse is untouched"
        ) from None
    except BaseException:  # e.g. no warehouse there, or busy: no unfinished folder stays
        shutil.rmtree(partial, ignore_errors=True)
        raise
    manifest["path"] = str(folder / name)
    manifest["removed"] = prune(folder, src.stem, keep) if keep else []
    return manifest


def restore(
    source: str | os.PathLike[str], db: str | os.PathLike[str] | None, *, force: bool = False
) -> dict[str, Any]:
    """Put a backup in place as the warehouse `db` (the newest backup when `source` is a
    folder of backups). An existing warehouse is replaced only with `force`, and is kept
    beside it as `<warehouse>.before-restore-<time>`. Returns the backup's manifest."""
    chosen = find_backup(Path(source))
    manifest = verify(chosen)
    target = warehouse.db_path(db)
    if target.is_dir():
        raise UsageError(f"cannot restore into {target}: it is a directory")
    if target.exists() and not force:
        raise UsageError(
            f"warehouse {target} already exists; pass --force to replace it "
            "(it is kept beside it as .before-restore-TIME)"
        )
    holder = lockfile.holder(target)
    if holder is not None:
        raise UsageError(
            f"a daemon runs on {target} ({holder.describe()}); stop it before restoring"
        )
    incoming = target.with_name(target.name + ".restoring")
    moved: list[str] = []
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(chosen / FILE, incoming)
        with open(incoming, "rb") as f:
            os.fsync(f.fileno())
        if target.exists():
            _check_unused(target)
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            for old in (target, warehouse.wal_path(target)):
                if old.exists():
                    aside = old.with_name(old.name + f".before-restore-{stamp}")
                    os.replace(old, aside)
                    moved.append(str(aside))
        os.replace(incoming, target)
    except (OSError, duckdb.Error) as exc:
        incoming.unlink(missing_ok=True)
        raise StorageFailure(
            f"restore of {chosen} into {target} failed: {warehouse.describe(exc)}"
        ) from None
    with warehouse.writer(target):  # brings an older backup's schema up to date
        pass
    return {**manifest, "path": str(chosen), "restored_to": str(target), "moved_aside": moved}


def _check_unused(target: Path) -> None:
    """Refuse to swap a warehouse that another process has open (DuckDB holds an fcntl lock
    on it; a damaged file, which DuckDB cannot open, is probed the same way)."""
    with target.open("rb+") as f:
        try:
            fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise UsageError(
                f"warehouse {target} is open in another process; close it before restoring"
            ) from None
        fcntl.lockf(f, fcntl.LOCK_UN)


def find_backup(source: Path) -> Path:
    """The backup folder itself, or the newest complete backup inside a folder of them."""
    if (source / MANIFEST).is_file():
        return source
    if not source.is_dir():
        raise UsageError(f"no backup at {source}")
    found = sorted(
        (p for p in source.iterdir() if (p / MANIFEST).is_file()),
        key=lambda p: _manifest(p).get("created_at", ""),
    )
    if not found:
        raise UsageError(f"no complete backup in {source} (a backup folder holds {MANIFEST})")
    return found[-1]


def verify(folder: Path) -> dict[str, Any]:
    """A backup's manifest, once its file opens and holds the rows the manifest counts."""
    manifest = _manifest(folder)
    try:
        con = duckdb.connect(str(folder / FILE), read_only=True)
    except duckdb.Error as exc:
        raise WarehouseError(
            f"backup {folder} cannot be opened: {warehouse.describe(exc)}"
        ) from None
    try:
        rows = table_rows(con)
    finally:
        con.close()
    if rows != manifest.get("tables"):
        raise WarehouseError(f"backup {folder} is damaged: its rows differ from {MANIFEST}")
    newer = sorted(
        set(manifest.get("migrations", [])) - {name for name, _ in migrations.MIGRATIONS}
    )
    if newer:
        raise WarehouseError(
            f"backup {folder} was made by a newer collector (schema {newer[-1]}); "
            "upgrade collector to restore it"
        )
    return manifest


def list_backups(directory: Path, stem: str) -> list[Path]:
    """Complete backups of the warehouse named `stem` in `directory`, oldest first."""
    if not directory.is_dir():
        return []
    named = re.compile(re.escape(stem) + r"-\d{8}T\d{6}Z(-\d+)?")
    return sorted(
        p
        for p in directory.iterdir()
        if named.fullmatch(p.name) and p.is_dir() and (p / MANIFEST).is_file()
    )


def prune(directory: Path, stem: str, keep: int) -> list[str]:
    """Delete all but the newest `keep` backups of `stem`; the removed folders."""
    old = list_backups(directory, stem)[:-keep] if keep > 0 else []
    for p in old:
        shutil.rmtree(p)
    return [str(p) for p in old]


def table_rows(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rows of every table in the main schema (what a backup must reproduce)."""
    names = [
        r[0]
        for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' "
            "AND database_name = current_database() ORDER BY table_name"
        ).fetchall()
    ]
    return {n: int(con.execute(f'SELECT count(*) FROM "{n}"').fetchall()[0][0]) for n in names}


def _manifest(folder: Path) -> dict[str, Any]:
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise WarehouseError(f"backup {folder} has no readable {MANIFEST}") from None
    if not isinstance(data, dict):
        raise WarehouseError(f"backup {folder} has no readable {MANIFEST}")
    return data


def _free_name(folder: Path, name: str) -> str:
    candidate, n = name, 1
    while (folder / candidate).exists() or (folder / (candidate + PARTIAL)).exists():
        n += 1
        candidate = f"{name}-{n}"
    return candidate


def _write_json(path: Path, data: dict[str, Any]) -> None:
    with path.open("w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
