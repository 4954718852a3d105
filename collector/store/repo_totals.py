"""Per-repo new downloads of each day-run, kept up to date like the daily rollup (m009).

`top --by new_downloads` sums each repo's new downloads over the day-runs of a range. Read
from the event view `member_deltas` that costs a pass over every change ever stored (10 s
over 360 days at 50,000 repos); this table holds the result of that pass, one row per
(family, platform, day-run, repo) with new downloads, so that a range costs a scan of its
rows:

- `rollup_repo_new`   family, platform, run_id, repo_key, new_downloads (> 0), and the
                      repo's role, relation and depth at that day-run (`member_deltas`'
                      last_*)
- `rollup_repo_runs`  the day-runs rolled up here, rows or not
- `rollup_repo_total` each repo's rows summed over all day-runs, with its labels at the
                      last of them (m013): the whole history is one row per repo, and a
                      range that reaches the last day-run is the total less what came
                      before it

`refresh(con, family, platform)` runs in the snapshot's commit after `rollup.refresh`: a
new day-run's rows are its changed repos, read from `rollup_state` (the state now) and
`rollup_undo` (the state before) with the rule of `member_deltas.new_downloads`; a last
day-run replaced by a later run of the same day is taken back first. Anything else is
rebuilt from the event view. `rebuild(con, family, platform)` recomputes from
`member_deltas`; a rollup from events (`rollup.from_events`, an import's chunks) takes its
steps apart: `clear`, `add_rows` per batch of deltas, `finish`. tests/test_top_rollup.py
checks them against the event computation.
"""

from __future__ import annotations

import duckdb


def refresh(con: duckdb.DuckDBPyConnection, family: str, platform: str = "huggingface") -> None:
    """Roll up the family's new day-run (after rollup.refresh, in the same transaction)."""
    key = [family, platform]
    mine = "family = ? AND platform = ?"
    days = [
        r[0]
        for r in con.execute(
            f"SELECT run_id FROM day_runs WHERE {mine} ORDER BY run_id", key
        ).fetchall()
    ]
    done = [
        r[0]
        for r in con.execute(
            f"SELECT run_id FROM rollup_repo_runs WHERE {mine} ORDER BY run_id", key
        ).fetchall()
    ]
    if done == days:
        return
    if done and done[:-1] == days[:-1] and done[-1] not in days:
        # the last day-run was replaced by a later run of the same day
        for table in ("rollup_repo_new", "rollup_repo_runs"):
            con.execute(f"DELETE FROM {table} WHERE {mine} AND run_id = ?", [*key, done[-1]])
        _take_back_totals(con, family, platform, done[-1])
        done = done[:-1]
    undo_run = con.execute(f"SELECT max(run_id) FROM rollup_undo WHERE {mine}", key).fetchall()
    if done != days[:-1] or undo_run[0][0] not in (None, days[-1]):
        rebuild(con, family, platform)
        return
    add_run(con, family, platform, days[-1])


def add_run(con: duckdb.DuckDBPyConnection, family: str, platform: str, run_id: int) -> None:
    """The rows of day-run `run_id`, just rolled up by `rollup` (its `rollup_undo`)."""
    # rollup_undo: the repos this day-run changed, with their state at the previous one
    con.execute(
        """
        INSERT INTO rollup_repo_new
            (family, platform, run_id, repo_key, new_downloads, role, relation, depth)
        SELECT $family, $platform, $run, s.repo_key,
               CASE WHEN u.contrib IS NULL THEN
                        CASE WHEN d.prev_started_at IS NOT NULL
                                  AND r.created_at > d.prev_started_at
                             THEN s.contrib ELSE 0 END
                    ELSE greatest(s.contrib - u.contrib, 0) END AS new_downloads,
               s.last_role, s.last_relation, s.last_depth
        FROM rollup_undo u
        JOIN rollup_state s
          ON s.family = u.family AND s.platform = u.platform AND s.repo_key = u.repo_key
        JOIN repos r ON r.repo_key = s.repo_key
        JOIN day_runs d ON d.family = u.family AND d.platform = u.platform AND d.run_id = u.run_id
        WHERE u.family = $family AND u.platform = $platform AND u.run_id = $run AND s.is_member
          AND new_downloads > 0
        """,
        {"family": family, "platform": platform, "run": run_id},
    )
    con.execute("INSERT INTO rollup_repo_runs VALUES (?, ?, ?)", [family, platform, run_id])
    _add_to_totals(con, family, platform, run_id)


def rebuild(
    con: duckdb.DuckDBPyConnection,
    family: str | None = None,
    platform: str = "huggingface",
    deltas: str = "member_deltas",
) -> None:
    """Recompute one family's rows on a platform (or everything) from member_deltas' rows."""
    where, params = _where(family, platform)
    clear(con, family, platform)
    add_rows(con, f"(SELECT * FROM {deltas} WHERE {where})", params)
    finish(con, family, platform)


