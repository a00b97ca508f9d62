"""The Ray engine's dispatch loop on a scripted stand-in for Ray (no cluster): which jobs a lost
or hung worker is charged a retry for, and that every job comes back once. A replica runs the
chunks it holds one at a time, oldest first (``running`` 1), or all at once (``None``, vLLM's);
only those running are charged. The real cluster: test_ray_engine.py, test_ray_replicas.py."""

from __future__ import annotations

import itertools
from types import SimpleNamespace
from typing import Any

import pytest

from redstar.errors import RedStarError
from redstar.execution.ray_dispatch import dispatch


class ActorDied(Exception):
    pass


class FakeRay:
    """Runs each worker's oldest pending job whenever the loop waits: a ``"poison"`` job kills the
    worker (every job it holds fails with :class:`ActorDied`), ``"once"`` kills it the first time
    only, a ``"hang"`` job never finishes, any other job returns its name."""

    exceptions = SimpleNamespace(
        RayActorError=ActorDied, WorkerCrashedError=type("W", (Exception,), {}),
        NodeDiedError=type("N", (Exception,), {}), ObjectLostError=type("O", (Exception,), {}),
        OutOfMemoryError=type("M", (Exception,), {}), LocalRayletDiedError=type("L", (Exception,), {}),
        RuntimeEnvSetupError=type("R", (Exception,), {}), ActorUnschedulableError=type("U", (Exception,), {}),
        RayTaskError=type("T", (Exception,), {}))

    def __init__(self) -> None:
        self.held: dict[Any, list[tuple[int, str]]] = {}  # worker token -> [(ref, job)] in order
        self.results: dict[int, Any] = {}
        self.killed_once = False
        self.connected = True

    def is_initialized(self) -> bool:
        return self.connected

    def submit(self, token: Any, job: str, ref: int) -> None:
        self.held.setdefault(token, []).append((ref, job))

    def _run(self) -> None:
        for token, jobs in list(self.held.items()):
            if not jobs:
                continue
            ref, job = jobs[0]
            if job == "hang":
                continue
            if job == "once" and not self.killed_once:
                self.killed_once = True
                job = "poison"
            if job == "poison":
                for dead, _ in jobs:
                    self.results[dead] = ActorDied("the actor died")
                self.held[token] = []
                continue
            self.results[ref] = job
            jobs.pop(0)

    def wait(self, refs: list[int], num_returns: int = 1, timeout: float | None = None) -> tuple[list, list]:
        if not self.connected or any(job == "disconnect" for jobs in self.held.values() for _, job in jobs[:1]):
            self.connected = False  # what Ray's client does once its connection is gone for good
            raise RuntimeError("System error: Ray has not been started yet. You can start Ray with 'ray.init()'.")
        self._run()
        ready = [r for r in refs if r in self.results]
        if len(ready) < num_returns and timeout is None:
            raise AssertionError("the loop would wait forever")
        return ready[:max(num_returns, len(ready)) if timeout == 0 else num_returns], []

    def get(self, ref: int, timeout: float | None = None) -> Any:
        value = self.results[ref]
        if isinstance(value, Exception):
            raise value
        return value

    def cancel(self, ref: int) -> None:
        if not self.connected:
            raise RuntimeError("Ray has not been started yet")


class OneReplica:
    """One replica holding two jobs at once; ``lost`` replaces it (a new generation)."""

    def __init__(self, ray: FakeRay, running: int | None, hang_after: int | None = None) -> None:
        self.ray, self.running_at_once, self.generation = ray, running, 0
        self.refs = itertools.count()
        self.hang_after, self.polls = hang_after, 0
        self.replaced: list[int] = []

    capacity = 2

    @property
    def poll_s(self) -> float | None:
        return None if self.hang_after is None else 0.01

    def submit(self, job: str) -> tuple[int, Any]:
        ref = next(self.refs)
        self.ray.submit((0, self.generation), job, ref)
        return ref, (0, self.generation)

    def finished(self, token: Any) -> None:
        pass

    def lost(self, token: Any, error: BaseException) -> None:
        if token == (0, self.generation):
            self.replaced.append(self.generation)
            self.ray.held.pop(token, None)
            self.generation += 1

    def hung(self) -> list[tuple[Any, str]]:
        self.polls += 1
        jobs = self.ray.held.get((0, self.generation), [])
        if self.hang_after is not None and self.polls > self.hang_after and jobs and jobs[0][1] == "hang":
            return [((0, self.generation), "no progress for 2 s")]
        return []

    def running(self, token: Any) -> int | None:
        return self.running_at_once


def run(jobs: list[str], workers: OneReplica, ray: FakeRay, max_retries: int = 1) -> tuple[list[str], list[str]]:
    lines: list[str] = []
    got = [job for job, _ in dispatch(ray, jobs, workers, max_retries=max_retries, describe=lambda job: f"chunk {job}",
                                      log=lines.append, decode=lambda job, value: value)]
    return got, lines


def test_a_chunk_queued_behind_one_that_kills_its_replica_is_not_charged():
    ray = FakeRay()
    # "a" runs first; "poison" kills the replica with "b" queued behind it, three times over
    with pytest.raises(RedStarError, match=r"chunk poison failed 2 times because its worker died"):
        run(["a", "poison", "b", "c"], OneReplica(ray, running=1), ray)


def test_every_chunk_comes_back_once_and_only_the_running_one_is_redone_as_a_retry():
    ray = FakeRay()
    got, lines = run(["a", "once", "b", "c"], OneReplica(ray, running=1), ray)
    assert sorted(got) == ["a", "b", "c", "once"]
    # "b" waited behind "once" when the replica died: sent again, not charged
    assert len(lines) == 1 and lines[0].startswith("ray: chunk once: worker lost"), lines


def test_chunks_running_together_are_all_charged():
    ray = FakeRay()
    with pytest.raises(RedStarError, match=r"chunk (poison|b) failed 2 times because its worker died"):
        run(["poison", "b"], OneReplica(ray, running=None), ray)


def test_a_hung_replica_is_replaced_and_only_its_running_chunk_charged():
    ray = FakeRay()
    workers = OneReplica(ray, running=1, hang_after=3)
    with pytest.raises(RedStarError, match=r"chunk hang failed 2 times because its worker hung .*no progress for 2 s"):
        run(["hang", "b", "c"], workers, ray)
    assert workers.replaced == [0, 1]


def test_a_lost_connection_to_the_cluster_is_one_message_and_ends_the_loop():
    ray = FakeRay()
    with pytest.raises(RedStarError, match=r"^ray: lost the connection to the Ray cluster \(System error: Ray has not "
                                           r"been started yet\. .*\); what finished is kept: run the same command"):
        run(["a", "disconnect", "b"], OneReplica(ray, running=1), ray)
    # while connected, the same kind of error is Ray's own and goes on as it is
    ray = FakeRay()
    ray.get = lambda ref, timeout=None: (_ for _ in ()).throw(ValueError("bad value"))  # type: ignore[method-assign]
    with pytest.raises(ValueError, match="bad value"):
        run(["a"], OneReplica(ray, running=1), ray)
