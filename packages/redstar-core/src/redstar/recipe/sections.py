"""The recipe's sections as typed, immutable models: one class per section, each stage receives
its own. Field descriptions are the recipe reference (docs/recipes.md mirrors them, and a test
checks that every field is documented there).

Validation is strict about types (``n: four`` is an error, ``true`` is not a number) and fills
in every default; :mod:`redstar.recipe.loading` turns pydantic's errors into
:class:`~redstar.errors.RecipeError` s that name the file, line and dotted key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, field_validator

from redstar.interfaces import SamplingParams

#: A number as written: ``7`` stays an integer (so ``recipe show`` and fingerprints keep it as
#: written), ``7.5`` a float.
Number = Annotated[int | float, Field(union_mode="left_to_right")]


class Section(BaseModel):
    """Base of every section: unknown keys are errors, types are checked strictly, and a
    validated section is not changed afterwards (its free-form ``options`` mappings are the
    plugin's to read)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="python")


class Models(Section):
    teacher: str = Field(description="the model that writes Long-CoT samples: a path, a hub id or `embedded:NAME`")
    student: str = Field(description="the model that is trained and evaluated")


class PluginRef(Section):
    name: str = Field(description="a registered plugin name")
    options: dict[str, Any] = Field(default_factory=dict, description="the plugin's constructor options")


class Scoring(Section):
    scorer: str = Field("given", description="difficulty scorer: `given` (the source's own level), `llm-judge`, `trained`")
    options: dict[str, Any] = Field(default_factory=dict, description="the scorer's options")


class DomainSelection(Section):
    min_level: Number | None = Field(None, description="this domain's own difficulty band (null: the global band)")
    max_level: Number | None = None
    max_prompts: int | None = Field(None, description="at most this many prompts of this domain")
    n: int | None = Field(None, description="responses per prompt (null: `sampling.n`)")
    n_by_level: dict[Number, int] | None = Field(None, description="level -> responses (null: `sampling.n_by_level`)")


class MixCount(Section):
    """A domain's place in ``selection.mix`` as a number of prompts (``logic: {prompts: 40}``)
    rather than a share."""

    prompts: int = Field(description="select this many prompts of the domain (fewer when it has fewer)")


def _mix_value(value: Any) -> Any:
    """A share (a number) stays as it is; ``{prompts: N}`` becomes a :class:`MixCount`; anything
    else is one clear error instead of one per member of the union."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) or isinstance(value, MixCount):
        return value
    if isinstance(value, dict) and set(value) == {"prompts"} and isinstance(value["prompts"], int) \
            and not isinstance(value["prompts"], bool):
        return MixCount(prompts=value["prompts"])
    raise ValueError("must be a share (a number such as 0.4) or a count of prompts ({prompts: 40})")


#: A domain's entry in ``selection.mix``.
MixShare = Annotated[int | float | MixCount, Field(union_mode="left_to_right"), BeforeValidator(_mix_value)]


class Selection(Section):
    min_level: Number = Field(7, description="keep prompts with difficulty at least this (the paper: 7)")
    max_level: Number = Field(9, description="and at most this (the paper: 9)")
    per_source: dict[str, int] = Field(default_factory=dict, description="source name -> at most this many prompts")
    mix: dict[str, MixShare] = Field(default_factory=dict, description="domain -> its share of the selected prompts "
                                     "(a number), or a count of prompts (`{prompts: 40}`)")
    mix_mode: Literal["ratio", "cap"] = Field("ratio", description="how shares combine: `ratio` or `cap`")
    total: int | None = Field(None, description="how many prompts to select")
    domains: dict[str, DomainSelection] = Field(default_factory=dict,
                                                description="domain -> its own band, cap and samples per prompt")

    def shares(self) -> dict[str, float]:
        """The domains of ``mix`` given a share, with their shares."""
        return {d: v for d, v in self.mix.items() if not isinstance(v, MixCount)}

    def counts(self) -> dict[str, int]:
        """The domains of ``mix`` given a count of prompts, with their counts."""
        return {d: v.prompts for d, v in self.mix.items() if isinstance(v, MixCount)}

    def band(self, domain: str) -> tuple[float, float]:
        """The difficulty band ``domain`` is selected in: its own, else the global one."""
        rule = self.domains.get(domain)
        low = self.min_level if rule is None or rule.min_level is None else rule.min_level
        high = self.max_level if rule is None or rule.max_level is None else rule.max_level
        return low, high


class Decontamination(Section):
    enabled: bool = Field(True, description="drop prompts that overlap benchmark questions")
    ngram: int = Field(13, description="word n-gram length that counts as overlap")
    evaluators: list[str] | None = Field(None, description="benchmarks to check against (default: every installed one)")
    exact_only: list[str] = Field(default_factory=list, description="benchmarks checked by exact match only")


class Sampling(Section):
    backend: str = Field("transformers", description="`transformers`, `vllm`, `openai`, or a plugin's sampler")
    options: dict[str, Any] = Field(default_factory=dict, description="the backend's options")
    n: int = Field(4, description="responses per prompt")
    n_by_level: dict[Number, int] = Field(default_factory=dict, description="level -> responses (harder prompts get more)")
    temperature: Number = 1.0
    top_p: Number = 1.0
    max_new_tokens: int = 1024
    chunk_size: int = Field(32, description="prompts per batch written to disk (the resume granularity)")

    def params(self, n: int | None = None, **extra: Any) -> SamplingParams:
        """The :class:`SamplingParams` this section asks for (``n`` and ``extra`` per call)."""
        return SamplingParams(n=self.n if n is None else n, temperature=self.temperature, top_p=self.top_p,
                              max_new_tokens=self.max_new_tokens, **extra)


class Cleaning(Section):
    filters: list[PluginRef] = Field(
        default_factory=lambda: [PluginRef(name="repetition"), PluginRef(name="language")],
        description="`repetition`, `language`, or a plugin's filter")
    drop_truncated: bool = Field(True, description="drop responses that hit max_new_tokens")


class Preference(Section):
    pairs_per_prompt: int = 1
    negatives: Literal["wrong_first", "wrong_only", "any"] = "wrong_first"


class StudentPrompts(Section):
    """An RL step's own prompts: the model the step starts from is sampled on the run's online
    prompts, its responses verified, and the prompts whose pass rate lies in the band are kept
    (:mod:`redstar.pipeline.rl_prompts`)."""

    n: int = Field(8, description="responses sampled per prompt")
    temperature: Number | None = Field(None, description="sampling temperature (null: the trainer's `temperature`, "
                                       "else 1.0)")
    top_p: Number | None = Field(None, description="nucleus (null: the trainer's `top_p`, else 1.0)")
    max_new_tokens: int | None = Field(None, description="response tokens at most (null: the trainer's "
                                       "`max_new_tokens`, else `evaluation.max_new_tokens`)")
    pass_rate: list[Number] = Field([0, 1], description="`[low, high]`: keep prompts whose pass rate p has "
                                    "low < p < high (default: drop all-wrong and all-right prompts)")

    @field_validator("pass_rate")
    @classmethod
    def _band(cls, value: list[int | float]) -> list[int | float]:
        if len(value) != 2 or not value[0] < value[1]:
            raise ValueError(f"must be [low, high] with low < high, got {value}")
        return value


class TrainStep(Section):
    trainer: str = Field(description="a registered trainer (`sft`, `dpo`, `ppo`, `reinforce_pp`, `grpo`...)")
    options: dict[str, Any] = Field(default_factory=dict, description="the trainer's options")


class RLStep(TrainStep):
    """A step of ``rl``: a trainer, and where its prompts or pairs come from."""

    prompts: StudentPrompts | None = Field(None, description="RL steps: sample the starting model first and train "
                                           "on the prompts it sometimes solves (null: every online prompt)")
    pairs: Literal["teacher", "student"] = Field("teacher", description="`dpo`: the teacher's correct/wrong pairs "
                                                 "(`preference.jsonl`), or the student's own from `prompts`' samples")


class SampledEvaluation(Section):
    """A second evaluation beside the primary (greedy) one: k samples per problem at the RL
    trainers' temperature, for sampled pass@1, pass@k and the room-for-RL figures."""

    n: int = Field(4, description="samples per problem: the k of pass@k")
    temperature: Number = Field(1.0, description="sampling temperature, above 0 (the RL trainers' default is 1.0)")
    top_p: Number = Field(1.0, description="nucleus sampling cut")
    models: list[str] | None = Field(None, description="model tags to sample (`sft`, `dpo`...; null: every model)")


class Evaluation(Section):
    evaluators: list[PluginRef] = Field(default_factory=list, description="benchmarks to evaluate every model on")
    validation: list[PluginRef] = Field(
        default_factory=list, description="benchmarks kept apart from `evaluators` for choosing hyper-parameters "
        "(`redstar sweep`'s `select`); scored for every model before the held-out sets")
    backend: str = "transformers"
    options: dict[str, Any] = Field(default_factory=dict)
    n: int = Field(1, description="samples per problem (pass@1 is averaged over them)")
    temperature: Number = 0.0
    top_p: Number = 1.0
    max_new_tokens: int = 1024
    teacher: bool = Field(False, description="also evaluate the teacher")
    sampled: SampledEvaluation | None = Field(
        None, description="also sample k answers per problem (sampled pass@1, pass@k, room for RL); null: off")

    def params(self, **extra: Any) -> SamplingParams:
        return SamplingParams(n=self.n, temperature=self.temperature, top_p=self.top_p,
                              max_new_tokens=self.max_new_tokens, **extra)

    def sampled_params(self, **extra: Any) -> SamplingParams:
        """The sampled evaluation's parameters (``sampled`` must be set); the token limit is the
        primary evaluation's, so the two differ only in how they sample."""
        if self.sampled is None:
            raise ValueError("evaluation.sampled is not set")
        return SamplingParams(n=self.sampled.n, temperature=self.sampled.temperature, top_p=self.sampled.top_p,
                              max_new_tokens=self.max_new_tokens, **extra)

    def primary_settings(self) -> dict[str, Any]:
        """What the primary evaluation's fingerprint holds: every setting but the benchmark lists
        and the sampled evaluation, so that adding either redoes nothing already scored."""
        return {k: v for k, v in self.to_dict().items() if k not in ("evaluators", "validation", "sampled")}


class Execution(Section):
    """Where sampling, verification and evaluation run. It never changes what a run produces (no
    fingerprint includes it): the same recipe on either engine writes the same samples."""

    engine: Literal["local", "ray"] = Field(
        "local", description="`local`: this process; `ray`: fan out over a Ray cluster (`pip install redstar-core[ray]`)")
    address: str | None = Field(
        None, description="the Ray cluster: `auto` (the cluster this node belongs to), `ray://head:10001` (a "
        "driver elsewhere, e.g. a laptop), or null to start a Ray instance on this machine")
    replicas: int = Field(1, description="sampler replicas: one Ray actor each, each holding the model once")
    num_gpus: Number = Field(0, description="GPUs per sampler replica (a vLLM engine's tensor-parallel size)")
    num_cpus: Number = Field(1, description="CPUs per sampler replica and per verification, cleaning or set-building task")
    verify_batch: int = Field(64, description="responses per verification task")
    verify_during_sampling: bool = Field(
        True, description="judge each chunk of samples as it arrives, on the cluster's free CPUs, while sampling goes "
        "on (the ray engine; the local one judges after sampling); the verdicts are the same either way")
    max_retries: int = Field(3, description="times a chunk or task whose worker died or hung is redone before the run "
                             "stops")
    stall_timeout: Number | None = Field(
        900, gt=0, description="seconds a sampler replica that holds chunks may go without progress (a vLLM engine "
        "step, a transformers batch, a finished chunk) before it counts as hung: it is killed with its child "
        "processes and replaced, and its chunks are redone; null: wait forever")
    load_timeout: Number | None = Field(
        3600, gt=0, description="the same, before a replica's first progress (starting, loading its model)")
    task_timeout: Number | None = Field(
        1800, gt=0, description="seconds one verification, cleaning or set-building task (a batch) may run without "
        "finishing before it counts as hung: it is stopped (on Ray its worker is killed; locally the call is "
        "interrupted and the verifiers or filters rebuilt) and redone, up to `max_retries` times, then the run stops "
        "naming the batch; the time a task waits for a free CPU does not count; null: wait forever")
    runtime_env: dict[str, Any] = Field(default_factory=dict, description="Ray `runtime_env` for every worker "
                                        "(e.g. `env_vars`, `pip`); RedStar and its plugins must be importable there")


class Recipe(Section):
    """A validated recipe with every default filled in. ``path`` is the file it came from and
    ``lines`` maps each dotted key written there to its line, for errors found later (a plugin
    option the plugin does not take)."""

    name: str = Field("redstar-run", description="run name, a plain name (letters, digits, `.`, `_`, `-`, `+`): "
                      "the default output folder is runs/<name>")
    seed: int = Field(0, description="seeds selection order, sampling and training (0 to 2**32 - 1)")
    models: Models
    sources: list[PluginRef] = Field(default_factory=list)
    scoring: Scoring = Field(default_factory=Scoring)
    selection: Selection = Field(default_factory=Selection)
    decontamination: Decontamination = Field(default_factory=Decontamination)
    verifiers: dict[str, dict[str, Any]] = Field(default_factory=dict,
                                                 description="domain -> options of that domain's verifier")
    sampling: Sampling = Field(default_factory=Sampling)
    cleaning: Cleaning = Field(default_factory=Cleaning)
    preference: Preference = Field(default_factory=Preference)
    sft: TrainStep | None = Field(default_factory=lambda: TrainStep(trainer="sft"))
    rl: list[RLStep] = Field(default_factory=list)
    evaluation: Evaluation = Field(default_factory=Evaluation)
    execution: Execution = Field(default_factory=Execution)
    stages: dict[str, bool] = Field(default_factory=dict,
                                    description="a plugin's pipeline stage -> `false` to leave it out of the run")

    _path: Path | None = PrivateAttr(None)
    _lines: dict[str, int] = PrivateAttr(default_factory=dict)
    _warnings: list[str] = PrivateAttr(default_factory=list)

    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def lines(self) -> dict[str, int]:
        return self._lines

    @property
    def warnings(self) -> list[str]:
        """What is legal but probably not meant, found while the recipe was put together (a
        plugin's default part that sets the global difficulty band); a run repeats them in its
        summary."""
        return self._warnings

    def where(self, key: str) -> str | None:
        """``file:line`` of ``key`` (or of the nearest enclosing key written in the file)."""
        import re

        if self._path is None:
            return None
        probe = key
        while probe:
            if probe in self._lines:
                return f"{self._path}:{self._lines[probe]}"
            probe = re.sub(r"(\.[^.\[\]]*|\[\d+\])$", "", probe) if re.search(r"[.\[]", probe) else ""
        return str(self._path)
