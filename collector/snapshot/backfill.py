"""Backfilling a family's history from a public dataset, and cross-checking it.

`backfill --source modelpulse` pins one revision of the Model Pulse dataset, downloads (or
finds in the cache) the files it needs, checks their layout, reads the members' rows in
DuckDB and stores one run per dataset day before the family's first own snapshot (own
snapshots always win). A rerun with the same revision and range finds nothing to do; a
newer revision rewrites the imported days in one transaction and says how many changed.
`--source hubstats` takes each day from that day's revision of cfahlgren1/hub-stats, with
the membership of that day's own base_model tags, and stores it the same way. `check`
compares the Model Pulse dataset with the own snapshots on the days both cover.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from collector.errors import UsageError
from collector.families import Family
from collector.snapshot.importing import (
    Lineage,
    SeriesRows,
    add_renames,
    dataset_lineage,
    warehouse_lineage,
)
from collector.sources import hubstats, modelpulse
from collector.sources.modelpulse import DATASET, SOURCE, Pinned, Progress, no_progress
from collector.store import imports, warehouse

SOURCES = (SOURCE, hubstats.SOURCE)


@dataclass
class BackfillResult:
    """What a backfill found and stored."""

    family: str
    source: str
    dataset: str
    revision: str
    lineage_basis: str
    lineage: str  # described for people
    members: int
    dataset_days: int  # days of the dataset in the range asked
    stored: imports.WriteResult | None  # None: nothing to do
    own_days_skipped: int  # dataset days on or after the first own snapshot
    first_own_day: date | None
    flagged: dict[str, int] = field(default_factory=dict)  # anomaly kind -> days
    no_all_time_days: int = 0
    downloaded: int = 0  # bytes fetched from the Hub (0: all in the cache)
    where: str = ""  # the dataset and revision(s), for people (default: dataset@revision)
    notes: list[str] = field(default_factory=list)  # the source's own notes, for people


def _validate(source: str, since: date | None, until: date | None) -> None:
    if source not in SOURCES:
        raise UsageError(f"--source {source}: unknown source; known: {', '.join(SOURCES)}")
    if since and until and since > until:
        raise UsageError(f"--since {since} is after --until {until}")


def imported_before(
    con: Any, family: str, source: str
) -> tuple[date | None, dict[date, tuple[str, str, str]]]:
    """The family's first own day and imported days; an error when those days came from
    another source (an import rewrites all of a family's imported days from one source)."""
    others = con.execute(
        """SELECT r.source, count(*) FROM imports i JOIN runs r USING (run_id)
           WHERE i.family = ? AND r.source <> ? GROUP BY ALL ORDER BY ALL""",
        [family, source],
    ).fetchall()
    if others:
        raise UsageError(
            f"{family}: {others[0][1]:,} days are imported from {others[0][0]}; a family's "
            f"imported history comes from one source, so --source {source} would replace them"
        )
    return imports.first_own_day(con, family), imports.imported_days(con, family)


def counting_bytes(progress: Progress) -> tuple[Progress, Callable[[], int]]:
    """A progress callback that also counts the bytes downloaded (not from the cache)."""
    downloaded = 0

    def counting(event: str, **data: Any) -> None:
        nonlocal downloaded
        if event == "bytes" and not data.get("cached"):
            downloaded += int(data["advance"])
        progress(event, **data)

    return counting, lambda: downloaded


class ImportRows(imports.Rows, Protocol):
    """An import's rows (imports.Rows), with their days read first."""

    def start(self, con: Any) -> set[date]:
        """Prepare to read on `con`; the days that have rows of any member."""
        ...

    def end(self, con: Any) -> None:
        """Drop what `start` and `read` left on `con`."""
        ...


def store_import(
    db: str | os.PathLike[str] | None,
    family: str,
    rows: ImportRows,
    day: Callable[[date], imports.ImportedDay],
    members: Any,
    names: Any,
    progress: Progress,
    **run: str,
) -> tuple[imports.WriteResult, set[date]]:
    """Write the import of `rows`: each day with rows becomes `day(d)`; `run` gives source,
    dataset, revision and lineage_basis. The days stored, and what changed."""
    with warehouse.writer(db) as con:
        try:
            present = rows.start(con)
            days = [day(d) for d in sorted(present)]
            progress("storing", days=len(days))
            stored = imports.write_import(
                con,
                family,
                days,
                members,
                names,
                rows,
                source=run["source"],
                dataset=run["dataset"],
                revision=run["revision"],
                lineage_basis=run["lineage_basis"],
                on_chunk=lambda done, chunks: progress("stored", done=done, chunks=chunks),
            )
        finally:
            rows.end(con)
    return stored, present


def backfill(
    family: Family,
    *,
    db: str | os.PathLike[str] | None = None,
    source: str = SOURCE,
    since: date | None = None,
    until: date | None = None,
    revision: str | None = None,
    progress: Progress = no_progress,
) -> BackfillResult:
    """Import the family's days of the dataset in [since, until] (see the module doc)."""
    _validate(source, since, until)
    if source == hubstats.SOURCE:
        if revision:
            raise UsageError(
                "--revision: --source hubstats imports each day from that day's revision"
            )
        from collector.snapshot.hubstats_import import backfill_hubstats

        return backfill_hubstats(family, db=db, since=since, until=until, progress=progress)
    with warehouse.writer(db) as con:  # checks the warehouse before any download
        own_lineage = warehouse_lineage(con, family.name)
        first_own, before = imported_before(con, family.name, source)
    pinned = modelpulse.pin(revision)
    progress("pinned", dataset=DATASET, revision=pinned.revision)
    counting, downloaded = counting_bytes(progress)

    extra = [p for p in ("renames.parquet",) if p in pinned.files]
    local = modelpulse.fetch(pinned, ["meta.json", *extra], counting)
    meta = modelpulse.read_meta(local["meta.json"], pinned.revision)
    if "renames.parquet" in local:
        _check(pinned, "renames.parquet", local["renames.parquet"])
    lineage = own_lineage or _dataset_lineage(pinned, family, counting)
    progress("lineage", described=lineage.described, members=lineage.members.num_rows)
    in_range = [d for d in meta.days if (not since or d >= since) and (not until or d <= until)]
    wanted = {d for d in in_range if first_own is None or d < first_own}
    wanted |= {d for d in before if first_own is None or d < first_own}
    result = BackfillResult(
        family.name,
        source,
        DATASET,
        pinned.revision,
        lineage.basis,
        lineage.described,
        lineage.members.num_rows,
        len(in_range),
        None,
        len(in_range) - len([d for d in in_range if d in wanted]),
        first_own,
    )
    # an imported day on or after the first own snapshot is shadowed by it: left alone
    # until the next rewrite, which drops it
    current = {d: v for d, v in before.items() if first_own is None or d < first_own}
    same = all(r == pinned.revision and b == lineage.basis for r, b, _ in current.values())
    if not wanted or (wanted == set(current) and same):
        progress("done")
        return _summarize(result, meta, wanted, before, downloaded())
    months = sorted({f"series/{d:%Y-%m}.parquet" for d in wanted})
    missing = [m for m in months if m not in pinned.files]
    if missing:
        raise modelpulse.SourceError(
            f"{DATASET}@{pinned.revision[:12]}: meta.json lists days of {missing[0]} "
            "but the file is missing; the dataset's layout changed"
        )
    files = modelpulse.fetch(pinned, months, counting)
    for path, f in files.items():
        _check(pinned, "series", f, path)
    names = add_renames(lineage, local.get("renames.parquet"))
    progress("reading", files=len(files), members=lineage.members.num_rows)
    result.stored, present = store_import(
        db,
        family.name,
        SeriesRows([files[m] for m in months], names, sorted(wanted)),
        lambda d: imports.ImportedDay(
            d, meta.flags.get(d, []), "partial_day" in meta.flags.get(d, [])
        ),
        lineage.members,
        names,
        progress,
        source=source,
        dataset=DATASET,
        revision=pinned.revision,
        lineage_basis=lineage.basis,
    )
    progress("done")
    return _summarize(result, meta, present, before, downloaded())


def _summarize(
    result: BackfillResult,
    meta: modelpulse.Meta,
    days: set[date],
    before: dict[date, tuple[str, str, str]],
    downloaded: int,
) -> BackfillResult:
    for d in days:
        for kind in meta.flags.get(d, []):
            result.flagged[kind] = result.flagged.get(kind, 0) + 1
    result.no_all_time_days = sum(1 for d in days if d < modelpulse.DL_ALL_FROM)
    result.downloaded = downloaded
    return result


def _dataset_lineage(pinned: Pinned, family: Family, progress: Progress) -> Lineage:
    local = modelpulse.fetch(pinned, ["models.parquet", "children.parquet"], progress)
    for name, path in local.items():
        _check(pinned, name, path)
    return dataset_lineage(
        local["models.parquet"], local["children.parquet"], family, pinned.revision
    )


def _check(pinned: Pinned, kind: str, local: Path, path: str | None = None) -> None:
    import duckdb

    con = duckdb.connect()
    try:
        modelpulse.check_layout(con, kind, path or kind, local, pinned.revision)
    finally:
        con.close()


def summary_lines(r: BackfillResult) -> list[str]:
    """What a backfill did, for people: one line, then notes."""
    where = r.where or f"{r.dataset}@{r.revision[:12]}"
    head = f"{r.family}: {r.source} ({where}), lineage from {r.lineage}"
    if r.stored is None:
        why = (
            f"{r.dataset_days:,} dataset days in range, all imported"
            if r.dataset_days
            else "no dataset day in range"
        )
        lines = [f"{head}: nothing to add ({why})"]
    else:
        s = r.stored
        lines = [
            f"{head}: {s.days:,} imported days ({s.added:,} added, {s.changed:,} changed, "
            f"{s.removed:,} removed), {s.members:,} members, {s.rows:,} rows"
        ]
    if r.own_days_skipped:
        lines.append(
            f"Note: {r.own_days_skipped:,} dataset days on or after the first own snapshot "
            f"({r.first_own_day}) are not imported (own snapshots win; see --check)"
        )
    if r.no_all_time_days:
        lines.append(
            f"Note: {r.no_all_time_days:,} days before {modelpulse.DL_ALL_FROM} have no all-time "
            "downloads in the dataset (shown empty; claims there are insufficient_data)"
        )
    lines.extend(r.notes)
    if r.flagged:
        kinds = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in sorted(r.flagged.items()))
        lines.append(f"Note: days the dataset flags: {kinds} (see report anomalies)")
    lines.append(
        f"Downloaded {r.downloaded:,} bytes" if r.downloaded else "All files from the cache"
    )
    return lines


