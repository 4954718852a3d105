"""The rollup of an import's days, set-based: one pass over the rows the import wrote.

`rollup.rebuild` recomputes a family's rollup from `member_events`, whose candidate points
come from ASOF joins of every membership interval and counter row with `day_runs`: over
600 imported days of a large family that costs minutes, and `rollup.refresh` day by day
costs about a second per day-run whatever its size. The import already knows, per repo and
imported day-run, whether the repo is present and which counter row it wrote
(`imp_points`, written by the one window pass of imports._insert, with the values at the
presence before), so the events of `member_events` over the imported day-runs are a
projection of those rows, with no further sort:

- a member event where the repo wrote a counter row or starts an island of presence,
  valued as that row (counters are carried forward as the import stores them);
- a departure event on the day-run after an island ends (no row of its own).

These events, in `member_events`' shape, go through the rebuild's own steps
(`rollup.begin_events`, `add_events`, `finish_events`): the rules of views.py (DELTAS,
DAY_SUMS, GROUP_MOVES, ANOMALIES) and the state/undo/new-download rows are the rebuild's.
The import writes its members a chunk at a time (imports.Rows), so `add_chunk` adds each
chunk's events and `finish` adds up the per-day-run sums of all of them. Own day-runs after
the imported ones (own snapshots always come later) are then rolled up one by one as a
snapshot does (`rollup.advance`).

This holds only when the imported day-runs are the family's first day-runs and each repo
has one role, relation and depth; otherwise (`begin` says so) the family's rollup is
rebuilt from the event views. Repos whose counters another family's import stored among
these day-runs (a merge of two families, or families that overlap: counters are per repo)
take their events from `member_events`, as a rebuild would, and only they. tests/test_import_rollup.py checks both paths
against the rebuild, and an import in many chunks against one in a single chunk.
"""

from __future__ import annotations

import duckdb

from collector.store import repo_totals, rollup, views

_FAM = "family = $family AND platform = $platform"
# Repos shared with another family's import whose events are computed at a time: 600
# days of 1,500 of them took 880 MB at peak under the series read's 512 MB limit (the
# whole family of 200,000 at once ran out of it).
SHARED_REPOS_PER_CHUNK = 2_000


def begin(con: duckdb.DuckDBPyConnection, family: str, platform: str) -> bool:
    """Before the import writes its chunks (its day-runs in temp table `imp_days`, stored in
    `runs`; its members' keys in `imp_keys`; none of their counters written yet), in the
    caller's transaction: whether the set-based rollup applies. If so, the family's rollup
    is emptied, to be filled by `add_chunk` and `finish`."""
    fam: dict[str, object] = {"family": family, "platform": platform}
    n, last = con.execute("SELECT count(*), max(run_id) FROM imp_days").fetchall()[0]
    if not n or not _fits(con, fam, n, last):
        return False
    for table in rollup.TABLES:
        con.execute(f"DELETE FROM {table} WHERE {_FAM}", fam)
    con.execute(
        """CREATE OR REPLACE TEMP TABLE imp_runs AS
           SELECT idx, run_id, day, CAST(lag(day) OVER (ORDER BY idx) AS TIMESTAMP) AS prev_at
           FROM imp_days"""
    )
    rollup.begin_events(con, family, platform)
    return True


def add_chunk(con: duckdb.DuckDBPyConnection, family: str, platform: str) -> None:
    """The rollup rows of one chunk of repos, from its temp table `imp_points`."""
    n = con.execute("SELECT count(*) FROM imp_days").fetchall()[0][0]
    _events(con, family, platform, n)
    rollup.add_events(con, kind="VIEW")


