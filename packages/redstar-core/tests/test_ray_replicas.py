"""Sampler replicas that hang or die on the Ray engine (issue 25): a replica that stops making
progress, or whose process stops answering, is killed and replaced and its chunks are redone; a
replica's child and grandchild processes (vLLM's engine core and tensor-parallel workers) end
with it however it ends. On the shared two-node test cluster (``ray_cluster`` in conftest.py).

The engine runs in a thread with a deadline, so that an engine that would wait forever (as
before per-chunk heartbeats) fails the test instead of hanging the suite."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.slow

from ray_helpers import board, collect_once, execution, expected, jobs_of  # noqa: E402

from redstar.errors import RedStarError  # noqa: E402
from redstar.execution import GenerateJob, SamplerSpec  # noqa: E402
from redstar.execution.ray_engine import RayEngine  # noqa: E402
from redstar.interfaces import SamplingParams  # noqa: E402

#: What the tests allow a replica: quick to notice a hang, long enough for a replica to start.
FAST = {"stall_timeout": 2, "load_timeout": 10}
#: Seconds a test waits for the engine before calling it stuck.
DEADLINE_S = 150


@pytest.fixture(autouse=True)
def plugins_to_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDSTAR_PLUGINS", "math,raytest")


def within_deadline(work):
    """``work()``'s value, run in a thread; fails the test if it has not returned in time."""
    box: dict = {}

    def run() -> None:
        try:
            box["value"] = work()
        except BaseException as exc:  # noqa: BLE001 - handed to the test below
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(DEADLINE_S)
    assert not thread.is_alive(), f"the engine was still waiting after {DEADLINE_S} s"
    if "error" in box:
        raise box["error"]
    return box["value"]


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def spawned(folder: Path) -> list[int]:
    """The pids the echo sampler's children and grandchildren recorded in ``folder``."""
    return [int(p.name[1:]) for p in folder.iterdir() if p.name[0] in "cg"]


def wait_until(condition, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def test_a_replica_that_makes_no_progress_is_replaced_and_its_chunk_redone(ray_cluster, ray_plugin_dir, tmp_path):
    marker = tmp_path / "hung"
    spec = SamplerSpec("echo", "m", {"hang_once": str(marker), "delay": 0.05}, "sampling")
    jobs = jobs_of(10, victim=4)

    def run():
        with RayEngine(execution(ray_cluster, ray_plugin_dir, **FAST), board=(said := board())) as engine:
            return collect_once(engine.generate(spec, jobs)), said.lines

    remote, lines = within_deadline(run)
    assert marker.exists()  # the replica holding chunk 4 really went silent
    assert remote == expected("m", jobs)
    redone = [line for line in lines if "chunk 4" in line and "worker hung" in line]
    assert redone and "no progress for" in redone[0] and "execution.stall_timeout is 2" in redone[0], lines


def test_a_stopped_replica_process_that_answers_nothing_is_replaced(ray_cluster, ray_plugin_dir):
    spec = SamplerSpec("echo", "m", {"delay": 0.3}, "sampling")
    jobs = jobs_of(10)

    def run():
        remote = {}
        with RayEngine(execution(ray_cluster, ray_plugin_dir, **FAST), board=(said := board())) as engine:
            for job, completions in engine.generate(spec, jobs):
                if not remote:  # SIGSTOP: the process is there, but neither works nor answers
                    os.kill(ray.get(engine.pool(spec).actors[0].pid.remote()), signal.SIGSTOP)
                assert job.key not in remote
                remote[job.key] = [[c.text for c in row] for row in completions]
        return remote, said.lines

    remote, lines = within_deadline(run)
    assert remote == expected("m", jobs)
    assert any("worker hung" in line and "no progress" in line for line in lines), lines


def test_a_chunk_that_always_hangs_stops_the_run_naming_it(ray_cluster, ray_plugin_dir):
    spec = SamplerSpec("echo", "m", {"hang_always": "stuck"}, "sampling")
    jobs = jobs_of(2) + [GenerateJob("stuck", [[{"role": "user", "content": "stuck"}]],
                                     SamplingParams(n=1, seeds=((1,),)))]

    def run():
        with RayEngine(execution(ray_cluster, ray_plugin_dir, max_retries=1, **FAST)) as engine:
            list(engine.generate(spec, jobs))

    with pytest.raises(RedStarError, match=r"sampling chunk 'stuck' failed 2 times because its worker hung "
                                           r"\(execution.max_retries is 1\); last: no progress for \d+ s"):
        within_deadline(run)


@pytest.mark.parametrize("how", ["ray.kill", "SIGKILL", "hung"])
def test_a_replica_s_child_processes_end_with_it(ray_cluster, ray_plugin_dir, tmp_path, how):
    """The echo sampler starts a child that starts a grandchild (vLLM: the engine core and its
    tensor-parallel workers); killing the replica any way ends both, and the run goes on."""
    children = tmp_path / "children"
    children.mkdir()
    options = {"children": str(children), "delay": 0.2}
    if how == "hung":
        options["hang_once"] = str(tmp_path / "hung")
    spec = SamplerSpec("echo", "m", options, "sampling")
    jobs = jobs_of(8, victim=3 if how == "hung" else None)
    first: list[int] = []

    def run():
        remote = {}
        with RayEngine(execution(ray_cluster, ray_plugin_dir, replicas=1, **FAST)) as engine:
            for job, completions in engine.generate(spec, jobs):
                if not remote:
                    assert wait_until(lambda: len(spawned(children)) == 2), list(children.iterdir())
                    first.extend(spawned(children))
                    actor = engine.pool(spec).actors[0]
                    if how == "ray.kill":
                        ray.kill(actor, no_restart=True)
                    elif how == "SIGKILL":
                        os.kill(ray.get(actor.pid.remote()), signal.SIGKILL)
                remote[job.key] = [[c.text for c in row] for row in completions]
            if how != "hung":  # the replacement replica started its own children meanwhile
                assert wait_until(lambda: not any(alive(pid) for pid in first)), [p for p in first if alive(p)]
        return remote

    remote = within_deadline(run)
    assert remote == expected("m", jobs) and len(first) == 2
    # and when the engine closes, every replica's children go too
    everyone = spawned(children)
    assert len(everyone) >= 4 and wait_until(lambda: not any(alive(pid) for pid in everyone)), \
        [p for p in everyone if alive(p)]
