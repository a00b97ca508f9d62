"""The ray engine's workers: sampler replicas (actors) and task pools (verification, cleaning,
set building), each what :func:`~redstar.execution.ray_dispatch.dispatch` sends jobs to. See
:mod:`~redstar.execution.ray_engine` for how the engine uses them."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from redstar.execution.base import GenerateJob, SamplerSpec
from redstar.execution.ray_dispatch import WorkerHung, first_line
from redstar.execution.ray_workers import ReplicaMonitor, SamplerWorker

#: Jobs queued on each sampler replica beyond the one it runs, so it starts the next chunk
#: without a round trip to the driver.
QUEUED_PER_REPLICA = 1
#: Seconds a replica gets to close its sampler before it is killed (one still running a chunk
#: after Ctrl-C is not waited for: Ray ends a killed worker's child processes too).
CLOSE_WAIT_S = 10
#: At most this many tasks of one pool in flight (each holds one batch).
MAX_TASKS_IN_FLIGHT = 256
#: Seconds between two heartbeats of a busy replica, and between two looks at the running
#: tasks (less when the timeouts are short).
HEARTBEAT_EVERY_S = 10.0


def monitor_actor(ray: Any, cls: type) -> Any:
    """A small actor of ``cls`` (the replicas' or the tasks' monitor) on the driver's node: it
    lives as long as the run, whichever worker nodes go."""
    options: dict[str, Any] = {"num_cpus": 0, "max_restarts": 0}
    with contextlib.suppress(Exception):  # a Ray client driver: anywhere will do
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        node = ray.get_runtime_context().get_node_id()
        options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(node, soft=True)
    return ray.remote(cls).options(**options).remote()


#: What :meth:`MonitorReads.take` returns while no answer has come.
NO_ANSWER: Any = object()


class MonitorReads:
    """Reads of a monitor actor (:class:`~redstar.execution.ray_workers.ReplicaMonitor`,
    :class:`~redstar.execution.ray_workers.TaskMonitor`) that never block the driver: at most one
    in flight, sent again once ``every`` seconds have passed since the last. A monitor that died
    is said once (``what`` is gone: ``judged`` no longer detected) and is not read again;
    :attr:`monitor` is then None, so that nothing new is handed it."""

    def __init__(self, ray: Any, monitor: Any, every: float, what: str, judged: str,
                 log: Callable[[str], None]) -> None:
        self._ray, self.monitor, self._every = ray, monitor, every
        self._what, self._judged, self._log = what, judged, log
        self._reading: Any = None  # the read waiting for its answer
        self._sent = 0.0

    def take(self) -> Any:
        """The answer of the read in flight if it has come, else :data:`NO_ANSWER`."""
        if self._reading is None:
            return NO_ANSWER
        ready, _ = self._ray.wait([self._reading], num_returns=1, timeout=0)
        if not ready:
            return NO_ANSWER
        reading, self._reading = self._reading, None
        try:
            return self._ray.get(reading)
        except Exception as exc:  # noqa: BLE001 - the monitor died: stop judging, never guess
            self._log(f"ray: warning: {self._what} is gone ({first_line(exc)}); {self._judged} are no longer "
                      "detected in this run")
            self.monitor = None
            return NO_ANSWER

    def due(self, now: float) -> bool:
        """Whether a new read should be sent now (none in flight, ``every`` seconds passed)."""
        return self.monitor is not None and self._reading is None and now - self._sent >= self._every

    def send(self, now: float, *args: Any) -> None:
        self._reading, self._sent = self.monitor.read.remote(*args), now


@dataclass
class _Slot:
    """One replica: its actor, how often it was replaced, the jobs submitted to it now, and
    what its heartbeats said (see :meth:`SamplerPool.hung`)."""

    actor: Any
    generation: int = 0
    in_flight: int = 0
    seen: int | None = None  # the progress count of its last heartbeat (None: none arrived yet)
    state: str = "starting"
    quiet_since: float | None = None  # busy and without progress since then


class SamplerPool:
    """``replicas`` actors of one spec (the :class:`~redstar.execution.ray_dispatch.Workers` of
    sampling). A job goes to the replica with the fewest jobs in flight. Each replica reports its
    progress to the pool's :class:`~redstar.execution.ray_workers.ReplicaMonitor` every
    :attr:`poll_s` seconds; one that holds jobs while its count stands still for
    ``execution.stall_timeout`` seconds (``load_timeout`` before its first progress), whether it
    reports or has gone silent, is hung."""

    def __init__(self, ray: Any, spec: SamplerSpec, execution: Any, runtime_env: dict[str, Any] | None,
                 log: Any = None, concurrent: bool = False) -> None:
        self._ray, self.spec = ray, spec
        self._stall, self._load = execution.stall_timeout, execution.load_timeout
        self._log = log or (lambda message: None)
        self._warned = False
        options: dict[str, Any] = {"num_cpus": execution.num_cpus, "num_gpus": execution.num_gpus,
                                   "max_restarts": 0, "max_task_retries": 0, "scheduling_strategy": "SPREAD"}
        self._concurrent = concurrent
        if concurrent:  # every chunk it holds runs at once, into one engine (vLLM's continuous batch)
            options["max_concurrency"] = 1 + QUEUED_PER_REPLICA
        if runtime_env:
            options["runtime_env"] = runtime_env
        self._actor_class = ray.remote(SamplerWorker).options(**options)
        self._reads = MonitorReads(ray, self._new_monitor() if self.poll_s is not None else None,
                                   self.poll_s or 0.0, "the replicas' heartbeat monitor", "hung replicas", self._log)
        self._slots = [_Slot(self._new_actor(index, 0)) for index in range(max(1, execution.replicas))]

    def _new_monitor(self) -> Any:
        return monitor_actor(self._ray, ReplicaMonitor)

    def _new_actor(self, index: int, generation: int) -> Any:
        spec = self.spec
        return self._actor_class.remote(spec.backend, spec.model, dict(spec.options), spec.key, self._reads.monitor,
                                        f"{index}:{generation}", self.poll_s or HEARTBEAT_EVERY_S)

    @property
    def capacity(self) -> int:
        return len(self._slots) * (1 + QUEUED_PER_REPLICA)

    @property
    def poll_s(self) -> float | None:
        limits = [limit for limit in (self._stall, self._load) if limit is not None]
        return None if not limits else max(0.05, min(HEARTBEAT_EVERY_S, min(limits) / 4))

    def running(self, token: Any) -> int | None:
        return None if self._concurrent else 1

    @property
    def actors(self) -> list[Any]:
        """The replicas' actor handles now (tests kill one)."""
        return [slot.actor for slot in self._slots]

    def submit(self, job: GenerateJob) -> tuple[Any, Any]:
        index = min(range(len(self._slots)), key=lambda i: self._slots[i].in_flight)
        slot = self._slots[index]
        slot.in_flight += 1
        if slot.quiet_since is None:
            slot.quiet_since = time.monotonic()
        params = {f.name: getattr(job.params, f.name) for f in fields(job.params)}
        return slot.actor.generate.remote(list(job.conversations), params), (index, slot.generation)

    def finished(self, token: Any) -> None:
        index, generation = token
        slot = self._slots[index]
        if slot.generation == generation:
            slot.in_flight -= 1
            slot.quiet_since = time.monotonic() if slot.in_flight else None

    def lost(self, token: Any, error: BaseException) -> None:
        index, generation = token
        slot = self._slots[index]
        if slot.generation != generation:
            return  # an earlier job of the same dead actor already replaced it
        self._kill(slot.actor)
        self._slots[index] = _Slot(self._new_actor(index, generation + 1), generation + 1)

    def hung(self) -> list[tuple[Any, str]]:
        if self._reads.monitor is None:
            return []
        now = time.monotonic()
        self._listen(now)
        silent = []
        for index, slot in enumerate(self._slots):
            if not slot.in_flight or slot.quiet_since is None or slot.state == "starting":
                continue  # idle, or not placed yet (no node has room) or still starting: not its fault
            loading = slot.state == "loading"
            limit, option = (self._load, "load_timeout") if loading else (self._stall, "stall_timeout")
            if limit is not None and now - slot.quiet_since > limit:
                what = "while loading its model" if loading else "while holding chunks"
                silent.append(((index, slot.generation),
                               f"no progress for {now - slot.quiet_since:.0f} s {what} (execution.{option} is {limit:g})"))
        return silent

    def _listen(self, now: float) -> None:
        """Take the monitor's answer, if it came, into the slots; ask again when due."""
        latest = self._reads.take()
        if latest is not NO_ANSWER:
            for index, slot in enumerate(self._slots):
                beat = latest.get(f"{index}:{slot.generation}")
                if beat is None:
                    continue
                progress, state, unguarded = beat
                if progress != slot.seen:
                    slot.seen = progress
                    if slot.quiet_since is not None:
                        slot.quiet_since = now
                slot.state = state
                if unguarded and not self._warned:
                    self._warned = True
                    self._log(f"ray: warning: a replica's child processes are not ended with it: {unguarded}")
        if self._reads.due(now):
            self._reads.send(now)

    def _kill(self, actor: Any) -> None:
        with contextlib.suppress(Exception):  # already dead, or its node is gone
            self._ray.kill(actor, no_restart=True)

    def close(self) -> None:
        """Close each sampler in its process first (a vLLM engine stops its own workers and
        frees its GPUs), then end the actors (their watchdogs end what is left of them)."""
        closing = [slot.actor.close.remote() for slot in self._slots]
        with contextlib.suppress(Exception):  # a dead replica has nothing left to close
            self._ray.wait(closing, num_returns=len(closing), timeout=CLOSE_WAIT_S)
        for slot in self._slots:
            self._kill(slot.actor)
        if self._reads.monitor is not None:
            self._kill(self._reads.monitor)
        self._slots = []


