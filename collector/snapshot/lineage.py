"""Family membership by base_model lineage, computed in SQL over a finished stage.

A family's official repos (its authors' repos matching its name pattern, plus the repos
it lists), then breadth-first along the staged base_model edges, each repo at its
smallest depth: cycles and repos with several official ancestors are counted once. A
derivative's parent is the smallest id among its parents one level up (ids are stable,
so the same repo keeps the same parent from one snapshot to the next).
"""

from __future__ import annotations

import pyarrow as pa

from collector.families import Family
from collector.snapshot.stage import Stage


def members(stage: Stage, family: Family) -> tuple[pa.Table, pa.Table]:
    """The family's members among the staged repos (counters, role, relation, depth,
    parent_id) and their base_model edges: the two tables snapshot/commit.py takes."""
    db = stage.db
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
    found = db.sql(
        """
        SELECT i.hub_id, i.repo_id, i.author, i.created_at, i.pipeline_tag, i.library_name,
               i.downloads_30d, i.downloads_all_time, i.likes,
               m.role, m.relation, m.depth, m.parent_id
        FROM members m JOIN items i USING (seq)
        """
    ).to_arrow_table()
    edges = db.sql(
        """
        SELECT m.repo_id AS child_id, e.parent_id, e.relation
        FROM edges e JOIN members m ON m.repo_lc = e.child_lc
        """
    ).to_arrow_table()
    return found, edges
