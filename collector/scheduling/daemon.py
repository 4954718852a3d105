"""The scheduled collector: runs every schedule's snapshots with APScheduler until stopped.

- One APScheduler job per schedule file, with `coalesce` (a machine that slept through three
  runs takes one), the schedule's misfire grace, and `max_instances=1`. All jobs share one
  worker thread: runs never overlap, so two snapshots never compete for the warehouse.
- At start, a schedule whose run was missed while no daemon ran (its newest successful
  snapshot is older than its last run time) runs at once (`catch_up`, on by default).
- A process lock (`<warehouse>.daemon.lock`, see lockfile.py) keeps a second daemon off
  the same warehouse.
- Stopping (SIGTERM/SIGINT): no new run starts; a run still fetching stops at its next page
  or wait, before anything is written; a run already committing finishes. The daemon waits
  for that at most `stop_wait` seconds. A snapshot's commit is one transaction, so even a
  forced exit leaves a complete run or no trace of it.
- Each run is one line for the log sink, and a row in `runs` (take_snapshot records
  complete and failed runs; an interrupted one leaves none).
- Runs are stamped with the daemon's clock (the wall clock), never $COLLECTOR_NOW.
- A schedule with `site = "DIR"` rebuilds that static site after a run that stored a
  snapshot (complete or partial); the build swaps the folder at once (collector.site.build).
- A schedule with `backup = {dir, keep}` backs the warehouse up after each of its runs, in
  the same worker thread (so never during a commit), keeping the newest `keep` backups.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import duckdb
from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    JobEvent,
    JobExecutionEvent,
    JobSubmissionEvent,
)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from collector.errors import CollectorError
from collector.families import Family, get_families
from collector.scheduling import status as history
from collector.scheduling.lockfile import ProcessLock
from collector.scheduling.schedules import NEVER, BackupSpec, Schedule, format_duration
from collector.snapshot.run import RunResult, SnapshotFailed, take_snapshot
from collector.sources.hub import HubClient
from collector.store import backup, warehouse

Log = Callable[[str], None]
Clock = Callable[[], datetime]
WAKE_EVERY = 30.0  # seconds; re-read the wall clock after a suspend (waits use monotonic time)


def utc_now() -> datetime:
    """The daemon's clock: aware UTC wall time."""
    return datetime.now(UTC)


class Interrupted(Exception):
    """The daemon is stopping: the run ends before it writes anything.

    Deliberately not a CollectorError: take_snapshot records those as failed runs, and an
    interrupted run must leave no trace.
    """


class RunTimeout(CollectorError):
    """A snapshot took longer than its schedule's timeout (recorded as a failed run)."""


class RunGuard:
    """Stops one snapshot at its next page or wait when the daemon stops or time runs out.

    It is the snapshot's progress callback and its Hub client's sleep, so a run blocked in
    a rate-limit wait stops as promptly as one that is paging.
    """

    def __init__(self, stopping: threading.Event, timeout: float, source: Path) -> None:
        self.stopping = stopping
        self.timeout = timeout
        self.source = source
        self.deadline = time.monotonic() + timeout

    def check(self) -> None:
        if self.stopping.is_set():
            raise Interrupted("the daemon is stopping")
        if time.monotonic() >= self.deadline:
            raise RunTimeout(
                f"timed out after {format_duration(self.timeout)} (timeout in {self.source})"
            )

    def progress(self, event: str, **data: Any) -> None:
        # Only fetch-phase events: "done" comes after the commit and must never raise.
        if event in ("page", "level"):
            self.check()

    def sleep(self, seconds: float) -> None:
        remaining = self.deadline - time.monotonic()
        if self.stopping.wait(max(0.0, min(seconds, remaining))):
            raise Interrupted("the daemon is stopping")
        self.check()


def run_line(
    schedule: str,
    family: str,
    outcome: str,
    start: datetime,
    end: datetime,
    result: RunResult | None = None,
    requests: int = 0,
    retries: int = 0,
    error: str | None = None,
) -> str:
    """One readable log line for one family's run."""
    head = f"{schedule} {family}: {outcome}"
    head += f", run {result.run_id}" if result and result.run_id is not None else ", not recorded"
    parts = [f"{_stamp(start)} to {_stamp(end)} ({(end - start).total_seconds():.1f}s)"]
    if result is not None:
        parts.append(f"{result.repos_seen:,} repos")
        if result.status == "complete":
            parts.append(f"{result.members:,} members")
        requests, retries = result.requests, result.retries
    parts += [f"{requests:,} requests", f"{retries:,} retries"]
    line = f"{head}, " + ", ".join(parts)
    return f"{line}: {error}" if error else line


