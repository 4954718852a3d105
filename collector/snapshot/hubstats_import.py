"""`backfill --source hubstats`: each day from that day's revision of cfahlgren1/hub-stats.

Every daily revision of the dataset's `models.parquet` is a dump of every Hub model, with
the `base_model:` tags of that day: the day's members are found by the same lineage rules
as a snapshot (`importing.tags_members`), so membership is as of that day, not today's
applied to the past. The members' rows of each day go to a scratch DuckDB file as they are
read, never all held in memory (200,000 members x 400 days is 80M rows), and the warehouse
reads them from there in the one transaction that stores the import
(`backfill.store_import`, the path a Model Pulse import takes too).
"""

from __future__ import annotations

import os
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from collector.families import Family
from collector.snapshot.backfill import (
    BackfillResult,
    check_result,
    compare,
    counting_bytes,
    imported_before,
    own_members,
    store_import,
)
from collector.snapshot.importing import (
    READ_MEMORY_LIMIT,
    KnownIds,
    first_rank,
    member_names,
    tags_members,
)
from collector.sources import hubstats, modelpulse
from collector.sources.items import Problems
from collector.sources.modelpulse import Progress
from collector.store import imports

DESCRIBED = "each day's own base_model tags (hubstats@<day>)"


def backfill_hubstats(
    family: Family,
    *,
    db: str | os.PathLike[str] | None,
    since: date | None,
    until: date | None,
    progress: Progress,
) -> BackfillResult:
    """Each day in [since, until] before the first own snapshot from that day's revision of
    cfahlgren1/hub-stats, with the members of that revision's own base_model tags."""
    from collector.store import warehouse

    with warehouse.writer(db) as con:  # checks the warehouse before any download
        first_own, before = imported_before(con, family.name, hubstats.SOURCE)
    revisions, superseded = hubstats.daily_revisions()
    by_day = {r.day: r for r in revisions}
    in_range = [
        r for r in revisions if (not since or r.day >= since) and (not until or r.day <= until)
    ]
    if in_range:
        progress(
            "revisions",
            dataset=hubstats.DATASET,
            revisions=len(in_range),
            first=in_range[0].day,
            last=in_range[-1].day,
        )
    wanted = {r.day for r in in_range if first_own is None or r.day < first_own}
    # a rewrite stores every imported day again: the days imported before, still listed
    wanted |= {d for d in before if d in by_day and (first_own is None or d < first_own)}
    todo = [by_day[d] for d in sorted(wanted)]
    result = BackfillResult(
        family.name,
        hubstats.SOURCE,
        hubstats.DATASET,
        todo[-1].sha if todo else "",
        f"{hubstats.SOURCE}@<day>",
        DESCRIBED,
        0,
        len(in_range),
        None,
        len(in_range) - len([r for r in in_range if r.day in wanted]),
        first_own,
        where=_revisions_described(todo or in_range),
    )
    if superseded:
        result.notes.append(
            f"Note: {superseded:,} commit{'s' if superseded != 1 else ''} of models.parquet "
            "superseded by a later one the same day (each day is its last commit)"
        )
    current = {d: v for d, v in before.items() if first_own is None or d < first_own}
    if (
        wanted
        and wanted == set(current)
        and all(current[d][:2] == (by_day[d].sha, by_day[d].basis) for d in wanted)
    ):
        progress("done")
        return result
    counting, downloaded = counting_bytes(progress)
    cached = {r.sha: modelpulse.cached_file(hubstats.FILE, r.sha, hubstats.DATASET) for r in todo}
    pins = [hubstats.pinned(r, cached[r.sha] is not None) for r in todo]
    total = sum(p.files.get(hubstats.FILE) or 0 for p in pins)
    progress("download", files=len(pins), total=total)
    problems = Problems()
    # the ids of the members of the days read so far, by Hub _id: a tag naming a parent
    # renamed since is resolved through them
    known = KnownIds()
    no_all_time: list[date] = []
    with tempfile.TemporaryDirectory(prefix="collector-hubstats-") as tmp:
        scratch_path = Path(tmp) / "days.duckdb"
        scratch = duckdb.connect(str(scratch_path))
        try:
            scratch.execute(f"SET memory_limit = '{READ_MEMORY_LIMIT}'")
            for rev, pin in zip(todo, pins, strict=True):
                local = modelpulse.fetch_file(pin, hubstats.FILE, counting)
                batches, columns = hubstats.batches(local, rev)
                found = tags_members(batches, family, problems, known)
                if "downloadsAllTime" not in columns:
                    no_all_time.append(rev.day)
                _keep_day(scratch, found, rev.day)
                known.table = _known_ids(scratch, known.table, found)
            if not todo:  # nothing in range: the days imported before are dropped
                _keep_day(scratch, tags_members([], family, problems), None)
            members, names = _by_current_id(scratch)
        finally:
            scratch.close()
        result.members = members.num_rows
        progress("lineage", described=DESCRIBED, members=members.num_rows)

        rows = ScratchRows(scratch_path)
        result.stored, present = store_import(
            db,
            family.name,
            rows,
            lambda d: imports.ImportedDay(d, revision=by_day[d].sha, lineage_basis=by_day[d].basis),
            members,
            names,
            progress,
            source=hubstats.SOURCE,
            dataset=hubstats.DATASET,
            revision=result.revision,
            lineage_basis=result.lineage_basis,
        )
    gaps = sorted(d for d in no_all_time if d in present)
    if gaps:
        span = f"{gaps[0]}" if len(gaps) == 1 else f"{gaps[0]} to {gaps[-1]}"
        result.notes.append(
            f"Note: {len(gaps):,} day{'s' if len(gaps) != 1 else ''} ({span}) from revisions "
            "without downloadsAllTime (all-time downloads shown empty; claims there are "
            "insufficient_data)"
        )
    if known.resolved:
        n = len(known.resolved)
        result.notes.append(
            f"Note: {n:,} base_model parent{'s' if n != 1 else ''} named by an id the repo "
            f"had before a rename, resolved by its Hub _id (e.g. {min(known.resolved)})"
        )
    if problems.total:
        result.notes.append(f"Note: base_model tags not understood: {problems.summary()}")
    result.downloaded = downloaded()
    progress("done")
    return result


