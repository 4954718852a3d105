"""Collection history: the runs table, and how each schedule is keeping up.

`collector runs` lists rows of `runs` (every snapshot attempt that got as far as recording
itself: complete or failed). `collector status` compares, per schedule and family, the
newest successful snapshot with the schedule's run times: a family is *late* when a run
time has passed since its newest success and that run's timeout has run out too, so a
missed day shows up instead of going unnoticed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from collector.dates import format_duration
from collector.scheduling import lockfile
from collector.scheduling.schedules import NEVER, Schedule
from collector.store import warehouse

RUN_COLUMNS = [
    "run_id",
    "family",
    "started_at",
    "finished_at",
    "status",
    "strategy",
    "repos_seen",
    "members",
    "requests",
    "retries",
    "rejected",
    "error",
]
STATUS_COLUMNS = [
    "schedule",
    "family",
    "trigger",
    "last_success",
    "last_run",
    "outcome",
    "next_run",
    "state",
]


def last_success(con: duckdb.DuckDBPyConnection) -> dict[str, datetime]:
    """Each family's newest complete run's start (naive UTC)."""
    rows = con.execute(
        "SELECT family, max(started_at) FROM runs WHERE status = 'complete' GROUP BY family"
    ).fetchall()
    return {family: started for family, started in rows}


def run_history(
    con: duckdb.DuckDBPyConnection, limit: int | None = 20, family: str | None = None
) -> list[dict[str, Any]]:
    """The newest runs first (started_at is the snapshot's clock, finished_at the wall clock)."""
    rows = con.execute(
        """
        SELECT run_id, family, started_at, finished_at,
               status, strategy, repos_seen, members, requests, retries, rejected, error
        FROM runs WHERE $family IS NULL OR family = $family
        ORDER BY run_id DESC LIMIT $limit
        """,
        {"family": family, "limit": limit},
    ).fetchall()
    return [dict(zip(RUN_COLUMNS, r, strict=True)) for r in rows]


def _last_runs(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[datetime, str]]:
    rows = con.execute(
        """
        SELECT family, started_at, status FROM runs
        QUALIFY row_number() OVER (PARTITION BY family ORDER BY run_id DESC) = 1
        """
    ).fetchall()
    return {family: (started, status) for family, started, status in rows}


def schedule_status(schedules: list[Schedule], db: str | None, now: datetime) -> dict[str, Any]:
    """Per schedule and family: newest success, last run, next run time, and late warnings.

    `now` is naive UTC. Each schedule reads its own warehouse (its `db`, else `db`).
    """
    rows: list[dict[str, Any]] = []
    warnings: list[str] = []
    daemons: list[dict[str, Any]] = []
    cache: dict[Path, tuple[dict[str, datetime], dict[str, tuple[datetime, str]]]] = {}
    for s in schedules:
        path = warehouse.db_path(s.db or db)
        if path not in cache:
            cache[path] = _read(path)
            holder = lockfile.holder(path)
            daemons.append(
                {
                    "db": str(path),
                    "running": holder is not None,
                    "pid": holder.pid if holder else None,
                    "host": holder.host if holder else None,
                    "since": holder.started_at if holder else None,
                }
            )
        success, last = cache[path]
        next_run = s.next_fire(now)
        for family in s.families:
            newest = success.get(family)
            missed = s.missed([newest], now)
            state = "ok"
            if missed is NEVER:
                state = "never"
                warnings.append(f"{family} ({s.name}): no successful snapshot yet")
            elif missed is not None and missed + timedelta(seconds=s.timeout) < now:
                state = "late"
                warnings.append(
                    f"{family} ({s.name}) is late: newest successful snapshot {_iso(newest)}, "
                    f"but one was due at {_iso(missed)} (plus its {format_duration(s.timeout)} "
                    "timeout)"
                )
            run = last.get(family)
            rows.append(
                {
                    "schedule": s.name,
                    "family": family,
                    "trigger": s.describe(),
                    "last_success": newest,
                    "last_run": run[0] if run else None,
                    "outcome": run[1] if run else None,
                    "next_run": next_run,
                    "state": state,
                    "db": str(path),
                }
            )
    return {"now": now, "schedules": rows, "daemons": daemons, "warnings": warnings}


def _read(path: Path) -> tuple[dict[str, datetime], dict[str, tuple[datetime, str]]]:
    if not path.exists():
        return {}, {}
    with warehouse.reader(path) as con:
        return last_success(con), _last_runs(con)


def _iso(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else "never"
