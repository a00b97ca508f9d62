"""A computer algebra check that can never hang the caller.

Only answers that RedStar's own parser (:mod:`redstar_math.expr`) cannot read reach sympy. Sympy
can take unbounded time (``simplify`` on a pathological input), and Python cannot interrupt a
thread, and signals work only in the main thread; so the check runs in a separate worker process
(:mod:`redstar_math.cas_worker`) that is killed when a request exceeds its time budget and
restarted on the next request. A reader thread moves the worker's replies into a queue, so waiting
with a timeout works the same on every platform and in any thread.
"""

from __future__ import annotations

import atexit
import json
import queue
import subprocess
import sys
import threading
import time

#: Seconds the worker may take to start (importing sympy); not counted against a check's budget.
START_TIMEOUT = 120.0
CACHE_SIZE = 4096


class GuardedCAS:
    """Sympy equivalence checks in a worker process with a hard time limit per check.

    :meth:`equal` returns True or False when sympy decided in time, and None when it did not
    (timeout, a parse failure in sympy, or a worker that could not start). Thread-safe: one check
    runs at a time, and a caller that cannot get its turn within its budget gets None.
    """

    def __init__(self, start_timeout: float = START_TIMEOUT) -> None:
        self.start_timeout = start_timeout
        self._lock = threading.Lock()
        self._process: subprocess.Popen[str] | None = None
        self._replies: queue.Queue[str | None] = queue.Queue()
        self.timeouts = 0
        self.restarts = 0
        #: Seconds the last :meth:`equal` spent starting the worker (0 when it was running).
        self.last_start_seconds = 0.0
        # Decided pairs; the n samples of one prompt often repeat the same answer.
        self._decided: dict[tuple[str, str], bool] = {}

    def _start(self) -> None:
        self._replies = queue.Queue()
        process = subprocess.Popen(
            [sys.executable, "-m", "redstar_math.cas_worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1,
        )
        replies = self._replies

        def read() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                replies.put(line)
            replies.put(None)  # the worker exited

        threading.Thread(target=read, name="redstar-math-cas-reader", daemon=True).start()
        try:
            first = replies.get(timeout=self.start_timeout)
        except queue.Empty:
            first = None
        if first is None or first.strip() != "ready":
            process.kill()
            process.wait()
            raise RuntimeError("the sympy worker did not start (is latex2sympy2_extended installed?)")
        self._process = process
        self.restarts += 1

    def _stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None

    def equal(self, a: str, b: str, timeout: float) -> bool | None:
        """Whether sympy proves ``a`` and ``b`` equal within ``timeout`` seconds."""
        started = time.monotonic()
        self.last_start_seconds = 0.0
        known = self._decided.get((a, b))
        if known is not None:
            return known
        if not self._lock.acquire(timeout=max(0.0, timeout)):
            return None
        try:
            if self._process is None or self._process.poll() is not None:
                before_start = time.monotonic()
                try:
                    self._start()
                except (OSError, RuntimeError):
                    return None
                # Starting (importing sympy: seconds, more on a busy machine) is a one-off cost of
                # the process, not of this check, so it does not eat the check's budget.
                self.last_start_seconds = time.monotonic() - before_start
                started += self.last_start_seconds
            remaining = timeout - (time.monotonic() - started)
            if remaining <= 0:
                return None
            assert self._process is not None and self._process.stdin is not None
            try:
                self._process.stdin.write(json.dumps({"a": a, "b": b}) + "\n")
                self._process.stdin.flush()
            except (BrokenPipeError, OSError):
                self._stop()
                return None
            try:
                line = self._replies.get(timeout=remaining)
            except queue.Empty:
                self.timeouts += 1
                self._stop()  # the only way to stop sympy mid-computation
                return None
            if line is None:
                self._stop()
                return None
            equal = json.loads(line).get("equal")
            if equal is not None:
                if len(self._decided) >= CACHE_SIZE:
                    self._decided.clear()
                self._decided[(a, b)] = bool(equal)
            return equal
        finally:
            self._lock.release()

    def close(self) -> None:
        with self._lock:
            self._stop()


_shared: GuardedCAS | None = None
_shared_lock = threading.Lock()


def shared_cas() -> GuardedCAS:
    """The process-wide worker, started on first use and stopped at exit."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = GuardedCAS()
            atexit.register(_shared.close)
        return _shared


def close_shared_cas() -> None:
    """Stop the process-wide worker if it runs; the next check that needs sympy starts a new one."""
    with _shared_lock:
        if _shared is not None:
            _shared.close()
