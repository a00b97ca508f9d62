"""The base classes a plugin subclasses: Source, Scorer, Sampler, Verifier, Trainer, Evaluator,
Filter. Plugins hand these classes (not instances) to the ``register`` callables of the hooks in
:mod:`redstar.hookspecs`; RedStar instantiates them with the options of the recipe.

Every constructor takes keyword options only. RedStar checks a recipe's options against the
constructor's signature before calling it, names and type hints (:mod:`redstar.plugin_options`),
so a misspelt option or a value of the wrong type is reported with the recipe file and key
instead of a ``TypeError`` deep in a run. Each option is described in the ``Args:`` section of
the class's Google-style docstring, one whole sentence or more per option; that is what
``redstar plugins --options`` prints.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from redstar.records import Prompt, Verdict

#: A chat conversation in the format of ``tokenizer.apply_chat_template``. For images, a message's
#: ``content`` may be a list of parts: ``{"type": "image", "path": ...}`` and
#: ``{"type": "text", "text": ...}``.
Messages = list[dict[str, Any]]


class Source(ABC):
    """Yields prompts of one domain: a dataset on the hub, a local file, or a generator."""

    name: ClassVar[str]
    domain: ClassVar[str]

    @abstractmethod
    def load(self) -> Iterable[Prompt]:
        """Yield prompts. Raise :class:`redstar.errors.InputError` naming file, line and field
        for malformed input."""


class Scorer(ABC):
    """Assigns each prompt a difficulty level from 1 (trivial) to 10 (hardest)."""

    name: ClassVar[str]

    @abstractmethod
    def score(self, prompts: Sequence[Prompt]) -> list[float]:
        """One level in [1, 10] per prompt, in order."""


@dataclass
class SamplingParams:
    """How to sample. ``n`` responses per conversation.

    ``seed`` seeds the call as a whole. ``seeds``, when given, holds one tuple of ``n`` seeds per
    conversation of the call, in order: completion ``k`` of conversation ``c`` is drawn from
    ``seeds[c][k]`` alone (see :class:`Sampler` for the contract), so the same seed gives the same
    completion whatever else is in the call. The pipeline derives these from the run's seed and
    each sample's ``(prompt_id, index)``, which makes a resumed run draw what an uninterrupted one
    would. Seeds are non-negative integers below ``2**63`` (what torch, vLLM and OpenAI take).
    """

    n: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 512
    seed: int | None = None
    stop: list[str] = field(default_factory=list)
    seeds: tuple[tuple[int, ...], ...] | None = None


@dataclass
class Completion:
    """One generated response. ``finish_reason`` is ``"stop"`` (ended on its own) or ``"length"``
    (hit ``max_new_tokens``): evaluations count the latter as truncation, not as a wrong answer."""

    text: str
    finish_reason: str | None = "stop"


class Sampler(ABC):
    """A generation backend. ``model`` is a local path or a hub id (or a served model name).

    Seeds: when ``params.seeds`` is given, a sampler that honours it draws completion ``k`` of
    conversation ``c`` from ``params.seeds[c][k]`` only, independently of the other
    conversations in the call, of their order, of the batch size and of how many completions
    are asked (up to the numerical noise of batching on the hardware). A sampler that cannot
    honour it (a server that ignores seeds, say) uses ``params.seed`` instead and says so in its
    docstring. Temperature 0 is greedy and needs no seed.

    Args:
        model: The model to sample, as the recipe names it (``models.teacher``, or the model
            under evaluation): set by RedStar, never by a recipe's options.
    """

    name: ClassVar[str]

    #: Progress callback, set by the caller (the pipeline, ``redstar eval``) before
    #: :meth:`generate`: a sampler calls ``on_progress(finished, total)`` with the number of
    #: completions finished so far and the number asked for in the current ``generate`` call, as
    #: they finish (after each batch, say, or once at the end). None (the default) means nobody
    #: listens; declared here so callers set it on any sampler without probing for it.
    on_progress: Callable[[int, int], None] | None = None

    def __init__(self, model: str, **options: Any) -> None:
        self.model = model

    @abstractmethod
    def generate(self, conversations: Sequence[Messages], params: SamplingParams) -> list[list[Completion]]:
        """Return ``params.n`` completions for each conversation, in the order given."""

    def close(self) -> None:  # noqa: B027 - optional: most backends hold nothing to release
        """Release the model and any worker processes."""


class Verifier(ABC):
    """Decides whether a response answers its prompt. There is one verifier per domain, and it
    owns the domain's answer format: the instruction that asks for it, the check that a response
    follows it, and the comparison with the reference."""

    domain: ClassVar[str]
    #: Appended to the question when sampling: tells the model the required answer format.
    instruction: ClassVar[str] = ""

    def messages(self, prompt: Prompt) -> Messages:
        """The conversation to send to a model for ``prompt``."""
        text = f"{prompt.question}\n{self.instruction}".strip()
        if prompt.image:
            return [{"role": "user", "content": [{"type": "image", "path": prompt.image}, {"type": "text", "text": text}]}]
        return [{"role": "user", "content": text}]

    @abstractmethod
    def extract(self, response: str) -> str | None:
        """The final answer stated in the required format, or None when there is none."""

    @abstractmethod
    def verify(self, response: str, reference: str, metadata: Mapping[str, Any] | None = None) -> Verdict:
        """Compare the response's final answer with ``reference``. Never raises for bad model
        output: a response without a valid answer gets :meth:`Verdict.no_answer`."""

    def verify_many(self, items: Sequence[tuple[str, Prompt]]) -> list[Verdict]:
        """Verify many (response, prompt) pairs; override to run them in parallel."""
        return [self.verify(response, prompt.reference, prompt.metadata) for response, prompt in items]

    def close(self) -> None:  # noqa: B027 - optional: only verifiers with workers hold anything
        """Stop worker processes (sandboxes, CAS workers). Called when a run ends."""


@dataclass
class TrainContext:
    """What a trainer gets from the pipeline or from ``redstar train``.

    ``data_file`` is JSONL in the format of the trainer's ``kind``:

    - ``sft``: ``{"prompt_id", "messages": [...user..., ...assistant...]}``
    - ``preference``: ``{"prompt_id", "prompt": [...], "chosen": [...], "rejected": [...]}``
    - ``online``: ``{"prompt": [...], "prompt_id", "reference", "domain", "metadata"}``; the
      trainer samples itself and scores responses with ``reward``.
    """

    model: str
    output_dir: Path
    data_file: Path
    #: Rule reward for online RL: (prompt rows, responses) -> rewards in {1, 0, -1}.
    reward: Callable[[Sequence[Mapping[str, Any]], Sequence[str]], list[float]] | None = None
    #: Each step's metrics are appended here as a JSON line.
    metrics_file: Path | None = None
    #: Called after each optimizer step with (step, total_steps, metrics).
    on_step: Callable[[int, int, Mapping[str, float]], None] | None = None
    seed: int = 0


@dataclass
class TrainResult:
    model_path: Path
    metrics: dict[str, float] = field(default_factory=dict)


class Trainer(ABC):
    """Trains a model. ``kind`` says which data file it needs (see :class:`TrainContext`)."""

    name: ClassVar[str]
    kind: ClassVar[str]  # "sft" | "preference" | "online"

    @abstractmethod
    def train(self, ctx: TrainContext) -> TrainResult:
        """Train, save the final model (and its tokenizer) under ``ctx.output_dir``, and return
        where it is."""


class Evaluator(ABC):
    """A benchmark: a named set of problems of one domain. RedStar samples the model under test,
    verifies with the domain's verifier, and computes pass@1, pass@k and majority vote."""

    name: ClassVar[str]
    domain: ClassVar[str]

    @abstractmethod
    def load(self) -> list[Prompt]:
        """The benchmark's problems. Prompts' ``metadata`` may carry a ``"group"`` key (level,
        subject, difficulty) that reports break scores down by."""


