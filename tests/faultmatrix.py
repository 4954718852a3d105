"""The fault matrix: snapshots of a generated family against a fake Hub that misbehaves.

Each scenario injects one kind of fault at random moments of a snapshot, on two or three
consecutive days, and then checks the warehouse against what the fake Hub holds: every
member stored once (no duplicates), with the Hub's counters (nothing lost). The Hub's
clock and the client's sleeps share a virtual clock, so rate-limit windows, `Retry-After`
and backoff waits are honoured exactly without the matrix waiting for them.

Used by tests/test_reliability.py (fast settings) and bench/reliability.py (`make
reliability`, heavier settings, with the kill -9 and large-family runs).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from collector.families import Family
from collector.snapshot.run import SnapshotFailed, take_snapshot
from collector.sources.hub import HubClient
from tests.fakehub import FakeHub

DAY0 = datetime(2026, 1, 1, 6, 0)
FAMILY = Family(name="acme", authors=("acme",), name_pattern=r"^acme/fam-")


class VirtualClock:
    """Real time plus every sleep taken: sleeping advances the clock without waiting."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        return time.monotonic() + self._offset

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self._offset += max(0.0, seconds)

    @property
    def slept(self) -> float:
        return self._offset


@dataclass
class Settings:
    """How hard the matrix pushes: family size, runs per fault, page size."""

    size: int = 30
    runs: int = 1
    page_size: int = 3
    days: int = 2
    bursts: int = 1  # injections of each transient fault per snapshot
    seed: int = 5


@dataclass
class Row:
    """One line of the reliability table."""

    fault: str
    runs: int = 0
    snapshots: int = 0
    completed: int = 0
    partial: int = 0
    resumed: int = 0
    stored: int = 0
    expected: int = 0
    duplicates: int = 0
    lost: int = 0
    extra: int = 0  # rows of repos that are not members (e.g. noise counted in)
    rate_limited: int = 0
    retries: int = 0
    hub_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