class TaskPool:
    """Ray tasks of one function (verification, cleaning, set building: the
    :class:`~redstar.execution.ray_dispatch.Workers` of each): twice as many in flight as the
    cluster has task slots, so none sits idle (at most ``max_in_flight``). Tasks rather than
    actors because a task holds its CPUs only while it runs. ``args(job)`` are the task's
    arguments after the options (by default the job's ``items``), taken as it is sent.

    With a ``monitor`` (the engine's :class:`~redstar.execution.ray_workers.TaskMonitor`) and
    ``execution.task_timeout`` set, each task says when it starts, and one that has run that
    long without a result is hung: :func:`~redstar.execution.ray_dispatch.dispatch` sends it
    again and :meth:`lost` kills its worker (``ray.cancel(force=True)``). A task waiting for a
    free CPU is never hung."""

    def __init__(self, ray: Any, function: Any, options_json: str, execution: Any,
                 runtime_env: dict[str, Any] | None, monitor: Any = None, args: Callable[[Any], tuple[Any, ...]] | None = None,
                 max_in_flight: int = MAX_TASKS_IN_FLIGHT, log: Callable[[str], None] | None = None) -> None:
        options: dict[str, Any] = {"num_cpus": execution.num_cpus, "max_retries": 0}
        if runtime_env:
            options["runtime_env"] = runtime_env
        self._ray = ray
        self._task = ray.remote(function).options(**options)
        self._options_json = options_json
        self._args = args or (lambda job: (list(job.items),))
        slots = int(ray.cluster_resources().get("CPU", 1) // max(execution.num_cpus, 1e-9))
        self._capacity = max(1, min(max_in_flight, 2 * max(1, slots)))
        self._timeout = execution.task_timeout
        self._log = log or (lambda message: None)
        self._prefix = uuid.uuid4().hex[:12]
        self._count = 0
        self._refs: dict[str, Any] = {}  # tasks sent and not done with, by name
        self._since: dict[str, float] = {}  # those seen running, and since when
        self._forget: list[str] = []  # done with: for the monitor to drop at the next read
        self._every = 0.0 if self._timeout is None else max(0.05, min(HEARTBEAT_EVERY_S, self._timeout / 4))
        self._reads = MonitorReads(ray, monitor if self._timeout is not None else None, self._every,
                                   "the tasks' monitor", "hung tasks", self._log)

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def poll_s(self) -> float | None:
        return None if self._reads.monitor is None else self._every

    def submit(self, job: Any) -> tuple[Any, Any]:
        name = f"{self._prefix}-{self._count}"
        self._count += 1
        self._refs[name] = self._task.remote(self._options_json, *self._args(job), monitor=self._reads.monitor, name=name)
        return self._refs[name], name

    def _done(self, name: str) -> Any:
        self._since.pop(name, None)
        if self._reads.monitor is not None:
            self._forget.append(name)
        return self._refs.pop(name, None)

    def finished(self, token: Any) -> None:
        self._done(token)

    def lost(self, token: Any, error: BaseException) -> None:
        """A task whose worker died needs nothing (Ray starts a new worker for the resubmitted
        one); a hung one's worker is killed, so that it does not hold its CPUs for nothing."""
        ref = self._done(token)
        if isinstance(error, WorkerHung) and ref is not None:
            with contextlib.suppress(Exception):  # it finished or died meanwhile
                self._ray.cancel(ref, force=True)

    def hung(self) -> list[tuple[Any, str]]:
        if self._reads.monitor is None:
            return []
        now = time.monotonic()
        self._listen(now)
        return [(name, f"no result after {now - since:.0f} s running (execution.task_timeout is {self._timeout:g})")
                for name, since in self._since.items() if now - since > self._timeout]

    def _listen(self, now: float) -> None:
        """Take the monitor's answer, if it came: tasks seen running for the first time are
        timed from now. Ask again when due, passing the tasks done with since the last read."""
        running = self._reads.take()
        for name in () if running is NO_ANSWER else running:
            if name in self._refs:
                self._since.setdefault(name, now)
            elif name.startswith(self._prefix):
                self._forget.append(name)  # it said it started after it was done with
        if self._reads.due(now):
            forget, self._forget = self._forget, []
            self._reads.send(now, forget)

    def running(self, token: Any) -> int | None:
        return 1  # each task is its own worker (a token of its own): nothing else was lost with it
