"""Keeping a pool of Ray workers busy with jobs, redoing the jobs whose worker died or hung.

One loop serves sampling (jobs go to sampler actors) and verification (jobs are Ray tasks):
:func:`dispatch` takes jobs from the caller's iterator only while fewer than the pool's
``capacity`` are in flight (so a run of millions of prompts never holds more than a few chunks),
hands each result back as it finishes (``ray.wait``), and resubmits a job whose worker, actor or
node died, or whose worker the pool declares hung (no progress for longer than the recipe
allows: :meth:`Workers.hung`), up to ``max_retries`` times. Every job is returned exactly once: a
job's result is taken from the one submission the loop is waiting on, and a submission it gave
up on is forgotten (its result, should it still arrive, is never read).

The loop never blocks for longer than the pool's ``poll_s`` (where it has one), so a silent
worker is noticed; and a job source may yield :data:`NOT_YET` ("nothing to hand out now, ask
again later"), for jobs that are made while the loop runs (verification fed by sampling).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from redstar.errors import RedStarError
from redstar.execution.base import NOT_YET

J = TypeVar("J")
J_contra = TypeVar("J_contra", contravariant=True)

#: Ray's exceptions for work lost with its process or node (the job itself did not fail).
LOST_WORK = ("RayActorError", "WorkerCrashedError", "NodeDiedError", "ObjectLostError", "OutOfMemoryError",
             "LocalRayletDiedError")
#: Ray's exceptions for a job no worker can be given (redoing it would fail the same way).
NO_WORKER = ("RuntimeEnvSetupError", "ActorUnschedulableError")

#: What :func:`dispatch` yields, when asked to (``idle``), after a wait in which nothing arrived.
IDLE: Any = object()
#: Seconds between two looks at a source that said :data:`NOT_YET`, when the pool sets no pace.
FEED_POLL_S = 0.2


class WorkerHung(Exception):
    """A worker made no progress for longer than allowed; it was killed and replaced."""


class Workers(Protocol[J_contra]):
    """Where :func:`dispatch` sends jobs. ``submit`` returns the job's object ref and a token
    naming the worker it went to; :func:`dispatch` hands the token back to ``finished`` when the
    job's result arrived and to ``lost`` when the worker died (the pool replaces it)."""

    @property
    def capacity(self) -> int:
        """Jobs in flight at once."""
        ...

    def submit(self, job: J_contra) -> tuple[Any, Any]: ...

    def finished(self, token: Any) -> None: ...

    def lost(self, token: Any, error: BaseException) -> None: ...

    def hung(self) -> list[tuple[Any, str]]:
        """``(token, why)`` for each worker that holds jobs but made no progress for longer than
        allowed; :func:`dispatch` calls it after every wait and treats those workers as lost."""
        ...

    @property
    def poll_s(self) -> float | None:
        """The longest :func:`dispatch` may wait for a result before calling :meth:`hung` again
        (None: as long as it takes)."""
        ...

    def running(self, token: Any) -> int | None:
        """How many of the jobs a worker holds run at once, oldest first (None: all of them);
        only those are charged a retry when it dies or hangs, the others waited behind them.
        Jobs share a worker when their tokens are equal and not None (a task's token is its
        own: each task is its own worker)."""
        ...


