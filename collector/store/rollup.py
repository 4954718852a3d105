"""The daily rollup: each family's per-day sums, kept up to date by every snapshot.

The event views (`member_events`, `member_deltas`) compute a family's daily series from
every change ever stored: exact, but their cost grows with the history (365 days of a
500,000-repo family is tens of millions of counter changes). `family_daily`,
`family_groups_daily` and `report_anomalies` read these tables instead:

- `rollup_days`      per family and day-run, the sums of its deltas (views.DAY_SUMS)
- `rollup_groups`    per family, day-run and lineage group, the moves of cumulative downloads
- `rollup_anomalies` per family and day-run, the decreases, departures and late joiners
- `rollup_state`     per family and repo, its state at the family's last day-run (member?,
                     what it contributes, its last role/relation/depth, 30-day downloads
                     and likes while a member): what the next day-run is compared with
- `rollup_undo`      the state before the last day-run, of the repos that day-run changed:
                     a later run on the same UTC day replaces that day-run, and is compared
                     with the day before instead

Each family is rolled up per platform (its Hugging Face and its ModelScope series are
separate). `refresh(con, family, platform)` brings a family's rollup up to date with its
day-runs, in the caller's transaction (the snapshot's). Each new day-run costs one pass
over the family's state, plus the counters stored since the previous day-run: it does
not grow with the history. `rebuild` recomputes everything from `member_events`
(`refresh` falls back to it if the day-runs changed other than by new runs). Both apply
the rules of views.py (DELTAS, DAY_SUMS, GROUP_MOVES, ANOMALIES), written once there.

Anything that changes which runs of a family are counted must call `refresh` in the
same transaction; tests/test_rollup.py checks the incremental rollup against a rebuild.
"""

from __future__ import annotations

import duckdb

from collector.store import repo_totals
from collector.store.views import ANOMALIES, DAY_SUM_COLUMNS, DAY_SUMS, DELTAS, GROUP_MOVES

_STATE = ["is_member", "contrib", "last_role", "last_relation", "last_depth", "d30", "likes"]
TABLES = ("rollup_days", "rollup_groups", "rollup_anomalies", "rollup_state", "rollup_undo")
_DAY_COLS = ", ".join(DAY_SUM_COLUMNS)