@dataclass
class World:
    """A fake Hub holding a generated family, and the oracle of what a snapshot must store."""

    hub: FakeHub
    clock: VirtualClock
    rng: random.Random
    members: list[str]
    noise: list[str]
    root_requests: int  # requests of the author listing (its pages, and one to spare)

    def change_counters(self) -> None:
        """A day passes: some counters grow, one decreases, likes move both ways."""
        for repo in self.rng.sample(self.members, max(1, len(self.members) // 3)):
            item = self.hub.get(repo)
            self.hub.set(
                repo,
                downloads_all_time=item["downloadsAllTime"] + self.rng.randint(1, 500),
                downloads=self.rng.randint(0, 300),
                likes=max(0, item["likes"] + self.rng.randint(-2, 3)),
            )
        victim = self.rng.choice(self.members)
        self.hub.set(
            victim, downloads_all_time=max(0, self.hub.get(victim)["downloadsAllTime"] - 7)
        )

    def expected(self) -> dict[str, tuple[int, int, int]]:
        """repo id -> (downloads_all_time, downloads_30d, likes) as the Hub holds them now."""
        out = {}
        for repo in self.members:
            item = self.hub.get(repo)
            out[repo] = (item["downloadsAllTime"], item["downloads"], item["likes"])
        return out


def build_world(settings: Settings, rng: random.Random, **hub_args: Any) -> World:
    """A family of `settings.size` repos (a tenth official, derivatives to depth 3) plus
    noise: repos of the same author outside the family, and unrelated repos."""
    clock = VirtualClock()
    hub = FakeHub(
        max_page_size=settings.page_size, clock=clock.now, slow_seconds=0.5, **hub_args
    ).start()
    officials = max(2, settings.size // 10)
    members: list[str] = []
    depth_of: dict[str, int] = {}
    for i in range(officials):
        repo = f"acme/fam-{i}"
        hub.add(
            repo,
            downloads_all_time=rng.randint(1000, 10**6),
            downloads=rng.randint(0, 999),
            likes=rng.randint(0, 50),
        )
        members.append(repo)
        depth_of[repo] = 0
    relations = ["finetune", "quantized", "adapter", "merge", None]
    for i in range(settings.size - officials):
        parent = rng.choice([m for m in members if depth_of[m] < 3])
        repo = f"user{i % 7}/d-{i}"
        hub.add_derivative(
            repo,
            parent=parent,
            relation=rng.choice(relations),
            downloads_all_time=rng.randint(0, 10**5),
            downloads=rng.randint(0, 99),
            likes=rng.randint(0, 9),
        )
        members.append(repo)
        depth_of[repo] = depth_of[parent] + 1
    noise = []
    for i in range(max(2, settings.size // 10)):
        noise.append(hub.add(f"acme/other-{i}", downloads_all_time=5)["id"])
        noise.append(hub.add(f"stranger/x-{i}", downloads_all_time=9)["id"])
    author_repos = officials + len(noise) // 2
    return World(hub, clock, rng, members, noise, -(-author_repos // settings.page_size) + 1)


# -- scenarios --------------------------------------------------------------------------
Inject = Callable[[World, int, Settings], None]  # world, requests of a snapshot, settings


def _transient(kind: str) -> Inject:
    def inject(world: World, requests: int, settings: Settings) -> None:
        for _ in range(settings.bursts):  # each burst shorter than the client's retries
            world.hub.inject(
                kind, times=world.rng.randint(1, 3), after=world.rng.randrange(max(1, requests))
            )

    return inject


def _repeat(world: World, requests: int, settings: Settings) -> None:
    world.hub.repeat_across_pages = True


def _shifting(world: World, requests: int, settings: Settings) -> None:
    """After each page, a repo of the family's author that is not a member appears or
    disappears, so the author's listing shifts under the cursor."""

    def shift(page: int) -> None:
        if page % 2 == 0:  # pages are numbered over the hub's life: names never repeat
            world.noise.append(world.hub.add(f"acme/other-new-{page}", downloads_all_time=1)["id"])
        elif world.noise:
            world.hub.delete(world.noise.pop(world.rng.randrange(len(world.noise))))

    world.hub.on_page(shift)


def _garbage(world: World, requests: int, settings: Settings) -> None:
    """Items with unknown fields, odd ids and garbage counters appear in the listings."""
    for repo in world.rng.sample(world.members, max(1, len(world.members) // 4)):
        world.hub.set(repo, weirdField={"nested": [1, None]}, gated="maybe")
    n = world.hub.request_count()
    world.hub.add(f"acme/junk-{n}", id="not a repo id!!")
    world.hub.add(
        f"acme/junk2-{n}", _id=f"zz-{n}", downloads_all_time=-5, likes="many", created_at="someday"
    )
    world.noise += [f"acme/junk-{n}", f"acme/junk2-{n}"]


def _listing_fails(world: World, requests: int, settings: Settings) -> None:
    """One parent listing fails beyond every retry: the run is partial."""
    first = world.root_requests
    world.hub.inject("503", times=7, after=world.rng.randrange(first, max(first + 1, requests)))


def _root_fails(world: World, requests: int, settings: Settings) -> None:
    """The author listing fails beyond every retry: the run fails and is resumed."""
    world.hub.inject("502", times=7, after=0)


@dataclass(frozen=True)
class Scenario:
    name: str
    inject: Inject | None
    hub_args: dict[str, Any] = field(default_factory=dict)


SCENARIOS = [
    Scenario("none", None),
    Scenario("429 ratelimit r=0", _transient("429")),
    Scenario("429 Retry-After", _transient("429_retry_after")),
    Scenario("429 bare", _transient("429_bare")),
    Scenario("500", _transient("500")),
    Scenario("502", _transient("502")),
    Scenario("503", _transient("503")),
    Scenario("connection reset", _transient("reset")),
    Scenario("slower than timeout", _transient("slow")),
    Scenario("truncated body", _transient("truncated")),
    Scenario("invalid JSON", _transient("invalid_json")),
    Scenario("item repeated on 2 pages", _repeat),
    Scenario("items shifting pages", _shifting),
    Scenario("garbage items and fields", _garbage),
    Scenario("listing fails (partial)", _listing_fails),
    Scenario("author listing fails (resume)", _root_fails),
    Scenario("quota 10 req/10 s", None, {"quota": 10, "window": 10}),
    Scenario("quota, bare 429s", None, {"quota": 10, "window": 10, "rate_limit_mode": "bare"}),
]


# -- running and checking ---------------------------------------------------------------
def client_for(world: World) -> HubClient:
    """A client as in production, but sleeping on the world's virtual clock."""
    return HubClient(
        endpoint=world.hub.url,
        token=False,
        retry_wait=1.0,
        timeout=0.25,
        sleep=world.clock.sleep,
        clock=world.clock.now,
    )


def snapshot_until_done(world: World, db: Path, when: datetime, row: Row) -> int:
    """Snapshot as the daemon does: on failure, resume (up to 3 attempts). Returns run_id."""
    for attempt in range(3):
        try:
            result = take_snapshot(
                [FAMILY], db=db, client=client_for(world), now=when, resume=attempt > 0
            )[0]
        except SnapshotFailed as exc:
            row.rate_limited += exc.result.rate_limited
            row.retries += exc.result.retries
            row.resumed += 1
            continue
        row.rate_limited += result.rate_limited
        row.retries += result.retries
        row.completed += result.status == "complete"
        row.partial += result.status == "partial"
        assert result.run_id is not None
        return result.run_id
    raise AssertionError("snapshot still failing after 3 attempts")


def check_run(
    db: Path,
    run_id: int,
    expected: dict[str, tuple[int, int, int]],
    previous: dict[str, tuple[int, int, int]],
    row: Row,
) -> None:
    """Compare the members stored for a run with the Hub's; count duplicates and losses.

    A member that a partial run could not refresh (in `stale`) must hold its previous value.
    """
    with duckdb.connect(str(db), read_only=True) as con:
        stored = con.execute(
            """SELECT repo_id, downloads_all_time, downloads_30d, likes FROM members_daily
               WHERE family = ? AND run_id = ?""",
            [FAMILY.name, run_id],
        ).fetchall()
        stale = {
            r[0]
            for r in con.execute(
                "SELECT r.repo_id FROM stale s JOIN repos r USING (repo_key) WHERE s.run_id = ?",
                [run_id],
            ).fetchall()
        }
        count_dups = con.execute(
            "SELECT count(*) - count(DISTINCT (repo_key, run_id)) FROM counts"
        ).fetchall()[0][0]
    row.snapshots += 1
    row.stored += len(stored)
    row.expected += len(expected)
    seen: dict[str, tuple[int, int, int]] = {}
    for repo_id, all_time, d30, likes in stored:
        if repo_id in seen:
            row.duplicates += 1
        seen[repo_id] = (all_time, d30, likes)
    row.duplicates += int(count_dups)
    for repo_id, values in expected.items():
        want = previous.get(repo_id) if repo_id in stale else values
        if seen.get(repo_id) != want:
            row.lost += 1
            if len(row.notes) < 3:
                row.notes.append(f"{repo_id}: stored {seen.get(repo_id)}, expected {want}")
    row.extra += sum(1 for r in seen if r not in expected)


def run_scenario(scenario: Scenario, settings: Settings, workdir: Path) -> Row:
    """Every run of one scenario; each run is a fresh warehouse over `settings.days` days."""
    row = Row(scenario.name)
    rng = random.Random(f"{settings.seed}:{scenario.name}")
    for run in range(settings.runs):
        world = build_world(settings, rng, **scenario.hub_args)
        try:
            db = workdir / f"{_slug(scenario.name)}-{run}.duckdb"
            requests = len(world.members)  # a snapshot makes at least this many requests
            previous: dict[str, tuple[int, int, int]] = {}
            faulty_days = settings.days
            if scenario.inject is _listing_fails:  # a partial run needs an earlier run
                faulty_days = max(2, faulty_days)
            for day in range(faulty_days + (scenario.inject is _listing_fails)):
                if day:
                    world.change_counters()
                if scenario.inject is not None and day < faulty_days:
                    scenario.inject(world, requests, settings)
                expected = world.expected()
                run_id = snapshot_until_done(world, db, DAY0 + timedelta(days=day), row)
                world.hub.on_page(None)
                world.hub.repeat_across_pages = False
                check_run(db, run_id, expected, previous, row)
                previous = expected
            row.hub_seconds += world.clock.slept
            if world.hub.errors:
                row.notes.append(f"fake hub errors: {world.hub.errors[:2]}")
        finally:
            world.hub.stop()
        row.runs += 1
    return row


def run_matrix(settings: Settings, workdir: Path) -> list[Row]:
    """The whole matrix, one row per scenario."""
    return [run_scenario(s, settings, workdir) for s in SCENARIOS]


COLUMNS = [
    "fault",
    "runs",
    "snapshots",
    "completed",
    "partial",
    "resumed",
    "stored",
    "expected",
    "duplicates",
    "lost",
    "extra",
    "429s",
    "retries",
]


def table_rows(rows: list[Row]) -> list[dict[str, Any]]:
    """The matrix as rows for collector.output.render (the one table renderer)."""
    return [
        {
            "fault": r.fault,
            "runs": r.runs,
            "snapshots": r.snapshots,
            "completed": r.completed,
            "partial": r.partial,
            "resumed": r.resumed,
            "stored": r.stored,
            "expected": r.expected,
            "duplicates": r.duplicates,
            "lost": r.lost,
            "extra": r.extra,
            "429s": r.rate_limited,
            "retries": r.retries,
        }
        for r in rows
    ]


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower())


# -- kill -9 ----------------------------------------------------------------------------
@dataclass
class KillResult:
    """What `kill_and_resume` saw: kills, and whether every state matched an undisturbed run."""

    days: int = 0
    kills: int = 0
    killed_running: int = 0  # kills that hit a running snapshot (the others had finished)
    resumed_stages: int = 0  # reruns that found a stage to resume
    consistent_after_kill: int = 0  # warehouse readable, showing the day before or after
    reports_equal: bool = False
    notes: list[str] = field(default_factory=list)


def _report(db: Path) -> Any:
    """The report and latest members a user would see, straight from the views."""
    if not db.exists():
        return [], []  # as an empty warehouse shows it
    with duckdb.connect(str(db), read_only=True) as con:
        views = {
            r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
        if "family_daily" not in views:  # killed while creating the schema: no run yet
            assert (
                "runs" not in views or not con.execute("SELECT count(*) FROM runs").fetchall()[0][0]
            )
            return [], []
        series = con.execute(
            "SELECT * EXCLUDE (run_id, started_at) FROM family_daily ORDER BY date"
        ).fetchall()
        members = con.execute(
            """SELECT date, repo_id, role, relation, depth, parent_id, downloads_all_time,
                      downloads_30d, likes FROM members_daily ORDER BY date, repo_id"""
        ).fetchall()
    return series, members


def kill_and_resume(
    workdir: Path, days: int, seed: int = 7, size: int = 40, min_kills: int = 0
) -> KillResult:
    """Snapshot a family on `days` days (or more, until `min_kills` kills) twice:
    undisturbed into one warehouse, and into another with each day's snapshot killed
    (SIGKILL) at a random moment, sometimes twice, then rerun with --resume. After each kill the warehouse must open and show either
    the day before or the finished day; at the end both warehouses must report the same.
    """
    import os
    import signal
    import subprocess
    import sys

    rng = random.Random(seed)
    settings = Settings(size=size, page_size=2)
    world = build_world(settings, rng)
    families = workdir / "families.toml"
    families.write_text(
        f'[families.acme]\nauthors = ["acme"]\nname_pattern = "{FAMILY.name_pattern}"\nstrategy = "lineage"\n'
    )
    root = Path(__file__).resolve().parent.parent
    base_env = {k: v for k, v in os.environ.items() if k != "HF_TOKEN"}
    base_env.update(
        COLLECTOR_FAMILIES=str(families),
        HF_ENDPOINT=world.hub.url,
        HF_HOME=str(workdir / "hf-home"),
        HF_HUB_DISABLE_TELEMETRY="1",
        COLLECTOR_RETRY_WAIT="0.01",
        COLLECTOR_LOCK_WAIT="10",
        PYTHONPATH=str(root),
    )
    calm, killed = workdir / "calm.duckdb", workdir / "killed.duckdb"
    cmd = [sys.executable, "-m", "collector", "snapshot", "-f", "acme", "--resume", "-q"]
    result = KillResult()

    def start(db: Path, when: datetime) -> subprocess.Popen[bytes]:
        env = {**base_env, "COLLECTOR_DB": str(db), "COLLECTOR_NOW": when.isoformat()}
        return subprocess.Popen(
            cmd, env=env, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )

    def finish(proc: subprocess.Popen[bytes]) -> str:
        out, err = proc.communicate(timeout=120)
        if proc.returncode != 0:
            raise AssertionError(f"snapshot failed: {err.decode()[-500:]}")
        return out.decode()

    try:
        day = -1
        while day + 1 < days or result.kills < min_kills:
            day += 1
            if day:
                world.change_counters()
            when = DAY0 + timedelta(days=day)
            before = _report(killed)
            clock = time.monotonic()
            finish(start(calm, when))
            took = time.monotonic() - clock
            after = _report(calm)
            for _ in range(1 + (rng.random() < 0.3)):  # sometimes the rerun is killed too
                proc = start(killed, when)
                time.sleep(rng.uniform(0, 1.1 * took))
                result.kills += 1
                if proc.poll() is None:
                    result.killed_running += 1
                    proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=60)
                now = _report(killed)
                if now in (before, after):
                    result.consistent_after_kill += 1
                else:
                    result.notes.append(
                        f"day {day}: after a kill the warehouse shows neither "
                        "the day before nor the finished day"
                    )
            out = finish(start(killed, when))
            result.resumed_stages += "(resumed)" in out
            result.days += 1
        result.reports_equal = _report(killed) == _report(calm)
    finally:
        world.hub.stop()
    return result
