"""Progress of a snapshot on stderr (rich), fed by the library's progress events."""

from __future__ import annotations

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
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )
        self._task: TaskID | None = None

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
        if event == "start":
            est = data["estimate"]
            bound = "" if est.exact else "at least "
            self.console.print(
                f"{data['family']}: strategy {data['strategy']}, expecting {bound}"
                f"{est.requests:,} request{'' if est.requests == 1 else 's'} ({est.why})",
                highlight=False,
            )
            self._task = self._progress.add_task(
                f"{data['family']}", total=None, detail="starting"
            )
        elif event in ("page", "level") and self._task is not None:
            detail = f"{data.get('repos', 0):,} repos, {data['requests']:,} requests"
            if "queued" in data:
                detail += f", {data['queued']:,} parents queued"
            if event == "level":
                detail = f"depth {data['depth']}: {data['parents']:,} parents, {data['requests']:,} requests"
            self._progress.update(self._task, detail=detail)
        elif event == "done" and self._task is not None:
            self._progress.remove_task(self._task)
            self._task = None