def _where(family: str | None, platform: str) -> tuple[str, dict[str, object]]:
    if family is None:
        return "true", {}
    return "family = $family AND platform = $platform", {"family": family, "platform": platform}


def _missing(con: duckdb.DuckDBPyConnection) -> bool:
    """Before m009, which fills the tables itself."""
    return not con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'rollup_repo_new'"
    ).fetchall()[0][0]


def clear(con: duckdb.DuckDBPyConnection, family: str | None, platform: str) -> None:
    """Remove one family's rows on a platform (or everything), before `add_rows`."""
    if _missing(con):
        return
    where, params = _where(family, platform)
    for table in ("rollup_repo_new", "rollup_repo_runs", "rollup_repo_total"):
        con.execute(f"DELETE FROM {table} WHERE {where}", params)


def add_rows(
    con: duckdb.DuckDBPyConnection, deltas: str, params: dict[str, object] | None = None
) -> None:
    """The rows of the deltas `deltas` (a table or subquery of member_deltas' rows; written
    unsorted: a range of day-runs is a filter on run_id, not worth sorting tens of millions
    of rows for)."""
    if _missing(con):
        return
    con.execute(
        f"""
        INSERT INTO rollup_repo_new
            (family, platform, run_id, repo_key, new_downloads, role, relation, depth)
        SELECT family, platform, run_id, repo_key, new_downloads, last_role, last_relation,
               last_depth
        FROM {deltas} WHERE new_downloads > 0
        """,
        params or {},
    )


def finish(con: duckdb.DuckDBPyConnection, family: str | None, platform: str) -> None:
    """The day-runs rolled up, and the totals, once every row is added."""
    if _missing(con):
        return
    where, params = _where(family, platform)
    con.execute(
        f"""INSERT INTO rollup_repo_runs (family, platform, run_id)
            SELECT family, platform, run_id FROM day_runs WHERE {where}""",
        params,
    )
    con.execute(f"INSERT INTO rollup_repo_total {_TOTALS} WHERE {where} {_GROUPS}", params)


# rollup_repo_total from rollup_repo_new's rows: the labels as arg_max by run_id gives
# them (NULLs skipped), which is what `top --by new_downloads` shows over a range
_TOTALS = """
    SELECT family, platform, repo_key, CAST(sum(new_downloads) AS BIGINT),
           arg_max(role, run_id),
           arg_max(CASE WHEN role = 'official' THEN NULL ELSE relation END, run_id),
           arg_max(depth, run_id), max(run_id)
    FROM rollup_repo_new"""
_GROUPS = "GROUP BY family, platform, repo_key"


def _add_to_totals(con: duckdb.DuckDBPyConnection, family: str, platform: str, run_id: int) -> None:
    """Add a new last day-run's rows to the totals: its labels replace the older ones
    where they are set, as arg_max over all the rows would."""
    p = {"family": family, "platform": platform, "run": run_id}
    con.execute(
        """
        UPDATE rollup_repo_total t
        SET new_downloads = t.new_downloads + n.new_downloads,
            role = coalesce(n.role, t.role),
            relation = coalesce(CASE WHEN n.role = 'official' THEN NULL ELSE n.relation END,
                                t.relation),
            depth = coalesce(n.depth, t.depth),
            last_run = n.run_id
        FROM rollup_repo_new n
        WHERE n.family = $family AND n.platform = $platform AND n.run_id = $run
          AND t.family = n.family AND t.platform = n.platform AND t.repo_key = n.repo_key
        """,
        p,
    )
    con.execute(
        f"""
        INSERT INTO rollup_repo_total {_TOTALS} n
        WHERE family = $family AND platform = $platform AND run_id = $run
          AND NOT EXISTS (SELECT 1 FROM rollup_repo_total t
                          WHERE t.family = n.family AND t.platform = n.platform
                            AND t.repo_key = n.repo_key)
        {_GROUPS}
        """,
        p,
    )


def _take_back_totals(
    con: duckdb.DuckDBPyConnection, family: str, platform: str, run_id: int
) -> None:
    """Recount the totals of the repos that had rows in a last day-run just taken back."""
    p = {"family": family, "platform": platform, "run": run_id}
    con.execute(
        """DELETE FROM rollup_repo_total
           WHERE family = $family AND platform = $platform AND last_run = $run""",
        p,
    )
    con.execute(
        f"""
        INSERT INTO rollup_repo_total {_TOTALS} n
        WHERE family = $family AND platform = $platform
          AND repo_key NOT IN (SELECT repo_key FROM rollup_repo_total
                               WHERE family = $family AND platform = $platform)
        {_GROUPS}
        """,
        {"family": family, "platform": platform},
    )
