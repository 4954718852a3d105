"""`top --by new_downloads` reads rollup_repo_new (m009): the same numbers as the per-repo
event computation over `member_deltas`, over every range, through busy histories.

The histories are those of tests/test_rollup.py (growth, a decrease, new and old repos
joining, relation and depth changes, a departure and a return, a failed run, same-day
runs replacing the day's run, partial days), snapshotted through the real CLI.
"""

from __future__ import annotations

import json
from itertools import combinations_with_replacement
from pathlib import Path

import duckdb
import pytest

from collector.reports.series import top_new_sql
from collector.store import rollup
from tests import report_data, test_rollup
from tests.conftest import Cli
from tests.fakehub import FakeHub

# The event computation `top --by new_downloads` used before m009: each repo's
# new_downloads summed over the day-runs of [since, until] in member_deltas, with role,
# relation and depth at its last day-run there with new downloads.
EVENTS_SQL = """
SELECT r.repo_id,
       arg_max(d.last_role, d.run_id) FILTER (WHERE d.new_downloads > 0) AS role,
       arg_max(CASE WHEN d.last_role = 'official' THEN NULL ELSE d.last_relation END,
               d.run_id) FILTER (WHERE d.new_downloads > 0) AS relation,
       arg_max(d.last_depth, d.run_id) FILTER (WHERE d.new_downloads > 0) AS depth,
       CAST(sum(d.new_downloads) AS BIGINT) AS new_downloads,
       any_value(m.downloads_all_time) AS downloads_all_time,
       any_value(m.downloads_30d) AS downloads_30d, any_value(m.likes) AS likes
FROM member_deltas d JOIN repos r USING (repo_key)
LEFT JOIN members_daily m
  ON m.family = d.family AND m.run_id = $end_run AND m.repo_key = d.repo_key
WHERE d.family = $family AND d.platform = 'huggingface' AND d.date >= $since
  AND d.date <= $until
GROUP BY r.repo_id HAVING sum(d.new_downloads) > 0
ORDER BY new_downloads DESC, r.repo_id
"""


def top_equals_events(cli: Cli, db: Path, family: str, now: str) -> int:
    """For every range of day-runs, `top` equals EVENTS_SQL; returns the ranges checked."""
    with duckdb.connect(str(db), read_only=True) as con:
        days = con.execute(
            "SELECT date, run_id FROM day_runs WHERE family = ? AND platform = 'huggingface' "
            "ORDER BY date",
            [family],
        ).fetchall()
        want = {}
        for (since, _), (until, end_run) in combinations_with_replacement(days, 2):
            params = {"family": family, "since": since, "until": until, "end_run": end_run}
            cur = con.execute(EVENTS_SQL, params)
            names = [c[0] for c in cur.description]
            want[since, until] = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    for (since, until), rows in want.items():
        result = cli(
            "top", "-f", family, "--by", "new_downloads", "--since", str(since),
            "--until", str(until), "--limit", "1000", "--format", "json", now=now,
        )  # fmt: skip
        got = json.loads(result.stdout)
        assert got["repos"] == len(rows), (since, until)
        assert [{k: r[k] for k in rows[0]} for r in got["rows"]] == rows if rows else True
        assert [r["rank"] for r in got["rows"]] == list(range(1, len(rows) + 1))
    return len(want)