SOURCE_COLUMNS = [
    "family",
    "source",
    "dataset",
    "revision",
    "lineage_basis",
    "days",
    "first_day",
    "last_day",
    "imported_at",
]


def imported_sources(con: Any) -> list[dict[str, Any]]:
    """What was imported: per family, source, dataset, revision and lineage basis."""
    # one row per family and source: a source imported day by day from its own revisions
    # (hubstats) shows how many, the first and the newest, and its first and last basis
    cur = con.execute(
        """SELECT i.family, r.source, i.dataset,
                  CASE WHEN count(DISTINCT r.revision) = 1 THEN any_value(r.revision)
                       ELSE count(DISTINCT r.revision) || ' revisions: '
                            || arg_min(r.revision, i.day)[:12] || ' to '
                            || arg_max(r.revision, i.day)[:12] END AS revision,
                  CASE WHEN count(DISTINCT r.lineage_basis) = 1 THEN any_value(r.lineage_basis)
                       ELSE arg_min(r.lineage_basis, i.day) || ' to '
                            || arg_max(r.lineage_basis, i.day) END AS lineage_basis,
                  count(*) AS days, min(i.day) AS first_day, max(i.day) AS last_day,
                  max(i.imported_at) AS imported_at
           FROM imports i JOIN runs r USING (run_id)
           GROUP BY i.family, r.source, i.dataset ORDER BY family, first_day"""
    )
    names = [d[0] for d in cur.description]
    rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    for row in rows:
        for key in ("first_day", "last_day"):
            row[key] = row[key].isoformat()
        row["imported_at"] = row["imported_at"].strftime("%Y-%m-%dT%H:%M:%S")
    return rows


