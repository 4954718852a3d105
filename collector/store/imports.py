"""Writing imported history (days read from a public dataset) into the warehouse, set-based.

An import is the family's days before its first own snapshot, each stored as a run of its
own (strategy 'import'; `runs.source`, `revision`, `lineage_basis`; `imports` holds the
dataset's notes on the day) in the same tables as a snapshot, on the Hugging Face platform,
so every view, report and claim reads it unchanged:

- run ids of imported days are negative and ordered by day (`import_run_id`), so they
  sort before every own snapshot of any family and day-runs stay in time order whatever
  was stored first;
- counters are stored where they change from the repo's previous imported day, as a
  snapshot stores them; membership and lineage are intervals of consecutive day-runs;
- every import rewrites all of the family's imported days in one transaction: rows that
  later own snapshots rely on (a counter row they did not repeat, an interval they
  extended) are first re-anchored on those snapshots, so nothing of theirs is lost.

The rows are read and written a chunk of members at a time (`Rows`, `ROWS_PER_CHUNK`):
each chunk's presences are sorted once by the window pass and read again by the rollup,
and chunks of a few million rows do both in memory, where a whole 200,000-member history
(tens of millions of rows) spilled to disk. Per-day figures (rows, fingerprints) and
per-day-run sums are added up over the chunks.

The commit path of snapshots (collector/snapshot/commit.py) writes one run at a time, in
time order, and compares each with the latest stored counters: day by day that is a pass over
the whole counter table per day (quadratic in the days), and it cannot put days before
existing snapshots. These statements each run once per import, whatever its days.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Protocol

import duckdb
import pyarrow as pa

from collector.store import import_rollup, rollup

IMPORT_STRATEGY = "import"
PLATFORM = "huggingface"  # the platform of every import so far (sources.platform)
_EPOCH = date(1970, 1, 1)
_BASE = -(2**50)
_PER_DAY = 256  # imported runs of one day (one per family) before ids would collide
_BY_REPO = "PARTITION BY repo_key ORDER BY idx"


def import_run_id(day: date, slot: int) -> int:
    """The run id of an imported day: negative, increasing with the day."""
    return _BASE + (day - _EPOCH).days * _PER_DAY + slot


@dataclass
class ImportedDay:
    """One day to store: its flags (meta.json anomaly kinds), whether it is partial, and its
    own revision and lineage basis when they differ by day (else the import's)."""

    day: date
    flags: list[str] = field(default_factory=list)
    partial: bool = False
    revision: str | None = None
    lineage_basis: str | None = None


@dataclass
class WriteResult:
    """What an import changed in the warehouse."""

    days: int = 0  # imported days stored for the family after the import
    added: int = 0  # days not imported before
    changed: int = 0  # days imported before whose rows changed
    removed: int = 0  # days imported before and not any more
    members: int = 0
    rows: int = 0
    rollup: str = ""  # "set-based" (import_rollup) or "rebuilt" (from the event views)
    chunks: int = 0  # chunks of members the rows were read and written in


def imported_days(con: duckdb.DuckDBPyConnection, family: str) -> dict[date, tuple[str, str, str]]:
    """The family's imported days: day -> (revision, lineage basis, row fingerprint)."""
    rows = con.execute(
        """SELECT i.day, r.revision, r.lineage_basis, i.fingerprint
           FROM imports i JOIN runs r USING (run_id) WHERE i.family = ?""",
        [family],
    ).fetchall()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def first_own_day(con: duckdb.DuckDBPyConnection, family: str) -> date | None:
    """The UTC day of the family's first own snapshot (complete or partial), if any."""
    row = con.execute(
        """SELECT min(CAST(r.started_at AS DATE)) FROM runs r JOIN sources s USING (source)
           WHERE r.family = ? AND s.own AND s.platform = ?
             AND r.status IN ('complete', 'partial')""",
        [family, PLATFORM],
    ).fetchall()
    return row[0][0]


class Rows(Protocol):
    """Where an import's rows come from: read a chunk of the members at a time, so that
    each chunk's rows (and the window pass over them) fit in memory whatever the family."""

    def read(self, con: duckdb.DuckDBPyConnection, chunk: int) -> None:
        """Create temp table `imported` (repo_key, idx, dl30, dl_all, likes, print): the
        rows of the member ids that temp table `imp_chunks` (repo_id, repo_key, chunk) puts
        in `chunk`, one row per repo and imported day (`idx` of temp table `imp_days`
        (day, idx)); `print` is ROW_PRINT over the member's id and the row's values (the
        day's fingerprint). Keys and day numbers, not ids and dates: a chunk's millions of
        rows are cheaper joined and sorted by integers."""
        ...


# The fingerprint of one imported row (its repo's member id and counters); a day's
# fingerprint is their count and bit_xor: equal rows, equal print.
ROW_PRINT = "hash({id}, {dl30}, {dl_all}, {likes})"


# Rows of one chunk: its window pass sorts them, and the rollup reads them again per
# statement; 6M presences (about 300 MB) stay under the series read's memory limit.
ROWS_PER_CHUNK = 6_000_000


def write_import(
    con: duckdb.DuckDBPyConnection,
    family: str,
    days: list[ImportedDay],
    members: pa.Table,
    names: pa.Table,
    rows: Rows,
    *,
    source: str,
    dataset: str,
    revision: str,
    lineage_basis: str,
    on_chunk: Callable[[int, int], None] | None = None,
) -> WriteResult:
    """Replace the family's imported days by `days` (the days `rows` has rows on), whose
    members are `members` (with every id of theirs in `names`), in one transaction.
    `on_chunk(done, chunks)` is called as each chunk of members is written."""
    before = imported_days(con, family)
    result = WriteResult(days=len(days), members=members.num_rows)
    prints: dict[date, str] = {}
    con.register("imp_members_arrow", members)
    con.register("imp_names_arrow", names)
    try:
        con.execute("BEGIN TRANSACTION")
        try:
            _delete_imported(con, family)
            result.rollup = "rebuilt"
            if days:
                prints, result.rows, result.chunks, set_based = _insert(
                    con, family, days, rows, source, dataset, revision, lineage_basis, on_chunk
                )
                if set_based:
                    result.rollup = "set-based"
                for table in ("imp_days", "imp_keys", "imp_chunks"):
                    con.execute(f"DROP TABLE {table}")
            else:
                rollup.rebuild(con, family, PLATFORM)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        con.unregister("imp_members_arrow")
        con.unregister("imp_names_arrow")
    for d in days:
        if d.day not in before:
            result.added += 1
        elif before[d.day][2] != prints.get(d.day, "0:0"):
            result.changed += 1
    result.removed = len(set(before) - {d.day for d in days})
    return result


def _delete_imported(con: duckdb.DuckDBPyConnection, family: str) -> None:
    """Remove the family's imported runs, first re-anchoring on own snapshots what they use."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE old_runs AS SELECT run_id FROM imports WHERE family = ?",
        [family],
    )
    if not con.execute("SELECT count(*) FROM old_runs").fetchall()[0][0]:
        return
    # A counter row of an imported day that a later own snapshot did not repeat (unchanged):
    # copy it to the first own day-run (of any family) that counts the repo.
    con.execute(
        """
        INSERT INTO counts (repo_key, run_id, downloads_30d, downloads_all_time, likes)
        WITH used AS (
            SELECT DISTINCT repo_key FROM counts WHERE run_id IN (SELECT run_id FROM old_runs)
        ), deps AS (
            SELECT m.repo_key, min(d.run_id) AS run_id
            FROM membership m JOIN used USING (repo_key)
            JOIN day_runs d ON d.family = m.family AND d.platform = m.platform
                           AND d.run_id BETWEEN m.first_run AND m.last_run
            WHERE d.run_id NOT IN (SELECT run_id FROM imports)
            GROUP BY m.repo_key
        )
        SELECT p.repo_key, p.run_id, c.downloads_30d, c.downloads_all_time, c.likes
        FROM deps p ASOF JOIN counts c ON c.repo_key = p.repo_key AND c.run_id <= p.run_id
        WHERE c.run_id IN (SELECT run_id FROM old_runs)
        """
    )
    con.execute("DELETE FROM counts WHERE run_id IN (SELECT run_id FROM old_runs)")
    con.execute("DELETE FROM stale WHERE run_id IN (SELECT run_id FROM old_runs)")
    for table in ("membership", "edges"):
        # intervals that an own snapshot extended now start at that snapshot
        con.execute(
            f"""
            UPDATE {table} t SET first_run = (
                SELECT min(d.run_id) FROM day_runs d
                WHERE d.family = t.family AND d.platform = t.platform
                  AND d.run_id BETWEEN t.first_run AND t.last_run
                  AND d.run_id NOT IN (SELECT run_id FROM old_runs))
            WHERE t.family = ? AND t.platform = ? AND t.first_run IN (SELECT run_id FROM old_runs)
              AND t.last_run NOT IN (SELECT run_id FROM old_runs)
            """,
            [family, PLATFORM],
        )
        con.execute(
            f"""DELETE FROM {table} WHERE family = ? AND platform = ?
                AND last_run IN (SELECT run_id FROM old_runs)""",
            [family, PLATFORM],
        )
    con.execute("DELETE FROM imports WHERE run_id IN (SELECT run_id FROM old_runs)")
    con.execute("DELETE FROM runs WHERE run_id IN (SELECT run_id FROM old_runs)")


def _insert(
    con: duckdb.DuckDBPyConnection,
    family: str,
    days: list[ImportedDay],
    rows: Rows,
    source: str,
    dataset: str,
    revision: str,
    lineage_basis: str,
    on_chunk: Callable[[int, int], None] | None,
) -> tuple[dict[date, str], int, int, bool]:
    """Store the days, a chunk of members at a time: each day's row fingerprint, the rows
    stored, the chunks, and whether the rollup was set-based."""
    now = datetime.now(UTC).replace(tzinfo=None)
    taken = {
        (r[0], r[1])
        for r in con.execute(
            "SELECT CAST(started_at AS DATE), run_id FROM runs WHERE run_id < 0"
        ).fetchall()
    }
    used_ids = {rid for _, rid in taken}
    plan = []
    for index, d in enumerate(sorted(days, key=lambda x: x.day)):
        slot = 0
        while import_run_id(d.day, slot) in used_ids:
            slot += 1
        run_id = import_run_id(d.day, slot)
        used_ids.add(run_id)
        plan.append((index, run_id, d))
    con.execute(
        """CREATE OR REPLACE TEMP TABLE imp_days (
               idx INTEGER, run_id BIGINT, day DATE, partial BOOLEAN, flags VARCHAR,
               revision VARCHAR, basis VARCHAR)"""
    )
    con.executemany(
        "INSERT INTO imp_days VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (i, rid, d.day, d.partial, _problems(d.flags), d.revision, d.lineage_basis)
            for i, rid, d in plan
        ],
    )
    con.execute("CREATE OR REPLACE TEMP TABLE imp_members AS SELECT * FROM imp_members_arrow")
    _upsert_repos(con, plan[0][1])
    con.execute("DROP TABLE imp_members")
    # the runs first (the rollup's checks read day_runs); their counts once every chunk is in
    con.execute(
        """
        INSERT INTO runs (run_id, family, started_at, finished_at, status, strategy,
                          repos_seen, members, stale, problems, source, revision, lineage_basis)
        SELECT d.run_id, $family, CAST(d.day AS TIMESTAMP), $now,
               CASE WHEN d.partial THEN 'partial' ELSE 'complete' END, $strategy, 0, 0, 0,
               d.flags, $source, coalesce(d.revision, $revision), coalesce(d.basis, $basis)
        FROM imp_days d
        """,
        {
            "family": family,
            "now": now,
            "strategy": IMPORT_STRATEGY,
            "source": source,
            "revision": revision,
            "basis": lineage_basis,
        },
    )
    set_based = import_rollup.begin(con, family, PLATFORM)
    chunks = _chunks(con, len(plan))
    con.execute(
        """CREATE OR REPLACE TEMP TABLE imp_day_stats (
               day DATE, n BIGINT, x UBIGINT, all_time BOOLEAN)"""
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE imp_run_stats (idx INTEGER, members BIGINT, stale BIGINT)"
    )
    partial = [i for i, _, d in plan if d.partial and i > 0]
    for chunk in range(chunks):
        rows.read(con, chunk)
        _insert_chunk(con, family, partial)
        if set_based:
            import_rollup.add_chunk(con, family, PLATFORM)
        con.execute("DROP TABLE imp_points")
        if on_chunk is not None:
            on_chunk(chunk + 1, chunks)
    con.execute(
        """
        UPDATE runs r SET repos_seen = s.seen, members = s.members, stale = s.stale
        FROM (
            SELECT d.run_id, coalesce(x.n, 0) AS seen, coalesce(p.members, 0) AS members,
                   coalesce(p.stale, 0) AS stale
            FROM imp_days d
            LEFT JOIN (SELECT day, sum(n) AS n FROM imp_day_stats GROUP BY day) x USING (day)
            LEFT JOIN (SELECT idx, sum(members) AS members, sum(stale) AS stale
                       FROM imp_run_stats GROUP BY idx) p USING (idx)
        ) s
        WHERE r.run_id = s.run_id
        """
    )
    # per day: its rows, a fingerprint (equal rows, equal print), whether it has dl_all
    stats = {
        r[0]: (str(r[1]), int(r[2]), bool(r[3]))
        for r in con.execute(
            """SELECT day, sum(n) || ':' || bit_xor(x), sum(n), bool_or(all_time)
               FROM imp_day_stats GROUP BY day"""
        ).fetchall()
    }
    none = ("0:0", 0, False)
    con.executemany(
        """INSERT INTO imports (run_id, family, day, dataset, flags, fingerprint, imported_at,
                               all_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
        [
            (
                rid,
                family,
                d.day,
                dataset,
                json.dumps(d.flags) if d.flags else None,
                stats.get(d.day, none)[0],
                now,
                stats.get(d.day, none)[2],
            )
            for _, rid, d in plan
        ],
    )
    for table in ("imp_day_stats", "imp_run_stats"):
        con.execute(f"DROP TABLE {table}")
    set_based = import_rollup.finish(con, family, PLATFORM, set_based)
    prints = {d: v[0] for d, v in stats.items()}
    return prints, sum(v[1] for v in stats.values()), chunks, set_based


def _chunks(con: duckdb.DuckDBPyConnection, days: int) -> int:
    """Temp table `imp_chunks` (repo_id, repo_key, chunk): the members in chunks of about
    ROWS_PER_CHUNK rows (at most one per day each), in order of id (a dataset sorted by id
    then reads each chunk's part of its files only), the ids of one repo together; the
    number of chunks."""
    keys = con.execute("SELECT count(DISTINCT repo_key) FROM imp_keys").fetchall()[0][0]
    chunks = max(1, min(keys, -(-keys * days // ROWS_PER_CHUNK)))
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE imp_chunks AS
        WITH k AS (
            SELECT repo_key, min(repo_id) AS first_id FROM imp_keys GROUP BY repo_key
        ), ranked AS (
            SELECT repo_key, row_number() OVER (ORDER BY first_id) - 1 AS pos FROM k
        )
        SELECT DISTINCT i.repo_id, i.repo_key, CAST(r.pos * $chunks // $keys AS INTEGER) AS chunk
        FROM imp_keys i JOIN ranked r USING (repo_key)
        """,
        {"chunks": chunks, "keys": keys},
    )
    return chunks


def _insert_chunk(con: duckdb.DuckDBPyConnection, family: str, partial: list[int]) -> None:
    """Store one chunk's rows (temp table `imported`, dropped once read): its counters,
    membership and lineage; temp table `imp_points` for the rollup."""
    con.execute(
        """INSERT INTO imp_day_stats
           SELECT d.day, count(*), bit_xor(i.print), bool_or(i.dl_all IS NOT NULL)
           FROM imported i JOIN imp_days d USING (idx) GROUP BY d.day"""
    )
    # Presence: a member is in a day-run when the day has its row; on a partial day, also
    # when it was present the day-run before (kept at its values there, as `stale`).
    con.execute(
        """CREATE OR REPLACE TEMP TABLE imp_stale (
               repo_key BIGINT, idx INTEGER, dl30 BIGINT, dl_all BIGINT, likes BIGINT)"""
    )
    for i in partial:
        con.execute(
            """
            INSERT INTO imp_stale
            SELECT repo_key, $idx, dl30, dl_all, likes
            FROM (SELECT repo_key, idx, dl30, dl_all, likes FROM imported
                  UNION ALL SELECT * FROM imp_stale) p
            WHERE p.idx = $idx - 1
              AND repo_key NOT IN (SELECT repo_key FROM imported WHERE idx = $idx)
            """,
            {"idx": i},
        )
    con.execute(
        """CREATE OR REPLACE TEMP VIEW imp_present AS
           SELECT repo_key, idx, false AS stale, dl30, dl_all, likes FROM imported
           UNION ALL SELECT repo_key, idx, true, dl30, dl_all, likes FROM imp_stale"""
    )
    con.execute(
        """INSERT INTO imp_run_stats
           SELECT idx, count(*), count(*) FILTER (WHERE stale) FROM imp_present GROUP BY idx"""
    )
    con.execute(
        """
        INSERT INTO stale (run_id, repo_key)
        SELECT d.run_id, s.repo_key FROM imp_stale s JOIN imp_days d USING (idx)
        """
    )
    # Counters where they change from the repo's previous imported row; a missing value
    # keeps the last one known (as a snapshot does), so dl_all stays NULL before it exists.
    # One window pass over the presences (one sort: every window below shares its partition
    # and order) gives the rows to write, the islands of consecutive presence (membership
    # intervals) and, kept in `imp_points`, what the set-based rollup (import_rollup.py)
    # reads: the values in force at each presence and at the one before.
    # A value missing after a known one must be carried over (last_value IGNORE NULLS, a
    # costly frame); without such gaps (the usual case: dl_all missing only before it
    # existed) the value before is simply the previous presence's.
    gaps = con.execute(
        """SELECT count(*) FROM imp_present
           WHERE dl30 IS NULL OR likes IS NULL OR (dl_all IS NULL AND idx >= (
               SELECT min(idx) FROM imp_present WHERE dl_all IS NOT NULL))"""
    ).fetchall()[0][0]
    carried = ",\n".join(
        f"last_value({col} IGNORE NULLS) OVER ({_BY_REPO} ROWS BETWEEN UNBOUNDED PRECEDING "
        f"AND {frame}) AS {prefix}{col}"
        if gaps
        else (f"lag({col}) OVER ({_BY_REPO}) AS p_{col}" if prefix else col)
        for prefix, frame in (("", "CURRENT ROW"), ("p_", "1 PRECEDING"))
        for col in ("dl30", "dl_all", "likes")
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE imp_points AS
        SELECT * FROM (
            SELECT repo_key, idx, island, dl30, dl_all, likes, p_dl30, p_dl_all, p_likes,
                   prev_idx IS NOT NULL AS seen_before,
                   NOT stale AND (prev_idx IS NULL OR dl30 IS DISTINCT FROM p_dl30
                                  OR dl_all IS DISTINCT FROM p_dl_all
                                  OR likes IS DISTINCT FROM p_likes) AS written,
                   prev_idx IS DISTINCT FROM idx - 1 AS island_start,
                   next_idx IS DISTINCT FROM idx + 1 AS island_end
            FROM (
                SELECT repo_key, idx, stale, {carried},
                       lag(idx) OVER ({_BY_REPO}) AS prev_idx,
                       lead(idx) OVER ({_BY_REPO}) AS next_idx,
                       idx - row_number() OVER ({_BY_REPO}) AS island
                FROM imp_present
            )
        ) WHERE written OR island_start OR island_end
        """
    )
    # the chunk's rows, now in imp_points where needed: free them early
    con.execute("DROP VIEW imp_present")
    con.execute("DROP TABLE imported")
    con.execute("DROP TABLE imp_stale")
    con.execute(
        """
        INSERT INTO counts (repo_key, run_id, downloads_30d, downloads_all_time, likes)
        SELECT p.repo_key, d.run_id, p.dl30, p.dl_all, p.likes
        FROM imp_points p JOIN imp_days d USING (idx) WHERE p.written
        """
    )
    # Membership and lineage as intervals of consecutive day-runs of presence.
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE imp_islands AS
        SELECT p.repo_key, min(d.run_id) AS first_run, max(d.run_id) AS last_run
        FROM imp_points p JOIN imp_days d USING (idx)
        WHERE p.island_start OR p.island_end
        GROUP BY p.repo_key, p.island
        """
    )
    con.execute(
        """
        INSERT INTO membership (family, repo_key, first_run, last_run, role, relation, depth,
                                parent_key)
        SELECT $family, k.repo_key, s.first_run, s.last_run, k.role,
               CASE WHEN k.role = 'derivative' THEN coalesce(k.relation, 'unspecified') END,
               k.depth, p.repo_key
        FROM imp_islands s JOIN imp_keys k USING (repo_key)
        LEFT JOIN imp_keys p ON p.repo_id = k.parent_id
        """,
        {"family": family},
    )
    con.execute(
        """
        INSERT INTO edges (family, child_key, parent_id, relation, first_run, last_run)
        SELECT DISTINCT $family, k.repo_key, k.parent_id, coalesce(k.relation, 'unspecified'),
               s.first_run, s.last_run
        FROM imp_islands s JOIN imp_keys k USING (repo_key)
        WHERE k.parent_id IS NOT NULL
        """,
        {"family": family},
    )
    con.execute("DROP TABLE imp_islands")


def _upsert_repos(con: duckdb.DuckDBPyConnection, first_run: int) -> None:
    """Keys of the members in `repos` (by the Hub `_id`, else by any id they had), adding
    the repos not stored yet and every id of theirs to `repo_names`."""
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE imp_keys AS
        WITH by_hub AS (
            SELECT m.repo_id, min(r.repo_key) AS repo_key
            FROM imp_members m JOIN repos r ON r.hub_id = m.hub_id
            WHERE r.platform = 'huggingface' GROUP BY m.repo_id
        ), by_name AS (
            SELECT a.repo_id, max(n.repo_key) AS repo_key
            FROM imp_names_arrow a JOIN repo_names n ON n.repo_id = a.alias
            JOIN repos r ON r.repo_key = n.repo_key AND r.platform = 'huggingface'
            GROUP BY a.repo_id
        )
        SELECT m.*, coalesce(h.repo_key, b.repo_key) AS repo_key
        FROM imp_members m LEFT JOIN by_hub h USING (repo_id) LEFT JOIN by_name b USING (repo_id)
        """
    )
    con.execute("UPDATE imp_keys SET repo_key = nextval('repo_keys') WHERE repo_key IS NULL")
    con.execute(
        """
        INSERT INTO repos (repo_key, hub_id, repo_id, author, created_at, pipeline_tag,
                           library_name, first_seen_run, last_seen_run)
        SELECT repo_key, hub_id, repo_id, author, created_at, pipeline_tag, library_name,
               $run, $run
        FROM imp_keys WHERE repo_key NOT IN (SELECT repo_key FROM repos)
        """,
        {"run": first_run},
    )
    con.execute(
        """
        INSERT INTO repo_names
        SELECT DISTINCT k.repo_key, a.alias, $run
        FROM imp_names_arrow a JOIN imp_keys k USING (repo_id)
        WHERE NOT EXISTS (SELECT 1 FROM repo_names n
                          WHERE n.repo_key = k.repo_key AND n.repo_id = a.alias)
        """,
        {"run": first_run},
    )


def _problems(flags: list[str]) -> str | None:
    # the runs.problems JSON of a snapshot: data problem kind -> count
    return json.dumps({f: 1 for f in flags}, sort_keys=True) if flags else None
