"""The daemon's scheduling with a controlled clock: coalescing, misfire grace, catch-up at
start, one run at a time, timeouts.

The daemon runs in-process against the fake Hub; APScheduler's clock (the `datetime` it
reads in its scheduler and executor modules) and the daemon's clock are one fake clock
that the test moves, then `scheduler.wakeup()` makes it look at the time again.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, tzinfo
from pathlib import Path

import duckdb
import pytest
from apscheduler.events import (
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    JobEvent,
)

from collector.scheduling.daemon import Daemon
from collector.scheduling.schedules import load_schedules
from tests.conftest import Cli
from tests.daemons import write_schedule
from tests.fakehub import FakeHub

DAILY = 'families = ["qwen"]\ncron = "30 3 * * *"\ncatch_up = false\n'


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class FakeClock:
    """Aware UTC time that only the test moves."""

    def __init__(self, start: str) -> None:
        self.now = utc(start)

    def __call__(self) -> datetime:
        return self.now

    def set(self, text: str) -> None:
        self.now = utc(text)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock("2026-01-01T00:00:00")

    class FakeDatetime(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
            return fake.now.astimezone(tz) if tz else fake.now.replace(tzinfo=None)

    monkeypatch.setattr("apscheduler.schedulers.base.datetime", FakeDatetime)
    monkeypatch.setattr("apscheduler.executors.base.datetime", FakeDatetime)
    return fake


def seed(hub: FakeHub) -> None:
    hub.add("Qwen/Qwen3-8B", downloads_all_time=1000, downloads=100, likes=10)
    hub.add("Qwen/Qwen3-4B", downloads_all_time=500, downloads=50, likes=5)
    hub.add_derivative(
        "alice/Qwen3-8B-GGUF", parent="Qwen/Qwen3-8B", relation="quantized", downloads_all_time=70
    )


class Running:
    """A started in-process daemon, its log lines and its scheduler events."""

    def __init__(self, daemon: Daemon, lines: list[str]) -> None:
        self.daemon = daemon
        self.lines = lines
        self.events: queue.Queue[JobEvent] = queue.Queue()
        daemon.scheduler.add_listener(
            self.events.put, EVENT_JOB_EXECUTED | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES
        )

    def wake(self) -> JobEvent:
        """Let the scheduler see the clock; the next job event (run, missed or skipped)."""
        self.daemon.scheduler.wakeup()
        return self.events.get(timeout=20)

    def next_run(self) -> datetime:
        job = self.daemon.scheduler.get_job("daily")
        assert job is not None
        return job.next_run_time.astimezone(UTC)


@pytest.fixture
def start(tmp_path: Path, hub: FakeHub, clock: FakeClock) -> Iterator[Callable[[str], Running]]:
    seed(hub)
    started: list[Daemon] = []

    def _start(text: str) -> Running:
        write_schedule(tmp_path / "schedules", "daily", text)
        lines: list[str] = []
        daemon = Daemon(
            load_schedules(tmp_path / "schedules"), log=lines.append, clock=clock, stop_wait=20
        )
        running = Running(daemon, lines)
        started.append(daemon)
        daemon.start()
        return running

    yield _start
    for daemon in started:
        daemon.request_stop("end of test")
        assert daemon.stop()


def runs(cli: Cli) -> list[dict]:
    return json.loads(cli("runs", "--format", "json").stdout)["runs"]


def run_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("daily qwen: ")]


def test_three_missed_runs_coalesce_into_one(start, clock, cli) -> None:
    d = start(DAILY)
    assert d.lines[1] == "daily: qwen, cron 30 3 * * * UTC, next run 2026-01-01T03:30:00Z"
    clock.set("2026-01-04T10:00:00")  # the machine slept through four 03:30s
    event = d.wake()
    assert event.code == EVENT_JOB_EXECUTED
    assert event.scheduled_run_time == utc("2026-01-04T03:30:00")  # only the newest
    assert d.events.empty()
    assert d.next_run() == utc("2026-01-05T03:30:00")
    assert [(r["run_id"], r["status"], r["started_at"]) for r in runs(cli)] == [
        (1, "complete", "2026-01-04T10:00:00")
    ]
    [line] = run_lines(d.lines)
    assert line.startswith("daily qwen: complete, run 1, 2026-01-04T10:00:00Z to 2026-01-04T1")
    assert line.endswith(", 3 repos, 3 members, 4 requests, 0 retries")


def test_coalesced_run_starts_within_misfire_grace(start, clock, cli) -> None:
    d = start(DAILY + 'misfire_grace = "2h"\n')
    clock.set("2026-01-04T04:00:00")  # older run times are far past the grace: coalesced away
    event = d.wake()
    assert (event.code, event.scheduled_run_time) == (
        EVENT_JOB_EXECUTED,
        utc("2026-01-04T03:30:00"),
    )
    assert d.events.empty()
    assert len(runs(cli)) == 1


def test_a_run_later_than_misfire_grace_is_skipped(start, clock, cli) -> None:
    d = start(DAILY + 'misfire_grace = "2h"\n')
    clock.set("2026-01-01T05:45:00")
    event = d.wake()
    assert (event.code, event.scheduled_run_time) == (EVENT_JOB_MISSED, utc("2026-01-01T03:30:00"))
    assert d.lines[-1] == (
        "daily: run due 2026-01-01T03:30:00Z missed: 2h15m late, more than its misfire_grace"
    )
    assert d.next_run() == utc("2026-01-02T03:30:00")
    assert runs(cli) == []
    clock.set("2026-01-02T05:00:00")  # 1h30m late: within the grace
    assert d.wake().code == EVENT_JOB_EXECUTED
    assert [r["started_at"] for r in runs(cli)] == ["2026-01-02T05:00:00"]


def test_without_misfire_grace_a_late_run_always_starts(start, clock, cli) -> None:
    d = start(DAILY)
    clock.set("2026-01-02T03:29:00")  # 23h59m late
    event = d.wake()
    assert (event.code, event.scheduled_run_time) == (
        EVENT_JOB_EXECUTED,
        utc("2026-01-01T03:30:00"),
    )
    assert d.next_run() == utc("2026-01-02T03:30:00")


def test_catch_up_at_start_when_a_run_was_missed(start, clock, cli) -> None:
    cli("snapshot", "--quiet", now="2026-01-01T03:30:05")
    clock.set("2026-01-03T10:00:00")
    d = start(DAILY.replace("catch_up = false", "catch_up = true"))
    assert d.lines[1] == (
        "daily: qwen, cron 30 3 * * * UTC, next run 2026-01-03T10:00:00Z "
        "(catching up: the run due 2026-01-02T03:30:00Z was missed)"
    )
    event = d.events.get(timeout=20)
    assert (event.code, event.scheduled_run_time) == (
        EVENT_JOB_EXECUTED,
        utc("2026-01-03T10:00:00"),
    )
    assert d.next_run() == utc("2026-01-04T03:30:00")
    assert [r["started_at"] for r in runs(cli)] == ["2026-01-03T10:00:00", "2026-01-01T03:30:05"]


def test_no_catch_up_when_the_newest_snapshot_is_recent(start, clock, cli) -> None:
    cli("snapshot", "--quiet", now="2026-01-01T03:30:05")
    clock.set("2026-01-02T03:29:59")
    d = start(DAILY.replace("catch_up = false", "catch_up = true"))
    assert d.lines[1] == "daily: qwen, cron 30 3 * * * UTC, next run 2026-01-02T03:30:00Z"
    assert d.next_run() == utc("2026-01-02T03:30:00")


def test_catch_up_of_a_warehouse_that_never_had_a_snapshot(start, clock, cli) -> None:
    d = start(DAILY.replace("catch_up = false", "catch_up = true"))
    assert d.lines[1] == (
        "daily: qwen, cron 30 3 * * * UTC, next run 2026-01-01T00:00:00Z "
        "(catching up: no successful snapshot yet)"
    )
    assert d.events.get(timeout=20).code == EVENT_JOB_EXECUTED
    assert [r["status"] for r in runs(cli)] == ["complete"]


def test_a_run_due_while_the_previous_one_runs_is_skipped(start, clock, hub, cli) -> None:
    reached, release = threading.Event(), threading.Event()

    def hold(page: int) -> None:
        reached.set()
        release.wait(20)

    hub.on_page(hold)
    d = start(DAILY)
    try:
        clock.set("2026-01-01T03:30:00")
        d.daemon.scheduler.wakeup()
        assert reached.wait(20)  # the first run is fetching, held by the Hub
        clock.set("2026-01-02T03:30:00")
        event = d.wake()
        assert event.code == EVENT_JOB_MAX_INSTANCES
        assert event.scheduled_run_times == [utc("2026-01-02T03:30:00")]
        assert d.lines[-1] == (
            "daily: run due 2026-01-02T03:30:00Z skipped: the previous run is still going"
        )
    finally:
        hub.on_page(None)
        release.set()
    event = d.events.get(timeout=20)
    assert (event.code, event.scheduled_run_time) == (
        EVENT_JOB_EXECUTED,
        utc("2026-01-01T03:30:00"),
    )
    assert [r["started_at"] for r in runs(cli)] == ["2026-01-01T03:30:00"]


def test_a_run_over_its_timeout_is_recorded_as_failed(start, clock, hub, tmp_path, cli) -> None:
    def slow(page: int) -> None:
        time.sleep(0.3)  # longer than the schedule's timeout: the run stops at the next page

    hub.on_page(slow)
    d = start(DAILY + 'timeout = "0.2s"\n')
    clock.set("2026-01-01T03:30:00")
    assert d.wake().code == EVENT_JOB_EXECUTED
    source = tmp_path / "schedules" / "daily.toml"
    [run] = runs(cli)
    assert (run["status"], run["error"]) == (
        "failed",
        f"timed out after 0.2s (timeout in {source})",
    )
    [line] = run_lines(d.lines)
    assert line.startswith("daily qwen: failed, run 1, 2026-01-01T03:30:00Z to ")
    assert line.endswith(f": timed out after 0.2s (timeout in {source})")


def test_a_schedule_writes_to_its_own_db(start, tmp_path, isolated_env) -> None:
    other = tmp_path / "other.duckdb"
    d = start(f'families = ["qwen"]\ncron = "30 3 * * *"\ndb = "{other}"\n')
    assert d.lines[0].endswith(f", 1 schedule(s), warehouse {other}")
    assert d.events.get(timeout=20).code == EVENT_JOB_EXECUTED  # catching up: never ran
    assert Path(f"{other}.daemon.lock").read_text().startswith('{"pid": ')
    con = duckdb.connect(str(other), read_only=True)
    assert con.execute("SELECT family, status FROM runs").fetchall() == [("qwen", "complete")]
    con.close()
    assert not isolated_env.exists()
