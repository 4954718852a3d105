"""Turning a dataset's daily series into a family's days: which repos are members (the
lineage basis), which ids each repo had (renames), and the members' rows of every day.

The series are read by DuckDB straight from the cached parquet files, only the needed
columns, joined with a table of the members' ids: the 1.6M repos of the dataset never
reach Python.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa

from collector.families import Family
from collector.snapshot import lineage
from collector.snapshot.stage import EDGE_SCHEMA, Stage
from collector.sources.items import HUB_ID_RE, Problems, parse_lineage
from collector.store import imports

# What a lineage gives per member: the columns of a snapshot's member table.
MEMBER_COLUMNS = [
    "hub_id",
    "repo_id",
    "author",
    "created_at",
    "pipeline_tag",
    "library_name",
    "role",
    "relation",
    "depth",
    "parent_id",
]
# DuckDB memory for reading the series (the rest spills): see bench/results.md.
READ_MEMORY_LIMIT = "512MB"


@dataclass
class Lineage:
    """The members of a family an import counts, and where that membership comes from."""

    basis: str  # "snapshot:<run_id>" (the warehouse's) or "dataset:<revision>"
    described: str  # the same, for people
    members: pa.Table  # MEMBER_COLUMNS
    names: pa.Table  # alias, repo_id: every id a member was known under (itself included)


def warehouse_lineage(con: duckdb.DuckDBPyConnection, family: str) -> Lineage | None:
    """The members at the family's newest complete own snapshot, with every id each of
    them was seen under (the Hub `_id` links renames); None without such a snapshot."""
    row = con.execute(
        """SELECT r.run_id, CAST(r.started_at AS DATE) FROM runs r JOIN sources s USING (source)
           WHERE r.family = ? AND r.status = 'complete' AND s.own AND s.platform = 'huggingface'
           ORDER BY r.started_at DESC, r.run_id DESC LIMIT 1""",
        [family],
    ).fetchall()
    if not row:
        return None
    run_id, day = int(row[0][0]), row[0][1]
    members = con.sql(
        """
        SELECT r.hub_id, r.repo_id, r.author, r.created_at, r.pipeline_tag, r.library_name,
               m.role, m.relation, m.depth, p.repo_id AS parent_id
        FROM membership m JOIN repos r USING (repo_key)
        LEFT JOIN repos p ON p.repo_key = m.parent_key
        WHERE m.family = ? AND m.platform = 'huggingface' AND ? BETWEEN m.first_run AND m.last_run
        """,
        params=[family, run_id],
    ).to_arrow_table()
    names = con.sql(
        """
        SELECT DISTINCT n.repo_id AS alias, r.repo_id
        FROM membership m JOIN repos r USING (repo_key)
        JOIN repo_names n ON n.repo_key = r.repo_key
        WHERE m.family = ? AND m.platform = 'huggingface' AND ? BETWEEN m.first_run AND m.last_run
        """,
        params=[family, run_id],
    ).to_arrow_table()
    return Lineage(
        f"snapshot:{run_id}",
        f"the warehouse's snapshot of {day} (run {run_id})",
        members,
        names,
    )


def dataset_lineage(models: Path, children: Path, family: Family, revision: str) -> Lineage:
    """The members by the dataset's own lineage (models.parquet, children.parquet), by the
    same rules as a snapshot: official repos, then breadth first along base_model edges."""
    stage = Stage()
    try:
        db = stage.db
        cols = {
            str(r[0])
            for r in db.execute(
                "SELECT column_name FROM (DESCRIBE SELECT * FROM read_parquet(?))", [str(models)]
            ).fetchall()
        }

        def col(name: str, kind: str) -> str:
            return f"CAST({name} AS {kind})" if name in cols else f"NULL::{kind}"

        db.execute(
            f"""
            INSERT INTO raw_items
            SELECT row_number() OVER () - 1, NULL, id, {col("author", "VARCHAR")},
                   {col("created_at", "TIMESTAMP")}, {col("last_modified", "TIMESTAMP")},
                   {col("pipeline_tag", "VARCHAR")}, {col("library_name", "VARCHAR")},
                   NULL, NULL, NULL
            FROM read_parquet(?) WHERE id IS NOT NULL
            """,
            [str(models)],
        )
        db.execute(
            """
            INSERT INTO raw_edges
            SELECT i.seq, c.id, c.parent, coalesce(CAST(c.base_relation AS VARCHAR), 'unspecified')
            FROM read_parquet(?) c JOIN raw_items i ON i.repo_id = c.id
            WHERE c.parent IS NOT NULL AND c.parent <> c.id
            """,
            [str(children)],
        )
        stage.finish()
        members = lineage.members(stage, family)[0].select(MEMBER_COLUMNS)
    finally:
        stage.close()
    names = pa.table({"alias": members.column("repo_id"), "repo_id": members.column("repo_id")})
    return Lineage(
        f"dataset:{revision}",
        f"the dataset's lineage (models.parquet at {revision[:12]})",
        members,
        names,
    )


@dataclass
class KnownIds:
    """The ids repos had where they were seen before (e.g. earlier dumps), with their Hub
    `_id` (`table`: repo_id, hub_id): a base_model tag written before its parent was
    renamed names the old id, which `tags_members` resolves through them, adding it to
    `resolved` (lower case)."""

    table: pa.Table = field(
        default_factory=lambda: pa.table(
            {"repo_id": pa.array([], pa.string()), "hub_id": pa.array([], pa.string())}
        )
    )
    resolved: set[str] = field(default_factory=set)


def tags_members(
    batches: Iterable[pa.RecordBatch],
    family: Family,
    problems: Problems,
    known: KnownIds | None = None,
) -> pa.Table:
    """The family's members in one dump of every Hub model (batches with the Hub's names:
    `id`, `tags`, `downloads`, `likes`, and when present `downloadsAllTime`, `_id`,
    `author`, `createdAt`, `pipeline_tag`, `library_name`), by the same rules as a snapshot
    over the dump's own `base_model:` tags: MEMBER_COLUMNS plus the members' counters
    (downloads_30d, downloads_all_time, likes; NULL where the dump has none).

    Only the repos that can be members are staged: those with a base_model tag, and those
    whose author or id names one of the family's authors or repos. A tag naming a parent
    by an id the dump does not have is resolved, as the Hub resolves a renamed repo, when
    `known` (ids seen before, e.g. in earlier dumps) gives that id a Hub `_id` that a repo
    of the dump has."""
    stage = Stage()
    try:
        db = stage.db
        seq = 0
        for batch in batches:
            cols = set(batch.schema.names)

            def col(name: str, kind: str, cols: set[str] = cols) -> str:
                return f'TRY_CAST("{name}" AS {kind})' if name in cols else f"NULL::{kind}"

            def counter(name: str) -> str:
                return f"CASE WHEN {col(name, 'BIGINT')} >= 0 THEN {col(name, 'BIGINT')} END"

            db.register("_batch", batch)
            try:
                db.execute(
                    f"""
                    CREATE OR REPLACE TEMP TABLE _cand AS
                    SELECT $base + row_number() OVER () - 1 AS seq, *
                    FROM (
                        SELECT id, {col("_id", "VARCHAR")} AS hub_id,
                               {col("author", "VARCHAR")} AS author,
                               list_filter(tags, lambda t: starts_with(t, 'base_model:')) AS bm,
                               {col("createdAt", "TIMESTAMP")} AS created_at,
                               {col("pipeline_tag", "VARCHAR")} AS pipeline_tag,
                               {col("library_name", "VARCHAR")} AS library_name,
                               {counter("downloads")} AS d30,
                               {counter("downloadsAllTime")} AS d_all,
                               {counter("likes")} AS lk
                        FROM _batch WHERE id IS NOT NULL
                    )
                    WHERE len(coalesce(bm, [])) > 0 OR list_contains($repos, id)
                       OR list_contains($authors, lower(coalesce(author, '')))
                       OR list_contains($authors, lower(split_part(id, '/', 1)))
                    """,
                    {
                        "base": seq,
                        "repos": list(family.repos),
                        "authors": [a.lower() for a in family.authors],
                    },
                )
            finally:
                db.unregister("_batch")
            db.execute(
                """
                INSERT INTO raw_items
                SELECT seq, CASE WHEN regexp_matches(hub_id, $hub_re) THEN hub_id END, id,
                       author, created_at, NULL, pipeline_tag, library_name, d30, d_all, lk
                FROM _cand
                """,
                {"hub_re": HUB_ID_RE.pattern},
            )
            linked = [
                (s, child, e.parent_id, e.relation)
                for s, child, tags in db.execute(
                    "SELECT seq, id, bm FROM _cand WHERE len(coalesce(bm, [])) > 0"
                ).fetchall()
                for e in parse_lineage(child, tags, problems)
            ]
            seq += int(db.execute("SELECT count(*) FROM _cand").fetchall()[0][0])
            edges = pa.Table.from_arrays(
                [pa.array([r[i] for r in linked], f.type) for i, f in enumerate(EDGE_SCHEMA)],
                schema=EDGE_SCHEMA,
            )
            db.register("_edges", edges)
            try:
                db.execute("INSERT INTO raw_edges SELECT * FROM _edges")
            finally:
                db.unregister("_edges")
        db.execute("DROP TABLE IF EXISTS _cand")
        if known is not None and known.table.num_rows:
            known.resolved.update(stage.alias_by_hub(known.table))
        stage.finish()
        found = lineage.members(stage, family)[0]
    finally:
        stage.close()
    return found.select([*MEMBER_COLUMNS, "downloads_30d", "downloads_all_time", "likes"])


def add_renames(lineage: Lineage, renames: Path | None) -> pa.Table:
    """Every id of every member: the lineage's names plus the dataset's renames (old -> new,
    followed through chains), each mapped to the member's current id."""
    db = duckdb.connect()
    try:
        db.register("names", lineage.names)
        if renames is None:
            return db.sql("SELECT DISTINCT alias, repo_id FROM names").to_arrow_table()
        return db.sql(
            """
            WITH RECURSIVE moves AS (
                SELECT DISTINCT old, new FROM read_parquet(?)
                WHERE old IS NOT NULL AND new IS NOT NULL AND old <> new
            ), chain(alias, current, steps) AS (
                SELECT old, new, 1 FROM moves
                UNION ALL
                SELECT c.alias, m.new, c.steps + 1 FROM chain c JOIN moves m ON m.old = c.current
                WHERE c.steps < 50  -- a rename cycle must not loop forever
            ), latest AS (
                SELECT alias, arg_max(current, steps) AS current FROM chain GROUP BY alias
            )
            SELECT DISTINCT alias, repo_id FROM names
            UNION
            SELECT l.alias, n.repo_id FROM latest l JOIN names n ON n.alias = l.current
            WHERE l.alias NOT IN (SELECT alias FROM names)
            """,
            params=[str(renames)],
        ).to_arrow_table()
    finally:
        db.close()


