"""The staging area of one snapshot: what the Hub returned, before it reaches the warehouse.

Pages are appended in batches to a DuckDB of their own (never row by row): in memory, or
a file beside the warehouse that lets an interrupted snapshot resume (see crawl.py).
`finish` leaves one row per repo (`items`) with its base_model edges (`edges`), over which
lineage.py computes each family's members. Nothing here touches the warehouse, so a
snapshot holds the warehouse's write lock only for its final commit.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import duckdb
import pyarrow as pa

from collector.sources.items import RepoRecord

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
    [
        ("seq", pa.int64()),
        ("child_id", pa.string()),
        ("parent_id", pa.string()),
        ("relation", pa.string()),
    ]
)


def _table(schema: pa.Schema, columns: Mapping[str, object]) -> pa.Table:
    # from_arrays: several times faster than from_pydict for the same columns
    return pa.Table.from_arrays(
        [pa.array(columns[f.name], type=f.type) for f in schema], schema=schema
    )


class Stage:
    """Records of one snapshot, de-duplicated by repo (the Hub `_id`, else the id)."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        """An empty stage in memory, or the stage kept in the DuckDB file at `path`."""
        self.db = duckdb.connect(str(path) if path else ":memory:")
        exists = self.db.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'raw_items'"
        ).fetchall()[0][0]
        if not exists:
            self.db.register("_empty_items", ITEM_SCHEMA.empty_table())
            self.db.register("_empty_edges", EDGE_SCHEMA.empty_table())
            self.db.execute("CREATE TABLE raw_items AS SELECT * FROM _empty_items")
            self.db.execute("CREATE TABLE raw_edges AS SELECT * FROM _empty_edges")
            self.db.unregister("_empty_items")
            self.db.unregister("_empty_edges")
        # base_model parents named by an old id, resolved to the repo's current id (a NULL
        # new_id: looked up, not found); kept in the stage file, so a resume asks no twice
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS aliases (old_lc VARCHAR PRIMARY KEY, new_id VARCHAR)"
        )
        row = self.db.execute(
            "SELECT coalesce(max(seq) + 1, 0), count(*) FROM raw_items"
        ).fetchall()
        self._seq, self.rows = int(row[0][0]), int(row[0][1])
        self._renames: list[tuple[str, str, str | None]] = []
        self._departures: list[tuple[str, str]] = []

    def add(self, records: list[RepoRecord]) -> None:
        """Append one page of records (a later sighting of a repo wins)."""
        if not records:
            return
        base = self._seq
        self._seq += len(records)
        self.rows += len(records)
        # column by column (a whole-Hub crawl appends millions of records)
        items = {
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
        self._append("raw_items", _table(ITEM_SCHEMA, items))
        self._append("raw_edges", _table(EDGE_SCHEMA, edges))

    def _append(self, table: str, batch: pa.Table) -> None:
        self.db.register("_batch", batch)
        try:
            self.db.execute(f"INSERT INTO {table} SELECT * FROM _batch")
        finally:
            self.db.unregister("_batch")

    def unseen(self, repos: list[tuple[str, str | None]]) -> list[tuple[str, str | None]]:
        """Those (repo_id, hub_id) staged neither under their id nor under their `_id`.

        In SQL: a whole-Hub stage holds millions of ids, too many to bring into Python.
        """
        if not repos:
            return []
        ids, hub_ids = zip(*repos, strict=True)
        wanted = pa.table(
            {"repo_id": pa.array(ids, pa.string()), "hub_id": pa.array(hub_ids, pa.string())}
        )
        self.db.register("_wanted", wanted)
        try:
            rows = self.db.execute(
                """
                SELECT w.repo_id, w.hub_id FROM _wanted w
                WHERE lower(w.repo_id) NOT IN (SELECT lower(repo_id) FROM raw_items)
                  AND (w.hub_id IS NULL OR w.hub_id NOT IN (
                      SELECT hub_id FROM raw_items WHERE hub_id IS NOT NULL))
                """
            ).fetchall()
        finally:
            self.db.unregister("_wanted")
        found = set(rows)
        return [r for r in repos if r in found]  # in the order given

    def dangling_parents(self) -> list[tuple[str, int]]:
        """(parent id, children) of each base_model parent named by a staged repo that is
        staged under no letter case and not looked up yet; most children first."""
        rows = self.db.execute(
            """
            SELECT min(parent_id), count(DISTINCT lower(child_id)) AS n FROM raw_edges
            WHERE lower(parent_id) NOT IN (SELECT lower(repo_id) FROM raw_items)
              AND lower(parent_id) NOT IN (SELECT old_lc FROM aliases)
            GROUP BY lower(parent_id) ORDER BY n DESC, 1
            """
        ).fetchall()
        return [(str(p), int(n)) for p, n in rows]

    def add_alias(self, old_id: str, new_id: str | None) -> None:
        """Record what a dangling parent is now called (None: the Hub does not know it)."""
        self.db.execute("INSERT OR REPLACE INTO aliases VALUES (?, ?)", [old_id.lower(), new_id])

    def alias_by_hub(self, known: pa.Table) -> list[str]:
        """Resolve each dangling parent that `known` (repo_id, hub_id: ids repos had where
        they were seen before) gives a Hub `_id` to the id a staged repo has under that
        `_id` (a parent renamed since the tag was written); the parents resolved (lower
        case)."""
        self.db.register("_known", known)
        try:
            self.db.execute(
                """
                CREATE OR REPLACE TEMP TABLE _by_hub AS
                SELECT d.parent_lc, arg_max(i.repo_id, i.seq)
                FROM (SELECT DISTINCT lower(parent_id) AS parent_lc FROM raw_edges
                      WHERE lower(parent_id) NOT IN (SELECT lower(repo_id) FROM raw_items)
                        AND lower(parent_id) NOT IN (SELECT old_lc FROM aliases)) d
                JOIN _known k ON lower(k.repo_id) = d.parent_lc
                JOIN raw_items i ON i.hub_id = k.hub_id
                GROUP BY d.parent_lc
                """
            )
            self.db.execute("INSERT OR REPLACE INTO aliases SELECT * FROM _by_hub")
            rows = self.db.execute("SELECT * FROM _by_hub ORDER BY 1").fetchall()
            self.db.execute("DROP TABLE _by_hub")
            return [str(r[0]) for r in rows]
        finally:
            self.db.unregister("_known")

    def unresolved_parents(self) -> list[str]:
        """Dangling parents looked up and not found, by id (lower case)."""
        rows = self.db.execute(
            "SELECT old_lc FROM aliases WHERE new_id IS NULL ORDER BY 1"
        ).fetchall()
        return [str(r[0]) for r in rows]

    def unresolved_table(self) -> pa.Table:
        """parent_id, children: each dangling parent the Hub could not resolve (as a tag
        names it), with how many staged repos tag it; most children first."""
        return self.db.sql(
            """
            SELECT min(e.parent_id) AS parent_id, count(DISTINCT lower(e.child_id)) AS children
            FROM raw_edges e JOIN aliases a ON a.old_lc = lower(e.parent_id)
            WHERE a.new_id IS NULL
            GROUP BY lower(e.parent_id) ORDER BY children DESC, parent_id
            """
        ).to_arrow_table()

    def add_departure(self, repo_id: str, reason: str) -> None:
        """Record that a member not seen answered its lookup `reason` (disabled, gone)."""
        self._departures.append((repo_id, reason))

    def departures_table(self) -> pa.Table:
        """repo_id, reason of each departed member whose lookup said why."""
        ids, reasons = (
            (list(c) for c in zip(*self._departures, strict=True)) if self._departures else ([], [])
        )
        return pa.table(
            {"repo_id": pa.array(ids, pa.string()), "reason": pa.array(reasons, pa.string())}
        )

    def add_rename(self, old_id: str, new_id: str, hub_id: str | None) -> None:
        """Record that the repo known as `old_id` is now `new_id`."""
        self._renames.append((old_id, new_id, hub_id))

    def renames_table(self) -> pa.Table:
        """Renames found in this snapshot: old_id, new_id, hub_id."""
        old, new, hub = (
            (list(col) for col in zip(*self._renames, strict=True))
            if self._renames
            else ([], [], [])
        )
        return pa.table(
            {
                "old_id": pa.array(old, pa.string()),
                "new_id": pa.array(new, pa.string()),
                "hub_id": pa.array(hub, pa.string()),
            }
        )

    def finish(self) -> None:
        """De-duplicate: one row per repo, the latest sighting, with that sighting's edges."""
        self.db.execute(
            """
            CREATE OR REPLACE TABLE items AS
            SELECT * FROM raw_items
            QUALIFY row_number() OVER (PARTITION BY coalesce(hub_id, repo_id) ORDER BY seq DESC) = 1;
            CREATE OR REPLACE TABLE edges AS
            SELECT e.child_id, e.parent_id, e.relation,
                   lower(e.child_id) AS child_lc,
                   coalesce(lower(a.new_id), lower(e.parent_id)) AS parent_lc
            FROM raw_edges e SEMI JOIN items i ON i.seq = e.seq
            LEFT JOIN aliases a ON a.old_lc = lower(e.parent_id);
            """
        )

    @property
    def repo_count(self) -> int:
        row = self.db.execute("SELECT count(*) FROM items").fetchall()
        return int(row[0][0])

    def close(self) -> None:
        """Release the stage (closing twice is harmless)."""
        self.db.close()
