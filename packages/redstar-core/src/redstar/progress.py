"""Progress bars for long stages (rich), one live display for a whole run."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

Update = Callable[[int, "int | None"], None]


class ProgressBoard:
    """``with board.task("sampling", total) as update: update(done, total)``."""

    def __init__(self, console: Console | None = None, enabled: bool = True) -> None:
        self.console = console or Console(stderr=True)
        self.enabled = enabled
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=self.console,
            disable=not enabled,
        )

    def __enter__(self) -> ProgressBoard:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.__exit__(*exc)

    def log(self, message: str) -> None:
        self.console.print(message)

    @contextmanager
    def task(self, description: str, total: int | None = None) -> Iterator[Update]:
        task_id = self._progress.add_task(description, total=total)

        def update(done: int, new_total: int | None = None) -> None:
            if new_total is not None:
                self._progress.update(task_id, total=new_total)
            self._progress.update(task_id, completed=done)

        try:
            yield update
        finally:
            task = self._progress.tasks[[t.id for t in self._progress.tasks].index(task_id)]
            if task.total is not None:
                self._progress.update(task_id, completed=task.total)
            self._progress.stop_task(task_id)
