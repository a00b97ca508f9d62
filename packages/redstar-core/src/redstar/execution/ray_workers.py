"""What runs inside Ray's worker processes for the ray engine (:mod:`redstar.execution.ray_engine`).

Nothing here imports Ray: the driver wraps :class:`SamplerWorker` with ``ray.remote`` as an actor
and :func:`verify_items`, :func:`clean_items` and :func:`build_items` as tasks. Ray ships them by
reference (module and name), so a worker imports this module from its own RedStar install, and
builds samplers and verifiers from its own plugins (the ``redstar`` entry points installed on
that node, limited by the driver's ``REDSTAR_PLUGINS``, which the engine forwards). Every node
therefore needs the same packages as the driver (see docs/scale.md).

Results cross the wire as plain data (tuples of strings and numbers), so the driver never
unpickles a plugin's class and a result is as small as its text.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from redstar.errors import PluginError
from redstar.interfaces import Messages, Sampler, SamplingParams
from redstar.records import Prompt

#: ``(text, finish_reason)`` of one completion.
PlainCompletion = tuple[str, "str | None"]
#: ``(correct, reward, reason, extracted)`` of one verdict.
PlainVerdict = tuple[bool, int, str, "str | None"]

_host: Any = None
_pools: dict[str, Any] = {}


def worker_host() -> Any:
    """This worker process's plugin host, loaded once (a sampler actor and every verification
    task that lands in this process share it)."""
    global _host
    if _host is None:
        from redstar.plugins import Host

        _host = Host()
    return _host


def build_sampler(backend: str, model: str, options: Mapping[str, Any], key: str) -> Sampler:
    """The sampler a :class:`~redstar.execution.SamplerSpec` describes, built from this node's
    plugins. Errors name the recipe key as the local engine's do."""
    from redstar.models import resolve_model
    from redstar.plugins import instantiate

    host = worker_host()
    cls = host.get("samplers", backend)
    if "model" in options:
        raise PluginError(f"{key}.options.model: is set by RedStar; remove it")
    # An ``embedded:NAME`` model resolves to this node's install; a path must exist here too
    # (a shared filesystem, or the same path on every node).
    resolved = resolve_model(model, host)

    def where(option: str | None, message: str) -> Exception:
        return PluginError(f"{key}: {message}" if option is None else f"{key}.options.{option}: {message}")

    sampler: Sampler = instantiate(cls, {**options, "model": resolved}, where)
    return sampler


class SamplerWorker:
    """One sampler replica (a Ray actor): builds its sampler on the first call, so a sampler
    that cannot be built fails the call with the plugin's message (not an actor that dies
    before it starts), and keeps it for every later call.

    Chunks run one at a time in the order sent (a plain actor), unless the engine made the
    actor threaded for a sampler that takes concurrent calls (``concurrent_calls``: vLLM's,
    which feeds one engine from all of them). A thread of the replica reports its progress to
    the engine's :class:`ReplicaMonitor` every ``beat_s`` seconds while it lives: a count that
    grows with every finished call, completion and engine step, which is how the engine tells a
    replica at work from a hung one (a process that is stopped or stuck with the interpreter
    locked sends nothing at all). At start the replica becomes a process-group leader with a
    watchdog (:func:`~redstar.execution.reaper.guard`) that ends its child processes (vLLM's
    engine and workers) when it dies."""

    def __init__(self, backend: str, model: str, options: Mapping[str, Any], key: str,
                 monitor: Any = None, name: str = "", beat_s: float = 10.0) -> None:
        self._args = (backend, model, dict(options), key)
        self._sampler: Sampler | None = None
        self._one_call = threading.Lock()
        self._building = threading.Lock()
        #: Grows with every sign of progress: a finished call, a completion, an engine step.
        self._progress = 0
        #: "loading" until the sampler first reported progress (or finished a call), then "running".
        self._state = "loading"
        from redstar.execution.reaper import guard

        self._unguarded = guard()
        if monitor is not None:
            threading.Thread(target=self._beat, args=(monitor, name, beat_s), name="redstar-heartbeat",
                             daemon=True).start()

    def _beat(self, monitor: Any, name: str, every: float) -> None:
        while True:
            with contextlib.suppress(Exception):  # the monitor is gone: the engine notices that itself
                monitor.beat.remote(name, self._progress, self._state, self._unguarded)
            time.sleep(every)

    def pid(self) -> int:
        """This replica's process id (tests kill it to stand for a worker that dies)."""
        return os.getpid()

    def _tick(self, *_: Any) -> None:
        self._progress += 1
        self._state = "running"

    def _ready(self) -> Sampler:
        with self._building:
            if self._sampler is None:
                sampler = build_sampler(*self._args)
                sampler.on_progress = self._tick
                if hasattr(sampler, "on_step"):
                    sampler.on_step = self._tick
                self._sampler = sampler
            return self._sampler

    def generate(self, conversations: Sequence[Messages], params: Mapping[str, Any]) -> list[list[PlainCompletion]]:
        """``Sampler.generate`` with plain data in and out."""
        sampler = self._ready()
        gate = contextlib.nullcontext() if getattr(sampler, "concurrent_calls", False) else self._one_call
        with gate:
            try:
                out = sampler.generate(list(conversations), SamplingParams(**params))
            finally:
                self._tick()
        return [[(c.text, c.finish_reason) for c in row] for row in out]

    def close(self) -> None:
        with self._building:
            if self._sampler is not None:
                self._sampler.close()
                self._sampler = None


