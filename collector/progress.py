"""Progress of a snapshot on stderr (rich), fed by the library's progress events.

The plan (each family's strategy and why, requests and time under the quota) is printed
up front; then one bar counts requests against the plan's estimate, with an ETA that
takes the observed pace and, for more requests than one quota window holds, the quota.
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from collector.plan import Plan, format_duration


class SnapshotProgress:
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
        self._started = time.monotonic()
        self._total: int | None = None

    def __enter__(self) -> SnapshotProgress:
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

    def __call__(self, event: str, **data: Any) -> None:
        if not self.enabled:
            return
        if event == "plan":
            self._plan = data["plan"]
            for line in self._plan.describe():
                self.console.print(line, highlight=False, soft_wrap=True)
            self._total = self._plan.requests or None
            self._started = time.monotonic()
        elif event == "start":
            est = data["estimate"]
            if self._plan is None:  # a caller without a plan: say what this family costs
                bound = "" if est.exact else "at least "
                self.console.print(
                    f"{data['family']}: strategy {data['strategy']}, expecting {bound}"
                    f"{est.requests:,} requests ({est.why})",
                    highlight=False,
                )
                self._total = est.requests or None
            description = f"{data['family']} ({data['strategy']})"
            if self._task is None:
                self._task = self._progress.add_task(
                    description, total=self._total, detail="starting", eta=""
                )
            else:
                self._progress.update(self._task, description=description)
        elif event in ("page", "level") and self._task is not None:
            requests = data["requests"]
            if event == "level":
                detail = f"depth {data['depth']}: {data['parents']:,} parents"
            elif "pages" in data:
                detail = f"{data['pages']:,} pages, {data['repos']:,} repos"
            else:
                detail = f"{data.get('repos', 0):,} repos, {data.get('queued', 0):,} queued"
            detail += f", {requests:,} requests"
            total = self._total
            if total is not None and requests > total:
                total = None  # past the estimate: no bar, no ETA
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

    def _eta(self, done: int, total: int | None) -> str:
        elapsed = time.monotonic() - self._started
        if total is None or done <= 0 or elapsed <= 0:
            return ""
        remaining = total - done
        seconds = remaining * elapsed / done
        quota = self._plan.quota if self._plan is not None else None
        if quota is not None and total > quota.requests:
            seconds = max(seconds, remaining / quota.requests * quota.window)
        return f"ETA ~{format_duration(seconds)}"
