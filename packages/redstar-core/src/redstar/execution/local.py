"""The local engine: every job in this process, in order, on one sampler built once per spec.

A verification or cleaning batch that runs past ``execution.task_timeout`` is interrupted
(:mod:`~redstar.execution.watchdog`), the verifiers or filters are closed and built afresh, and
the batch is redone, up to ``execution.max_retries`` times; then the run stops naming it."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from redstar.errors import RedStarError
from redstar.execution.base import CleanJob, Engine, FilterSpec, GenerateJob, SamplerSpec, VerifyJob, first_reason
from redstar.execution.ray_dispatch import describe_verification, name_key
from redstar.execution.watchdog import TaskHung, time_limit
from redstar.interfaces import Completion, Sampler, Verifier
from redstar.records import Verdict
from redstar.samplers.interrupted import SamplingInterrupted

T = TypeVar("T")


class LocalEngine(Engine):
    """``build_sampler(kind, name, options, key, model=...)`` is the run context's ``build``
    (errors name the recipe key); ``verifiers`` is its :class:`~redstar.services.VerifierPool`;
    ``execution`` the recipe's section (``task_timeout``, ``max_retries``; None: no time
    limit); ``log`` gets a line when a batch is redone."""

    def __init__(self, build_sampler: Callable[..., Any], verifiers: Any, execution: Any = None,
                 log: Callable[[str], None] | None = None) -> None:
        self._build = build_sampler
        self._verifiers = verifiers
        self._samplers: dict[str, Sampler] = {}
        self._timeout = None if execution is None else execution.task_timeout
        self._retries = 0 if execution is None else execution.max_retries
        self._log = log

    def _sampler(self, spec: SamplerSpec) -> Sampler:
        key = json.dumps([spec.backend, spec.model, spec.key, spec.options], sort_keys=True, default=str)
        if key not in self._samplers:
            self._samplers[key] = self._new_sampler(spec)
        return self._samplers[key]

    def _new_sampler(self, spec: SamplerSpec) -> Sampler:
        sampler: Sampler = self._build("samplers", spec.backend, dict(spec.options), spec.key, model=spec.model)
        return sampler

    def generate(self, spec: SamplerSpec, jobs: Iterable[GenerateJob]) -> Iterator[tuple[GenerateJob, list[list[Completion]]]]:
        sampler = self._sampler(spec)
        sampler.on_progress = self.on_progress
        for job in jobs:
            try:
                completions = sampler.generate(job.conversations, job.params)
            except SamplingInterrupted as stop:
                stop.job = job  # type: ignore[attr-defined]  # the caller keeps what arrived
                raise
            yield job, completions

    def _limited(self, what: str, work: Callable[[], T], reset: Callable[[], None]) -> T:
        """``work()`` within ``execution.task_timeout``: interrupted when it runs longer, then
        ``reset()`` (fresh plugins: an interrupted one may be half-way through anything) and
        redone, at most ``max_retries`` times; one more is a :class:`RedStarError` naming it."""
        if self._timeout is None:
            return work()
        why = f"{what}: no result after {self._timeout:g} s (execution.task_timeout is {self._timeout:g})"
        attempt = 0
        while True:
            try:
                with time_limit(self._timeout, why, self._log):
                    return work()
            except TaskHung as hung:
                reset()
                if attempt >= self._retries:
                    raise RedStarError(f"{what} failed {attempt + 1} times because it hung (execution.max_retries "
                                       f"is {self._retries}); last: {str(hung).split(': ', 1)[-1]}") from None
                attempt += 1
                if self._log is not None:
                    self._log(f"{what}: hung ({str(hung).split(': ', 1)[-1]}); redoing it with fresh plugins "
                              f"(retry {attempt} of {self._retries})")

    def verify(self, jobs: Iterable[VerifyJob]) -> Iterator[tuple[VerifyJob, list[Verdict]]]:
        for job in jobs:
            yield job, self._limited(describe_verification(job),
                                     functools.partial(self._verifiers.verify, job.items), self._verifiers.close)

    def clean(self, filters: FilterSpec, jobs: Iterable[CleanJob]) -> Iterator[tuple[CleanJob, list[str | None]]]:
        def build() -> list[Any]:
            return [self._build("filters", name, dict(options), f"cleaning.filters[{i}]")
                    for i, (name, options) in enumerate(filters)]

        built = build()

        def rebuild() -> None:
            built[:] = build()

        def reasons(items: Iterable[tuple[str, Any]]) -> list[str | None]:
            return [first_reason(built, response, prompt) for response, prompt in items]

        for job in jobs:
            yield job, self._limited(f"cleaning batch {name_key(job.key)}", functools.partial(reasons, job.items),
                                     rebuild)

    def sampler(self, spec: SamplerSpec) -> Sampler:
        # The sampler itself (the caller owns and closes it): no chunking to undo, and its own
        # progress reporting reaches the bar.
        return self._new_sampler(spec)

    def verifier(self, local: Verifier, batch: int = 64) -> Verifier:
        if self._timeout is None:
            return local  # already here: nothing to fan out, nothing to time
        # Batches through verify(), so each is timed as the verify stage's are. ``local`` is the
        # run's verifier of its domain, from the same pool that verify() uses and rebuilds.
        return super().verifier(local, batch)

    def close(self) -> None:
        for sampler in self._samplers.values():
            sampler.close()
        self._samplers.clear()
