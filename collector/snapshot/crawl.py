"""The resumable state of a snapshot's crawl, kept in its stage next to the fetched pages.

A crawl is a queue of listings to page through (a family's authors, its listed repos,
then one `base_model:` listing per member found). Fetched pages are committed to the
stage together with the listings they queue, the next-page URL of their own listing and
the running request counts, in one transaction. So a snapshot killed at any moment
resumes from its last commit: a page fetched but not committed is fetched again, and
the stage keeps the latest sighting of each repo, so nothing is counted twice.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, replace

import pyarrow as pa

from collector.snapshot.stage import Stage
from collector.sources.hub import HubStats
from collector.sources.items import Problems, RepoRecord

ROOT_KINDS = ("author", "repo")  # listings that define the family's official repos
STAT_FIELDS = ("requests", "retries", "rate_limited")
_TASK_SCHEMA = pa.schema(
    [
        ("task_id", pa.int32()),
        ("kind", pa.string()),
        ("target", pa.string()),
        ("depth", pa.int32()),
        ("state", pa.string()),
        ("next_url", pa.string()),
        ("error", pa.string()),
    ]
)


@dataclass(frozen=True)
class Task:
    """One listing of a crawl: an author's repos, one listed repo, or a parent's children."""

    task_id: int
    kind: str  # author | repo | parent
    target: str
    depth: int  # depth of the member whose children a `parent` task lists
    next_url: str | None = None  # where a listing interrupted after some pages goes on


class Crawl:
    """The task queue and counters of one snapshot, persisted in its stage's database.

    The queue lives in memory and is written with the pages, in bulk, at most every
    COMMIT_EVERY seconds and whenever a listing fails or the crawl stops: a commit per
    page would cost more than fetching it.
    """

    COMMIT_EVERY = 0.5

    def __init__(self, stage: Stage, stats: HubStats, problems: Problems) -> None:
        """The crawl kept in `stage`; `stats` are the client's, `problems` from load_problems."""
        self.stage = stage
        self.db = stage.db
        prepare(stage)
        rows = self.db.execute(
            "SELECT task_id, kind, target, depth, state, next_url FROM tasks ORDER BY task_id"
        ).fetchall()
        self._queued = {(kind, target.lower()) for _, kind, target, _, _, _ in rows}
        self._todo = deque(Task(i, k, t, d, u) for i, k, t, d, state, u in rows if state == "todo")
        self._next_id = max((r[0] for r in rows), default=-1) + 1
        # Requests of earlier attempts, and where this attempt's client started counting.
        saved = json.loads(self.get("counters") or "{}")
        self._base = {f: int(saved.get(f, 0)) for f in STAT_FIELDS}
        self._client_stats = stats
        self._client_start = {f: getattr(stats, f) for f in STAT_FIELDS}
        self.problems = problems
        self._records: list[RepoRecord] = []
        self._changed: dict[int, tuple[Task, str, str | None]] = {}  # task_id -> state, error
        self._since = time.monotonic()

    # -- meta --------------------------------------------------------------------------
    def get(self, key: str) -> str | None:
        return get_meta(self.stage, key)

    @property
    def started(self) -> bool:
        """True when the queue holds tasks (a crawl was begun in this stage)."""
        return self._next_id > 0

    @property
    def fetched(self) -> int:
        """Items fetched so far (every sighting, before de-duplication)."""
        return self.stage.rows + len(self._records)

    @property
    def queued(self) -> int:
        """Listings still to do."""
        return len(self._todo)

    def stats(self) -> dict[str, int]:
        """Requests, retries and 429s of every attempt of this snapshot so far."""
        return {
            f: self._base[f] + getattr(self._client_stats, f) - self._client_start[f]
            for f in STAT_FIELDS
        }

    # -- the queue ---------------------------------------------------------------------
    def begin(self, roots: Iterable[tuple[str, str]]) -> None:
        """Queue the root listings of a new crawl."""
        self._queue((kind, target, 0) for kind, target in roots)
        self.flush()

    def next_task(self) -> Task | None:
        """The first listing not done yet, in queue order (breadth first)."""
        return self._todo[0] if self._todo else None

    def save_page(
        self,
        task: Task,
        records: list[RepoRecord],
        next_url: str | None,
        parents: Iterable[tuple[str, int]],
    ) -> None:
        """Save one page of `task` (the head of the queue): its records, the parents it
        queues, and where its listing goes on (None: the listing is done)."""
        self._records.extend(records)
        self._queue(("parent", target, depth) for target, depth in parents)
        if next_url:
            self._todo[0] = replace(task, next_url=next_url)
            self._changed[task.task_id] = (self._todo[0], "todo", None)
        else:
            self._todo.popleft()
            self._changed[task.task_id] = (task, "done", None)
        if time.monotonic() - self._since >= self.COMMIT_EVERY:
            self.flush()

    def fail(self, task: Task, error: str) -> None:
        """Record that a listing failed after every retry (a resume tries it again)."""
        head = self._todo.popleft()  # `task` with the next-page URL of its last page saved
        self._changed[head.task_id] = (head, "failed", error)
        self.flush()

    def flush(self) -> None:
        """Commit everything saved since the last commit, in one transaction."""
        tasks = [
            (t.task_id, t.kind, t.target, t.depth, state, t.next_url, error)
            for t, state, error in self._changed.values()
        ]
        batch = pa.Table.from_pylist(
            [dict(zip(_TASK_SCHEMA.names, row, strict=True)) for row in tasks],
            schema=_TASK_SCHEMA,
        )
        problems = {
            k: (n, self.problems.examples.get(k, "")) for k, n in self.problems.counts.items()
        }
        counters = json.dumps(
            {**self.stats(), "problems": problems, "seen": sorted(self.problems.seen)}
        )
        self.db.execute("BEGIN TRANSACTION")
        try:
            self.stage.add(self._records)
            self.db.register("_tasks", batch)
            self.db.execute("INSERT OR REPLACE INTO tasks SELECT * FROM _tasks")
            self.db.unregister("_tasks")
            set_meta(self.stage, "counters", counters)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self._records, self._changed = [], {}
        self._since = time.monotonic()

    # -- internals ---------------------------------------------------------------------
    def _queue(self, tasks: Iterable[tuple[str, str, int]]) -> None:
        for kind, target, depth in tasks:
            key = (kind, target.lower())
            if key in self._queued:
                continue
            self._queued.add(key)
            task = Task(self._next_id, kind, target, depth)
            self._next_id += 1
            self._todo.append(task)
            self._changed[task.task_id] = (task, "todo", None)