def table_equals_deltas(db: Path) -> None:
    """rollup_repo_new holds exactly member_deltas' rows with new downloads."""
    with duckdb.connect(str(db), read_only=True) as con:
        got = con.execute(
            "SELECT * FROM rollup_repo_new ORDER BY family, run_id, repo_key"
        ).fetchall()
        want = con.execute(
            """SELECT family, platform, run_id, repo_key, new_downloads, last_role,
                      last_relation, last_depth
               FROM member_deltas WHERE new_downloads > 0 ORDER BY family, run_id, repo_key"""
        ).fetchall()
        runs = con.execute("SELECT * FROM rollup_repo_runs ORDER BY ALL").fetchall()
        days = con.execute("SELECT family, platform, run_id FROM day_runs ORDER BY ALL").fetchall()
        # rollup_repo_total (m013), kept by each snapshot, is those rows summed per repo
        totals = con.execute("SELECT * FROM rollup_repo_total ORDER BY ALL").fetchall()
        summed = con.execute(
            """SELECT family, platform, repo_key, sum(new_downloads), arg_max(role, run_id),
                      arg_max(CASE WHEN role = 'official' THEN NULL ELSE relation END, run_id),
                      arg_max(depth, run_id), max(run_id)
               FROM rollup_repo_new GROUP BY ALL ORDER BY ALL"""
        ).fetchall()
    assert got == want and got
    assert runs == days
    assert totals == summed


def ways_agree(db: Path, family: str) -> int:
    """Over every range of day-runs, each way to `top`'s sums that may serve it gives the
    rows of the range's own rows; returns the ranges that took a shortcut."""
    shortcuts = 0
    with duckdb.connect(str(db), read_only=True) as con:
        runs = [
            r[0]
            for r in con.execute(
                "SELECT run_id FROM day_runs WHERE family = ? AND platform = 'huggingface' "
                "ORDER BY run_id",
                [family],
            ).fetchall()
        ]
        for first, end in combinations_with_replacement(runs, 2):
            p = {"family": family, "first_run": first, "end_run": end, "limit": 1000}
            want = con.execute(top_new_sql("range"), p).fetchall()
            if end == runs[-1]:
                assert con.execute(top_new_sql("since"), p).fetchall() == want, (first, end)
                shortcuts += 1
            if end == runs[-1] and first == runs[0]:
                del p["first_run"]
                assert con.execute(top_new_sql("all"), p).fetchall() == want
    return shortcuts


def test_top_new_equals_events_through_a_busy_history(
    cli: Cli, hub: FakeHub, isolated_env: Path, families: None
) -> None:
    test_rollup.test_rollup_equals_the_event_views_through_a_busy_history(
        cli, hub, isolated_env, None
    )
    table_equals_deltas(isolated_env)
    assert top_equals_events(cli, isolated_env, "qwen", "2026-01-10T00:00:00") >= 10
    assert top_equals_events(cli, isolated_env, "small", "2026-01-10T00:00:00") >= 10
    assert ways_agree(isolated_env, "qwen") >= 4 and ways_agree(isolated_env, "small") >= 4


def test_top_new_equals_events_with_partial_days(
    cli: Cli, hub: FakeHub, isolated_env: Path, families: None
) -> None:
    test_rollup.test_rollup_equals_the_event_views_with_partial_days(cli, hub, isolated_env, None)
    table_equals_deltas(isolated_env)
    assert top_equals_events(cli, isolated_env, "qwen", "2026-01-10T00:00:00") == 10
    assert ways_agree(isolated_env, "qwen") == 4


def test_top_new_equals_events_on_the_hand_computed_sample(cli: Cli, isolated_env: Path) -> None:
    report_data.install(isolated_env)
    table_equals_deltas(isolated_env)
    assert top_equals_events(cli, isolated_env, "qwen", "2026-02-04T00:00:00") == 15


def test_rebuild_gives_the_rows_the_snapshots_kept(
    cli: Cli, hub: FakeHub, isolated_env: Path, families: None
) -> None:
    test_rollup.test_rollup_equals_the_event_views_through_a_busy_history(
        cli, hub, isolated_env, None
    )
    with duckdb.connect(str(isolated_env)) as con:
        kept = {
            table: con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()
            for table in ("rollup_repo_new", "rollup_repo_total")
        }
        rollup.rebuild(con)
        for table, rows in kept.items():
            assert con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall() == rows


families = pytest.fixture(test_rollup.families.__wrapped__)  # type: ignore[attr-defined]
