"""The local engine: every job in this process, in order, on one sampler built once per spec."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from redstar.execution.base import CleanJob, Engine, FilterSpec, GenerateJob, SamplerSpec, VerifyJob, first_reason
from redstar.interfaces import Completion, Sampler, Verifier
from redstar.records import Verdict
from redstar.samplers.interrupted import SamplingInterrupted


class LocalEngine(Engine):
    """``build_sampler(kind, name, options, key, model=...)`` is the run context's ``build``
    (errors name the recipe key); ``verifiers`` is its :class:`~redstar.services.VerifierPool`."""

    def __init__(self, build_sampler: Callable[..., Any], verifiers: Any) -> None:
        self._build = build_sampler
        self._verifiers = verifiers
        self._samplers: dict[str, Sampler] = {}

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

    def verify(self, jobs: Iterable[VerifyJob]) -> Iterator[tuple[VerifyJob, list[Verdict]]]:
        for job in jobs:
            yield job, self._verifiers.verify(job.items)

    def clean(self, filters: FilterSpec, jobs: Iterable[CleanJob]) -> Iterator[tuple[CleanJob, list[str | None]]]:
        built = [self._build("filters", name, dict(options), f"cleaning.filters[{i}]")
                 for i, (name, options) in enumerate(filters)]
        for job in jobs:
            yield job, [first_reason(built, response, prompt) for response, prompt in job.items]

    def sampler(self, spec: SamplerSpec) -> Sampler:
        # The sampler itself (the caller owns and closes it): no chunking to undo, and its own
        # progress reporting reaches the bar.
        return self._new_sampler(spec)

    def verifier(self, local: Verifier, batch: int = 64) -> Verifier:
        return local  # already here: nothing to fan out

    def close(self) -> None:
        for sampler in self._samplers.values():
            sampler.close()
        self._samplers.clear()