def prepare(stage: Stage) -> None:
    """Create the crawl's tables in a stage that has none yet (a stage is scratch)."""
    stage.db.execute(
        """
        CREATE TABLE IF NOT EXISTS crawl_meta (key VARCHAR PRIMARY KEY, value VARCHAR);
        CREATE TABLE IF NOT EXISTS tasks (
            task_id  INTEGER PRIMARY KEY,
            kind     VARCHAR NOT NULL,
            target   VARCHAR NOT NULL,
            depth    INTEGER NOT NULL,
            state    VARCHAR NOT NULL,   -- todo | done | failed
            next_url VARCHAR,
            error    VARCHAR
        );
        """
    )


def get_meta(stage: Stage, key: str) -> str | None:
    """A value saved in the stage (None when absent)."""
    row = stage.db.execute("SELECT value FROM crawl_meta WHERE key = ?", [key]).fetchall()
    return row[0][0] if row else None


def set_meta(stage: Stage, key: str, value: str) -> None:
    """Save a value in the stage."""
    stage.db.execute("INSERT OR REPLACE INTO crawl_meta VALUES (?, ?)", [key, value])


def load_problems(stage: Stage) -> Problems:
    """The data problems counted by the committed pages of earlier attempts."""
    problems = Problems()
    saved = json.loads(get_meta(stage, "counters") or "{}")
    for kind, (n, example) in saved.get("problems", {}).items():
        problems.counts[kind] = n
        problems.examples[kind] = example
    problems.seen = {(kind, example) for kind, example in saved.get("seen", [])}
    return problems


def saved_stats(stage: Stage) -> dict[str, int] | None:
    """Requests, retries and 429s of every attempt, as last committed (None: no crawl)."""
    saved = json.loads(get_meta(stage, "counters") or "null")
    if saved is None:
        return None
    return {f: int(saved.get(f, 0)) for f in STAT_FIELDS}


def retry_failed(stage: Stage) -> int:
    """Put the failed listings of a stage back in its queue; returns how many."""
    rows = stage.db.execute(
        "UPDATE tasks SET state = 'todo', error = NULL WHERE state = 'failed' RETURNING 1"
    ).fetchall()
    return len(rows)


def failed_listings(stage: Stage) -> list[tuple[str, str, str]]:
    """(kind, target, error) of each listing of a stage that failed, in queue order."""
    return [
        (k, t, e)
        for k, t, e in stage.db.execute(
            "SELECT kind, target, error FROM tasks WHERE state = 'failed' ORDER BY task_id"
        ).fetchall()
    ]