def finish(con: duckdb.DuckDBPyConnection, family: str, platform: str, fits: bool) -> bool:
    """After the last chunk: the day-run sums and totals, then the own day-runs after the
    import. Without `fits`, the family's rollup is rebuilt from the event views instead
    (False)."""
    fam: dict[str, object] = {"family": family, "platform": platform}
    if not fits:
        # the event views cannot work within the series read's memory limit at a large
        # family's size ("failed to pin block"): DuckDB's default, spilling, instead
        con.execute("RESET memory_limit")
        rollup.rebuild(con, family, platform)
        return False
    last = con.execute("SELECT max(run_id) FROM imp_days").fetchall()[0][0]
    params = {**fam, "last": last}
    # the shared repos' events as the views see them (this import's rows are all written
    # now), from their own rows only, a chunk of repos at a time (within the memory limit)
    con.execute(
        """CREATE OR REPLACE TEMP TABLE imp_shared_chunks AS
           SELECT repo_key, (row_number() OVER (ORDER BY repo_key) - 1) // $per AS chunk
           FROM imp_shared""",
        {"per": SHARED_REPOS_PER_CHUNK},
    )
    chunks = con.execute("SELECT count(DISTINCT chunk) FROM imp_shared_chunks").fetchall()[0][0]
    for chunk in range(chunks):
        subset = f"SELECT repo_key FROM imp_shared_chunks WHERE chunk = {chunk}"
        events = views.events_of(family, platform, subset)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE ru_events AS SELECT * FROM ({events}) "
            "WHERE run_id <= $last",
            {"last": last},
        )
        rollup.add_events(con)
    days = f"SELECT * FROM day_runs WHERE {_FAM} AND run_id <= $last"
    rollup.finish_events(con, family, platform, days, params)
    for table in ("imp_roles", "imp_runs", "imp_shared", "imp_shared_chunks"):
        con.execute(f"DROP TABLE {table}")
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
    """Whether the imported day-runs are the family's first, each member has one role,
    relation and depth, and no other run stored counters of its repos among them."""
    params = {**fam, "last": last}
    runs = con.execute(
        f"""SELECT count(*), count(*) FILTER (WHERE run_id IN (SELECT run_id FROM imp_days))
            FROM day_runs WHERE {_FAM} AND run_id <= $last""",
        params,
    ).fetchall()[0]
    if runs != (n, n):
        return False
    # membership's labels, as imports._insert writes them
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE imp_roles AS
        SELECT DISTINCT k.repo_key, k.role,
               CASE WHEN k.role = 'derivative' THEN coalesce(k.relation, 'unspecified') END
                   AS relation,
               k.depth, r.created_at
        FROM imp_keys k JOIN repos r USING (repo_key)
        """
    )
    one_role = con.execute("SELECT count(*) = count(DISTINCT repo_key) FROM imp_roles").fetchall()[
        0
    ][0]
    if not one_role:
        con.execute("DROP TABLE imp_roles")
        return False
    # Repos with counter rows among the imported day-runs already (another family's import
    # of the same repos: counters are per repo, and the event views read them too). Their
    # events come from member_events in `finish`; the chunks leave them out.
    con.execute(
        """CREATE OR REPLACE TEMP TABLE imp_shared AS
           SELECT DISTINCT c.repo_key FROM counts c SEMI JOIN imp_roles r USING (repo_key)
           WHERE c.run_id <= $last""",
        {"last": last},
    )
    con.execute("DELETE FROM imp_roles WHERE repo_key IN (SELECT repo_key FROM imp_shared)")
    return True


def _events(con: duckdb.DuckDBPyConnection, family: str, platform: str, n: int) -> None:
    """Temp view `ru_events`: the rows `member_events` holds for the imported day-runs (a
    view takes no parameters: the values are quoted into it)."""
    params = {"family": _quote(family), "platform": _quote(platform), "n": str(int(n))}
    # A member event where the repo wrote a counter row or starts an island; its previous
    # event is the presence before (same island: a member then, valued as the row before)
    # or, after a gap, that island's departure (not a member, the same contribution). A
    # departure is the day-run after an island's last presence, valued as that presence.
    con.execute(
        """
        CREATE OR REPLACE TEMP VIEW ru_events AS
        WITH e AS (
            SELECT repo_key, idx, true AS is_member, coalesce(dl_all, 0) AS all_time,
                   coalesce(dl30, 0) AS d30, coalesce(likes, 0) AS likes,
                   coalesce(dl_all, 0) AS contrib,
                   CASE WHEN seen_before THEN coalesce(p_dl_all, 0) END AS prev_contrib,
                   seen_before, NOT island_start AS was_member,
                   CASE WHEN island_start THEN 0 ELSE coalesce(p_dl30, 0) END AS prev_d30,
                   CASE WHEN island_start THEN 0 ELSE coalesce(p_likes, 0) END AS prev_likes
            FROM imp_points WHERE written OR island_start
            UNION ALL
            SELECT repo_key, idx + 1, false, NULL, NULL, NULL, coalesce(dl_all, 0),
                   coalesce(dl_all, 0), true, true, coalesce(dl30, 0), coalesce(likes, 0)
            FROM imp_points WHERE island_end AND idx + 1 < $n
        )
        SELECT CAST($family AS VARCHAR) AS family, CAST($platform AS VARCHAR) AS platform,
               e.repo_key, d.run_id, d.day AS date, e.is_member, o.role, o.relation, o.depth,
               e.all_time, e.d30, e.likes, e.contrib, o.role AS last_role,
               coalesce(o.relation, 'official') AS last_relation, o.depth AS last_depth,
               e.prev_contrib,
               CASE WHEN e.seen_before THEN o.role END AS prev_role,
               CASE WHEN e.seen_before THEN coalesce(o.relation, 'official') END
                   AS prev_relation,
               CASE WHEN e.seen_before THEN o.depth END AS prev_depth,
               e.was_member, e.prev_d30, e.prev_likes,
               o.created_at, d.prev_at AS prev_started_at
        FROM e JOIN imp_runs d ON d.idx = e.idx
        JOIN imp_roles o ON o.repo_key = e.repo_key
        """.replace("$family", params["family"])
        .replace("$platform", params["platform"])
        .replace("$n", params["n"])
    )


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