def begin_sums(con: duckdb.DuckDBPyConnection) -> None:
    """Temp tables of partial sums: `add_sums` adds those of each batch of deltas (a chunk
    of repos, or all of them), `finish_sums` adds them up into the rollup. DAY_SUMS and
    GROUP_MOVES are sums, so the sums of a partition's parts are the sums of the whole."""
    sums = ", ".join(f"{c} HUGEINT" for c in DAY_SUM_COLUMNS)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE ru_day_parts (
                family VARCHAR, platform VARCHAR, run_id BIGINT, {sums})"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE ru_group_parts (
               family VARCHAR, platform VARCHAR, run_id BIGINT, dimension VARCHAR,
               grp VARCHAR, delta HUGEINT)"""
    )


def add_sums(con: duckdb.DuckDBPyConnection, deltas: str) -> None:
    """The partial sums of the deltas table `deltas`, and its anomalies (rows of their own)."""
    con.execute(f"INSERT INTO ru_day_parts {DAY_SUMS.format(deltas=deltas)}")
    con.execute(f"INSERT INTO ru_group_parts {GROUP_MOVES.format(deltas=deltas)}")
    con.execute(
        f"""INSERT INTO rollup_anomalies
                (family, platform, run_id, repo_key, kind, previous, current)
            {ANOMALIES.format(deltas=deltas)}"""
    )


def finish_sums(con: duckdb.DuckDBPyConnection, days: str, params: dict[str, object]) -> None:
    """rollup_days (every day-run of `days`, zero when nothing moved) and rollup_groups from
    the partial sums."""
    zero = ", ".join(f"coalesce(p.{c}, 0)" for c in DAY_SUM_COLUMNS)
    summed = ", ".join(f"sum({c}) AS {c}" for c in DAY_SUM_COLUMNS)
    con.execute(
        f"""
        INSERT INTO rollup_days (family, platform, run_id, {_DAY_COLS})
        WITH p AS (SELECT family, run_id, {summed} FROM ru_day_parts GROUP BY family, run_id)
        SELECT d.family, d.platform, d.run_id, {zero}
        FROM ({days}) d LEFT JOIN p ON p.family = d.family AND p.run_id = d.run_id
        """,
        params,
    )
    con.execute(
        """INSERT INTO rollup_groups (family, platform, run_id, dimension, grp, delta)
           SELECT family, platform, run_id, dimension, grp, sum(delta)
           FROM ru_group_parts GROUP BY ALL"""
    )
    con.execute("DROP TABLE ru_day_parts")
    con.execute("DROP TABLE ru_group_parts")


def refresh(con: duckdb.DuckDBPyConnection, family: str, platform: str = "huggingface") -> None:
    """Roll up the family's day-runs that are not yet rolled up (usually the new one)."""
    key = [family, platform]
    days = con.execute(
        """SELECT run_id, prev_run_id, prev_started_at FROM day_runs
           WHERE family = ? AND platform = ? ORDER BY run_id""",
        key,
    ).fetchall()
    done = [
        r[0]
        for r in con.execute(
            "SELECT run_id FROM rollup_days WHERE family = ? AND platform = ? ORDER BY run_id",
            key,
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
        _undo(con, family, platform, done[-1])
        start = n - 1
    else:
        rebuild(con, family, platform)
        return
    for run_id, prev_run, prev_started in days[start:]:
        advance(con, family, platform, run_id, prev_run, prev_started)


def rebuild(
    con: duckdb.DuckDBPyConnection, family: str | None = None, platform: str = "huggingface"
) -> None:
    """Recompute the rollup of one family on a platform (or of everything) from
    `member_events`."""
    params: dict[str, object] = {}
    where = "true"
    if family is not None:
        where = "family = $family AND platform = $platform"
        params = {"family": family, "platform": platform}
    for table in TABLES:
        con.execute(f"DELETE FROM {table} WHERE {where}", params)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE ru_events AS SELECT * FROM member_events WHERE {where}",
        params,
    )
    from_events(con, family, platform, f"SELECT * FROM day_runs WHERE {where}", params)


def from_events(
    con: duckdb.DuckDBPyConnection,
    family: str | None,
    platform: str,
    days: str,
    params: dict[str, object],
) -> None:
    """Fill the (emptied) rollup of the day-runs `days` from temp table `ru_events`, rows of
    `member_events`' shape: the rebuild's second half. The set-based rollup of an import
    (collector/store/import_rollup.py) takes the same three steps, with `add_events` once
    per chunk of repos, so the rules of views.py apply once."""
    begin_events(con, family, platform)
    add_events(con)
    finish_events(con, family, platform, days, params)


def begin_events(con: duckdb.DuckDBPyConnection, family: str | None, platform: str) -> None:
    """Before `add_events`: the partial sums, and no per-repo totals left of the family."""
    begin_sums(con)
    repo_totals.clear(con, family, platform)


def add_events(con: duckdb.DuckDBPyConnection, kind: str = "TABLE") -> None:
    """The rollup rows of the events in `ru_events` (dropped after), whose repos have no
    events elsewhere: anomalies, state, undo and new downloads per repo, partial sums per
    day-run. `kind` VIEW: `ru_events` is a view, and so is `ru_deltas` (millions of wide
    rows are cheaper computed again by each statement than written out)."""
    con.execute(f"CREATE OR REPLACE TEMP {kind} ru_deltas AS {DELTAS.format(events='ru_events')}")
    add_sums(con, "ru_deltas")
    con.execute(
        """
        INSERT INTO rollup_state (family, platform, repo_key, is_member, contrib, last_role,
                                  last_relation, last_depth, d30, likes)
        SELECT family, platform, repo_key, s.is_member, s.contrib, s.last_role,
               s.last_relation, s.last_depth, CASE WHEN s.is_member THEN s.d30 ELSE 0 END,
               CASE WHEN s.is_member THEN s.likes ELSE 0 END
        FROM (  -- each repo's last event (an aggregate: no sort of every event)
            SELECT family, platform, repo_key,
                   arg_max(struct_pack(is_member, contrib, last_role, last_relation,
                                       last_depth, d30, likes), run_id) AS s
            FROM ru_events GROUP BY family, platform, repo_key
        )
        """
    )
    con.execute(
        """
        INSERT INTO rollup_undo (family, platform, repo_key, run_id, present, is_member,
                                 contrib, last_role, last_relation, last_depth, d30, likes)
        SELECT e.family, e.platform, e.repo_key, e.run_id, e.prev_contrib IS NOT NULL,
               e.was_member, e.prev_contrib, e.prev_role, e.prev_relation, e.prev_depth,
               e.prev_d30, e.prev_likes
        FROM ru_events e
        JOIN (SELECT family, platform, max(run_id) AS run_id FROM day_runs
              GROUP BY family, platform) l
          ON l.family = e.family AND l.platform = e.platform AND l.run_id = e.run_id
        """
    )
    repo_totals.add_rows(con, "ru_deltas")
    con.execute(f"DROP {kind} ru_deltas")
    con.execute(f"DROP {kind} ru_events")


def finish_events(
    con: duckdb.DuckDBPyConnection,
    family: str | None,
    platform: str,
    days: str,
    params: dict[str, object],
) -> None:
    """The day-run sums of every batch of events added, and the per-repo totals."""
    finish_sums(con, days, params)
    repo_totals.finish(con, family, platform)


def _undo(con: duckdb.DuckDBPyConnection, family: str, platform: str, run_id: int) -> None:
    """Take back the family's last day-run: its sums, and its changes to the state."""
    params = {"family": family, "platform": platform}
    mine = "family = $family AND platform = $platform"
    sets = ", ".join(f"{c} = u.{c}" for c in _STATE)
    con.execute(
        f"""
        UPDATE rollup_state s SET {sets}
        FROM rollup_undo u
        WHERE u.family = $family AND u.platform = $platform AND u.present
          AND s.family = $family AND s.platform = $platform AND s.repo_key = u.repo_key
        """,
        params,
    )
    con.execute(
        f"""
        DELETE FROM rollup_state
        WHERE {mine} AND repo_key IN (
            SELECT repo_key FROM rollup_undo WHERE {mine} AND NOT present)
        """,
        params,
    )
    for table in ("rollup_days", "rollup_groups", "rollup_anomalies"):
        con.execute(
            f"DELETE FROM {table} WHERE {mine} AND run_id = $run", {**params, "run": run_id}
        )
    con.execute(f"DELETE FROM rollup_undo WHERE {mine}", params)


def advance(
    con: duckdb.DuckDBPyConnection,
    family: str,
    platform: str,
    run_id: int,
    prev_run: int | None,
    prev_started: object,
) -> None:
    """Roll up one new day-run, comparing it with the state at the previous one.

    The rules of `member_deltas`, applied to every repo that is a member now or was ever
    visible before; a repo whose state did not change contributes nothing.
    """
    fam = {"family": family, "platform": platform}
    params = {**fam, "run": run_id}
    # members at this run, with the counters in force: stored since the previous day-run,
    # else (members then too) the state's, else the last stored before
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE ru_members AS
        SELECT m.repo_key, m.role, coalesce(m.relation, 'official') AS relation, m.depth
        FROM membership m
        WHERE m.family = $family AND m.platform = $platform
          AND m.first_run <= $run AND m.last_run >= $run
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
                                 WHERE family = $family AND platform = $platform AND is_member)
        """,
        fam,
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
        WITH b AS (SELECT * FROM rollup_state WHERE family = $family AND platform = $platform),
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
        fam,
    )
    # the changed repos as events of member_events' shape (prev_* = the state at the
    # previous day-run), so that the rules of views.py apply unchanged
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE ru_events AS
        SELECT CAST($family AS VARCHAR) AS family, CAST($platform AS VARCHAR) AS platform,
               c.repo_key, CAST($run AS BIGINT) AS run_id,
               c.is_member, c.role, c.contrib, c.last_role, c.last_relation, c.last_depth,
               c.d30, c.likes, c.p_contrib AS prev_contrib, c.p_last_role AS prev_role,
               c.p_last_relation AS prev_relation, c.p_last_depth AS prev_depth,
               coalesce(c.p_is_member, false) AS was_member,
               coalesce(c.p_d30, 0) AS prev_d30, coalesce(c.p_likes, 0) AS prev_likes,
               r.created_at, CAST($prev_started AS TIMESTAMP) AS prev_started_at
        FROM ru_change c JOIN repos r USING (repo_key)
        """,
        {**params, "prev_started": prev_started},
    )
    con.execute(f"CREATE OR REPLACE TEMP TABLE ru_deltas AS {DELTAS.format(events='ru_events')}")
    begin_sums(con)
    add_sums(con, "ru_deltas")
    finish_sums(
        con,
        "SELECT CAST($family AS VARCHAR) AS family, CAST($platform AS VARCHAR) AS platform, "
        "CAST($run AS BIGINT) AS run_id",
        params,
    )
    # the new state, and how to take it back
    p_cols = ", ".join(f"p_{c}" for c in _STATE)
    cols = ", ".join(_STATE)
    con.execute("DELETE FROM rollup_undo WHERE family = $family AND platform = $platform", fam)
    con.execute(
        f"""
        INSERT INTO rollup_undo (family, platform, repo_key, run_id, present, {cols})
        SELECT $family, $platform, repo_key, $run, present, {p_cols} FROM ru_change
        """,
        params,
    )
    sets = ", ".join(f"{c} = c.{c}" for c in _STATE)
    con.execute(
        f"""
        UPDATE rollup_state s SET {sets}
        FROM ru_change c
        WHERE c.present AND s.family = $family AND s.platform = $platform
          AND s.repo_key = c.repo_key
        """,
        fam,
    )
    con.execute(
        f"""
        INSERT INTO rollup_state (family, platform, repo_key, {cols})
        SELECT $family, $platform, repo_key, {cols} FROM ru_change WHERE NOT present
        """,
        fam,
    )
    for table in ("ru_members", "ru_recent", "ru_older", "ru_change", "ru_events", "ru_deltas"):
        con.execute(f"DROP TABLE {table}")