CHECK_COLUMNS = [
    "date",
    "repos",
    "own_downloads_all_time",
    "dataset_downloads_all_time",
    "difference",
    "difference_pct",
    "missing_in_dataset",
    "largest_differences",
]
LARGEST = 3  # per-repo differences shown per day


def check(
    family: Family,
    *,
    db: str | os.PathLike[str] | None = None,
    revision: str | None = None,
    since: date | None = None,
    until: date | None = None,
    progress: Progress = no_progress,
) -> dict[str, Any]:
    """Per own snapshot day in [since, until] that the dataset also covers: the family's
    all-time downloads by the snapshot and by the dataset (over the same members), and the
    largest per-repo differences. Nothing is stored."""
    import duckdb

    own, names = own_members(family, db, since, until)
    pinned = modelpulse.pin(revision)
    progress("pinned", dataset=DATASET, revision=pinned.revision)
    local = modelpulse.fetch(pinned, ["meta.json"], progress)
    meta = modelpulse.read_meta(local["meta.json"], pinned.revision)
    own_days = sorted(set(own.column("date").to_pylist()))
    shared = [d for d in own_days if d in set(meta.days)]
    result = check_result(family, SOURCE, DATASET, pinned.revision, own_days)
    if not shared:
        return result
    months = sorted({f"series/{d:%Y-%m}.parquet" for d in shared})
    files = modelpulse.fetch(pinned, [m for m in months if m in pinned.files], progress)
    for path, f in files.items():
        _check(pinned, "series", f, path)
    scratch = duckdb.connect()
    try:
        SeriesRows([files[m] for m in months if m in files], names, shared).read_all(scratch)
        result["days"] = compare(scratch, own, shared)
    finally:
        scratch.close()
    return result


