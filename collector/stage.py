"""The staging area of one snapshot: what the Hub returned, before it reaches the warehouse.

Pages are appended in batches to an in-memory DuckDB (never row by row), and each family's
membership is then computed in SQL: official repos, then breadth-first along base_model
edges, each repo at its smallest depth, so cycles and repos with several official
ancestors are counted once. Nothing here touches the warehouse, so a snapshot holds the
warehouse's write lock only for its final commit.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

import duckdb
import pyarrow as pa

from collector.families import Family
from collector.items import RepoRecord

ITEM_SCHEMA = pa.schema(
    [
        ("seq", pa.int64()),
        ("hub_id", pa.string()),
        ("repo_id", pa.string()),
        ("author", pa.string()),
        ("created_at", pa.timestamp("us")),
        ("last_modified", pa.timestamp("us")),
        ("pipeline_tag", pa.string()),
        ("library_name", pa.string()),
        ("downloads_30d", pa.int64()),
        ("downloads_all_time", pa.int64()),
        ("likes", pa.int64()),
    ]
)
EDGE_SCHEMA = pa.schema(
    [("seq", pa.int64()), ("child_id", pa.string()), ("parent_id", pa.string()),
     ("relation", pa.string())]
)


FLUSH_ROWS = 10_000  # write staged pages in batches of this many rows ...
FLUSH_PAGES = 100  # ... or this many pages (a lineage crawl has many small pages)


def _table(schema: pa.Schema, columns: Mapping[str, object]) -> pa.Table:
    # from_arrays: much faster than from_pydict for the same columns
    return pa.Table.from_arrays(
        [pa.array(columns[f.name], type=f.type) for f in schema], schema=schema
    )


# DuckDB's memory limit for a whole-Hub stage (see bench/results.md for the measurements).
CRAWL_MEMORY_LIMIT = "128MB"


class Stage:
    """Records of one snapshot, de-duplicated by repo (the Hub `_id`, else the id)."""

    def __init__(self, path: str | None = None, memory_limit: str | None = None) -> None:
        self._dir: str | None = None
        self.db = duckdb.connect(path or ":memory:")
        if memory_limit:
            self.db.execute(f"SET memory_limit = '{memory_limit}'")
        self.db.register("_empty_items", ITEM_SCHEMA.empty_table())
        self.db.register("_empty_edges", EDGE_SCHEMA.empty_table())
        self.db.execute("CREATE TABLE raw_items AS SELECT * FROM _empty_items")
        self.db.execute("CREATE TABLE raw_edges AS SELECT * FROM _empty_edges")
        self.db.unregister("_empty_items")
        self.db.unregister("_empty_edges")
        self._seq = 0
        self.rows = 0
        self._pending: list[tuple[pa.Table, pa.Table]] = []
        self._pending_rows = 0

    @classmethod
    def for_crawl(cls, directory: str | Path | None = None) -> Stage:
        """A stage for a whole-Hub crawl: a temporary DuckDB file (in `directory`, else the
        system's temp dir) with a memory limit, so that millions of repos spill to disk
        instead of growing the process."""
        tmp = tempfile.mkdtemp(prefix=".collector-stage-", dir=directory)
        stage = cls(str(Path(tmp) / "stage.duckdb"), memory_limit=CRAWL_MEMORY_LIMIT)
        stage._dir = tmp
        return stage

    def add(self, records: list[RepoRecord]) -> None:
        """Append one page of records (a later sighting of a repo wins).

        Pages are converted column by column and written in batches of FLUSH_ROWS: a
        whole-Hub crawl appends millions of records, and each INSERT has a fixed cost.
        """
        if not records:
            return
        base = self._seq
        self._seq += len(records)
        self.rows += len(records)
        columns = {
            "seq": range(base, base + len(records)),
            "hub_id": [r.hub_id for r in records],
            "repo_id": [r.repo_id for r in records],
            "author": [r.author for r in records],
            "created_at": [r.created_at for r in records],
            "last_modified": [r.last_modified for r in records],
            "pipeline_tag": [r.pipeline_tag for r in records],
            "library_name": [r.library_name for r in records],
            "downloads_30d": [r.downloads_30d for r in records],
            "downloads_all_time": [r.downloads_all_time for r in records],
            "likes": [r.likes for r in records],
        }
        linked = [(base + i, r.repo_id, e) for i, r in enumerate(records) for e in r.parents]
        edges = {
            "seq": [s for s, _, _ in linked],
            "child_id": [c for _, c, _ in linked],
            "parent_id": [e.parent_id for _, _, e in linked],
            "relation": [e.relation for _, _, e in linked],
        }
        self._pending.append((_table(ITEM_SCHEMA, columns), _table(EDGE_SCHEMA, edges)))
        self._pending_rows += len(records)
        if self._pending_rows >= FLUSH_ROWS or len(self._pending) >= FLUSH_PAGES:
            self.flush()

    def flush(self) -> None:
        """Write the pages added since the last flush."""
        if not self._pending:
            return
        # one chunk each: DuckDB's scan of thousands of tiny chunks costs far more memory
        page = pa.concat_tables([items for items, _ in self._pending]).combine_chunks()
        page_edges = pa.concat_tables([edges for _, edges in self._pending]).combine_chunks()
        self._pending, self._pending_rows = [], 0
        self.db.execute("INSERT INTO raw_items SELECT * FROM page")
        self.db.execute("INSERT INTO raw_edges SELECT * FROM page_edges")

    def finish(self) -> None:
        """De-duplicate: one row per repo, the latest sighting, with that sighting's edges."""
        self.flush()
        self.db.execute(
            """
            CREATE OR REPLACE TABLE items AS
            SELECT * FROM raw_items
            QUALIFY row_number() OVER (PARTITION BY coalesce(hub_id, repo_id) ORDER BY seq DESC) = 1;
            CREATE OR REPLACE TABLE edges AS
            SELECT e.child_id, e.parent_id, e.relation,
                   lower(e.child_id) AS child_lc, lower(e.parent_id) AS parent_lc
            FROM raw_edges e SEMI JOIN items i ON i.seq = e.seq;
            """
        )

    @property
    def repo_count(self) -> int:
        row = self.db.execute("SELECT count(*) FROM items").fetchall()
        return int(row[0][0])

    def members(self, family: Family) -> duckdb.DuckDBPyRelation:
        """The family's members among the staged repos, with role, relation, depth, parent."""
        db = self.db
        db.execute(
            """
            CREATE OR REPLACE TEMP TABLE members AS
            SELECT seq, repo_id, lower(repo_id) AS repo_lc, 'official' AS role,
                   NULL::VARCHAR AS relation, 0 AS depth, NULL::VARCHAR AS parent_id
            FROM items
            WHERE list_contains($repos, repo_id)
               OR (list_contains($authors, lower(coalesce(author, split_part(repo_id, '/', 1))))
                   AND ($pattern IS NULL OR regexp_matches(repo_id, $pattern)))
            """,
            {
                "repos": list(family.repos),
                "authors": [a.lower() for a in family.authors],
                "pattern": family.name_pattern,
            },
        )
        depth = 0
        while family.derivatives and (family.max_depth is None or depth < family.max_depth):
            added = db.execute(
                """
                INSERT INTO members
                SELECT i.seq, i.repo_id, lower(i.repo_id), 'derivative',
                       arg_min(e.relation, e.parent_id), $next, min(e.parent_id)
                FROM edges e
                JOIN members p ON p.repo_lc = e.parent_lc AND p.depth = $depth
                JOIN items i ON lower(i.repo_id) = e.child_lc
                WHERE lower(i.repo_id) NOT IN (SELECT repo_lc FROM members)
                GROUP BY i.seq, i.repo_id
                """,
                {"depth": depth, "next": depth + 1},
            ).fetchall()
            if not added or not added[0][0]:
                break
            depth += 1
        return db.sql(
            """
            SELECT i.hub_id, i.repo_id, i.author, i.created_at, i.pipeline_tag, i.library_name,
                   i.downloads_30d, i.downloads_all_time, i.likes,
                   m.role, m.relation, m.depth, m.parent_id
            FROM members m JOIN items i USING (seq)
            """
        )

    def member_edges(self) -> duckdb.DuckDBPyRelation:
        """base_model edges of the repos in the last `members` call."""
        return self.db.sql(
            """
            SELECT m.repo_id AS child_id, e.parent_id, e.relation
            FROM edges e JOIN members m ON m.repo_lc = e.child_lc
            """
        )

    def close(self) -> None:
        """Release the stage (closing twice is harmless)."""
        self.db.close()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
