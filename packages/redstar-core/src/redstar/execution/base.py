"""The contract between the stages and an engine (see :mod:`redstar.execution`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from redstar.faults import check_reason
from redstar.interfaces import Completion, Messages, Sampler, SamplingParams, Verifier
from redstar.records import Prompt, Verdict


@dataclass(frozen=True)
class SamplerSpec:
    """How to build a sampler: the registered ``backend``, its ``options`` and the ``model``.
    ``key`` is the recipe key its options came from (``sampling``, ``evaluation``), for errors.
    Plain data, so that a worker on another node can build the same sampler."""

    backend: str
    model: str
    options: Mapping[str, Any] = field(default_factory=dict)
    key: str = "sampling"


@dataclass(frozen=True)
class GenerateJob:
    """One ``Sampler.generate`` call: ``params.n`` completions for each conversation. ``key`` is
    the caller's, returned with the result (a job may finish after later ones)."""

    key: Any
    conversations: Sequence[Messages]
    params: SamplingParams


@dataclass(frozen=True)
class VerifyJob:
    """Verdicts for ``(response, prompt)`` pairs of any domains, judged by the run's verifiers."""

    key: Any
    items: Sequence[tuple[str, Prompt]]


@dataclass(frozen=True)
class CleanJob:
    """The cleaning filters' verdicts on ``(response, prompt)`` pairs: each pair's first
    filter reason, or None when every filter keeps it."""

    key: Any
    items: Sequence[tuple[str, Prompt]]


#: A cleaning step as the recipe writes it: ``(filter name, its options)`` in order.
FilterSpec = tuple[tuple[str, Mapping[str, Any]], ...]

#: A prompt as set building needs it: ``(prompt_id, domain, difficulty, messages)``, its
#: messages rendered by its verifier and their images already in the run directory.
BuildPrompt = tuple[str, str, "float | None", Messages]


@dataclass(frozen=True)
class BuildJob:
    """One hash partition of the build stage: the SFT rows and preference pairs of its prompts
    (``prompts``, in selection order), from its cleaned samples (``rows``, a JSON Lines file the
    engine reads when it sends the job, so a partition never waits in the driver's memory),
    written to ``sft`` and ``preference`` by the engine
    (:func:`~redstar.pipeline.set_building.build_partition`)."""

    key: Any
    prompts: Sequence[BuildPrompt]
    rows: Path
    sft: Path
    preference: Path

#: What a job source yields when it has no job to hand out yet (it may have later).
NOT_YET: Any = object()


class JobFeed:
    """Jobs made while an engine works (verification of the samples that just arrived): the
    caller :meth:`put` s them, the engine iterates, getting :data:`NOT_YET` while the feed is
    empty and open; after :meth:`close` the iteration ends once it is empty."""

    def __init__(self) -> None:
        self._jobs: deque[Any] = deque()
        self.closed = False

    def put(self, job: Any) -> None:
        self._jobs.append(job)

    def close(self) -> None:
        self.closed = True

    def __iter__(self) -> Iterator[Any]:
        while True:
            if self._jobs:
                yield self._jobs.popleft()
            elif self.closed:
                return
            else:
                yield NOT_YET


