"""Per-repo new downloads of each day-run, kept up to date like the daily rollup (m009).

`top --by new_downloads` sums each repo's new downloads over the day-runs of a range. Read
from the event view `member_deltas` that costs a pass over every change ever stored (10 s
over 360 days at 50,000 repos); this table holds the result of that pass, one row per
(family, day-run, repo) with new downloads, so that a range costs a scan of its rows:

- `rollup_repo_new`   family, run_id, repo_key, new_downloads (> 0), and the repo's role,
                      relation and depth at that day-run (`member_deltas`' last_*)
- `rollup_repo_runs`  the day-runs rolled up here, rows or not

`refresh(con, family)` runs in the snapshot's transaction after `rollup.refresh`: a new
day-run's rows are its changed repos, read from `rollup_state` (the state now) and
`rollup_undo` (the state before), with the rules of `member_deltas.new_downloads`. Any
other change of the day-runs (a run replaced by a later one of the same day) is rebuilt
from the event view. `rebuild(con, family, deltas)` recomputes from `member_deltas` (or a
table of its rows) and is called by `rollup.rebuild`; tests/test_top_rollup.py checks
both against the event computation.
"""

from __future__ import annotations

import duckdb


def refresh(con: duckdb.DuckDBPyConnection, family: str) -> None:
    """Roll up the family's new day-run (after rollup.refresh, in the same transaction)."""
    days = [
        r[0]
        for r in con.execute(
            "SELECT run_id FROM day_runs WHERE family = ? ORDER BY run_id", [family]
        ).fetchall()
    ]
    done = [
        r[0]
        for r in con.execute(
            "SELECT run_id FROM rollup_repo_runs WHERE family = ? ORDER BY run_id", [family]
        ).fetchall()
    ]
    if done == days:
        return
    if done and done[:-1] == days[:-1] and done[-1] not in days:
        # the last day-run was replaced by a later run of the same day
        con.execute(
            "DELETE FROM rollup_repo_new WHERE family = ? AND run_id = ?", [family, done[-1]]
        )
        con.execute(
            "DELETE FROM rollup_repo_runs WHERE family = ? AND run_id = ?", [family, done[-1]]
        )
        done = done[:-1]
    undo_run = con.execute(
        "SELECT max(run_id) FROM rollup_undo WHERE family = ?", [family]
    ).fetchall()[0][0]
    if done != days[:-1] or (undo_run is not None and undo_run != days[-1]):
        rebuild(con, family)
        return
    run = days[-1]
    # rollup_undo: the repos this day-run changed, with their state at the previous one
    con.execute(
        """
        INSERT INTO rollup_repo_new
        SELECT $family, $run, s.repo_key,
               CASE WHEN u.contrib IS NULL THEN
                        CASE WHEN d.prev_started_at IS NOT NULL
                                  AND r.created_at > d.prev_started_at
                             THEN s.contrib ELSE 0 END
                    ELSE greatest(s.contrib - u.contrib, 0) END AS new_downloads,
               s.last_role, s.last_relation, s.last_depth
        FROM rollup_undo u
        JOIN rollup_state s ON s.family = u.family AND s.repo_key = u.repo_key
        JOIN repos r ON r.repo_key = s.repo_key
        JOIN day_runs d ON d.family = u.family AND d.run_id = u.run_id
        WHERE u.family = $family AND u.run_id = $run AND s.is_member
          AND new_downloads > 0
        """,
        {"family": family, "run": run},
    )
    con.execute("INSERT INTO rollup_repo_runs VALUES (?, ?)", [family, run])


def rebuild(
    con: duckdb.DuckDBPyConnection, family: str | None = None, deltas: str = "member_deltas"
) -> None:
    """Recompute one family's (or every family's) rows from member_deltas' rows."""
    if not con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'rollup_repo_new'"
    ).fetchall()[0][0]:
        return  # a rebuild by a migration older than m009, which fills the table itself
    where = "family = $family" if family is not None else "true"
    params = {"family": family} if family is not None else {}
    con.execute(f"DELETE FROM rollup_repo_new WHERE {where}", params)
    con.execute(f"DELETE FROM rollup_repo_runs WHERE {where}", params)
    con.execute(
        f"""
        INSERT INTO rollup_repo_new
        SELECT family, run_id, repo_key, new_downloads, last_role, last_relation, last_depth
        FROM {deltas} WHERE {where} AND new_downloads > 0 ORDER BY family, run_id
        """,
        params,
    )
    con.execute(
        f"INSERT INTO rollup_repo_runs SELECT family, run_id FROM day_runs WHERE {where}", params
    )