def _keep_day(scratch: duckdb.DuckDBPyConnection, found: pa.Table, day: date | None) -> None:
    """Append one day's members (MEMBER_COLUMNS and counters) to the scratch table `daily`."""
    table = found.append_column("day", pa.array([day] * found.num_rows, pa.date32()))
    scratch.register("_found", table)
    try:
        exists = scratch.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'daily'"
        ).fetchall()[0][0]
        if exists:
            scratch.execute("INSERT INTO daily SELECT * FROM _found")
        else:
            scratch.execute("CREATE TABLE daily AS SELECT * FROM _found")
    finally:
        scratch.unregister("_found")


def _known_ids(scratch: duckdb.DuckDBPyConnection, known: pa.Table, found: pa.Table) -> pa.Table:
    """`known` (repo_id, hub_id) with the ids of the day's members `found` added."""
    scratch.register("_known", known)
    scratch.register("_found", found)
    try:
        return scratch.sql(
            """SELECT repo_id, hub_id FROM _known
               UNION SELECT repo_id, hub_id FROM _found WHERE hub_id IS NOT NULL"""
        ).to_arrow_table()
    finally:
        scratch.unregister("_known")
        scratch.unregister("_found")


def _revisions_described(revs: list[Any]) -> str:
    if not revs:
        return f"{hubstats.DATASET}, no daily revision in range"
    if len(revs) == 1:
        return f"{hubstats.DATASET}@{revs[0].sha[:12]} of {revs[0].day}"
    return (
        f"{hubstats.DATASET}, {len(revs):,} daily revisions {revs[0].day} to {revs[-1].day}, "
        f"newest {revs[-1].sha[:12]}"
    )


def _by_current_id(scratch: duckdb.DuckDBPyConnection) -> tuple[pa.Table, pa.Table]:
    """From the members of each day (scratch table `daily`: MEMBER_COLUMNS, counters, day):
    the members under their newest id (a repo renamed between days is one repo when the
    dataset has its Hub `_id`), with the attributes of their last day; every id each had;
    and, left in scratch table `rows`, their rows (repo_id, day, dl30, dl_all, likes), one
    per repo and day."""
    scratch.execute(
        """
        CREATE TEMP TABLE named AS
        WITH cur AS (
            SELECT hub_id, arg_max(repo_id, day) AS current FROM daily
            WHERE hub_id IS NOT NULL GROUP BY hub_id
        )
        SELECT d.*, coalesce(c.current, d.repo_id) AS current
        FROM daily d LEFT JOIN cur c USING (hub_id)
        """
    )
    names = scratch.sql(
        "SELECT DISTINCT repo_id AS alias, current AS repo_id FROM named"
    ).to_arrow_table()
    members = scratch.sql(
        """
        SELECT n.hub_id, n.current AS repo_id, n.author, n.created_at, n.pipeline_tag,
               n.library_name, n.role, n.relation, n.depth,
               coalesce(p.current, n.parent_id) AS parent_id
        FROM named n
        LEFT JOIN (SELECT DISTINCT repo_id, current FROM named) p ON p.repo_id = n.parent_id
        QUALIFY row_number() OVER (PARTITION BY n.current ORDER BY n.day DESC,
                                   (n.repo_id = n.current) DESC) = 1
        """
    ).to_arrow_table()
    scratch.execute(
        """
        CREATE TABLE rows AS
        SELECT current AS repo_id, day, downloads_30d AS dl30,
               downloads_all_time AS dl_all, likes
        FROM named WHERE day IS NOT NULL
        QUALIFY row_number() OVER (PARTITION BY current, day
                                   ORDER BY (repo_id = current) DESC, repo_id) = 1
        """
    )
    return members, names


