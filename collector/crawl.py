"""The resumable state of a snapshot's crawl, kept in its stage next to the fetched pages.

A crawl is a queue of listings to page through (a family's authors, its listed repos,
then one `base_model:` listing per member found). Each fetched page is committed to the
stage in one transaction together with the listings it queues, the next-page URL of its
own listing and the running request counts. So a snapshot killed at any moment resumes
from its last committed page: a page fetched but not committed is fetched again, and the
stage keeps the latest sighting of each repo, so nothing is counted twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from collector.hub import HubStats
from collector.items import Problems, RepoRecord
from collector.stage import Stage

ROOT_KINDS = ("author", "repo")  # listings that define the family's official repos
STAT_FIELDS = ("requests", "retries", "rate_limited")


@dataclass(frozen=True)
class Task:
    """One listing of a crawl: an author's repos, one listed repo, or a parent's children."""

    task_id: int
    kind: str  # author | repo | parent
    target: str
    depth: int  # depth of the member whose children a `parent` task lists
    next_url: str | None  # where a listing interrupted after some pages goes on


class Crawl:
    """The task queue and counters of one snapshot, persisted in its stage's database."""

    def __init__(self, stage: Stage, stats: HubStats, problems: Problems) -> None:
        """The crawl kept in `stage`; `stats` are the client's, `problems` from load_problems."""
        self.stage = stage
        self.db = stage.db
        prepare(stage)
        self._queued = {
            (kind, target.lower())
            for kind, target in self.db.execute("SELECT kind, target FROM tasks").fetchall()
        }
        self._next_id = int(
            self.db.execute("SELECT coalesce(max(task_id) + 1, 0) FROM tasks").fetchall()[0][0]
        )
        # Requests of earlier attempts, and where this attempt's client started counting.
        self._base = {f: int(self.get(f) or 0) for f in STAT_FIELDS}
        self._client_stats = stats
        self._client_start = {f: getattr(stats, f) for f in STAT_FIELDS}
        self.problems = problems

    # -- meta --------------------------------------------------------------------------
    def get(self, key: str) -> str | None:
        return get_meta(self.stage, key)

    def set(self, key: str, value: str) -> None:
        set_meta(self.stage, key, value)

    @property
    def started(self) -> bool:
        """True when the queue holds tasks (a crawl was begun in this stage)."""
        return self._next_id > 0

    def stats(self) -> dict[str, int]:
        """Requests, retries and 429s of every attempt of this snapshot so far."""
        return {
            f: self._base[f] + getattr(self._client_stats, f) - self._client_start[f]
            for f in STAT_FIELDS
        }

    # -- the queue ---------------------------------------------------------------------
    def begin(self, roots: Iterable[tuple[str, str]]) -> None:
        """Queue the root listings of a new crawl."""
        self._transaction(lambda: self._queue((kind, target, 0) for kind, target in roots))

    def next_task(self) -> Task | None:
        """The first listing not done yet, in queue order (breadth first)."""
        row = self.db.execute(
            """SELECT task_id, kind, target, depth, next_url FROM tasks
               WHERE state = 'todo' ORDER BY task_id LIMIT 1"""
        ).fetchall()
        return Task(*row[0]) if row else None

    def save_page(
        self,
        task: Task,
        records: list[RepoRecord],
        next_url: str | None,
        parents: Iterable[tuple[str, int]],
    ) -> None:
        """Commit one page: its records, the parents it queues, and where its listing goes on."""

        def write() -> None:
            self.stage.add(records)
            self._queue(("parent", target, depth) for target, depth in parents)
            self.db.execute(
                "UPDATE tasks SET next_url = ?, state = ? WHERE task_id = ?",
                [next_url, "todo" if next_url else "done", task.task_id],
            )
            self._save_counters()

        self._transaction(write)

    def fail(self, task: Task, error: str) -> None:
        """Record that a listing failed after every retry (a resume tries it again)."""

        def write() -> None:
            self.db.execute(
                "UPDATE tasks SET state = 'failed', error = ? WHERE task_id = ?",
                [error, task.task_id],
            )
            self._save_counters()

        self._transaction(write)

    def progress(self) -> dict[str, int]:
        """Listings by state: todo, done, failed."""
        rows = self.db.execute("SELECT state, count(*) FROM tasks GROUP BY state").fetchall()
        return {"todo": 0, "done": 0, "failed": 0, **{s: int(n) for s, n in rows}}

    # -- internals ---------------------------------------------------------------------
    def _queue(self, tasks: Iterable[tuple[str, str, int]]) -> None:
        rows = []
        for kind, target, depth in tasks:
            key = (kind, target.lower())
            if key in self._queued:
                continue
            self._queued.add(key)
            rows.append((self._next_id, kind, target, depth, "todo"))
            self._next_id += 1
        if rows:
            self.db.executemany(
                "INSERT INTO tasks (task_id, kind, target, depth, state) VALUES (?, ?, ?, ?, ?)",
                rows,
            )

    def _save_counters(self) -> None:
        for key, value in self.stats().items():
            self.set(key, str(value))
        problems = {k: (n, self.problems.examples.get(k, "")) for k, n in self.problems.counts.items()}
        self.set("problems", json.dumps(problems))

    def _transaction(self, write: Any) -> None:
        queued, next_id = set(self._queued), self._next_id
        self.db.execute("BEGIN TRANSACTION")
        try:
            write()
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            self._queued, self._next_id = queued, next_id
            raise


def prepare(stage: Stage) -> None:
    """Create the crawl's tables in a stage that has none yet."""
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
    for kind, (n, example) in json.loads(get_meta(stage, "problems") or "{}").items():
        problems.counts[kind] = n
        problems.examples[kind] = example
    return problems


def saved_stats(stage: Stage) -> dict[str, int] | None:
    """Requests, retries and 429s of every attempt, as last committed (None: no crawl)."""
    if get_meta(stage, "requests") is None:
        return None
    return {f: int(get_meta(stage, f) or 0) for f in STAT_FIELDS}


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