class Filter(ABC):
    """A cleaning rule applied to every verified sample. Returning a reason drops the sample and
    counts it under that reason; returning None keeps it."""

    name: ClassVar[str]

    @abstractmethod
    def check(self, response: str, prompt: Prompt) -> str | None:
        """A short drop reason (``"repetition"``), or None to keep the sample."""


def constructor(cls: type) -> Callable[..., Any]:
    """A plugin class's ``__init__``, whose keyword parameters are its options."""
    return cls.__init__  # type: ignore[misc]  # a class's own constructor, not an instance's


def options_of(cls: type) -> dict[str, Any]:
    """The keyword options a plugin class takes, with defaults (``inspect.Parameter.empty`` if
    required). Used to validate recipes and to document plugins in ``redstar plugins``; their
    type hints and descriptions are read by :func:`redstar.plugin_options.option_specs`."""
    import inspect

    params = inspect.signature(constructor(cls)).parameters
    return {
        name: p.default
        for name, p in params.items()
        if name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    }


__all__ = [
    "Completion",
    "Evaluator",
    "Filter",
    "Messages",
    "Sampler",
    "SamplingParams",
    "Scorer",
    "Source",
    "TrainContext",
    "TrainResult",
    "Trainer",
    "Verifier",
    "options_of",
]
