"""Progress of a snapshot on stderr (rich), fed by the library's progress events.

The plan comes first (each family's strategy, the requests it expects and why; then the
total and how long it takes under the Hub's rate limit). One bar then counts requests
against the plan's estimate, with an ETA from the pace so far and, past one quota
window's worth of requests, the quota's pace.
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any, Self

from rich.console import Console, RenderableType
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from collector.dates import format_duration
from collector.snapshot.plan import Plan


class _StderrProgress:
    """What every progress display shares: a rich Progress on stderr, started and stopped
    as a context manager, and plain lines printed above it; silent when disabled."""

    enabled: bool
    console: Console
    _progress: Progress

    def __enter__(self) -> Self:
        if self.enabled:
            self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.enabled:
            self._progress.stop()

    def _say(self, text: str) -> None:
        self.console.print(text, highlight=False, soft_wrap=True)


class SnapshotProgress(_StderrProgress):
    """A callable progress sink: `progress(event, **data)`; silent when disabled."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.console = Console(stderr=True)
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[detail]}"),
            TextColumn("{task.fields[eta]}"),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )
        self._task: TaskID | None = None
        self._plan: Plan | None = None
        self._total: int | None = None
        self._started = time.monotonic()

    def __call__(self, event: str, **data: Any) -> None:
        if not self.enabled:
            return
        if event == "plan":
            self._plan = data["plan"]
            for line in self._plan.describe():
                self._say(line)
            self._total = self._plan.requests or None
            self._started = time.monotonic()
        elif event == "discarded":
            self._say(
                f"{data['family']}: starting over, discarding an unfinished snapshot "
                f"({data['why']})"
            )
        elif event == "failed":
            self._say(f"listing {data['target']} failed: {data['error']}")
        elif event == "start":
            self._start(data)
        elif event == "page" and self._task is not None:
            requests = data["requests"]
            if "pages" in data:
                detail = f"{data['pages']:,} pages, {data['repos']:,} repos"
            else:
                detail = f"{data.get('repos', 0):,} repos"
                if "queued" in data:
                    detail += f", {data['queued']:,} listings queued"
            detail += f", {requests:,} requests"
            total = self._total if self._total and requests <= self._total else None
            self._progress.update(
                self._task,
                detail=detail,
                completed=requests,
                total=total,
                eta=self._eta(requests, total),
            )
        elif event == "staging" and self._task is not None:
            self._progress.update(
                self._task, detail=f"membership over {data['repos']:,} repos", eta=""
            )
        elif event == "done" and self._task is not None:
            self._progress.remove_task(self._task)
            self._task = None

    def _start(self, data: dict[str, Any]) -> None:
        est = data["estimate"]
        resumed = "resuming an unfinished snapshot, " if data.get("resumed") else ""
        if self._plan is None:  # a caller without a plan: say what this family costs
            bound = "" if est.exact else "at least "
            self._say(
                f"{data['family']}: {resumed}strategy {data['strategy']}, expecting {bound}"
                f"{est.requests:,} request{'' if est.requests == 1 else 's'} ({est.why})"
            )
            self._total = est.requests or None
        elif resumed:
            self._say(f"{data['family']}: resuming an unfinished snapshot (--fresh starts over)")
        self._task = self._progress.add_task(
            f"{data['family']} ({data['strategy']})", total=None, detail="starting", eta=""
        )

    def _eta(self, done: int, total: int | None) -> str:
        elapsed = time.monotonic() - self._started
        if total is None or done <= 0 or elapsed <= 0:
            return ""
        remaining = total - done
        seconds = remaining * elapsed / done
        quota = self._plan.quota if self._plan is not None else None
        if quota is not None and total > quota.requests:
            seconds = max(seconds, remaining / quota.requests * quota.window)
        return f"ETA ~{format_duration(seconds, about=True)}"


class BackfillProgress(_StderrProgress):
    """Progress of a backfill on stderr: what it imports, then one bar of bytes with an ETA
    (files already in the huggingface_hub cache count at once); silent when disabled."""

    def __init__(self, enabled: bool = True) -> None:
        from rich.progress import DownloadColumn, TimeRemainingColumn, TransferSpeedColumn

        self.enabled = enabled
        self.console = Console(stderr=True)
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            _AmountColumn(DownloadColumn()),
            _AmountColumn(TransferSpeedColumn(), counted=False),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
        )
        self._task: TaskID | None = None

    def __call__(self, event: str, **data: Any) -> None:
        if not self.enabled:
            return
        if event == "pinned":
            self._say(f"{data['dataset']} at revision {data['revision']}")
        elif event == "revisions":
            self._say(
                f"{data['dataset']}: {data['revisions']:,} daily revisions, "
                f"{data['first']} to {data['last']}"
            )
        elif event == "lineage":
            self._say(f"members: {data['members']:,}, by {data['described']}")
        elif event == "download":
            if self._task is not None:
                self._progress.remove_task(self._task)
            self._task = self._progress.add_task(
                f"{data['files']} file{'' if data['files'] == 1 else 's'}",
                total=data["total"] or None,
            )
        elif event == "bytes" and self._task is not None:
            self._progress.advance(self._task, data["advance"])
        elif event == "reading":
            self._say(f"reading {data['files']} series file(s) for {data['members']:,} members")
        elif event == "storing":
            self._say(f"storing {data['days']:,} days")
            if self._task is not None:
                self._progress.remove_task(self._task)
            self._task = self._progress.add_task("storing", total=None, unit="chunks")
        elif event == "stored" and self._task is not None:
            self._progress.update(self._task, completed=data["done"], total=data["chunks"])


class _AmountColumn(ProgressColumn):
    """A byte column (amount or speed) for a download, "done/total chunks" (or nothing) for
    a task counted in a unit of its own (task field `unit`)."""

    def __init__(self, column: ProgressColumn, counted: bool = True) -> None:
        super().__init__()
        self.column = column
        self.counted = counted

    def render(self, task: Task) -> RenderableType:
        unit = task.fields.get("unit")
        if unit is None:
            return self.column.render(task)
        if not self.counted or task.total is None:
            return Text("")
        return Text(f"{int(task.completed)}/{int(task.total)} {unit}", style="progress.download")
