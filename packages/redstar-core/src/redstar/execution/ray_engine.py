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
  :meth:`RayEngine.generate_verifying` runs them while the replicas sample (the driver serves
  both loops in turns), so a chunk is judged as soon as it is stored.
- **Cleaning and set building**: the build stage's filters as tasks the same way
  (:func:`~redstar.execution.ray_workers.clean_items`), then each hash partition's SFT rows and
  preference pairs as a task (:func:`~redstar.execution.ray_workers.build_items`).
- **Tasks that hang**: each task tells a small monitor actor when it starts; one that runs for
  ``execution.task_timeout`` seconds without a result is hung: its worker is killed and it is
  sent again, up to ``max_retries`` times (a task still waiting for a CPU is not timed).
- **Workers that die or hang**: a replica whose process or node died, or that holds chunks
  without progress for ``execution.stall_timeout`` seconds (``load_timeout`` while it loads its
  model; it reports its progress to a monitor actor from a thread of its own), is killed with
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
import json
import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from redstar.execution.base import (
    BuildJob,
    CleanJob,
    Engine,
    FilterSpec,
    GenerateJob,
    JobFeed,
    SamplerSpec,
    VerifyJob,
)
from redstar.execution.ray_connect import connect, import_ray, no_auto_init
from redstar.execution.ray_dispatch import IDLE, describe_verification, dispatch, name_key
from redstar.execution.ray_pools import SamplerPool, TaskPool, monitor_actor
from redstar.execution.ray_workers import TaskMonitor, build_items, clean_items, verify_items
from redstar.interfaces import Completion
from redstar.plugins import ALLOWLIST_ENV
from redstar.records import Verdict