class Daemon:
    """The schedules' jobs on one BackgroundScheduler, their locks, and a clean stop."""

    def __init__(
        self,
        schedules: list[Schedule],
        *,
        db: str | os.PathLike[str] | None = None,
        families_file: str | os.PathLike[str] | None = None,
        log: Log = lambda line: None,
        clock: Clock = utc_now,
        stop_wait: float = 60.0,
    ) -> None:
        self.schedules = schedules
        self.dbs = {s.name: warehouse.db_path(s.db or db) for s in schedules}
        self.families: dict[str, list[Family]] = {
            s.name: get_families(list(s.families), families_file) for s in schedules
        }
        self._log = log
        self._log_lock = threading.Lock()
        self.clock = clock
        self.stop_wait = stop_wait
        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(max_workers=1)},
            job_defaults={"coalesce": True, "max_instances": 1},
        )
        self.stopping = threading.Event()  # set: no new work, running fetches stop
        self.stop_requested = threading.Event()
        self.stop_reason = "asked"
        self._locks: list[ProcessLock] = []
        self._running = 0
        self._idle = threading.Condition()

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        """Lock every warehouse, bring it up to date, schedule the jobs and start."""
        try:
            for db in sorted(set(self.dbs.values())):
                lock = ProcessLock(db)
                lock.acquire()
                self._locks.append(lock)
            last = {db: self._last_success(db) for db in set(self.dbs.values())}
            now = self.clock()
            dbs = sorted({str(p) for p in self.dbs.values()})
            self.log(
                f"daemon started: pid {os.getpid()} on {socket.gethostname()}, "
                f"{len(self.schedules)} schedule(s), warehouse {', '.join(dbs)}"
            )
            for s in self.schedules:
                newest = [last[self.dbs[s.name]].get(f) for f in s.families]
                due = s.missed(newest, _naive(now)) if s.catch_up else None
                trigger = s.trigger()
                first = now if due is not None else trigger.get_next_fire_time(None, now)
                self.scheduler.add_job(
                    self._run_job,
                    trigger=trigger,
                    args=[s],
                    id=s.name,
                    name=s.name,
                    next_run_time=first,
                    misfire_grace_time=None
                    if s.misfire_grace is None
                    else max(1, round(s.misfire_grace)),
                )
                why = ""
                if due is not None:
                    why = (
                        " (catching up: no successful snapshot yet)"
                        if due is NEVER
                        else f" (catching up: the run due {_stamp(due)} was missed)"
                    )
                self.log(
                    f"{s.name}: {', '.join(s.families)}, {s.describe()}, "
                    f"next run {_stamp(first)}{why}"
                )
            self.scheduler.add_listener(
                self._on_event, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES | EVENT_JOB_ERROR
            )
            self.scheduler.start()
        except BaseException:
            self._release()
            raise

    def request_stop(self, reason: str) -> None:
        """Ask the daemon to stop; only sets flags, so it is safe in a signal handler."""
        if not self.stop_requested.is_set():
            self.stop_reason = reason
        self.stopping.set()
        self.stop_requested.set()

    def stop(self) -> bool:
        """Stop scheduling, wait up to stop_wait for a running job; False if it is still going."""
        self.stopping.set()
        self.log(f"daemon stopping ({self.stop_reason})")
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        with self._idle:
            finished = self._idle.wait_for(lambda: self._running == 0, timeout=self.stop_wait)
        self._release()
        if finished:
            self.log("daemon stopped")
        else:
            self.log(
                f"daemon stopped: a run was still going after {self.stop_wait:g}s; "
                "exiting without it (its fetch is discarded, nothing of it is written)"
            )
        return finished

    def serve(self) -> int:
        """Run until SIGTERM/SIGINT; the exit status (0 when everything stopped cleanly).

        A second signal while stopping exits at once: a snapshot's commit is atomic, so
        even that leaves no half-written run.
        """

        def on_signal(signum: int, frame: FrameType | None) -> None:
            name = signal.Signals(signum).name
            if self.stop_requested.is_set():
                os.write(2, f"daemon: second {name}, exiting now\n".encode())
                os._exit(128 + signum)
            self.request_stop(name)

        # Our lines replace APScheduler's own warnings (missed, still running).
        logging.getLogger("apscheduler").setLevel(logging.ERROR)
        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.start()
            # Timed waits, so that a signal is handled promptly and the scheduler re-reads
            # the wall clock after the machine wakes from a suspend.
            while not self.stop_requested.wait(WAKE_EVERY):
                self.scheduler.wakeup()
            return 0 if self.stop() else 1
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    # -- the job ---------------------------------------------------------------------
    def _run_job(self, schedule: Schedule) -> None:
        """One run of a schedule: each family in turn. Never raises (the log says why)."""
        with self._busy():
            db = self.dbs[schedule.name]
            stored = False
            for family in self.families[schedule.name]:
                if self.stopping.is_set():
                    break
                try:
                    stored = self._run_family(schedule, family, db) or stored
                except Interrupted:
                    break
                except Exception as exc:  # keep the daemon alive for the next run
                    self.log(
                        f"{schedule.name} {family.name}: unexpected error "
                        f"{type(exc).__name__}: {exc}"
                    )
            if stored and schedule.site is not None and not self.stopping.is_set():
                self._build_site(schedule, db)
            if schedule.backup is not None and not self.stopping.is_set():
                self._backup(schedule, schedule.backup, db)

    def _backup(self, schedule: Schedule, spec: BackupSpec, db: Path) -> None:
        """Back the warehouse up after a run; a failure is logged, never fatal."""
        try:
            made = backup.backup(db, spec.dir, keep=spec.keep, now=self.clock())
        except CollectorError as exc:
            self.log(f"{schedule.name}: backup failed: {exc}")
            return
        removed = f", removed {len(made['removed'])} older" if made["removed"] else ""
        self.log(
            f"{schedule.name}: backup {made['path']} ({made['tables'].get('runs', 0):,} runs), "
            f"keeping the newest {spec.keep}{removed}"
        )

    def _build_site(self, schedule: Schedule, db: Path) -> None:
        from collector.site.build import build_site

        try:
            built = build_site(db, schedule.site or "")
        except Exception as exc:  # the snapshot is stored; a failed build keeps the old site
            self.log(f"{schedule.name}: site {schedule.site} not rebuilt: {exc}")
            return
        self.log(
            f"{schedule.name}: site {built.out} rebuilt, {built.pages} pages ({built.seconds:.1f}s)"
        )

    def _run_family(self, schedule: Schedule, family: Family, db: Path) -> bool:
        """One family's snapshot; True when it stored one (complete or partial)."""
        guard = RunGuard(self.stopping, schedule.timeout, schedule.path)
        client = HubClient(sleep=guard.sleep)
        start = self.clock()
        clock = time.monotonic()

        def line(outcome: str, result: RunResult | None = None, error: str | None = None) -> str:
            end = start + timedelta(seconds=time.monotonic() - clock)
            return run_line(
                schedule.name,
                family.name,
                outcome,
                start,
                end,
                result,
                client.stats.requests,
                client.stats.retries,
                error,
            )

        try:
            [result] = take_snapshot(
                [family],
                db=db,
                client=client,
                now=_naive(start),
                progress=guard.progress,
                resume=True,  # an interrupted or failed run goes on where it stopped
                time_budget=schedule.timeout,  # auto never picks a crawl the timeout kills
            )
        except SnapshotFailed as exc:
            self.log(line("failed", exc.result, exc.result.error))
            return False
        except Interrupted as exc:
            self.log(line("interrupted", error=f"{exc}; nothing written"))
            raise
        except CollectorError as exc:
            self.log(line("failed", error=str(exc)))
            return False
        except (duckdb.Error, OSError) as exc:  # the disk failed: nothing of the run is written
            self.log(line("failed", error=warehouse.describe(exc)))
            return False
        self.log(line(result.status, result))
        return result.status in ("complete", "partial")

    @contextmanager
    def _busy(self) -> Iterator[None]:
        with self._idle:
            self._running += 1
        try:
            yield
        finally:
            with self._idle:
                self._running -= 1
                self._idle.notify_all()

    # -- helpers ---------------------------------------------------------------------
    def log(self, line: str) -> None:
        """One line to the log sink (lines from the worker and main threads never mix)."""
        with self._log_lock:
            self._log(line)

    def _last_success(self, db: Path) -> dict[str, datetime]:
        with warehouse.writer(db) as con:  # creates or migrates the warehouse at start
            return history.last_success(con)

    def _on_event(self, event: JobEvent) -> None:
        if isinstance(event, JobSubmissionEvent):
            due = event.scheduled_run_times[-1] if event.scheduled_run_times else None
            self.log(
                f"{event.job_id}: run due {_stamp(due)} skipped: the previous run is still going"
            )
        elif isinstance(event, JobExecutionEvent) and event.code == EVENT_JOB_MISSED:
            late = format_duration(
                round(max(1.0, (self.clock() - event.scheduled_run_time).total_seconds()))
            )
            self.log(
                f"{event.job_id}: run due {_stamp(event.scheduled_run_time)} missed: "
                f"{late} late, more than its misfire_grace"
            )
        elif isinstance(event, JobExecutionEvent):
            self.log(
                f"{event.job_id}: run due {_stamp(event.scheduled_run_time)} "
                f"failed: {event.exception!r}"
            )

    def _release(self) -> None:
        for lock in self._locks:
            lock.release()
        self._locks = []


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _stamp(moment: datetime | None) -> str:
    if moment is None:
        return "?"
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
