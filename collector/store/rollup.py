"""The daily rollup: each family's per-day sums, kept up to date by every snapshot.

The event views (`member_events`, `member_deltas`) compute a family's daily series from
every change ever stored: exact, but their cost grows with the history (365 days of a
500,000-repo family is tens of millions of counter changes). `family_daily`,
`family_groups_daily` and `report_anomalies` read these tables instead:

- `rollup_days`      per family and day-run, the sums of `member_deltas` (the `per_day`
                     of the event definition of `family_daily`)
- `rollup_groups`    per family, day-run and lineage group, the moves of cumulative downloads
- `rollup_anomalies` per family and day-run, the decreases, departures and late joiners
- `rollup_state`     per family and repo, its state at the family's last day-run (member?,
                     what it contributes, its last role/relation/depth, 30-day downloads
                     and likes while a member): what the next day-run is compared with
- `rollup_undo`      the state before the last day-run, of the repos that day-run changed:
                     a later run on the same UTC day replaces that day-run, and is compared
                     with the day before instead

`refresh(con, family)` brings a family's rollup up to date with its day-runs, in the
caller's transaction (the snapshot's). Each new day-run costs one pass over the family's
state, plus the counters stored since the previous day-run: it does not grow with the
history. `rebuild` recomputes everything from the event views (the migration does, and
`refresh` falls back to it if the day-runs changed other than by new runs).

Anything that changes which runs of a family are complete must call `refresh` in the
same transaction; tests/test_rollup.py checks the rollup against the event views.
"""

from __future__ import annotations

import duckdb

from collector.store.views import event_view_sql

_STATE = ["is_member", "contrib", "last_role", "last_relation", "last_depth", "d30", "likes"]
_DELTAS = """
    sum(d_repos) AS d_repos, sum(d_all_time) AS d_all_time, sum(d_official) AS d_official,
    sum(d_d30) AS d_d30, sum(d_likes) AS d_likes, sum(d_official_repos) AS d_official_repos,
    sum(d_official_d30) AS d_official_d30, sum(d_official_likes) AS d_official_likes,
    sum(new_downloads) AS new_downloads,
    count(*) FILTER (WHERE decreased) AS decreases,
    count(*) FILTER (WHERE departed) AS departed
"""
_ZERO_DAY = ", ".join(
    f"coalesce(p.{c}, 0)"
    for c in (
        "d_repos d_all_time d_official d_d30 d_likes d_official_repos d_official_d30 "
        "d_official_likes new_downloads decreases departed"
    ).split()
)


def refresh(con: duckdb.DuckDBPyConnection, family: str) -> None:
    """Roll up the family's day-runs that are not yet rolled up (usually the new one)."""
    days = con.execute(
        """SELECT run_id, prev_run_id, prev_started_at FROM day_runs
           WHERE family = ? ORDER BY run_id""",
        [family],
    ).fetchall()
    done = [
        r[0]
        for r in con.execute(
            "SELECT run_id FROM rollup_days WHERE family = ? ORDER BY run_id", [family]
        ).fetchall()
    ]
    want = [d[0] for d in days]
    if done == want:
        return
    n = len(done)
    if want[:n] == done:
        start = n
    elif n and want[: n - 1] == done[:-1]:
        # the last day-run was replaced by a later run of the same day
        _undo(con, family, done[-1])
        start = n - 1
    else:
        rebuild(con, family)
        return
    for run_id, prev_run, prev_started in days[start:]:
        _advance(con, family, run_id, prev_run, prev_started)