class ReplicaMonitor:
    """The replicas' heartbeats (a small Ray actor of the engine): each replica's latest
    ``(progress, state, why unguarded)`` by its name, for the engine to read."""

    def __init__(self) -> None:
        self._latest: dict[str, tuple[int, str, str | None]] = {}

    def beat(self, name: str, progress: int, state: str, unguarded: str | None) -> None:
        self._latest[name] = (progress, state, unguarded)

    def read(self) -> dict[str, tuple[int, str, str | None]]:
        return dict(self._latest)


class TaskMonitor:
    """Which tasks are running (a small Ray actor of the engine): each task says so as it starts
    (:func:`started`), so that the engine times a task from its start, not from when it was sent
    (it may wait for a free CPU), and forgets it once it is done."""

    def __init__(self) -> None:
        self._running: set[str] = set()

    def start(self, name: str) -> None:
        self._running.add(name)

    def read(self, forget: Sequence[str] = ()) -> list[str]:
        """The tasks that started, less ``forget`` (those the engine is done with)."""
        self._running.difference_update(forget)
        return sorted(self._running)


def started(monitor: Any, name: str) -> None:
    """Tell the engine's :class:`TaskMonitor` (if it has one) that task ``name`` runs now."""
    if monitor is not None:
        with contextlib.suppress(Exception):  # the monitor is gone: the engine notices that itself
            monitor.start.remote(name)


def verify_items(options_json: str, items: Sequence[tuple[str, Prompt]], monitor: Any = None,
                 name: str = "") -> list[PlainVerdict]:
    """Verdicts for one :class:`~redstar.execution.VerifyJob` (a Ray task). The verifiers are
    built once per worker process and options (Ray reuses a worker process for many tasks), not
    once per batch: the code verifier checks for bubblewrap and math's loads its parser."""
    started(monitor, name)
    pool = _pools.get(options_json)
    if pool is None:
        from redstar.services import VerifierPool

        pool = VerifierPool.from_options(worker_host(), json.loads(options_json))
        _pools[options_json] = pool
        atexit.register(pool.close)
    return [(v.correct, v.reward, v.reason, v.extracted) for v in pool.verify(items)]


_filters: dict[str, list[Any]] = {}


def clean_items(options_json: str, items: Sequence[tuple[str, Prompt]], monitor: Any = None,
                name: str = "") -> list[str | None]:
    """The cleaning filters' drop reasons for one :class:`~redstar.execution.CleanJob` (a Ray
    task): the filters (``[[name, options], ...]``, the recipe's ``cleaning.filters``) are built
    once per worker process from this node's plugins, errors naming the recipe key."""
    from redstar.execution.base import first_reason

    started(monitor, name)
    filters = _filters.get(options_json)
    if filters is None:
        from redstar.plugins import instantiate

        host = worker_host()
        filters = []
        for i, (name, options) in enumerate(json.loads(options_json)):
            key = f"cleaning.filters[{i}]"

            def where(option: str | None, message: str, key: str = key) -> Exception:
                return PluginError(f"{key}: {message}" if option is None else f"{key}.options.{option}: {message}")

            filters.append(instantiate(host.get("filters", name), dict(options), where))
        _filters[options_json] = filters
    return [first_reason(filters, response, prompt) for response, prompt in items]


def build_items(options_json: str, prompts: Sequence[Any], rows: bytes, monitor: Any = None,
                name: str = "") -> tuple[bytes, bytes, dict[str, dict[str, int]]]:
    """One partition's SFT and preference lines and counts for a
    :class:`~redstar.execution.BuildJob` (a Ray task; ``rows`` is its file's content, which the
    driver read as it sent the task): :func:`~redstar.pipeline.set_building.build_bytes`."""
    from redstar.pipeline.set_building import build_bytes

    started(monitor, name)
    return build_bytes(json.loads(options_json), prompts, rows)