class ScratchRows:
    """The rows kept in the scratch file's table `rows` (imports.Rows, via store_import)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def start(self, con: Any) -> set[date]:
        quoted = str(self.path).replace("'", "''")
        con.execute(f"ATTACH '{quoted}' AS scratch (READ_ONLY)")
        return {r[0] for r in con.execute("SELECT DISTINCT day FROM scratch.rows").fetchall()}

    def read(self, con: Any, chunk: int) -> None:
        print_ = imports.ROW_PRINT.format(
            id="r.repo_id", dl30="r.dl30", dl_all="r.dl_all", likes="r.likes"
        )
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE imported AS
                SELECT c.repo_key, d.idx, r.dl30, r.dl_all, r.likes, {print_} AS print
                FROM scratch.rows r
                JOIN imp_chunks c ON c.repo_id = r.repo_id AND c.chunk = $chunk
                JOIN imp_days d ON d.day = r.day""",
            {"chunk": chunk},
        )

    def end(self, con: Any) -> None:
        con.execute("DROP TABLE IF EXISTS imported")
        con.execute("DETACH DATABASE IF EXISTS scratch")


def check_hubstats(
    family: Family,
    *,
    db: str | os.PathLike[str] | None,
    since: date | None,
    until: date | None,
    progress: Progress,
) -> dict[str, Any]:
    """`backfill --check --source hubstats`: each own snapshot day in [since, until] against
    that day's revision of models.parquet (its all-time downloads of the same members).
    Each day is a download of the whole file unless cached: narrow the days with
    --since/--until."""
    own, names = own_members(family, db, since, until)
    revisions, _ = hubstats.daily_revisions()
    by_day = {r.day: r for r in revisions}
    own_days = sorted(set(own.column("date").to_pylist()))
    todo = [by_day[d] for d in own_days if d in by_day]
    result = check_result(
        family, hubstats.SOURCE, hubstats.DATASET, todo[-1].sha if todo else "", own_days
    )
    result["where"] = _revisions_described(todo)
    result["notes"] = [
        "Note: each day of cfahlgren1/hub-stats is a dump taken at its commit's time (about "
        "13:00 UTC), an own snapshot at its own time of day: a difference of hours of downloads "
        "is expected"
    ]
    if not todo:
        return result
    counting, _ = counting_bytes(progress)
    pins = [
        hubstats.pinned(
            r, modelpulse.cached_file(hubstats.FILE, r.sha, hubstats.DATASET) is not None
        )
        for r in todo
    ]
    progress("download", files=len(pins), total=sum(p.files.get(hubstats.FILE) or 0 for p in pins))
    scratch = duckdb.connect()
    try:
        scratch.execute(f"SET memory_limit = '{READ_MEMORY_LIMIT}'")
        member_names(scratch, names)
        scratch.execute(
            "CREATE TEMP TABLE imported (repo_id VARCHAR, day DATE, dl_all BIGINT, rank BIGINT)"
        )
        for rev, pin in zip(todo, pins, strict=True):
            local = modelpulse.fetch_file(pin, hubstats.FILE, counting)
            scratch.execute(
                f"""INSERT INTO imported
                    SELECT n.repo_id, $day, s.dl_all, n.rank
                    FROM ({hubstats.all_time(scratch, local, rev)}) s
                    JOIN member_names n ON n.alias = s.id""",
                {"day": rev.day},
            )
        first_rank(scratch, "repo_id, day")
        result["days"] = compare(scratch, own, [r.day for r in todo])
    finally:
        scratch.close()
    progress("done")
    return result
