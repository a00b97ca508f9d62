"""Ending a sampler replica's processes with it: its own process group and a watchdog.

A vLLM replica is more than its Ray actor: the engine core and, with tensor parallelism, one
worker per GPU are child and grandchild processes of the actor (vLLM's multiprocessing
executor), and they hold the GPU memory. When the actor is killed (``ray.kill``, the engine
replacing a hung replica) or crashes, Ray ends the actor's process, but its descendants are
ended only if the cluster was started with Ray's subreaper or process-group options, which
RedStar cannot count on: orphans would keep the GPUs and the replacement replica would run out
of memory.

So each replica (:func:`guard`) makes itself the leader of a process group of its own, which its
descendants inherit, and starts a watchdog: a detached process, outside that group and not the
actor's child, that checks the actor every :data:`POLL_S` seconds and, once it is gone, sends
the group SIGTERM, then SIGKILL to whatever still runs after :data:`GRACE_S`, and exits. A
process is only ever signalled when it belongs to the group *and* to the actor's session and
started after the actor, so a process that later reuses a number is never touched. Linux only
(``/proc``); elsewhere :func:`guard` does nothing and says so.

Run as ``python reaper.py PID START_TIME`` (what :func:`guard` starts, with ``--detach``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

#: Seconds between two checks of the actor.
POLL_S = 0.5
#: Seconds the group gets to end on SIGTERM (vLLM frees its GPUs on it) before SIGKILL.
GRACE_S = 5.0


def _stat(pid: int) -> tuple[int, int, int] | None:
    """``(process group, session, start time in clock ticks)`` of ``pid``, or None when there is
    no such process (or it is a zombie, which holds nothing)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()  # after "pid (comm) ": comm may hold spaces
    if fields[0] == "Z":
        return None
    return int(fields[2]), int(fields[3]), int(fields[19])


def members(leader: int, session: int, started: int) -> list[int]:
    """The live processes of process group ``leader`` that belong to ``session`` and started no
    earlier than ``started`` (the leader's own start): the replica and its descendants."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        stat = _stat(int(entry.name))
        if stat is not None and stat[0] == leader and stat[1] == session and stat[2] >= started:
            found.append(int(entry.name))
    return found


def _signal_all(pids: list[int], signum: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):  # gone meanwhile
            os.kill(pid, signum)


def watch(pid: int, started: int) -> None:
    """Wait until process ``pid`` (started at ``started``) is gone, then end its group."""
    first = _stat(pid)
    if first is None or first[2] != started or first[0] != pid:
        return  # already gone, or not the group leader it was meant to be
    session = first[1]
    while True:
        now = _stat(pid)
        if now is None or now[2] != started:
            break
        time.sleep(POLL_S)
    left = members(pid, session, started)
    _signal_all(left, signal.SIGTERM)
    deadline = time.monotonic() + GRACE_S
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = members(pid, session, started)
    _signal_all(left, signal.SIGKILL)


def guard() -> str | None:
    """Make this process (a sampler replica) a process-group leader and start its watchdog.
    Returns None, or why it could not (the replica then runs unguarded, as before)."""
    if not sys.platform.startswith("linux"):
        return f"no process-group watchdog on {sys.platform}"
    me = os.getpid()
    try:
        if os.getpgid(0) != me:
            os.setpgid(0, 0)
    except OSError as exc:  # a session leader cannot change its group
        return f"cannot become a process-group leader: {exc}"
    stat = _stat(me)
    if stat is None:
        return "cannot read /proc/self/stat"
    # Detached: its own session (the group's SIGTERM does not reach it) and, through the
    # intermediate process, not this process's child (Ray ends an exiting worker's children).
    # Started from its file, isolated and without site-packages: it needs the standard library
    # only, and starts in milliseconds.
    subprocess.Popen([sys.executable, "-I", "-S", __file__, "--detach", str(me), str(stat[2])],
                     start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL, close_fds=True).wait()
    return None


def main(argv: list[str]) -> None:
    if argv and argv[0] == "--detach":
        if os.fork() > 0:
            return  # the intermediate: exits at once, so the watchdog is nobody's child here
        argv = argv[1:]
    watch(int(argv[0]), int(argv[1]))


if __name__ == "__main__":
    main(sys.argv[1:])
