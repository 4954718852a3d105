"""The Model Pulse dataset (`modelpulse/model-pulse-data`): a pinned revision, its files
through the huggingface_hub cache, checks of their layout, and its notes on each day.

Everything goes through huggingface_hub, so `HF_ENDPOINT`, `HF_TOKEN`, the cache and
`HF_HUB_OFFLINE` behave as for every other Hub request: a rerun downloads nothing, and an
offline rerun works from the cache. Files are read by DuckDB from the cache (series.py
in this package reads the family's rows).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import httpx2
from huggingface_hub import HfApi, hf_hub_download, scan_cache_dir, try_to_load_from_cache
from huggingface_hub.errors import (
    CacheNotFound,
    EntryNotFoundError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from tqdm.auto import tqdm

from collector.errors import CollectorError, UsageError
from collector.sources.hub import _unreachable, endpoint_from_env

DATASET = "modelpulse/model-pulse-data"
SOURCE = "modelpulse"
# build.py of Model Pulse: "all-time counters start on 2025-02-27"; before it dl_all is NULL.
DL_ALL_FROM = date(2025, 2, 27)
# meta.json `frozen` maps a day to the share of models whose counters did not move since
# the day before; from this share on the day's increments are not real downloads.
FROZEN_SHARE = 0.5
# meta.json lists -> the anomaly kind collector records for those days
DAY_FLAGS = {
    "partial": "partial_day",
    "skip_days": "skipped_day",
    "low_days": "low_day",
    "short_days": "short_day",
}
_INTEGERS = (
    "an integer",
    {
        "TINYINT",
        "SMALLINT",
        "INTEGER",
        "BIGINT",
        "HUGEINT",
        "UTINYINT",
        "USMALLINT",
        "UINTEGER",
        "UBIGINT",
        '"NULL"',
        "NULL",
    },  # NULL: a column holding no value at all
)
_TEXT = ("text", {"VARCHAR"})
_DATE = ("a date", {"DATE", "TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S"})
_TEXT_OR_NULL = ("text", {"VARCHAR", '"NULL"', "NULL"})
# The columns the importer reads from each file, and the DuckDB types it accepts.
LAYOUT: dict[str, dict[str, tuple[str, set[str]]]] = {
    "series": {
        "id": _TEXT,
        "day": _DATE,
        "dl30": _INTEGERS,
        "dl_all": _INTEGERS,
        "likes": _INTEGERS,
    },
    "models.parquet": {"id": _TEXT},
    "children.parquet": {"parent": _TEXT, "id": _TEXT, "base_relation": _TEXT_OR_NULL},
    "renames.parquet": {"old": _TEXT, "new": _TEXT},
}

Progress = Callable[..., None]


class SourceError(CollectorError):
    """The dataset cannot be reached, or is not shaped as the importer expects."""


def no_progress(event: str, **data: Any) -> None:
    """The default progress callback: ignore every event."""


@dataclass
class Pinned:
    """One revision of the dataset and the sizes of its files (bytes, None when unknown)."""

    revision: str
    files: dict[str, int | None]
    offline: bool = False
    dataset: str = DATASET

    def series_files(self, since: date | None, until: date | None) -> list[str]:
        """The monthly series files that can hold days in [since, until], in order."""
        out = []
        for path in sorted(self.files):
            if not (path.startswith("series/") and path.endswith(".parquet")):
                continue
            month = path[len("series/") : -len(".parquet")]
            try:
                first = date.fromisoformat(f"{month}-01")
            except ValueError:
                raise SourceError(
                    f"{DATASET}@{self.revision[:12]}: unexpected file {path} "
                    "(series files are series/YYYY-MM.parquet; the dataset's layout changed)"
                ) from None
            if since and (first.year, first.month) < (since.year, since.month):
                continue
            if until and first > until:
                continue
            out.append(path)
        return out


@dataclass
class Meta:
    """What meta.json says about the dataset's days."""

    days: list[date]
    flags: dict[date, list[str]] = field(default_factory=dict)
    frozen: dict[date, float] = field(default_factory=dict)