class Engine(ABC):
    """Runs jobs. Results come back as ``(job, result)`` as each finishes, in any order; every
    job given is returned exactly once, or the iteration raises. A job whose worker died is
    redone by the engine (the samplers are seeded per sample, so a redone job draws the same
    text); the caller writes each result once, when it arrives."""

    #: Whether :meth:`generate_verifying` judges while it samples (else it only samples).
    overlaps = False

    #: Set by the caller before :meth:`generate`: ``on_progress(finished, total)`` completions of
    #: the job running now, for engines that see inside a job (the local one); others report
    #: only through the jobs they return.
    on_progress: Callable[[int, int], None] | None = None

    @abstractmethod
    def generate(self, spec: SamplerSpec, jobs: Iterable[GenerateJob]) -> Iterator[tuple[GenerateJob, list[list[Completion]]]]:
        """Each job's completions, one list of ``params.n`` per conversation, in the job's order.
        A :class:`~redstar.samplers.interrupted.SamplingInterrupted` (Ctrl-C) propagates with
        the completions of the job that was cut short and that job as its ``job`` attribute,
        after every finished job was yielded."""

    @abstractmethod
    def verify(self, jobs: Iterable[VerifyJob]) -> Iterator[tuple[VerifyJob, list[Verdict]]]:
        """Each job's verdicts, in the job's order."""

    def clean(self, filters: FilterSpec, jobs: Iterable[CleanJob]) -> Iterator[tuple[CleanJob, list[str | None]]]:
        """Each job's drop reasons under the cleaning ``filters``, in the job's order."""
        raise NotImplementedError(f"the {type(self).__name__} engine does not clean")

    def build(self, options: Mapping[str, Any], jobs: Iterable[BuildJob]) -> Iterator[tuple[BuildJob, dict[str, Any]]]:
        """Each job's partition built under the recipe's ``preference`` ``options`` (its files
        written), with its counts."""
        from redstar.pipeline.set_building import build_file

        for job in jobs:
            yield job, build_file(options, job)

    def generate_verifying(self, spec: SamplerSpec, jobs: Iterable[GenerateJob],
                           feed: JobFeed) -> Iterator[tuple[str, Any, Any]]:
        """:meth:`generate`, judging at the same time the :class:`VerifyJob` s the caller puts in
        ``feed`` as results arrive: ``("sample", job, completions)`` and ``("verdict", job,
        verdicts)`` in the order they finish, every verification put before the last sample was
        handed back included. Engines that cannot overlap the two (:attr:`overlaps` false: the
        local one, where both share this process) only sample, and the feed is left alone."""
        for job, completions in self.generate(spec, jobs):
            yield "sample", job, completions

    def sampler(self, spec: SamplerSpec) -> Sampler:
        """A :class:`Sampler` whose ``generate`` runs on this engine (evaluation uses it, so a
        benchmark's problems fan out as sampling's prompts do). The caller closes it."""
        return EngineSampler(self, spec)

    def verifier(self, local: Verifier, batch: int = 64) -> Verifier:
        """``local`` with its ``verify_many`` run on this engine (evaluation judges a benchmark's
        responses with it); everything else, the prompt's rendering included, stays ``local``'s."""
        return cast(Verifier, EngineVerifier(self, local, batch))

    def close(self) -> None:  # noqa: B027 - the local engine holds nothing of its own
        """Release workers (actors, a Ray instance this engine started)."""

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def first_reason(filters: Sequence[Any], response: str, prompt: Prompt) -> str | None:
    """The first of ``filters`` (cleaning filters, in the recipe's order) that drops
    ``response``: its reason, or None when every filter keeps it."""
    for f in filters:  # each return checked: a filter's mistake is named as its own
        reason = check_reason(f, f.check(response, prompt))
        if reason:
            return reason
    return None


class EngineSampler(Sampler):
    """A sampler that splits one ``generate`` call into jobs of ``chunk`` conversations, runs
    them on an engine and puts the completions back in order."""

    name = "engine"

    def __init__(self, engine: Engine, spec: SamplerSpec, chunk: int = 16) -> None:
        super().__init__(spec.model)
        self.engine, self.spec, self.chunk = engine, spec, chunk

    def generate(self, conversations: Sequence[Messages], params: SamplingParams) -> list[list[Completion]]:
        jobs = []
        for start in range(0, len(conversations), self.chunk):
            seeds = None if params.seeds is None else params.seeds[start:start + self.chunk]
            part = SamplingParams(**{**params.__dict__, "seeds": seeds})
            jobs.append(GenerateJob(start, conversations[start:start + self.chunk], part))
        out: list[list[Completion]] = [[] for _ in conversations]
        finished = 0
        for job, completions in self.engine.generate(self.spec, jobs):
            out[job.key:job.key + len(completions)] = completions
            finished += sum(len(c) for c in completions)
            if self.on_progress is not None:
                self.on_progress(finished, len(conversations) * params.n)
        return out


class EngineVerifier:
    """A domain's verifier whose batches are judged on an engine, ``batch`` pairs per job; every
    other attribute (its domain, instruction, ``messages``, ``verify``) is the local one's."""

    def __init__(self, engine: Engine, local: Verifier, batch: int) -> None:
        self.engine, self.local, self.batch = engine, local, batch

    def __getattr__(self, name: str) -> Any:
        return getattr(self.local, name)

    def verify_many(self, items: Sequence[tuple[str, Prompt]]) -> list[Verdict]:
        jobs = [VerifyJob(_Span(start, [prompt for _, prompt in items[start:start + self.batch]]),
                          items[start:start + self.batch]) for start in range(0, len(items), self.batch)]
        out: list[Verdict | None] = [None] * len(items)
        for job, verdicts in self.engine.verify(jobs):
            out[job.key.start:job.key.start + len(verdicts)] = verdicts
        return out  # type: ignore[return-value]  # every job returns, or verify raises


class _Span(list):  # of Prompts (error messages name a batch by its first)
    """The prompts of one batch of :meth:`EngineVerifier.verify_many` and where its verdicts go."""

    def __init__(self, start: int, prompts: list[Prompt]) -> None:
        super().__init__(prompts)
        self.start = start