def own_members(
    family: Family, db: str | os.PathLike[str] | None, since: date | None, until: date | None
) -> tuple[pa.Table, pa.Table]:
    """For a cross-check: the family's members on each own snapshot day in [since, until]
    (date, repo_id, downloads_all_time), and every id each member had (alias, repo_id)."""
    with warehouse.reader(db) as con:
        own = con.sql(
            """
            SELECT m.date, m.repo_id, m.downloads_all_time
            FROM members_daily m JOIN sources s USING (source)
            WHERE m.family = $family AND m.platform = $platform AND s.own
              AND ($since IS NULL OR m.date >= $since) AND ($until IS NULL OR m.date <= $until)
            """,
            params={
                "family": family.name,
                "platform": imports.PLATFORM,
                "since": since,
                "until": until,
            },
        ).to_arrow_table()
        names = con.sql(
            """
            SELECT DISTINCT n.repo_id AS alias, r.repo_id
            FROM membership m JOIN repos r USING (repo_key) JOIN repo_names n USING (repo_key)
            WHERE m.family = ? AND m.platform = 'huggingface'
            """,
            params=[family.name],
        ).to_arrow_table()
    assert own is not None and names is not None
    if not own.num_rows:
        span = "" if since is None and until is None else " in range"
        raise UsageError(f"no own snapshots of {family.name}{span} to compare the dataset with")
    return own, names


def check_result(
    family: Family, source: str, dataset: str, revision: str, own_days: list[date]
) -> dict[str, Any]:
    """A cross-check's document, before its days."""
    return {
        "family": family.name,
        "source": source,
        "dataset": dataset,
        "revision": revision,
        "own_days": len(own_days),
        "days": [],
    }


def compare(scratch: Any, own: pa.Table, shared: list[date]) -> list[dict[str, Any]]:
    """Per shared day, own snapshot against the dataset's rows in `scratch`'s temp table
    `imported` (repo_id, day, dl_all, ...), over the members of the own snapshot."""
    scratch.register("own", own)
    scratch.register("wanted", pa.table({"date": pa.array(shared, pa.date32())}))
    try:
        rows = scratch.execute(
            """
            SELECT o.date, o.repo_id, o.downloads_all_time AS own, i.dl_all AS dataset,
                   i.dl_all - o.downloads_all_time AS diff
            FROM own o SEMI JOIN wanted w ON w.date = o.date
            LEFT JOIN imported i ON i.repo_id = o.repo_id AND i.day = o.date
            ORDER BY o.date, abs(diff) DESC NULLS LAST, o.repo_id
            """
        ).fetchall()
    finally:
        scratch.unregister("own")
        scratch.unregister("wanted")
    by_day: dict[date, list[tuple[Any, ...]]] = {}
    for row in rows:
        by_day.setdefault(row[0], []).append(row)
    days = []
    for day, day_rows in by_day.items():
        found = [r for r in day_rows if r[3] is not None and r[2] is not None]
        own_total = sum(r[2] for r in found)
        data_total = sum(r[3] for r in found)
        diff = data_total - own_total
        days.append(
            {
                "date": day.isoformat(),
                "repos": len(found),
                "own_downloads_all_time": own_total,
                "dataset_downloads_all_time": data_total,
                "difference": diff,
                "difference_pct": round(100 * diff / own_total, 2) if own_total else None,
                "missing_in_dataset": len(day_rows) - len(found),
                "largest": [
                    {"repo_id": r[1], "own": r[2], "dataset": r[3], "difference": r[4]}
                    for r in found[:LARGEST]
                    if r[4]
                ],
            }
        )
    return days


def check_document(result: dict[str, Any]) -> Any:
    """The cross-check as a Document (table rows: one per shared day)."""
    from collector.output.render import Document

    rows = []
    for day in result["days"]:
        row = {k: v for k, v in day.items() if k != "largest"}
        row["largest_differences"] = ", ".join(
            f"{x['repo_id']} {x['difference']:+,}" for x in day["largest"]
        )
        rows.append(row)
    where = result.get("where") or f"{result['dataset']}@{result['revision'][:12]}"
    title = f"{result['family']}: own snapshots vs {where} (downloads_all_time, same members)"
    notes = [] if rows else [f"No own snapshot day of {result['family']} is in the dataset."]
    notes += result.get("notes", [])
    return Document(CHECK_COLUMNS, rows, result, title=title, notes=notes)
