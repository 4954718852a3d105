"""The rollup of an import's days, set-based: one pass over the rows the import wrote.

`rollup.rebuild` recomputes a family's rollup from `member_events`, whose candidate points
come from ASOF joins of every membership interval and counter row with `day_runs`: over
600 imported days of a large family that costs minutes, and `rollup.refresh` day by day
costs about a second per day-run whatever its size. The import already knows, per repo and
imported day-run, whether the repo is present and which counter row it wrote
(`imp_points`, see imports._insert), so the events of `member_events` over the imported
day-runs follow from those rows with window functions alone:

- a member event where the repo wrote a counter row or starts an island of presence,
  valued as that row (counters are carried forward as the import stores them);
- a departure event on the day-run after an island ends (no row of its own).

These events, in `member_events`' shape, go through `rollup.from_events`: the rules of
views.py (DELTAS, DAY_SUMS, GROUP_MOVES, ANOMALIES) and the state/undo/new-download rows
are the rebuild's own. Own day-runs after the imported ones (own snapshots always come
later) are then rolled up one by one as a snapshot does (`rollup.advance`).

This holds only when the imported day-runs are the family's first day-runs and no other
run stored counters of its repos among them (another family's import of the same repos)
and each repo has one role, relation and depth over the import; otherwise the family's
rollup is rebuilt from the event views. tests/test_import_rollup.py checks both paths
against the rebuild.
"""

from __future__ import annotations

import duckdb

from collector.store import repo_totals, rollup

_FAM = "family = $family AND platform = $platform"


def roll_up(con: duckdb.DuckDBPyConnection, family: str, platform: str) -> bool:
    """Roll up the family after an import whose rows are in temp tables `imp_days` (idx,
    run_id, day) and `imp_points`, in the caller's transaction. False: the import was not
    of the shape this needs, and the rollup was rebuilt from the event views instead."""
    fam: dict[str, object] = {"family": family, "platform": platform}
    n, last = con.execute("SELECT count(*), max(run_id) FROM imp_days").fetchall()[0]
    if not n or not _fits(con, fam, n, last):
        rollup.rebuild(con, family, platform)
        return False
    for table in rollup.TABLES:
        con.execute(f"DELETE FROM {table} WHERE {_FAM}", fam)
    _events(con, {**fam, "n": n})
    params = {**fam, "last": last}
    rollup.from_events(
        con, family, platform, f"SELECT * FROM day_runs WHERE {_FAM} AND run_id <= $last", params
    )
    con.execute("DROP TABLE imp_roles")
    # own day-runs after the import: compared with the state at the last imported one
    con.execute(f"DELETE FROM rollup_repo_runs WHERE {_FAM} AND run_id > $last", params)
    own = con.execute(
        f"""SELECT run_id, prev_run_id, prev_started_at FROM day_runs
            WHERE {_FAM} AND run_id > $last ORDER BY run_id""",
        params,
    ).fetchall()
    for run_id, prev_run, prev_started in own:
        rollup.advance(con, family, platform, run_id, prev_run, prev_started)
        repo_totals.add_run(con, family, platform, run_id)
    return True


def _fits(con: duckdb.DuckDBPyConnection, fam: dict[str, object], n: int, last: int) -> bool:
    """Whether the imported day-runs are the family's first and only its rows count there."""
    params = {**fam, "last": last}
    runs = con.execute(
        f"""SELECT count(*), count(*) FILTER (WHERE run_id IN (SELECT run_id FROM imp_days))
            FROM day_runs WHERE {_FAM} AND run_id <= $last""",
        params,
    ).fetchall()[0]
    if runs != (n, n):
        return False
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE imp_roles AS
        SELECT DISTINCT repo_key, role, relation, depth FROM membership
        WHERE {_FAM} AND first_run <= $last
        """,
        params,
    )
    one_role = con.execute("SELECT count(*) = count(DISTINCT repo_key) FROM imp_roles").fetchall()[
        0
    ][0]
    # counter rows among the imported day-runs that this import did not write
    written = con.execute("SELECT count(*) FROM imp_points WHERE written").fetchall()[0][0]
    stored = con.execute(
        """SELECT count(*) FROM counts c SEMI JOIN imp_roles r ON r.repo_key = c.repo_key
           WHERE c.run_id <= $last""",
        {"last": last},
    ).fetchall()[0][0]
    if not one_role or stored != written:
        con.execute("DROP TABLE imp_roles")
        return False
    return True


def _events(con: duckdb.DuckDBPyConnection, params: dict[str, object]) -> None:
    """Temp table `ru_events`: the rows `member_events` holds for the imported day-runs."""
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE ru_events AS
        WITH e AS (
            SELECT repo_key, idx, true AS is_member, coalesce(d_all, 0) AS all_time,
                   coalesce(d30, 0) AS d30, coalesce(lk, 0) AS likes
            FROM imp_points WHERE written OR island_start
            UNION ALL
            SELECT repo_key, idx + 1, false, NULL, NULL, NULL
            FROM imp_points WHERE island_end AND idx + 1 < $n
        ),
        f AS (
            SELECT e.*, r.role, r.relation, r.depth,
                   last_value(CASE WHEN is_member THEN all_time END IGNORE NULLS) OVER w
                       AS contrib,
                   r.role AS last_role, coalesce(r.relation, 'official') AS last_relation,
                   r.depth AS last_depth
            FROM e JOIN imp_roles r USING (repo_key)
            WINDOW w AS (PARTITION BY e.repo_key ORDER BY e.idx
                         ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
        )
        SELECT CAST($family AS VARCHAR) AS family, CAST($platform AS VARCHAR) AS platform,
               f.repo_key, d.run_id, d.day AS date, f.is_member, f.role, f.relation,
               f.depth, f.all_time, f.d30, f.likes, f.contrib, f.last_role, f.last_relation,
               f.last_depth,
               lag(f.contrib)       OVER w AS prev_contrib,
               lag(f.last_role)     OVER w AS prev_role,
               lag(f.last_relation) OVER w AS prev_relation,
               lag(f.last_depth)    OVER w AS prev_depth,
               coalesce(lag(f.is_member) OVER w, false) AS was_member,
               coalesce(lag(CASE WHEN f.is_member THEN f.d30 ELSE 0 END) OVER w, 0) AS prev_d30,
               coalesce(lag(CASE WHEN f.is_member THEN f.likes ELSE 0 END) OVER w, 0)
                   AS prev_likes,
               r.created_at, CAST(p.day AS TIMESTAMP) AS prev_started_at
        FROM f JOIN imp_days d ON d.idx = f.idx
        LEFT JOIN imp_days p ON p.idx = f.idx - 1
        JOIN repos r ON r.repo_key = f.repo_key
        WINDOW w AS (PARTITION BY f.repo_key ORDER BY f.idx)
        """,
        params,
    )