def offline() -> bool:
    """True when huggingface_hub's offline mode is on ($HF_HUB_OFFLINE)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "on", "yes", "true"}


def pin(revision: str | None = None) -> Pinned:
    """The dataset revision to import (`revision`, else the newest) and its files.

    Offline, the revision comes from the cache (the one `main` pointed to last time).
    """
    endpoint = endpoint_from_env()
    if offline():
        return _pin_from_cache(revision)
    api = HfApi(endpoint=endpoint)
    try:
        with hub_errors(DATASET, endpoint, revision):
            info = api.dataset_info(DATASET, revision=revision, files_metadata=True)
    except OfflineModeIsEnabled:
        return _pin_from_cache(revision)
    if not info.sha:
        raise SourceError(f"{DATASET}: the Hub's answer carries no revision sha")
    files = {s.rfilename: s.size for s in info.siblings or []}
    return Pinned(info.sha, files)


@contextmanager
def hub_errors(dataset: str, endpoint: str, revision: str | None = None) -> Iterator[None]:
    """The Hub's errors about `dataset` as one line each (offline mode passes through)."""
    try:
        yield
    except OfflineModeIsEnabled:
        raise
    except RevisionNotFoundError:
        raise UsageError(f"--revision {revision}: {dataset} has no such revision") from None
    except RepositoryNotFoundError:
        raise SourceError(f"dataset {dataset} not found at {endpoint}") from None
    except (httpx2.TransportError, OSError) as exc:
        raise SourceError(_unreachable(endpoint, exc)) from None
    except HfHubHTTPError as exc:
        raise SourceError(f"{dataset}: the Hub answered {_first_line(exc)}") from None


def cache_dir() -> str | None:
    """The huggingface_hub cache in force now ($HF_HUB_CACHE, else $HF_HOME/hub, else its
    default): read at each call, as the environment may change after import."""
    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    if os.environ.get("HF_HOME"):
        return os.path.join(os.environ["HF_HOME"], "hub")
    return None


def _newest_cached_revision() -> str | None:
    """The dataset revision cached last that holds meta.json (a pin downloads by sha, so
    the cache has no `main` ref to follow)."""
    try:
        info = scan_cache_dir(cache_dir())
    except (CacheNotFound, OSError):
        return None
    best: tuple[float, str] | None = None
    for repo in info.repos:
        if repo.repo_id != DATASET or repo.repo_type != "dataset":
            continue
        for rev in repo.revisions:
            if any(f.file_name == "meta.json" for f in rev.files):
                if best is None or rev.last_modified > best[0]:
                    best = (rev.last_modified, rev.commit_hash)
    return best[1] if best else None


def _pin_from_cache(revision: str | None) -> Pinned:
    revision = revision or _newest_cached_revision()
    path = cached_file("meta.json", revision) if revision else None
    if path is None:
        wanted = f"revision {revision}" if revision else "any revision"
        raise SourceError(
            f"offline (HF_HUB_OFFLINE) and {wanted} of {DATASET} is not in the cache; "
            "run the backfill once online"
        )
    sha = Path(path).parent.name  # .../snapshots/<sha>/meta.json
    # the files of the revision as far as the cache knows them: series months by meta.json
    # (fetch says which is missing), the others when cached
    files: dict[str, int | None] = {"meta.json": None}
    for day in read_meta(Path(path), sha).days:
        files[f"series/{day:%Y-%m}.parquet"] = None
    for name in ("models.parquet", "children.parquet", "renames.parquet"):
        if cached_file(name, sha) is not None:
            files[name] = None
    return Pinned(sha, files, offline=True)


def cached_file(filename: str, revision: str, dataset: str = DATASET) -> str | None:
    """The path of a dataset file of `revision` in the huggingface_hub cache, if there."""
    found = try_to_load_from_cache(
        dataset, filename, cache_dir=cache_dir(), revision=revision, repo_type="dataset"
    )
    return found if isinstance(found, str) else None


def fetch(
    pinned: Pinned, paths: Iterable[str], progress: Progress = no_progress
) -> dict[str, Path]:
    """Local paths of `paths` at the pinned revision, downloaded unless already cached.

    Emits `progress("bytes", advance=n, total=...)` as bytes arrive (cached files count at
    once), so a bar can show bytes and an ETA.
    """
    wanted = list(paths)
    total = sum(pinned.files.get(p) or 0 for p in wanted)
    progress("download", files=len(wanted), total=total)
    return {path: fetch_file(pinned, path, progress) for path in wanted}


def fetch_file(pinned: Pinned, path: str, progress: Progress = no_progress) -> Path:
    """The local path of one file at the pinned revision (of `pinned.dataset`), downloaded
    unless cached; only `bytes` events (a caller showing several files opens the bar)."""
    size = pinned.files.get(path) or 0
    cached = cached_file(path, pinned.revision, pinned.dataset)
    if cached is not None:
        progress("bytes", advance=size, path=path, cached=True)
        return Path(cached)
    if pinned.offline:
        raise SourceError(
            f"offline (HF_HUB_OFFLINE) and {path} of {pinned.dataset}@{pinned.revision[:12]} "
            "is not in the cache"
        )
    return _download(pinned.revision, path, progress, pinned.dataset)