def rebuild(con: duckdb.DuckDBPyConnection, family: str | None = None) -> None:
    """Recompute the rollup of one family (or all) from the event views."""
    where = "family = $family" if family is not None else "true"
    params = {"family": family} if family is not None else {}
    for table in (
        "rollup_days",
        "rollup_groups",
        "rollup_anomalies",
        "rollup_state",
        "rollup_undo",
    ):
        con.execute(f"DELETE FROM {table} WHERE {where}", params)
    # member_events once, and member_deltas over it (its own definition, not re-typed)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE ru_events AS SELECT * FROM member_events WHERE {where}",
        params,
    )
    deltas = event_view_sql("member_deltas").replace("FROM member_events", "FROM ru_events")
    con.execute(f"CREATE OR REPLACE TEMP TABLE ru_deltas AS {deltas}")
    con.execute(
        f"""
        INSERT INTO rollup_days
        WITH p AS (SELECT family, run_id, {_DELTAS} FROM ru_deltas GROUP BY family, run_id)
        SELECT d.family, d.run_id, {_ZERO_DAY}
        FROM day_runs d LEFT JOIN p ON p.family = d.family AND p.run_id = d.run_id
        WHERE {where.replace("family =", "d.family =")}
        """,
        params,
    )
    con.execute(
        """
        INSERT INTO rollup_groups
        SELECT family, run_id, dimension, grp, sum(delta) FROM (
            SELECT family, run_id, 'relation' AS dimension, last_relation AS grp,
                   contrib AS delta FROM ru_deltas
            UNION ALL
            SELECT family, run_id, 'relation', prev_relation, -prev_contrib
            FROM ru_deltas WHERE prev_contrib IS NOT NULL
            UNION ALL
            SELECT family, run_id, 'depth', CAST(last_depth AS VARCHAR), contrib FROM ru_deltas
            UNION ALL
            SELECT family, run_id, 'depth', CAST(prev_depth AS VARCHAR), -prev_contrib
            FROM ru_deltas WHERE prev_contrib IS NOT NULL
        ) GROUP BY ALL
        """
    )
    con.execute(
        """
        INSERT INTO rollup_anomalies
        SELECT family, run_id, repo_key,
               CASE WHEN decreased THEN 'decrease' WHEN departed THEN 'departed'
                    ELSE 'joined_existing' END,
               CASE WHEN departed THEN NULL ELSE prev_contrib END, contrib
        FROM ru_deltas WHERE decreased OR departed OR joined_existing
        """
    )
    con.execute(
        """
        INSERT INTO rollup_state
        SELECT family, repo_key, is_member, contrib, last_role, last_relation, last_depth,
               CASE WHEN is_member THEN d30 ELSE 0 END, CASE WHEN is_member THEN likes ELSE 0 END
        FROM ru_events
        QUALIFY row_number() OVER (PARTITION BY family, repo_key ORDER BY run_id DESC) = 1
        """
    )
    con.execute(
        """
        INSERT INTO rollup_undo
        SELECT e.family, e.repo_key, e.run_id, e.prev_contrib IS NOT NULL,
               e.was_member, e.prev_contrib, e.prev_role, e.prev_relation, e.prev_depth,
               e.prev_d30, e.prev_likes
        FROM ru_events e
        JOIN (SELECT family, max(run_id) AS run_id FROM day_runs GROUP BY family) l
          ON l.family = e.family AND l.run_id = e.run_id
        """
    )
    con.execute("DROP TABLE ru_deltas")
    con.execute("DROP TABLE ru_events")


def _undo(con: duckdb.DuckDBPyConnection, family: str, run_id: int) -> None:
    """Take back the family's last day-run: its sums, and its changes to the state."""
    params = {"family": family}
    sets = ", ".join(f"{c} = u.{c}" for c in _STATE)
    con.execute(
        f"""
        UPDATE rollup_state s SET {sets}
        FROM rollup_undo u
        WHERE u.family = $family AND u.present AND s.family = $family
          AND s.repo_key = u.repo_key
        """,
        params,
    )
    con.execute(
        """
        DELETE FROM rollup_state
        WHERE family = $family AND repo_key IN (
            SELECT repo_key FROM rollup_undo WHERE family = $family AND NOT present)
        """,
        params,
    )
    for table in ("rollup_days", "rollup_groups", "rollup_anomalies"):
        con.execute(
            f"DELETE FROM {table} WHERE family = $family AND run_id = $run",
            {"family": family, "run": run_id},
        )
    con.execute("DELETE FROM rollup_undo WHERE family = $family", params)


