"""A hard time budget for one verification, on top of the bounds that keep every step small.

Every step of a check is bounded by construction - extraction looks at a fixed window with linear
patterns, answers over a length cap are compared as text, the parser has depth and token limits,
evaluation refuses huge powers - and :class:`redstar_math.equivalence.Context` checks the deadline
between steps. :func:`time_limit` adds an interrupt for what no bound foresaw: in the main thread
it arms ``SIGALRM`` (Python's regular-expression engine checks for signals while it matches, so
even a runaway pattern is stopped) and raises :class:`BudgetExceeded` when the budget is spent.
Elsewhere - other threads, platforms without ``SIGALRM``, or when the caller has a timer of its
own running (pytest-timeout, math-verify) - it does nothing and the bounds alone apply.

:func:`shielded` holds the alarm back while a block runs that must not be interrupted half-way
(a request to the sympy worker, which has its own hard limit); an alarm that went off meanwhile
raises as the block ends, unless :func:`extend` moved the end of the budget (starting the worker
is a one-off cost of the process, not of the check that happened to need it first). The handler
itself holds the alarm back: blocking the signal would not do, since the kernel may deliver it to
another thread, and Python then runs the handler in the main thread all the same.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, TypeAlias

#: What ``signal.signal`` takes and returns: a Python handler, ``SIG_DFL``/``SIG_IGN``, or None
#: for a handler that was not installed from Python.
_Handler: TypeAlias = Callable[[int, FrameType | None], Any] | int | None


class BudgetExceeded(BaseException):
    """The time budget of a check ran out. A BaseException, like KeyboardInterrupt, so that the
    ``except Exception`` of code inside the check cannot swallow it."""


_state = threading.local()
# The alarm is only ever armed by the main thread, and Python runs signal handlers there.
_shield = {"depth": 0, "pending": False}


def _raise(signum, frame) -> None:
    if _shield["depth"]:
        _shield["pending"] = True  # held back until the shielded block ends
        return
    raise BudgetExceeded("time budget exceeded")


_HAS_TIMER = hasattr(signal, "setitimer")
_MAIN_THREAD = threading.main_thread().ident


def _can_arm() -> bool:
    return (_HAS_TIMER and threading.get_ident() == _MAIN_THREAD and not getattr(_state, "armed", False)
            and signal.getitimer(signal.ITIMER_REAL)[0] == 0)


class time_limit:  # noqa: N801 - used like a function: ``with time_limit(5.0): ...``
    """Raise :class:`BudgetExceeded` in the block once ``seconds`` have passed (see the module
    docstring for where this is possible). A class rather than a generator: it wraps every
    check, and this way it costs a few microseconds."""

    __slots__ = ("seconds", "previous", "armed")

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.previous: _Handler = None
        self.armed = False

    def __enter__(self) -> None:
        if self.seconds <= 0:
            raise BudgetExceeded("no time budget left")
        if not _can_arm():
            return
        self.previous = signal.signal(signal.SIGALRM, _raise)
        self.armed = _state.armed = True
        _state.deadline = time.monotonic() + self.seconds
        _shield["pending"] = False
        try:
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
        except BaseException:  # the alarm went off already: undo, then let it propagate
            self.__exit__()
            raise

    def __exit__(self, *exc_info) -> None:
        if not self.armed:
            return
        try:
            signal.setitimer(signal.ITIMER_REAL, 0)
        finally:
            self.armed = _state.armed = False
            _shield["pending"] = False
            signal.signal(signal.SIGALRM, self.previous if self.previous is not None else signal.SIG_DFL)


def extend(seconds: float) -> None:
    """Move the armed budget's end later by ``seconds`` (a one-off cost that is not the check's,
    such as starting the sympy worker); takes effect when the current :func:`shielded` block
    ends."""
    if getattr(_state, "armed", False) and seconds > 0:
        _state.deadline += seconds


@contextmanager
def shielded() -> Iterator[None]:
    """Hold the alarm of :func:`time_limit` back during the block. As the block ends, the alarm
    is set again for what is left of the budget (extended by :func:`extend`), or - when nothing
    is left - :class:`BudgetExceeded` is raised (unless the block raised)."""
    if not getattr(_state, "armed", False):
        yield
        return
    _shield["depth"] += 1
    try:
        yield
    finally:
        _shield["depth"] -= 1
    if not _shield["depth"]:
        _shield["pending"] = False
        remaining = _state.deadline - time.monotonic()
        if remaining <= 0:
            raise BudgetExceeded("time budget exceeded")
        signal.setitimer(signal.ITIMER_REAL, remaining)