#: Seconds one loop waits before the other gets its turn, when sampling and verification share
#: the driver's thread (:meth:`RayEngine.generate_verifying`).
TURN_S = 0.05
#: Set-building tasks in flight at most: each holds its partition (up to
#: :data:`~redstar.pipeline.datasets.PARTITION_BYTES` of samples) in the object store of the
#: driver's node until it runs.
PARTITIONS_IN_FLIGHT = 8


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
        self._restore_auto_init = no_auto_init(self._ray)
        self._pools: dict[str, SamplerPool] = {}
        self._task_monitor: Any = None
        self._generating = 0
        try:
            resources = self._ray.cluster_resources()
            nodes = sum(1 for node in self._ray.nodes() if node.get("Alive"))
        except BaseException:
            self.close()  # no engine for the caller to close: disconnect and restore Ray's settings here
            raise
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
    def pool(self, spec: SamplerSpec) -> SamplerPool:
        """The replicas of ``spec``, started on first use. Only the latest spec keeps its
        replicas: starting another's releases them first, so the teacher's GPUs are free for
        the student's replicas (a cluster rarely has room for both)."""
        key = json.dumps([spec.backend, spec.model, spec.key, dict(spec.options)], sort_keys=True, default=str)
        if key not in self._pools:
            self._release_pools()
            self._warn_if_unschedulable()
            self._pools[key] = SamplerPool(self._ray, spec, self.execution, self.runtime_env(), self._log,
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

    # -- tasks -----------------------------------------------------------------------------
    def _tasks(self, function: Any, options_json: str, **extra: Any) -> TaskPool:
        """A pool of ``function`` tasks, timed by the engine's task monitor (started on first
        use) when ``execution.task_timeout`` is set."""
        if self.execution.task_timeout is not None and self._task_monitor is None:
            self._task_monitor = monitor_actor(self._ray, TaskMonitor)
        return TaskPool(self._ray, function, options_json, self.execution, self.runtime_env(),
                        monitor=self._task_monitor, log=self._log, **extra)

    # -- verification --------------------------------------------------------------------
    def verify(self, jobs: Iterable[VerifyJob]) -> Iterator[tuple[VerifyJob, list[Verdict]]]:
        self._release_if_starved()
        yield from self._verifying(jobs, idle=None)

    def _verifying(self, jobs: Iterable[Any], idle: float | None) -> Iterator[Any]:
        return dispatch(self._ray, jobs, self._tasks(verify_items, self._verifier_options),
                        max_retries=self.execution.max_retries,
                        describe=describe_verification, log=self._log,
                        decode=_verdicts, idle=idle)

    # -- cleaning and set building -----------------------------------------------------------
    def clean(self, filters: FilterSpec, jobs: Iterable[CleanJob]) -> Iterator[tuple[CleanJob, list[str | None]]]:
        self._release_if_starved()
        options = json.dumps([[name, dict(opts)] for name, opts in filters], sort_keys=True, default=str)
        yield from dispatch(self._ray, jobs, self._tasks(clean_items, options), max_retries=self.execution.max_retries,
                            describe=lambda job: f"cleaning batch {name_key(job.key)}", log=self._log,
                            decode=lambda job, reasons: list(reasons))

    def build(self, options: Mapping[str, Any], jobs: Iterable[BuildJob]) -> Iterator[tuple[BuildJob, dict[str, Any]]]:
        """Each partition as a task: its file is read as the task is sent (its content goes to
        Ray's object store, not into this process's memory for longer), and the sets that come
        back are written to the job's files at once."""
        self._release_if_starved()
        tasks = self._tasks(build_items, json.dumps(dict(options), sort_keys=True, default=str),
                            args=lambda job: (list(job.prompts), job.rows.read_bytes()),
                            max_in_flight=PARTITIONS_IN_FLIGHT)
        yield from dispatch(self._ray, jobs, tasks, max_retries=self.execution.max_retries,
                            describe=lambda job: f"set building of partition {job.key}", log=self._log,
                            decode=_built)

    def _release_if_starved(self) -> None:
        if not self._generating and self._pools and \
                self._ray.available_resources().get("CPU", 0) < self.execution.num_cpus:
            # Idle sampler replicas hold every CPU: without this the tasks would wait forever.
            self._log("ray: releasing the idle sampler replicas to free CPUs for verification")
            self._release_pools()

    overlaps = True

    def generate_verifying(self, spec: SamplerSpec, jobs: Iterable[GenerateJob],
                           feed: JobFeed) -> Iterator[tuple[str, Any, Any]]:
        """Sampling on the replicas and verification as tasks at once, served from this thread
        in turns of at most :data:`TURN_S` seconds each (see the base class)."""
        self._generating += 1
        sampling: Iterator[Any] | None = dispatch(
            self._ray, jobs, self.pool(spec), max_retries=self.execution.max_retries,
            describe=lambda job: f"{spec.key} chunk {name_key(job.key)}", log=self._log, decode=_completions,
            idle=TURN_S)
        verifying = self._verifying(feed, idle=TURN_S)
        try:
            while sampling is not None or not feed.closed:
                if sampling is not None:
                    item = next(sampling, None)
                    if item is None:  # every chunk is back: what is left is verification
                        sampling = None
                        feed.close()
                        self._generating -= 1
                        self._release_if_starved()
                    elif item is not IDLE:
                        yield "sample", item[0], item[1]
                item = next(verifying, IDLE)
                if item is not IDLE:
                    yield "verdict", item[0], item[1]
            for item in verifying:  # the feed is closed: the last batches
                if item is not IDLE:
                    yield "verdict", item[0], item[1]
        finally:
            if sampling is not None:
                self._generating -= 1
                sampling.close()  # type: ignore[attr-defined]  # a generator
            verifying.close()  # type: ignore[attr-defined]

    def close(self) -> None:
        try:
            self._release_pools()
            if self._task_monitor is not None:
                with contextlib.suppress(Exception):  # already gone with its node
                    self._ray.kill(self._task_monitor, no_restart=True)
                self._task_monitor = None
        finally:
            if self._started and self._ray.is_initialized():
                self._ray.shutdown()
            self._started = False
            self._restore_auto_init()


def _completions(job: GenerateJob, value: list[list[tuple[str, str | None]]]) -> list[list[Completion]]:
    return [[Completion(text, finish) for text, finish in row] for row in value]


def _verdicts(job: VerifyJob, value: list[tuple[bool, int, str, str | None]]) -> list[Verdict]:
    return [Verdict(correct, reward, reason, extracted) for correct, reward, reason, extracted in value]


def _built(job: BuildJob, value: tuple[bytes, bytes, dict[str, Any]]) -> dict[str, Any]:
    sft, preference, counts = value
    job.sft.write_bytes(sft)
    job.preference.write_bytes(preference)
    return counts
