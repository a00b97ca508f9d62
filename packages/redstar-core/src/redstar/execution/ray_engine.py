"""The ray engine: sampling, verification and evaluation fanned out over a Ray cluster.

- **Sampling**: ``execution.replicas`` sampler replicas per :class:`SamplerSpec`, each a Ray
  actor (:class:`~redstar.execution.ray_workers.SamplerWorker`) holding its model once, with
  ``num_gpus``/``num_cpus`` from the recipe (a vLLM replica asks for its tensor-parallel size in
  GPUs), spread over the nodes. Each actor has two jobs in flight, one running and one queued
  behind it, so it never waits on the driver between chunks; jobs are drawn from the caller's
  iterator only as slots free up, so memory stays bounded whatever the run's size.
- **Verification**: Ray tasks (:func:`~redstar.execution.ray_workers.verify_items`), one per
  :class:`VerifyJob`. Tasks rather than verifier actors because a task holds its CPUs only
  while it runs: the cluster's CPUs stay free for the next stage's sampler replicas, and Ray
  places each batch wherever a CPU is idle. Verifiers are still not rebuilt per batch: each
  worker process builds them once and keeps them (Ray reuses worker processes across tasks).
- **Workers that die or hang**: a replica whose process or node died, or that holds chunks
  without progress for ``execution.stall_timeout`` seconds (``load_timeout`` while it loads its
  model; it answers heartbeats from a thread of its own while a chunk runs), is killed with
  its child processes (:mod:`~redstar.execution.reaper`) and replaced by a fresh actor (Ray
  schedules it on a live node), and the chunks it held are resubmitted, each up to
  ``execution.max_retries`` times; every job is handed back exactly once (see
  :mod:`~redstar.execution.ray_dispatch`). The actors themselves have ``max_restarts=0``: a
  restarted actor and a replaced one cost the same (the model is loaded again), but only a
  replacement lets the engine tell "coming back" from "gone for good" without Ray's state API
  (which needs the dashboard), so the engine never waits on a handle that will not return.

Ray is optional (``pip install 'redstar-core[ray]'``): this module imports it when an engine is
built, never at import time. docs/scale.md covers clusters, drivers and what ran where.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, fields
from typing import Any

from redstar.errors import MissingDependencyError, RedStarError
from redstar.execution.base import Engine, GenerateJob, SamplerSpec, VerifyJob
from redstar.execution.ray_dispatch import dispatch, first_line, name_key
from redstar.execution.ray_local import LOOPBACK, single_machine
from redstar.execution.ray_workers import ReplicaMonitor, SamplerWorker, verify_items
from redstar.interfaces import Completion
from redstar.plugins import ALLOWLIST_ENV
from redstar.records import Verdict

INSTALL_HINT = "the ray engine needs Ray: pip install 'redstar-core[ray]'"

#: Jobs queued on each sampler replica beyond the one it runs, so it starts the next chunk
#: without a round trip to the driver.
QUEUED_PER_REPLICA = 1
#: Seconds a replica gets to close its sampler before it is killed (one still running a chunk
#: after Ctrl-C is not waited for: Ray ends a killed worker's child processes too).
CLOSE_WAIT_S = 10
#: At most this many verification tasks in flight (each holds one batch of responses).
MAX_VERIFY_IN_FLIGHT = 256
#: Seconds between two heartbeats of a busy replica (less when the timeouts are short).
HEARTBEAT_EVERY_S = 10.0


def import_ray() -> Any:
    """The ``ray`` module, typed ``Any`` (Ray's own annotations are not what mypy checks here),
    or a :class:`MissingDependencyError` saying what to install."""
    try:
        return importlib.import_module("ray")
    except ImportError as exc:
        raise MissingDependencyError(f"{INSTALL_HINT} ({exc})") from None


def connect(ray: Any, address: str | None) -> bool:
    """Join the cluster at ``address`` (None: start a Ray instance on this machine) unless this
    process is already connected (a test's cluster, a script that called ``ray.init``). True
    when this call connected, so that closing the engine disconnects again."""
    if ray.is_initialized():
        return False
    options: dict[str, Any] = {"address": address, "logging_level": logging.WARNING}
    private: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
    if address is None:
        # A private instance for this run. ``address=None`` would join the machine's latest
        # cluster (``ray start``'s, another run's) where there is one: "local" always starts a
        # new one. It has no web UI to serve and is bound to 127.0.0.1: nothing outside this
        # machine has any business with it.
        options.update(address="local", include_dashboard=False, _node_ip_address=LOOPBACK)
        private = single_machine(ray)
    try:
        with private:
            ray.init(**options)
    except (ConnectionError, TimeoutError, RuntimeError, ValueError, OSError) as exc:
        # A failed client connection leaves half of itself behind, and the next ray.init in
        # this process (another engine, a notebook's retry) would fail on it.
        with contextlib.suppress(Exception):
            ray.shutdown()
        where = f"the Ray cluster at {address}" if address else "a local Ray instance"
        raise RedStarError(f"execution.address: cannot reach {where}: {first_line(exc)}") from None
    return True


@dataclass
class _Slot:
    """One replica: its actor, how often it was replaced, the jobs submitted to it now, and
    what its heartbeats said (see :meth:`_SamplerPool.hung`)."""

    actor: Any
    generation: int = 0
    in_flight: int = 0
    seen: int | None = None  # the progress count of its last heartbeat (None: none arrived yet)
    state: str = "starting"
    quiet_since: float | None = None  # busy and without progress since then


class _SamplerPool:
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
        self._monitor = self._new_monitor() if self.poll_s is not None else None
        self._reading: Any = None  # the monitor read waiting for its answer
        self._read_sent = 0.0
        self._slots = [_Slot(self._new_actor(index, 0)) for index in range(max(1, execution.replicas))]

    def _new_monitor(self) -> Any:
        options: dict[str, Any] = {"num_cpus": 0, "max_restarts": 0}
        with contextlib.suppress(Exception):  # a Ray client driver: anywhere will do
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            # On the driver's node: it lives as long as the run, whichever worker nodes go.
            node = self._ray.get_runtime_context().get_node_id()
            options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(node, soft=True)
        return self._ray.remote(ReplicaMonitor).options(**options).remote()

    def _new_actor(self, index: int, generation: int) -> Any:
        spec = self.spec
        return self._actor_class.remote(spec.backend, spec.model, dict(spec.options), spec.key, self._monitor,
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
        if self._monitor is None:
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
        if self._reading is not None:
            ready, _ = self._ray.wait([self._reading], num_returns=1, timeout=0)
            if not ready:
                return
            try:
                latest = self._ray.get(self._reading)
            except Exception as exc:  # noqa: BLE001 - the monitor died: stop judging, never guess
                self._log(f"ray: warning: the replicas' heartbeat monitor is gone ({first_line(exc)}); "
                          "hung replicas are no longer detected in this run")
                self._monitor = self._reading = None
                return
            self._reading = None
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
        if self._monitor is not None and self._reading is None and now - self._read_sent >= (self.poll_s or 0):
            self._reading, self._read_sent = self._monitor.read.remote(), now

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
        if self._monitor is not None:
            self._kill(self._monitor)
        self._slots = []


class _VerifyTasks:
    """Verification as Ray tasks (the :class:`~redstar.execution.ray_dispatch.Workers` of
    verification): twice as many in flight as the cluster has task slots, so none sits idle."""

    def __init__(self, ray: Any, options_json: str, execution: Any, runtime_env: dict[str, Any] | None) -> None:
        options: dict[str, Any] = {"num_cpus": execution.num_cpus, "max_retries": 0}
        if runtime_env:
            options["runtime_env"] = runtime_env
        self._task = ray.remote(verify_items).options(**options)
        self._options_json = options_json
        slots = int(ray.cluster_resources().get("CPU", 1) // max(execution.num_cpus, 1e-9))
        self._capacity = min(MAX_VERIFY_IN_FLIGHT, 2 * max(1, slots))

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def poll_s(self) -> float | None:
        return None

    def hung(self) -> list[tuple[Any, str]]:
        """Tasks send no heartbeats: a task is lost only when its worker dies."""
        return []

    def running(self, token: Any) -> int | None:
        return 1  # each task is its own worker (token None): nothing else was lost with it

    def submit(self, job: VerifyJob) -> tuple[Any, Any]:
        return self._task.remote(self._options_json, list(job.items)), None

    def finished(self, token: Any) -> None:
        """Nothing to track: a task holds no worker between jobs."""

    def lost(self, token: Any, error: BaseException) -> None:
        """Nothing to replace: Ray starts a new worker process for the resubmitted task."""


class RayEngine(Engine):
    """Runs jobs on the Ray cluster ``execution.address`` names (see the module docstring).
    ``verifier_options`` is the recipe's ``verifiers`` (domain -> options); ``board`` (the run's
    :class:`~redstar.progress.ProgressBoard`, or None) gets a line when the engine connects and
    whenever a chunk is redone."""

    def __init__(self, execution: Any, verifier_options: Mapping[str, Mapping[str, Any]] | None = None,
                 board: Any = None, host: Any = None) -> None:
        self.execution = execution
        self._board = board
        self._host = host
        self._verifier_options = json.dumps(verifier_options or {}, sort_keys=True, default=str)
        self._ray = import_ray()
        self._started = connect(self._ray, execution.address)
        self._pools: dict[str, _SamplerPool] = {}
        self._generating = 0
        resources = self._ray.cluster_resources()
        nodes = sum(1 for node in self._ray.nodes() if node.get("Alive"))
        self._log(f"ray: {nodes} node(s), {resources.get('CPU', 0):g} CPUs, {resources.get('GPU', 0):g} GPUs"
                  f"{'' if execution.address is None else f' at {execution.address}'}")

    def _log(self, message: str) -> None:
        if self._board is not None:
            self._board.log(message)
        else:
            logging.getLogger(__name__).info(message)

    def runtime_env(self) -> dict[str, Any] | None:
        """``execution.runtime_env`` plus this driver's plugin allowlist (``redstar --plugins``),
        so every worker loads the plugins the driver does. None when empty: the workers then
        inherit the job's own environment (``ray job submit --runtime-env-json``) untouched."""
        env = json.loads(json.dumps(self.execution.runtime_env or {}))
        allow = os.environ.get(ALLOWLIST_ENV)
        if allow is not None:
            env["env_vars"] = {ALLOWLIST_ENV: allow, **env.get("env_vars", {})}
        return env or None

    # -- sampling ------------------------------------------------------------------------
    def pool(self, spec: SamplerSpec) -> _SamplerPool:
        """The replicas of ``spec``, started on first use. Only the latest spec keeps its
        replicas: starting another's releases them first, so the teacher's GPUs are free for
        the student's replicas (a cluster rarely has room for both)."""
        key = json.dumps([spec.backend, spec.model, spec.key, dict(spec.options)], sort_keys=True, default=str)
        if key not in self._pools:
            self._release_pools()
            self._warn_if_unschedulable()
            self._pools[key] = _SamplerPool(self._ray, spec, self.execution, self.runtime_env(), self._log,
                                            concurrent=self._takes_concurrent_calls(spec.backend))
            self._log(f"ray: {self.execution.replicas} {spec.backend} replica(s) of {spec.model} "
                      f"({self.execution.num_gpus:g} GPUs, {self.execution.num_cpus:g} CPUs each)")
        return self._pools[key]

    def _takes_concurrent_calls(self, backend: str) -> bool:
        """Whether the ``backend`` sampler class takes concurrent calls (``concurrent_calls``:
        vLLM's), looked up in the driver's plugins (``host``); False where it has none."""
        if self._host is None:
            return False
        try:
            return bool(getattr(self._host.get("samplers", backend), "concurrent_calls", False))
        except Exception:  # noqa: BLE001 - a sampler only the workers have: one call at a time
            return False

    def _warn_if_unschedulable(self) -> None:
        # A replica no node can hold waits silently in Ray's queue: say so (an autoscaler may
        # still add such a node, so this is not an error).
        need_cpu, need_gpu = self.execution.num_cpus, self.execution.num_gpus
        for node in self._ray.nodes():
            have = node.get("Resources", {})
            if node.get("Alive") and have.get("CPU", 0) >= need_cpu and have.get("GPU", 0) >= need_gpu:
                return
        self._log(f"ray: warning: no node has {need_gpu:g} GPUs and {need_cpu:g} CPUs free for a sampler "
                  "replica; the replicas wait until one joins the cluster")

    def _release_pools(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()

    def generate(self, spec: SamplerSpec,
                 jobs: Iterable[GenerateJob]) -> Iterator[tuple[GenerateJob, list[list[Completion]]]]:
        self._generating += 1
        try:
            yield from dispatch(self._ray, jobs, self.pool(spec), max_retries=self.execution.max_retries,
                                describe=lambda job: f"{spec.key} chunk {name_key(job.key)}", log=self._log,
                                decode=_completions)
        finally:
            self._generating -= 1

    # -- verification --------------------------------------------------------------------
    def verify(self, jobs: Iterable[VerifyJob]) -> Iterator[tuple[VerifyJob, list[Verdict]]]:
        if not self._generating and self._pools and \
                self._ray.available_resources().get("CPU", 0) < self.execution.num_cpus:
            # Idle sampler replicas hold every CPU: without this the tasks would wait forever.
            self._log("ray: releasing the idle sampler replicas to free CPUs for verification")
            self._release_pools()
        tasks = _VerifyTasks(self._ray, self._verifier_options, self.execution, self.runtime_env())
        yield from dispatch(self._ray, jobs, tasks, max_retries=self.execution.max_retries,
                            describe=lambda job: f"verification batch {name_key(job.key)}", log=self._log,
                            decode=_verdicts)

    def close(self) -> None:
        try:
            self._release_pools()
        finally:
            if self._started and self._ray.is_initialized():
                self._ray.shutdown()
            self._started = False


def _completions(job: GenerateJob, value: list[list[tuple[str, str | None]]]) -> list[list[Completion]]:
    return [[Completion(text, finish) for text, finish in row] for row in value]


def _verdicts(job: VerifyJob, value: list[tuple[bool, int, str, str | None]]) -> list[Verdict]:
    return [Verdict(correct, reward, reason, extracted) for correct, reward, reason, extracted in value]