class SeriesRows:
    """The members' rows of the dataset's series files on the import's days (imports.Rows).

    `start` reads which days have rows (ids and days only); `read` then reads one chunk of
    members at a time. The files are sorted by id with row-group statistics, and a chunk
    is a range of ids: DuckDB pushes the range of the join's ids into the scan and skips
    the row groups outside it, so the chunks together cost about one read. An old id of a
    repo outside its chunk's range (a rename) is read once for all, beforehand."""

    def __init__(self, files: list[Path], names: pa.Table, days: list[date]) -> None:
        self.files = [str(f) for f in files]
        self.names = names
        self.days = days
        self._strays = False

    def start(self, db: duckdb.DuckDBPyConnection) -> set[date]:
        """Temp tables of the members' ids and the days; the days with rows."""
        db.execute(f"SET memory_limit = '{READ_MEMORY_LIMIT}'")
        db.execute("SET preserve_insertion_order = false")
        member_names(db, self.names)
        db.register("_days", pa.table({"day": pa.array(self.days, pa.date32())}))
        try:
            db.execute("CREATE OR REPLACE TEMP TABLE wanted_days AS SELECT * FROM _days")
        finally:
            db.unregister("_days")
        if not self.files:  # no day of the dataset in range
            return set()
        present = db.execute(
            """
            SELECT DISTINCT CAST(s.day AS DATE) FROM read_parquet($files, union_by_name = true) s
            SEMI JOIN member_names n ON n.alias = s.id
            SEMI JOIN wanted_days w ON w.day = CAST(s.day AS DATE)
            """,
            {"files": self.files},
        ).fetchall()
        return {r[0] for r in present}

    def read(self, db: duckdb.DuckDBPyConnection, chunk: int) -> None:
        if not self._strays:
            self._read_strays(db)
        # A join, no window: sorting the members' rows (tens of millions) by repo and day
        # to pick one row per pair cost more than the scan itself.
        print_ = imports.ROW_PRINT.format(id="repo_id", dl30="dl30", dl_all="dl_all", likes="likes")
        db.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE imported AS
            SELECT repo_key, d.idx, dl30, dl_all, likes, {print_} AS print, rank
            FROM (
                SELECT n.repo_id, n.repo_key, {_VALUES}, n.rank
                FROM read_parquet($files, union_by_name = true) s
                JOIN (SELECT * FROM chunk_names WHERE chunk = $chunk AND NOT stray) n
                  ON n.alias = s.id
                UNION ALL
                SELECT repo_id, repo_key, day, dl30, dl_all, likes, rank
                FROM stray_rows WHERE chunk = $chunk
            ) JOIN imp_days d USING (day)
            """,
            {"files": self.files, "chunk": chunk},
        )
        first_rank(db, "repo_key, idx")

    def _read_strays(self, db: duckdb.DuckDBPyConnection) -> None:
        """Each id with its repo's chunk and key (imp_chunks); `stray`: outside the range
        of the chunk's ids, and read now, once, with every other stray id."""
        db.execute(
            """
            CREATE OR REPLACE TEMP TABLE chunk_names AS
            WITH n AS (SELECT n.*, c.repo_key, c.chunk
                       FROM member_names n JOIN imp_chunks c USING (repo_id))
            SELECT n.*, NOT (n.alias BETWEEN r.lo AND r.hi) AS stray
            FROM n JOIN (SELECT chunk, min(alias) AS lo, max(alias) AS hi FROM n
                         WHERE rank = 0 GROUP BY chunk) r USING (chunk)
            """
        )
        strays = db.execute("SELECT count(*) FROM chunk_names WHERE stray").fetchall()[0][0]
        db.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE stray_rows AS
            SELECT n.repo_id, n.repo_key, {_VALUES}, n.rank, n.chunk
            FROM read_parquet($files, union_by_name = true) s
            JOIN (SELECT * FROM chunk_names WHERE stray) n ON n.alias = s.id
            SEMI JOIN wanted_days w ON w.day = CAST(s.day AS DATE)
            {"" if strays else "LIMIT 0"}
            """,
            {"files": self.files},
        )
        self._strays = True

    def read_all(self, db: duckdb.DuckDBPyConnection) -> None:
        """Temp table `imported` (repo_id, day, dl30, dl_all, likes) with every member's
        rows at once (a few days' worth, for a cross-check)."""
        self.start(db)
        db.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE imported AS
            SELECT n.repo_id, {_VALUES}, n.rank
            FROM read_parquet($files, union_by_name = true) s
            JOIN member_names n ON n.alias = s.id
            SEMI JOIN wanted_days w ON w.day = CAST(s.day AS DATE)
            """,
            {"files": self.files},
        )
        first_rank(db, "repo_id, day")

    def end(self, db: duckdb.DuckDBPyConnection) -> None:
        for table in ("member_names", "wanted_days", "chunk_names", "stray_rows", "imported"):
            db.execute(f"DROP TABLE IF EXISTS {table}")


def member_names(db: duckdb.DuckDBPyConnection, names: pa.Table) -> None:
    """Temp table `member_names` (alias, repo_id, rank) from `names` (alias, repo_id):
    rank 0 is the id a repo's rows count under when a day has several (its newest id,
    else the smallest); only rows under another id need a look at the others."""
    db.register("_names", names)
    try:
        db.execute(
            """CREATE OR REPLACE TEMP TABLE member_names AS
               SELECT alias, repo_id, row_number() OVER (
                   PARTITION BY repo_id ORDER BY (alias = repo_id) DESC, alias) - 1 AS rank
               FROM _names"""
        )
    finally:
        db.unregister("_names")


def first_rank(db: duckdb.DuckDBPyConnection, key: str) -> None:
    """Keep, of temp table `imported`'s rows with the same `key` (a repo's day), the one
    under its lowest-ranked id (member_names.rank); drop the rank."""
    match = " AND ".join(f"o.{k} = i.{k}" for k in (c.strip() for c in key.split(",")))
    db.execute(
        f"""
        DELETE FROM imported i WHERE i.rank > 0 AND EXISTS (
            SELECT 1 FROM imported o WHERE {match} AND o.rank < i.rank)
        """
    )
    db.execute("ALTER TABLE imported DROP COLUMN rank")


_VALUES = """CAST(s.day AS DATE) AS day, CAST(s.dl30 AS BIGINT) AS dl30,
               CAST(s.dl_all AS BIGINT) AS dl_all, CAST(s.likes AS BIGINT) AS likes"""
