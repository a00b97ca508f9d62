"""Progress for long stages: one rich live display on a terminal, plain lines everywhere else.

Under nohup, Slurm or ``| tee`` the console is not a terminal, and rich's live display then
prints nothing until it stops, so a run on a slow machine looks hung until it ends. There the
board prints plain, flushed lines instead: one when a task starts, one every ``every`` seconds
while it runs (``REDSTAR_PROGRESS_EVERY``, default 30), and one when it ends, each with
done/total, rate, elapsed time and ETA.

The ETA is computed from the task's own elapsed time and count (``remaining * elapsed / done``),
not from rich's ``TimeRemainingColumn``, which shows ``-:--:--`` until its speed window fills
(for most stages, nearly the whole stage).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from redstar.errors import RedStarError


class Update(Protocol):
    """``update(done)`` or ``update(done, total)``: what a stage reports to its progress task."""

    def __call__(self, done: int, total: int | None = None, /) -> None: ...

EVERY_ENV = "REDSTAR_PROGRESS_EVERY"
DEFAULT_EVERY = 30.0


def progress_every(value: float | None = None) -> float:
    """Seconds between plain progress lines: ``value``, else ``$REDSTAR_PROGRESS_EVERY``, else 30."""
    if value is None:
        raw = os.environ.get(EVERY_ENV, "").strip()
        if not raw:
            return DEFAULT_EVERY
        try:
            value = float(raw)
        except ValueError:
            raise RedStarError(f"{EVERY_ENV} must be a number of seconds, got {raw!r}") from None
    if not value > 0:  # also rejects NaN
        raise RedStarError(f"{EVERY_ENV} (progress line interval) must be more than 0 seconds, got {value!r}")
    return float(value)


def eta_seconds(done: float, total: float | None, elapsed: float) -> float | None:
    """Seconds left at the average rate so far; None while there is no rate (nothing done yet,
    no time passed) or no total."""
    if total is None or done <= 0 or elapsed <= 0:
        return None
    return max(0.0, (total - done) * elapsed / done)


def clock_text(seconds: float | None) -> str:
    """``H:MM:SS`` (as rich writes times), ``-:--:--`` for an unknown time."""
    if seconds is None:
        return "-:--:--"
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def rate_text(done: float, elapsed: float) -> str:
    if done <= 0 or elapsed <= 0:
        return "-/s"
    rate = done / elapsed
    if rate >= 100:
        return f"{rate:.0f}/s"
    return f"{rate:.1f}/s" if rate >= 1 else f"{60 * rate:.1f}/min"  # slow steps read better per minute


class RateEtaColumn(ProgressColumn):
    """``2.1/s eta 0:01:35`` from the task's average rate, as soon as one item is done."""

    def render(self, task: Task) -> Text:
        elapsed = task.finished_time if task.finished else task.elapsed
        elapsed = elapsed or 0.0
        if task.finished:
            return Text(f"{rate_text(task.completed, elapsed)} done", style="progress.remaining")
        eta = eta_seconds(task.completed, task.total, elapsed)
        return Text(f"{rate_text(task.completed, elapsed)} eta {clock_text(eta)}", style="progress.remaining")


@dataclass
class _PlainTask:
    description: str
    total: int | None
    start: float
    done: int = 0
    last_line: float = 0.0


class ProgressBoard:
    """``with board.task("sampling", total) as update: update(done, total)``.

    ``console``: where progress goes (default stderr); a live display when it is interactive,
    plain lines otherwise. ``enabled=False`` prints no progress at all (``log`` still prints).
    ``every``: seconds between plain lines (default ``$REDSTAR_PROGRESS_EVERY`` or 30).
    ``clock``: monotonic seconds (tests pass a fake one)."""

    def __init__(self, console: Console | None = None, enabled: bool = True, every: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.console = console or Console(stderr=True)
        self.enabled = enabled
        self.live = enabled and (self.console.is_interactive or self.console.is_jupyter)
        self.plain = enabled and not self.live
        self.every = progress_every(every) if self.plain else DEFAULT_EVERY
        self.clock = clock
        self._lock = threading.Lock()
        self._active: dict[int, _PlainTask] = {}
        self._next_id = 0
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            RateEtaColumn(),
            console=self.console,
            disable=not self.live,
            get_time=clock,
        )

    def __enter__(self) -> ProgressBoard:
        self._progress.__enter__()
        if self.plain:
            # A stage that reports rarely (a slow chunk, model loading) still gets a line every
            # ``every`` seconds, so a slow machine is not mistaken for a hung one.
            self._stop.clear()
            self._ticker = threading.Thread(target=self._tick_forever, name="redstar-progress", daemon=True)
            self._ticker.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._ticker is not None:
            self._stop.set()
            self._ticker.join(timeout=5)
            self._ticker = None
        self._progress.__exit__(*exc)

    def log(self, message: str) -> None:
        # Not wrapped at the console's width: a log line often ends in a path, which a hard wrap
        # would split mid-name (unreadable, and not what a grep of the log finds).
        self.console.print(message, soft_wrap=True)

    def stage(self, name: str) -> None:
        """A line saying stage ``name`` starts, where there is no live display to show it."""
        if self.plain:
            self._line(f"stage {name}")

    # -- plain lines ----------------------------------------------------------------------
    def _line(self, text: str) -> None:
        # console.print flushes its file after each call; markup off: descriptions are data.
        self.console.print(f"[{time.strftime('%H:%M:%S')}] {text}", markup=False, highlight=False, soft_wrap=True)

    def _status(self, task: _PlainTask, now: float) -> str:
        elapsed = now - task.start
        if task.total is None:
            count = f"{task.done} done"
        else:
            share = f" ({100 * task.done / task.total:.0f}%)" if task.total else ""
            count = f"{task.done}/{task.total}{share}"
        eta = eta_seconds(task.done, task.total, elapsed)
        return f"{count}, {rate_text(task.done, elapsed)}, elapsed {clock_text(elapsed)}, eta {clock_text(eta)}"

    def tick(self) -> None:
        """Print a line for each running task whose last line is ``every`` seconds old."""
        with self._lock:
            now = self.clock()
            for task in self._active.values():
                if now - task.last_line >= self.every:
                    task.last_line = now
                    self._line(f"{task.description}: {self._status(task, now)}")

    def _tick_forever(self) -> None:
        while not self._stop.wait(min(self.every, 5.0)):
            self.tick()

    @contextmanager
    def _plain_task(self, description: str, total: int | None) -> Iterator[Update]:
        with self._lock:
            key = self._next_id
            self._next_id += 1
            now = self.clock()
            task = self._active[key] = _PlainTask(description, total, start=now, last_line=now)
            self._line(f"{description}: started" + ("" if total is None else f", {total} to do"))

        def update(done: int, new_total: int | None = None) -> None:
            with self._lock:
                if new_total is not None:
                    task.total = new_total
                task.done = done
            self.tick()

        try:
            yield update
        except BaseException:
            with self._lock:
                del self._active[key]
                now = self.clock()
                self._line(f"{description}: stopped at {self._status(task, now)}")
            raise
        with self._lock:
            del self._active[key]
            if task.total is not None:
                task.done = max(task.done, task.total)
            now = self.clock()
            elapsed = now - task.start
            count = f"{task.done}" if task.total is None else f"{task.done}/{task.total}"
            self._line(f"{description}: done {count} in {clock_text(elapsed)} ({rate_text(task.done, elapsed)})")

    @contextmanager
    def task(self, description: str, total: int | None = None) -> Iterator[Update]:
        if self.plain:
            with self._plain_task(description, total) as plain_update:
                yield plain_update
            return
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