def _download(revision: str, path: str, progress: Progress, dataset: str = DATASET) -> Path:
    endpoint = endpoint_from_env()

    class Bar(tqdm):  # type: ignore[misc]  # huggingface_hub's bytes, forwarded to `progress`
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)

        def update(self, n: float | None = 1) -> bool | None:
            progress("bytes", advance=int(n or 0), path=path, cached=False)
            return None

    try:
        local = hf_hub_download(
            dataset,
            path,
            repo_type="dataset",
            revision=revision,
            endpoint=endpoint,
            cache_dir=cache_dir(),
            tqdm_class=Bar,
        )
    except EntryNotFoundError:
        raise SourceError(f"{dataset}@{revision[:12]} has no {path}") from None
    except LocalEntryNotFoundError as exc:
        raise SourceError(_unreachable(endpoint, exc.__cause__ or exc)) from None
    except (httpx2.TransportError, OSError) as exc:
        raise SourceError(_unreachable(endpoint, exc)) from None
    except HfHubHTTPError as exc:
        raise SourceError(f"{dataset}: downloading {path}: {_first_line(exc)}") from None
    return Path(local)


def read_meta(path: Path, revision: str) -> Meta:
    """meta.json: the dataset's days and the days it flags; one clear error if malformed."""
    where = f"{DATASET}@{revision[:12]} meta.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SourceError(f"{where}: not valid JSON ({_first_line(exc)})") from None
    if not isinstance(data, dict):
        raise SourceError(f"{where}: expected an object")
    days = _dates(where, "days", data.get("days"))
    if not days:
        raise SourceError(f"{where}: 'days' is missing or empty")
    meta = Meta(days=sorted(set(days)))
    for key, kind in DAY_FLAGS.items():
        for day in _dates(where, key, data.get(key, [])):
            meta.flags.setdefault(day, []).append(kind)
    frozen = data.get("frozen", {})
    if not isinstance(frozen, dict):
        raise SourceError(f"{where}: 'frozen' must map days to shares")
    for key, share in frozen.items():
        day = _dates(where, "frozen", [key])[0]
        if isinstance(share, bool) or not isinstance(share, int | float):
            raise SourceError(f"{where}: 'frozen' share of {key} is not a number")
        meta.frozen[day] = float(share)
        if share >= FROZEN_SHARE:
            meta.flags.setdefault(day, []).append("frozen_day")
    return meta


def _dates(where: str, key: str, value: object) -> list[date]:
    if not isinstance(value, list):
        raise SourceError(f"{where}: {key!r} must be a list of dates (YYYY-MM-DD)")
    out = []
    for item in value:
        try:
            out.append(date.fromisoformat(str(item)[:10]))
        except ValueError:
            raise SourceError(f"{where}: {key!r} holds {item!r}, not a date (YYYY-MM-DD)") from None
    return out


def check_layout(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    path: str,
    local: Path,
    revision: str,
    *,
    dataset: str = DATASET,
    layout: dict[str, tuple[str, set[str]]] | None = None,
    optional: dict[str, tuple[str, set[str]]] | None = None,
) -> set[str]:
    """Fail with one line naming the file and column when `local` is not laid out as `kind`
    (or `layout`, with `optional` columns that may be absent) expects (the dataset's schema
    drifted); the names of its columns otherwise."""
    where = f"{dataset}@{revision[:12]} {path}"
    try:
        described = con.execute(
            "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet(?))",
            [str(local)],
        ).fetchall()
    except duckdb.Error as exc:
        raise SourceError(f"{where}: not a readable parquet file ({_first_line(exc)})") from None
    columns = {str(name): str(kind_).upper() for name, kind_ in described}
    present = {n: t for n, t in (optional or {}).items() if n in columns}
    for name, (wanted, accepted) in {
        **(LAYOUT[kind] if layout is None else layout),
        **present,
    }.items():
        if name not in columns:
            raise SourceError(
                f"{where}: column {name!r} is missing (has {', '.join(sorted(columns))}); "
                "the dataset's layout changed"
            )
        if columns[name] not in accepted:
            raise SourceError(
                f"{where}: column {name!r} is {columns[name]}, expected {wanted}; "
                "the dataset's layout changed"
            )
    return set(columns)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__
