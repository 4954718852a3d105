"""The dataset `cfahlgren1/hub-stats`: one `models.parquet` of every Hub model, overwritten
by a daily job, so each day's snapshot is a git revision of the dataset.

The revisions are listed with huggingface_hub (`list_repo_commits`), one per UTC day (the
day's last commit whose title names models.parquet), and each is downloaded at its sha
through the huggingface_hub cache (modelpulse.fetch_file): `HF_ENDPOINT`, `HF_TOKEN` and
the cache behave as for every other Hub request, and a rerun downloads nothing. Only the
needed columns are read (pyarrow, batch by batch), but the whole file is downloaded.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from huggingface_hub import HfApi
from huggingface_hub.errors import OfflineModeIsEnabled

from collector.sources.hub import endpoint_from_env
from collector.sources.modelpulse import (
    _DATE,
    _INTEGERS,
    _TEXT,
    _TEXT_OR_NULL,
    Pinned,
    SourceError,
    check_layout,
    hub_errors,
)

DATASET = "cfahlgren1/hub-stats"
SOURCE = "hubstats"
FILE = "models.parquet"
# The columns read from each revision's models.parquet: required, then optional (absent in
# some revisions: a missing downloadsAllTime is NULL, never 0).
LAYOUT: dict[str, tuple[str, set[str]]] = {
    "id": _TEXT,
    "downloads": _INTEGERS,
    "likes": _INTEGERS,
    "tags": ("a list of text", {"VARCHAR[]", '"NULL"[]', "NULL"}),
}
OPTIONAL: dict[str, tuple[str, set[str]]] = {
    "downloadsAllTime": _INTEGERS,
    "_id": _TEXT_OR_NULL,
    "author": _TEXT_OR_NULL,
    "createdAt": (_DATE[0], {*_DATE[1], "TIMESTAMP WITH TIME ZONE", "VARCHAR", '"NULL"', "NULL"}),
    "pipeline_tag": _TEXT_OR_NULL,
    "library_name": _TEXT_OR_NULL,
}
BATCH_ROWS = 100_000  # rows read at a time (the file holds ~3M)


@dataclass(frozen=True)
class Revision:
    """The snapshot of one day: the day's last commit that wrote models.parquet."""

    day: date
    sha: str
    committed: datetime
    title: str

    @property
    def basis(self) -> str:
        """The lineage basis of the day: the revision's own base_model tags."""
        return f"{SOURCE}@{self.day}"


def daily_revisions() -> tuple[list[Revision], int]:
    """Every day's snapshot revision, oldest first, and how many commits touching
    models.parquet were not the last of their day."""
    endpoint = endpoint_from_env()
    api = HfApi(endpoint=endpoint)
    try:
        with hub_errors(DATASET, endpoint):
            commits = api.list_repo_commits(DATASET, repo_type="dataset")
    except OfflineModeIsEnabled:
        raise SourceError(
            f"offline (HF_HUB_OFFLINE): the revisions of {DATASET} cannot be listed"
        ) from None
    by_day: dict[date, Revision] = {}
    touching = 0
    for c in commits:
        if FILE not in (c.title or "").lower():
            continue
        touching += 1
        at = c.created_at.astimezone(UTC)
        rev = Revision(at.date(), c.commit_id, at, c.title)
        if rev.day not in by_day or at > by_day[rev.day].committed:
            by_day[rev.day] = rev
    return sorted(by_day.values(), key=lambda r: r.day), touching - len(by_day)


def pinned(rev: Revision, cached: bool) -> Pinned:
    """The revision as modelpulse.fetch_file takes it, with the size of its models.parquet
    (asked of the Hub unless the file is cached: the bar's total and ETA)."""
    files: dict[str, int | None] = {FILE: None}
    if not cached:
        endpoint = endpoint_from_env()
        with hub_errors(DATASET, endpoint, rev.sha):
            info = HfApi(endpoint=endpoint).dataset_info(
                DATASET, revision=rev.sha, files_metadata=True
            )
        sizes = {s.rfilename: s.size for s in info.siblings or []}
        if FILE not in sizes:
            raise SourceError(f"{DATASET}@{rev.sha[:12]} ({rev.day}) has no {FILE}")
        files[FILE] = sizes[FILE]
    return Pinned(rev.sha, files, dataset=DATASET)


def batches(local: Path, rev: Revision) -> tuple[Iterator[pa.RecordBatch], set[str]]:
    """The needed columns of a revision's models.parquet, batch by batch, and which of the
    optional ones it has; one clear line (naming the revision and column) when a required
    column is missing or mistyped."""
    con = duckdb.connect()
    try:
        columns = _checked(con, local, rev, LAYOUT, OPTIONAL)
    finally:
        con.close()
    wanted = [c for c in (*LAYOUT, *OPTIONAL) if c in columns]
    reader = pq.ParquetFile(local)
    return reader.iter_batches(batch_size=BATCH_ROWS, columns=wanted), set(wanted)


def all_time(con: duckdb.DuckDBPyConnection, local: Path, rev: Revision) -> str:
    """SQL of the (id, all-time downloads) of a revision's models.parquet, reading those two
    columns only (NULL downloads where the revision has none); checked like `batches`."""
    columns = _checked(
        con, local, rev, {"id": LAYOUT["id"]}, {"downloadsAllTime": OPTIONAL["downloadsAllTime"]}
    )
    quoted = str(local).replace("'", "''")
    value = (
        'CAST("downloadsAllTime" AS BIGINT)' if "downloadsAllTime" in columns else "NULL::BIGINT"
    )
    return f"SELECT id, {value} AS dl_all FROM read_parquet('{quoted}')"


def _checked(
    con: duckdb.DuckDBPyConnection,
    local: Path,
    rev: Revision,
    layout: dict[str, tuple[str, set[str]]],
    optional: dict[str, tuple[str, set[str]]],
) -> set[str]:
    """The columns of a revision's models.parquet, checked against `layout` (required) and
    `optional`: one clear line naming the revision when one is missing or mistyped."""
    return set(
        check_layout(
            con,
            FILE,
            f"{FILE} of {rev.day}",
            local,
            rev.sha,
            dataset=DATASET,
            layout=layout,
            optional=optional,
        )
    )
