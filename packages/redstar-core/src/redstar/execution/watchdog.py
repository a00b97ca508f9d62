"""A time limit on a task run in this process (the local engine's verification and cleaning).

On Ray a hung task's worker process is killed (:mod:`~redstar.execution.ray_pools`). In this
process nothing can be killed, so :func:`time_limit` interrupts the call instead: a watchdog
thread sends the main thread :data:`SIGNAL` once the block has run ``seconds``, and the handler
raises :class:`TaskHung` there. A signal, not a flag, because it also ends a blocking call (a
``sleep``, a ``wait`` on a subprocess or a lock) and a runaway regular expression (Python's
engine checks for signals while it matches); the watchdog keeps sending it until the block
ends, in case a plugin's code swallowed the first.

Not everything can be interrupted: C code that never returns to Python (an extension's endless
loop) is only noticed, with one line on the run's log; outside the main thread (a signal
handler can only be set there) and where something else handles :data:`SIGNAL`, the block runs
without a limit. A third-party verifier that can hang that way belongs on the ray engine, where
the worker is killed.

``SIGALRM`` is left alone: redstar-math's per-check budget uses it, and gives up its own
limit while another timer runs.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType

#: The signal the watchdog interrupts the main thread with.
SIGNAL = signal.SIGUSR1
#: Seconds between two more signals to a block that did not end on the first.
NUDGE_S = 5.0


class TaskHung(BaseException):
    """A task ran past its time limit. A BaseException, like KeyboardInterrupt, so that a
    plugin's ``except Exception`` cannot swallow it."""


def can_interrupt() -> bool:
    """Whether :func:`time_limit` can interrupt a block run here: in the main thread, with
    :data:`SIGNAL` not taken by someone else."""
    return (threading.current_thread() is threading.main_thread()
            and signal.getsignal(SIGNAL) in (signal.SIG_DFL, None))


@contextlib.contextmanager
def time_limit(seconds: float | None, why: str, log: Callable[[str], None] | None = None) -> Iterator[None]:
    """Raise :class:`TaskHung` (its message ``why``) in the block once it has run ``seconds``
    (None: no limit). Where the block cannot be interrupted (:func:`can_interrupt`), ``log``
    gets one line when the time is up, and the block goes on."""
    if seconds is None:
        yield
        return
    interrupt = can_interrupt()
    done = threading.Event()
    main = threading.main_thread().ident

    def handler(signum: int, frame: FrameType | None) -> None:
        if not done.is_set():  # a signal sent as the block ended is not the next block's
            raise TaskHung(why)

    def watch() -> None:
        if done.wait(seconds):
            return
        if not interrupt:
            if log is not None:
                log(f"warning: {why}; it cannot be interrupted here and keeps the run waiting")
            return
        warned = False
        while True:
            assert main is not None, "the main thread has an id"
            signal.pthread_kill(main, SIGNAL)
            if done.wait(NUDGE_S):
                return
            if log is not None and not warned:
                warned = True
                log(f"warning: {why}; it has not stopped yet (code that does not return to Python?)")

    previous = signal.signal(SIGNAL, handler) if interrupt else None
    watchdog = threading.Thread(target=watch, name="redstar-task-watchdog", daemon=True)
    watchdog.start()
    try:
        yield
    finally:
        done.set()
        # No signal is sent after the watchdog ends, and one it sent is delivered (to the
        # handler above, which ignores it now) before join returns: only then the old handler.
        watchdog.join()
        if interrupt:
            signal.signal(SIGNAL, previous if previous is not None else signal.SIG_DFL)