def first_line(error: BaseException) -> str:
    """``error``'s message on one line: Ray's carry whole tracebacks, so their first line (what
    failed) and, where there is one, the traceback's last exception (why)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    why = [line for line in str(error).splitlines()[1:]
           if line and not line[0].isspace() and ": " in line and not line.startswith(("Traceback", "During", "["))]
    return f"{lines[0]} ({why[-1].strip()})" if why and why[-1].strip() != lines[0] else lines[0]


def name_key(key: Any) -> str:
    """A job's key as an error names it: the stages' keys are lists of prompts or samples
    (``(prompt, indices)`` pairs, :class:`~redstar.records.Sample`), named by their first id and
    their count, and by their sample shard where they have one (``shard``: a verification
    batch); any other key by its (shortened) ``repr``."""
    if isinstance(key, (list, tuple)) and key:
        first = key[0][0] if isinstance(key[0], tuple) and key[0] else key[0]
        ident = getattr(first, "id", None)
        if isinstance(ident, str) and ident:
            shard = getattr(key, "shard", None)
            where = f" of shard {Path(shard).name.split('.')[0]}" if shard is not None else ""
            return f"of {len(key)} starting at {ident!r}{where}"
    text = repr(key)
    return text if len(text) <= 60 else text[:57] + "..."


def describe_verification(job: Any) -> str:
    """A verification job as an error names it: its batch and the verifiers (by domain) that
    judge it, e.g. ``verification batch of 64 starting at 'p1' of shard 00003 (verifier: code)``."""
    domains = sorted({str(getattr(prompt, "domain", "?")) for _, prompt in job.items})
    return f"verification batch {name_key(job.key)} (verifier: {', '.join(domains)})"


class _Flight(Generic[J]):
    """A job in flight: its latest submission's worker token, how often it was redone, and
    when it was sent (``order``: which of a worker's jobs it runs first)."""

    __slots__ = ("attempt", "job", "order", "token")

    def __init__(self, job: J, token: Any, attempt: int, order: int) -> None:
        self.job, self.token, self.attempt, self.order = job, token, attempt, order


def dispatch(ray: Any, jobs: Iterable[J], workers: Workers[J], *, max_retries: int,
             describe: Callable[[J], str], log: Callable[[str], None],
             decode: Callable[[J, Any], Any], idle: float | None = None) -> Iterator[Any]:
    """``(job, decode(job, result))`` for every job, in the order they finish.

    A job whose worker died or hung is resubmitted (``workers.lost`` first replaces the worker)
    up to ``max_retries`` times; once more is a :class:`RedStarError` naming the job. Of the
    jobs a lost worker held, only those it was running are charged a retry
    (:meth:`Workers.running`): a chunk that waited in a replica's queue behind one that kills
    it is sent again as it was. An error the job itself raised stops the iteration: a
    :class:`RedStarError` (a plugin's message) as itself, anything else with Ray's traceback.
    Ctrl-C stops taking jobs: the results that had already arrived are handed back first, then
    the ``KeyboardInterrupt`` goes on; what was still running is cancelled. With ``idle``, no
    wait lasts longer than that, and one in which nothing arrived yields :data:`IDLE` (so that
    a caller can serve two loops from one thread).
    """
    run = _Dispatch(ray, workers, max_retries, describe, log)
    try:
        yield from run.loop(iter(jobs), decode, idle)
    except Exception as error:
        if ray.is_initialized():
            raise
        # The driver's connection itself is gone (a ``ray://`` client dropped, the head died):
        # Ray's own error reads "Ray has not been started yet" (the engine switched off its
        # implicit ray.init, ray_connect.no_auto_init, which would otherwise hang here).
        raise RedStarError(f"ray: lost the connection to the Ray cluster ({first_line(error)}); what finished "
                           "is kept: run the same command again to resume") from error
    finally:
        # Stopped early (an error, Ctrl-C, or the caller left the loop): nothing of this call
        # keeps running for nobody.
        for ref in run.pending:
            with contextlib.suppress(Exception):  # a finished or dead task cannot be cancelled
                ray.cancel(ref)


class _Dispatch(Generic[J]):
    """The state of one :func:`dispatch` call: the jobs in flight by object ref."""

    def __init__(self, ray: Any, workers: Workers[J], max_retries: int, describe: Callable[[J], str],
                 log: Callable[[str], None]) -> None:
        self.ray, self.workers, self.max_retries, self.describe, self.log = ray, workers, max_retries, describe, log
        self.pending: dict[Any, _Flight[J]] = {}
        self.sent = 0
        self.lost_types = tuple(getattr(ray.exceptions, name) for name in LOST_WORK)
        self.setup_types = tuple(getattr(ray.exceptions, name) for name in NO_WORKER)

    def send(self, job: J, attempt: int) -> None:
        ref, token = self.workers.submit(job)
        self.pending[ref] = _Flight(job, token, attempt, self.sent)
        self.sent += 1

    def loop(self, source: Iterator[Any], decode: Callable[[J, Any], Any], idle: float | None) -> Iterator[Any]:
        ray, workers, pending = self.ray, self.workers, self.pending
        more = True
        while True:
            try:
                # Top up lazily: jobs are drawn only when a slot is free.
                waiting = False
                while more and len(pending) < workers.capacity:
                    try:
                        job = next(source)
                    except StopIteration:
                        more = False
                        break
                    if job is NOT_YET:
                        waiting = True
                        break
                    self.send(job, 0)
                if not pending and not more:
                    return
                poll = min((t for t in (workers.poll_s, FEED_POLL_S if waiting else None, idle) if t is not None),
                           default=None)
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=poll) if pending else ([], [])
                if not pending and poll is not None:
                    time.sleep(poll)
            except KeyboardInterrupt as interrupt:
                yield from _arrived(ray, pending, decode)
                raise interrupt
            if idle is not None and not ready:
                yield IDLE
            for ref in ready:
                if ref not in pending:
                    continue  # its worker was lost with another of its jobs just now
                flight = pending.pop(ref)
                try:
                    value = ray.get(ref)
                except self.lost_types as error:
                    self.lose(flight, error)
                    continue
                except ray.exceptions.RayTaskError as error:
                    cause = getattr(error, "cause", None)
                    if isinstance(cause, RedStarError):
                        raise cause from None
                    raise
                except self.setup_types as error:
                    # The cluster cannot give the job a worker at all (execution.runtime_env,
                    # resources): the user's to fix, so a message, not a traceback.
                    raise RedStarError(f"ray: {self.describe(flight.job)}: {type(error).__name__}: "
                                       f"{first_line(error)}") from None
                workers.finished(flight.token)
                yield flight.job, decode(flight.job, value)
            for token, why in workers.hung():
                stuck = [flight for flight in pending.values() if flight.token == token]
                if stuck:
                    self.lose(min(stuck, key=lambda f: f.order), WorkerHung(why), pending_too=True)

    def _lost_with_worker(self, ref: Any) -> bool:
        """Whether the finished ``ref`` failed because its worker went (not a result)."""
        try:
            self.ray.get(ref, timeout=0)
        except self.lost_types:
            return True
        except Exception:  # noqa: BLE001 - the job's own error: the loop reports it
            return False
        return False

    def lose(self, flight: _Flight[J], error: BaseException, pending_too: bool = False) -> None:
        """``flight``'s worker is gone (died, or hung and is killed now): every job it still
        holds goes elsewhere, those it was running charged a retry, or the run stops."""
        ray, workers = self.ray, self.workers
        group = [] if pending_too else [flight]
        running = workers.running(flight.token)
        if flight.token is not None:  # its other jobs were on the same worker
            mates = {ref: f for ref, f in self.pending.items() if f.token == flight.token}
            done, _ = ray.wait(list(mates), num_returns=len(mates), timeout=0) if mates else ([], [])
            for ref, mate in mates.items():
                if ref in done and not self._lost_with_worker(ref):
                    continue  # a result (or the job's own error) that arrived first: the loop takes it
                del self.pending[ref]
                with contextlib.suppress(Exception):
                    ray.cancel(ref)
                group.append(mate)
        workers.lost(flight.token, error)
        group.sort(key=lambda f: f.order)
        charged = group if running is None else group[:running]
        for waited in group[len(charged):]:  # first, so they run before the one that took the worker
            self.send(waited.job, waited.attempt)
        hung = isinstance(error, WorkerHung)
        for lost in charged:
            if lost.attempt >= self.max_retries:
                raise RedStarError(
                    f"ray: {self.describe(lost.job)} failed {lost.attempt + 1} times because its worker "
                    f"{'hung' if hung else 'died'} (execution.max_retries is {self.max_retries}); "
                    f"last: {first_line(error)}") from None
            self.log(f"ray: {self.describe(lost.job)}: worker {'hung' if hung else 'lost'} "
                     f"({error if hung else type(error).__name__}); redoing it "
                     f"(retry {lost.attempt + 1} of {self.max_retries})")
            self.send(lost.job, lost.attempt + 1)


def _arrived(ray: Any, pending: dict[Any, _Flight[J]], decode: Callable[[J, Any], Any]) -> Iterator[tuple[J, Any]]:
    """The results in ``pending`` that have already arrived (after Ctrl-C: they cost nothing
    more and the caller stores them), taken out of ``pending``."""
    if not pending:
        return
    ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=0)
    for ref in ready:
        flight = pending.pop(ref)
        try:
            value = ray.get(ref)
        except Exception:  # noqa: S112 - a failed job is simply not handed back
            continue
        yield flight.job, decode(flight.job, value)
