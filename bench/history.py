"""A long history generated straight into the warehouse tables, to time the reports.

`repos` repos of the family "qwen" over `days` daily runs: 60% members from day one, the
rest joining over the year (most created just before they join, the others older),
1% departing; the counters of each member change every fifth day (20% of the members
each day; one change in 5,000 is a decrease). Then the
rollup is rebuilt from the member events (rollup.rebuild), as migration m007 filled it.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import duckdb

from collector.store import rollup, warehouse
from collector.store.views import DAY_SUMS

FAMILY = "qwen"
START = datetime(2025, 1, 1, 12, 0)


def generate(db: str, repos: int, days: int) -> dict[str, float]:
    """Fill a new warehouse; returns the seconds each step took and the row counts."""
    out: dict[str, float] = {}
    t = time.perf_counter()
    with warehouse.writer(db) as con:
        con.execute("SET preserve_insertion_order = false")
        p = {"repos": repos, "days": days, "start": START, "family": FAMILY}
        con.execute(
            """
            INSERT INTO runs (run_id, family, started_at, finished_at, status, strategy,
                              repos_seen, members, requests)
            SELECT d + 1, $family, $start + d * INTERVAL 1 DAY,
                   $start + d * INTERVAL 1 DAY + INTERVAL 20 MINUTE, 'complete', 'hub',
                   2500000, 0, 2500
            FROM range($days) t(d)
            """,
            {k: p[k] for k in ("days", "start", "family")},
        )
        # join day j (0-based), leave after day l (days - 1: never)
        con.execute(
            """
            CREATE TEMP TABLE plan AS
            SELECT k,
                   CAST(CASE WHEN hash(k, 'j') % 10 < 6 THEN 0
                             ELSE 1 + hash(k, 'jd') % ($days - 1) END AS BIGINT) AS j,
                   hash(k, 'l') % 100 = 0 AS leaves,
                   hash(k, 'c') % 5 = 0 AS old,
                   CAST(100 + hash(k, 'b') % 100000 AS BIGINT) AS base,
                   CAST(1 + hash(k, 'r') % 500 AS BIGINT) AS rate
            FROM range(1, $repos + 1) t(k)
            """,
            {"repos": repos, "days": days},
        )
        con.execute(
            """
            CREATE TEMP TABLE span AS
            SELECT *, CAST(CASE WHEN leaves AND j < $days - 2
                                THEN j + 1 + hash(k, 'ld') % ($days - 2 - j)
                                ELSE $days - 1 END AS BIGINT) AS l
            FROM plan
            """,
            {"days": days},
        )
        con.execute(
            """
            INSERT INTO repos (repo_key, hub_id, repo_id, author, created_at, pipeline_tag,
                               library_name, first_seen_run, last_seen_run)
            SELECT k, printf('%024x', 6500000000000000000000 + k),
                   CASE WHEN k <= 400 THEN 'Qwen/Qwen-' || k
                        ELSE 'user' || (k % 20000) || '/m-' || k END,
                   CASE WHEN k <= 400 THEN 'Qwen' ELSE 'user' || (k % 20000) END,
                   CASE WHEN j = 0 OR old THEN TIMESTAMP '2024-01-01' + k * INTERVAL 1 SECOND
                        ELSE $start + j * INTERVAL 1 DAY - INTERVAL 6 HOUR END,
                   'text-generation', 'transformers', j + 1, l + 1
            FROM span
            """,
            {"start": START},
        )
        con.execute(
            """
            INSERT INTO membership (family, repo_key, first_run, last_run, role, relation,
                                    depth, parent_key)
            SELECT $family, k, j + 1, l + 1,
                   CASE WHEN k <= 400 THEN 'official' ELSE 'derivative' END,
                   CASE WHEN k <= 400 THEN NULL
                        ELSE ['finetune', 'quantized', 'adapter', 'merge'][
                            CAST(1 + hash(k, 'rel') % 4 AS BIGINT)]
                        END,
                   CASE WHEN k <= 400 THEN 0 ELSE 1 + (hash(k, 'dep') % 100 < 25)::INT
                        + (hash(k, 'dep') % 100 < 8)::INT + (hash(k, 'dep') % 100 < 2)::INT END,
                   CASE WHEN k <= 400 THEN NULL ELSE 1 + hash(k, 'par') % 400 END
            FROM span
            """,
            {"family": FAMILY},
        )
        out["generate_setup_s"] = time.perf_counter() - t
        t = time.perf_counter()
        # counters: a row when the repo is first seen, then on 20% of its member days
        con.execute(
            """
            INSERT INTO counts
            SELECT k, d + 1,
                   rate * 30 + hash(k, d) % 50,
                   base + rate * d
                     - CASE WHEN hash(k, d, 'dec') % 5000 = 0 THEN 7 * rate ELSE 0 END,
                   base % 1000 + d // 30
            FROM (
                SELECT k, j AS d, base, rate FROM span
                UNION ALL  -- every fifth day after joining, from a day that depends on k
                SELECT k, unnest(range(j + 1 + (k + j) % 5, l + 1, 5)) AS d, base, rate
                FROM span
            )
            ORDER BY d + 1, k
            """,
        )
        con.execute("UPDATE runs SET members = (SELECT count(*) FROM membership)")
        out["generate_counts_s"] = time.perf_counter() - t
        out["counts_rows"] = con.execute("SELECT count(*) FROM counts").fetchall()[0][0]
        out["membership_rows"] = con.execute("SELECT count(*) FROM membership").fetchall()[0][0]
        con.execute("CHECKPOINT")
        t = time.perf_counter()
        con.execute("BEGIN TRANSACTION")
        rollup.rebuild(con)
        con.execute("COMMIT")
        con.execute("CHECKPOINT")
        out["rollup_from_events_s"] = time.perf_counter() - t
    return out


def add_day(db: str, share: float = 0.2) -> float:
    """Seconds to roll up one more day-run (20% of members changed) on top of the history."""
    with warehouse.writer(db) as con:
        last, started = con.execute(
            "SELECT max(run_id), max(started_at) FROM runs WHERE family = ?", [FAMILY]
        ).fetchall()[0]
        run = last + 1
        con.execute("BEGIN TRANSACTION")
        con.execute(
            """INSERT INTO runs (run_id, family, started_at, status, strategy)
               VALUES (?, ?, ?, 'complete', 'hub')""",
            [run, FAMILY, started + timedelta(days=1)],
        )
        con.execute(
            "UPDATE membership SET last_run = ? WHERE family = ? AND last_run = ?",
            [run, FAMILY, last],
        )
        con.execute(
            """
            INSERT INTO counts
            SELECT c.repo_key, $run, c.downloads_30d + 1, c.downloads_all_time + 1000, c.likes
            FROM counts c SEMI JOIN membership m ON m.repo_key = c.repo_key AND m.last_run = $run
            WHERE hash(c.repo_key, $run) % 100 < $pct
            QUALIFY row_number() OVER (PARTITION BY c.repo_key ORDER BY c.run_id DESC) = 1
            """,
            {"run": run, "pct": int(share * 100)},
        )
        t = time.perf_counter()
        rollup.refresh(con, FAMILY)
        seconds = time.perf_counter() - t
        con.execute("ROLLBACK")
    return seconds


def events_seconds(con: duckdb.DuckDBPyConnection) -> float:
    """How long family_daily takes summed from every member event (what m007 replaced)."""
    sums = DAY_SUMS.format(deltas="member_deltas")
    t = time.perf_counter()
    con.execute(
        f"""SELECT count(*) FROM (
                SELECT sum(coalesce(p.d_all_time, 0))
                           OVER (PARTITION BY d.family, d.platform ORDER BY d.run_id)
                FROM day_runs d LEFT JOIN ({sums}) p
                  ON p.family = d.family AND p.run_id = d.run_id)"""
    ).fetchall()
    return time.perf_counter() - t