def _advance(
    con: duckdb.DuckDBPyConnection,
    family: str,
    run_id: int,
    prev_run: int | None,
    prev_started: object,
) -> None:
    """Roll up one new day-run, comparing it with the state at the previous one.

    The same rules as `member_deltas`, evaluated for every repo that is a member now or
    was ever visible before; a repo whose state did not change contributes nothing.
    """
    params = {"family": family, "run": run_id}
    # members at this run, with the counters in force: stored since the previous day-run,
    # else (members then too) the state's, else the last stored before
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE ru_members AS
        SELECT m.repo_key, m.role, coalesce(m.relation, 'official') AS relation, m.depth
        FROM membership m
        WHERE m.family = $family AND m.first_run <= $run AND m.last_run >= $run
        """,
        params,
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE ru_recent AS
        SELECT c.repo_key, coalesce(c.downloads_all_time, 0) AS all_time,
               coalesce(c.downloads_30d, 0) AS d30, coalesce(c.likes, 0) AS likes
        FROM counts c SEMI JOIN ru_members m ON m.repo_key = c.repo_key
        WHERE c.run_id > $prev AND c.run_id <= $run
        QUALIFY row_number() OVER (PARTITION BY c.repo_key ORDER BY c.run_id DESC) = 1
        """,
        {"run": run_id, "prev": prev_run if prev_run is not None else -1},
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE ru_older AS
        SELECT m.repo_key FROM ru_members m
        WHERE m.repo_key NOT IN (SELECT repo_key FROM ru_recent)
          AND m.repo_key NOT IN (SELECT repo_key FROM rollup_state
                                 WHERE family = $family AND is_member)
        """,
        {"family": family},
    )
    if con.execute("SELECT count(*) FROM ru_older").fetchall()[0][0]:
        con.execute(
            """
            INSERT INTO ru_recent
            SELECT c.repo_key, coalesce(c.downloads_all_time, 0),
                   coalesce(c.downloads_30d, 0), coalesce(c.likes, 0)
            FROM counts c SEMI JOIN ru_older o ON o.repo_key = c.repo_key
            WHERE c.run_id <= $run
            QUALIFY row_number() OVER (PARTITION BY c.repo_key ORDER BY c.run_id DESC) = 1
            """,
            {"run": run_id},
        )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE ru_change AS
        WITH b AS (SELECT * FROM rollup_state WHERE family = $family),
        now AS (
            SELECT m.repo_key, m.role,
                   m.relation, m.depth,
                   CASE WHEN r.repo_key IS NOT NULL THEN r.all_time
                        WHEN b.is_member THEN b.contrib ELSE 0 END AS all_time,
                   CASE WHEN r.repo_key IS NOT NULL THEN r.d30
                        WHEN b.is_member THEN b.d30 ELSE 0 END AS d30,
                   CASE WHEN r.repo_key IS NOT NULL THEN r.likes
                        WHEN b.is_member THEN b.likes ELSE 0 END AS likes
            FROM ru_members m
            LEFT JOIN ru_recent r USING (repo_key)
            LEFT JOIN b USING (repo_key)
        ),
        new AS (
            SELECT coalesce(n.repo_key, b.repo_key) AS repo_key,
                   n.repo_key IS NOT NULL AS is_member,
                   n.role AS role,
                   CASE WHEN n.repo_key IS NOT NULL THEN n.all_time ELSE b.contrib END AS contrib,
                   CASE WHEN n.repo_key IS NOT NULL THEN n.role ELSE b.last_role END AS last_role,
                   CASE WHEN n.repo_key IS NOT NULL THEN n.relation ELSE b.last_relation END
                       AS last_relation,
                   CASE WHEN n.repo_key IS NOT NULL THEN n.depth ELSE b.last_depth END
                       AS last_depth,
                   CASE WHEN n.repo_key IS NOT NULL THEN n.d30 ELSE 0 END AS d30,
                   CASE WHEN n.repo_key IS NOT NULL THEN n.likes ELSE 0 END AS likes,
                   b.repo_key IS NOT NULL AS present,
                   b.is_member AS p_is_member, b.contrib AS p_contrib, b.last_role AS p_last_role,
                   b.last_relation AS p_last_relation, b.last_depth AS p_last_depth,
                   b.d30 AS p_d30, b.likes AS p_likes
            FROM now n FULL OUTER JOIN b USING (repo_key)
        )
        SELECT * FROM new
        WHERE NOT present OR is_member IS DISTINCT FROM p_is_member
           OR contrib IS DISTINCT FROM p_contrib OR last_role IS DISTINCT FROM p_last_role
           OR last_relation IS DISTINCT FROM p_last_relation
           OR last_depth IS DISTINCT FROM p_last_depth
           OR d30 IS DISTINCT FROM p_d30 OR likes IS DISTINCT FROM p_likes
        """,
        {"family": family},
    )
    # the deltas of member_deltas, with prev_* = the state at the previous day-run
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE ru_deltas AS
        SELECT c.repo_key, c.contrib, c.p_contrib AS prev_contrib,
               c.last_relation, c.p_last_relation AS prev_relation,
               c.last_depth, c.p_last_depth AS prev_depth,
               c.contrib - coalesce(c.p_contrib, 0) AS d_all_time,
               (CASE WHEN c.last_role = 'official' THEN c.contrib ELSE 0 END)
                 - (CASE WHEN c.p_last_role = 'official' THEN coalesce(c.p_contrib, 0) ELSE 0 END)
                 AS d_official,
               (CASE WHEN c.is_member THEN 1 ELSE 0 END)
                 - (CASE WHEN coalesce(c.p_is_member, false) THEN 1 ELSE 0 END) AS d_repos,
               c.d30 - coalesce(c.p_d30, 0) AS d_d30,
               c.likes - coalesce(c.p_likes, 0) AS d_likes,
               (CASE WHEN c.is_member AND c.role = 'official' THEN 1 ELSE 0 END)
                 - (CASE WHEN coalesce(c.p_is_member, false) AND c.p_last_role = 'official'
                         THEN 1 ELSE 0 END) AS d_official_repos,
               (CASE WHEN c.is_member AND c.role = 'official' THEN c.d30 ELSE 0 END)
                 - (CASE WHEN c.p_last_role = 'official' THEN coalesce(c.p_d30, 0) ELSE 0 END)
                 AS d_official_d30,
               (CASE WHEN c.is_member AND c.role = 'official' THEN c.likes ELSE 0 END)
                 - (CASE WHEN c.p_last_role = 'official' THEN coalesce(c.p_likes, 0) ELSE 0 END)
                 AS d_official_likes,
               CASE
                 WHEN NOT c.is_member THEN 0
                 WHEN c.p_contrib IS NULL THEN
                   CASE WHEN prev.started IS NOT NULL AND r.created_at > prev.started
                        THEN c.contrib ELSE 0 END
                 ELSE greatest(c.contrib - c.p_contrib, 0)
               END AS new_downloads,
               c.is_member AND c.p_contrib IS NULL AND prev.started IS NOT NULL
                 AND NOT coalesce(r.created_at > prev.started, false) AS joined_existing,
               c.is_member AND c.p_contrib IS NOT NULL AND c.contrib < c.p_contrib AS decreased,
               coalesce(c.p_is_member, false) AND NOT c.is_member AS departed
        FROM ru_change c JOIN repos r USING (repo_key),
             (SELECT CAST($prev_started AS TIMESTAMP) AS started) prev
        """,
        {"prev_started": prev_started},
    )
    con.execute(
        f"""
        INSERT INTO rollup_days
        WITH p AS (SELECT {_DELTAS} FROM ru_deltas)
        SELECT $family, $run, {_ZERO_DAY} FROM p
        """,
        params,
    )
    con.execute(
        """
        INSERT INTO rollup_groups
        SELECT $family, $run, dimension, grp, sum(delta) FROM (
            SELECT 'relation' AS dimension, last_relation AS grp, contrib AS delta
            FROM ru_deltas
            UNION ALL
            SELECT 'relation', prev_relation, -prev_contrib
            FROM ru_deltas WHERE prev_contrib IS NOT NULL
            UNION ALL
            SELECT 'depth', CAST(last_depth AS VARCHAR), contrib FROM ru_deltas
            UNION ALL
            SELECT 'depth', CAST(prev_depth AS VARCHAR), -prev_contrib
            FROM ru_deltas WHERE prev_contrib IS NOT NULL
        ) GROUP BY ALL
        """,
        params,
    )
    con.execute(
        """
        INSERT INTO rollup_anomalies
        SELECT $family, $run, repo_key,
               CASE WHEN decreased THEN 'decrease' WHEN departed THEN 'departed'
                    ELSE 'joined_existing' END,
               CASE WHEN departed THEN NULL ELSE prev_contrib END, contrib
        FROM ru_deltas WHERE decreased OR departed OR joined_existing
        """,
        params,
    )
    # the new state, and how to take it back
    p_cols = ", ".join(f"p_{c}" for c in _STATE)
    con.execute("DELETE FROM rollup_undo WHERE family = $family", {"family": family})
    con.execute(
        f"""
        INSERT INTO rollup_undo
        SELECT $family, repo_key, $run, present, {p_cols} FROM ru_change
        """,
        params,
    )
    sets = ", ".join(f"{c} = c.{c}" for c in _STATE)
    con.execute(
        f"""
        UPDATE rollup_state s SET {sets}
        FROM ru_change c
        WHERE c.present AND s.family = $family AND s.repo_key = c.repo_key
        """,
        {"family": family},
    )
    cols = ", ".join(_STATE)
    con.execute(
        f"""
        INSERT INTO rollup_state
        SELECT $family, repo_key, {cols} FROM ru_change WHERE NOT present
        """,
        {"family": family},
    )
    for table in ("ru_members", "ru_recent", "ru_older", "ru_change", "ru_deltas"):
        con.execute(f"DROP TABLE {table}")
