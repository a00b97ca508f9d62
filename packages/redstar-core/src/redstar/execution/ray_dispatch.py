"""Keeping a pool of Ray workers busy with jobs, redoing the jobs whose worker died.

One loop serves sampling (jobs go to sampler actors) and verification (jobs are Ray tasks):
:func:`dispatch` takes jobs from the caller's iterator only while fewer than the pool's
``capacity`` are in flight (so a run of millions of prompts never holds more than a few chunks),
hands each result back as it finishes (``ray.wait``), and resubmits a job whose worker, actor or
node died, up to ``max_retries`` times. Every job is returned exactly once: a job's result is
taken from the one submission the loop is waiting on, and a submission it gave up on is
forgotten (its result, should it still arrive, is never read).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, Protocol, TypeVar

from redstar.errors import RedStarError

J = TypeVar("J")
J_contra = TypeVar("J_contra", contravariant=True)

#: Ray's exceptions for work lost with its process or node (the job itself did not fail).
LOST_WORK = ("RayActorError", "WorkerCrashedError", "NodeDiedError", "ObjectLostError", "OutOfMemoryError",
             "LocalRayletDiedError")
#: Ray's exceptions for a job no worker can be given (redoing it would fail the same way).
NO_WORKER = ("RuntimeEnvSetupError", "ActorUnschedulableError")


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
    their count; any other key by its (shortened) ``repr``."""
    if isinstance(key, (list, tuple)) and key:
        first = key[0][0] if isinstance(key[0], tuple) and key[0] else key[0]
        ident = getattr(first, "id", None)
        if isinstance(ident, str) and ident:
            return f"of {len(key)} starting at {ident!r}"
    text = repr(key)
    return text if len(text) <= 60 else text[:57] + "..."


class _Flight(Generic[J]):
    """A job in flight: its latest submission's worker token and how often it was redone."""

    __slots__ = ("attempt", "job", "token")

    def __init__(self, job: J, token: Any, attempt: int) -> None:
        self.job, self.token, self.attempt = job, token, attempt


def dispatch(ray: Any, jobs: Iterable[J], workers: Workers[J], *, max_retries: int,
             describe: Callable[[J], str], log: Callable[[str], None],
             decode: Callable[[J, Any], Any]) -> Iterator[tuple[J, Any]]:
    """``(job, decode(job, result))`` for every job, in the order they finish.

    A job whose worker died is resubmitted (``workers.lost`` first replaces the worker) up to
    ``max_retries`` times; one more death is a :class:`RedStarError` naming the job. An error
    the job itself raised stops the iteration: a :class:`RedStarError` (a plugin's message) as
    itself, anything else with Ray's traceback. Ctrl-C stops taking jobs: the results that had
    already arrived are handed back first, then the ``KeyboardInterrupt`` goes on; what was
    still running is cancelled.
    """
    lost_types = tuple(getattr(ray.exceptions, name) for name in LOST_WORK)
    setup_types = tuple(getattr(ray.exceptions, name) for name in NO_WORKER)
    pending: dict[Any, _Flight[J]] = {}
    source = iter(jobs)
    more = True
    try:
        while True:
            try:
                # Top up lazily: jobs are drawn only when a slot is free.
                while more and len(pending) < workers.capacity:
                    try:
                        job = next(source)
                    except StopIteration:
                        more = False
                        break
                    ref, token = workers.submit(job)
                    pending[ref] = _Flight(job, token, 0)
                if not pending:
                    return
                ready, _ = ray.wait(list(pending), num_returns=1)
            except KeyboardInterrupt as interrupt:
                yield from _arrived(ray, pending, decode)
                raise interrupt
            for ref in ready:
                flight = pending.pop(ref)
                try:
                    value = ray.get(ref)
                except lost_types as error:
                    workers.lost(flight.token, error)
                    if flight.attempt >= max_retries:
                        raise RedStarError(
                            f"ray: {describe(flight.job)} failed {flight.attempt + 1} times because its worker "
                            f"died (execution.max_retries is {max_retries}); last: {first_line(error)}") from None
                    log(f"ray: {describe(flight.job)}: worker lost ({type(error).__name__}); redoing it "
                        f"(retry {flight.attempt + 1} of {max_retries})")
                    new_ref, token = workers.submit(flight.job)
                    pending[new_ref] = _Flight(flight.job, token, flight.attempt + 1)
                    continue
                except ray.exceptions.RayTaskError as error:
                    cause = getattr(error, "cause", None)
                    if isinstance(cause, RedStarError):
                        raise cause from None
                    raise
                except setup_types as error:
                    # The cluster cannot give the job a worker at all (execution.runtime_env,
                    # resources): the user's to fix, so a message, not a traceback.
                    raise RedStarError(f"ray: {describe(flight.job)}: {type(error).__name__}: "
                                       f"{first_line(error)}") from None
                workers.finished(flight.token)
                yield flight.job, decode(flight.job, value)
    finally:
        # Stopped early (an error, Ctrl-C, or the caller left the loop): nothing of this call
        # keeps running for nobody.
        for ref in pending:
            with contextlib.suppress(Exception):  # a finished or dead task cannot be cancelled
                ray.cancel(ref)



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
