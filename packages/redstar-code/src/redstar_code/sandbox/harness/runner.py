"""One test: its files prepared, its program run in a fresh child through a runner, within the
wall-clock deadline, everything it left killed, and what it did read back."""

from __future__ import annotations

import os
import select
import signal
import time

from . import workdir
from .program import SETUP_FAILED, child
from .workdir import RUN, STDERR_FILE, STDIN_FILE, STDOUT_FILE

#: Types for the checker only: the harness imports nothing it does not run.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import CodeType
    from typing import Any, NoReturn

STDERR_TAIL = 2000
#: While a test runs, orphans of the candidate (whose parent is now this init) are reaped this often.
REAP_INTERVAL = 0.05


def run_test(code: CodeType | None, source: str, command: dict[str, Any], limits: dict[str, Any],
             call: dict[str, Any] | None) -> tuple[dict[str, Any], list[bytes]]:
    """Run one test in a fresh child and report what it did: ``exit`` (status, or None when
    killed), ``signal``, ``timeout``, ``output_limit``, ``output_missing``, ``seconds``, ``lost``
    (None, or ``"killed"`` / ``"stopped"`` when the program killed or stopped its parent, the
    test's runner); and the frames: standard output (or ``output.txt``), the tail of standard
    error, and for call-based tests the JSON envelope of the return value (``{"ok": true,
    "value": ...}`` or ``{"ok": false, "type": ...}``; empty when the call did not complete).

    The program runs in a child of a *runner*, itself a child of this process: the runner waits
    for it and reports its wait status through a pipe. The program can kill or stop its parent
    (the runner; this process, the namespace's init, ignores it), which is reported as ``lost``.
    """
    workdir.reset_work_directory()
    io_mode = command["io"]
    opened = []
    try:
        if call is None:
            data = command["input"].encode("utf-8", "surrogateescape")
            target = RUN + "/input.txt" if io_mode == "files" else STDIN_FILE
            workdir.write_new(target, data, 0o644)
        stdin_path = STDIN_FILE if (io_mode == "stdin" and call is None) else "/dev/null"
        streams = [os.open(stdin_path, os.O_RDONLY | os.O_NOFOLLOW), workdir.create(STDOUT_FILE),
                   workdir.create(STDERR_FILE)]
        opened += streams
        returned_fd = workdir.create(workdir.RETURN_FILE) if call is not None else None
        run_fd = os.open(RUN, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        opened += [fd for fd in (returned_fd, run_fd) if fd is not None]
        status_read, status_write = os.pipe()
        opened.append(status_read)
        started = time.monotonic()
        try:
            runner = os.fork()
        except BaseException:
            os.close(status_write)
            raise
        if runner == 0:  # never returns
            _runner(code, source, command, limits, call, streams, status_write)
        os.close(status_write)
        ended, timed_out = _wait(runner, limits["timeout"])
        seconds = time.monotonic() - started
        # Whatever the candidate left running (daemons, orphans, a fork bomb) dies here, before
        # anything is read and before the next test starts: kill(-1) from the namespace's init
        # reaches every other process of the namespace.
        _kill_all_others()
        status, lost = None, None
        if ended is not None:
            status, lost = _program_status(ended, status_read)
        if io_mode == "files":
            stdout = workdir.read_file("output.txt", run_fd)
        else:
            stdout = workdir.read_fd(streams[1])
        stderr = workdir.read_fd(streams[2])
        returned = workdir.read_fd(returned_fd) if returned_fd is not None else b""
    finally:
        for fd in opened:
            os.close(fd)
    meta = {
        "exit": os.WEXITSTATUS(status) if status is not None and os.WIFEXITED(status) else None,
        "signal": os.WTERMSIG(status) if status is not None and os.WIFSIGNALED(status) else None,
        "timeout": timed_out,
        "lost": lost,
        "seconds": round(seconds, 4),
        "output_missing": stdout is None,
        # the return value's file has the same size limit as the output (RLIMIT_FSIZE)
        "output_limit": max(len(stdout or b""), len(returned)) >= limits["max_output"],
    }
    return meta, [stdout or b"", stderr[-STDERR_TAIL:], returned]


def _runner(code: CodeType | None, source: str, command: dict[str, Any], limits: dict[str, Any],
            call: dict[str, Any] | None, streams: Sequence[int], status_write: int) -> NoReturn:
    """The test's runner (a fork of the harness, non-dumpable like it): let go of the control
    pipes and every descriptor but the test's, start the program, kill whatever the program left
    once it ends (``kill(-1)`` spares the runner and the namespace's init), and report the
    program's wait status."""
    try:
        null = os.open("/dev/null", os.O_RDWR)
        for target in (0, 1, 2):
            os.dup2(null, target)
        keep = {0, 1, 2, status_write, *streams}
        for fd in _open_descriptors():
            if fd not in keep:
                _close_quietly(fd)
        pid = os.fork()
        if pid == 0:  # the program: never returns
            _close_quietly(status_write)
            child(code, source, command, limits, call, streams)
        for fd in streams:
            os.close(fd)
        _, status = os.waitpid(pid, 0)
        # The program is done: what it left (a fork bomb's children still printing their
        # tracebacks, daemons) stops now, not once the harness has heard of it.
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.write(status_write, b"%d\n" % status)
    except BaseException:
        os._exit(SETUP_FAILED)
    os._exit(0)


def _open_descriptors() -> list[int]:
    return [int(name) for name in os.listdir("/proc/self/fd")]


def _close_quietly(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


def _program_status(ended: int, status_read: int) -> tuple[int | None, str | None]:
    """The program's wait status and how its runner ended (None: normally), from the runner's
    wait status ``ended`` and its report."""
    if os.WIFSTOPPED(ended):
        return None, "stopped"
    if os.WIFEXITED(ended) and os.WEXITSTATUS(ended) == SETUP_FAILED:
        return SETUP_FAILED << 8, None  # reported as the program's exit status, as a child's set-up failure
    report = b""
    if os.WIFEXITED(ended) and os.WEXITSTATUS(ended) == 0:
        os.set_blocking(status_read, False)
        try:
            report = os.read(status_read, 64)
        except BlockingIOError:
            report = b""
    if not report.endswith(b"\n"):
        return None, "killed"
    return int(report), None


def _wait(runner: int, timeout: float) -> tuple[int | None, bool]:
    """Wait at most ``timeout`` seconds for the runner to end or be stopped, reaping the orphans
    that this init inherits meanwhile. Returns (its wait status, or None when time ran out;
    timed_out)."""
    deadline = time.monotonic() + timeout
    try:
        handle: int | None = os.pidfd_open(runner)
    except (AttributeError, OSError):
        handle = None  # kernels before 5.3: poll
    try:
        while True:
            done, status = os.waitpid(runner, os.WNOHANG | os.WUNTRACED)
            if done:
                return status, False
            found = _reap(runner)
            if found is not None:
                return found, False
            left = deadline - time.monotonic()
            if left <= 0:
                return None, True
            if handle is not None:
                select.select([handle], [], [], min(left, REAP_INTERVAL))
            else:
                time.sleep(min(left, 0.002))
    finally:
        if handle is not None:
            os.close(handle)


def _kill_all_others() -> None:
    me = os.getpid()
    for _ in range(2000):
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _reap()
        if not [p for p in os.listdir("/proc") if p.isdigit() and int(p) != me]:
            return
        time.sleep(0.0005)
    raise RuntimeError("processes of the candidate survived SIGKILL")


def _reap(target: int | None = None) -> int | None:
    """Reap every exited child; the wait status of ``target`` when it was one of them."""
    found = None
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return found
        if pid == 0:
            return found
        if pid == target:
            found = status
