"""Training stages: SFT of the student on the verified Long-CoT, then each RL step of the recipe
in order, each starting from the model the previous one produced.

A trainer gets the data file its ``kind`` needs (``sft.jsonl``, ``preference.jsonl`` or
``online.jsonl``) and, for online RL, the verifiers' rule reward. An RL step with ``prompts``
first samples the model it starts from and trains on the prompts that model sometimes solves (and,
with ``pairs: student``, on its own correct/wrong pairs): :mod:`redstar.pipeline.rl_prompts`. Trainers checkpoint into their
output folder, so an interrupted stage with an unchanged fingerprint resumes from its last
checkpoint; a changed recipe section or changed data retrains that stage and the ones after it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redstar.errors import RedStarError
from redstar.faults import check_train_result
from redstar.interfaces import TrainContext, Trainer, TrainResult, options_of
from redstar.models import resolve_model
from redstar.pipeline import ranks
from redstar.pipeline.context import PluginContext, RunContext
from redstar.pipeline.rl_prompts import student_data
from redstar.pipeline.rundir import file_digest, fingerprint
from redstar.pipeline.stage import Outcome, Stage, run_step
from redstar.recipe import Recipe, RLStep, TrainStep
from redstar.services import rule_reward
from redstar.training_health import training_health

DATA_FILES = {"sft": "sft.jsonl", "preference": "preference.jsonl", "online": "online.jsonl"}

#: What to do when a domain yields no training rows (most often: a teacher that cannot solve it).
NO_DATA_ADVICE = (
    "No sample was judged correct and clean (see the funnel per domain in the report). Use a stronger teacher "
    "(models.teacher, or an OpenAI-compatible server: sampling.backend: openai), draw more samples "
    "(sampling.n), widen the difficulty band (selection.domains.<domain>) or relax cleaning; "
    "`redstar run --until curate` shows the funnel without training. The embedded tiny models know only math, "
    "code and geometry."
)


@dataclass
class ModelStage:
    """A model the run evaluates: its tag (``base``, ``sft``, ``dpo``...), path and fingerprint."""

    tag: str
    path: str
    fingerprint: str


def _empty(path: Path) -> bool:
    return not path.exists() or path.stat().st_size == 0 or not path.read_text(encoding="utf-8").strip()


def _skip(ctx: RunContext, stage: str, message: str, *key: Any) -> None:
    # Finish what can be finished (the base model's scores, the funnel that shows where the
    # samples died) instead of ending the run with nothing; the summary carries the warning.
    ctx.log(f"[yellow]{message}")
    run_step(ctx, stage, fingerprint(stage, "skipped", *key), [], work=lambda: Outcome(None, {"skipped": message}))


def _train_one(ctx: RunContext, stage: str, key: str, step: TrainStep, start: ModelStage, tag: str) -> ModelStage | None:
    run = ctx.run
    trainer = ctx.build("trainers", step.trainer, step.options, key)
    rl = step if isinstance(step, RLStep) else None
    # The student's own pairs are built from the online prompts, not the teacher's pairs.
    data_file = run.root / DATA_FILES["online" if rl and rl.pairs == "student" else trainer.kind]
    if _empty(data_file):
        _skip(ctx, stage, f"{stage}: skipped: {data_file.name} is empty, so there is nothing to train "
                          f"{step.trainer!r} on. {NO_DATA_ADVICE}", start.fingerprint)
        return None
    if rl and rl.prompts is not None:
        # Sampled from the model this step starts from, so it runs here, between the steps.
        data_file = student_data(ctx, stage, key, rl, trainer, start.path, start.fingerprint, tag)
        if _empty(data_file):
            _skip(ctx, stage, f"{stage}: skipped: its starting model solved none of the prompts sometimes and "
                              f"sometimes not (rl-prompts/{tag}/: pass rates outside {list(rl.prompts.pass_rate)}), "
                              f"so {data_file.name} is empty and {step.trainer!r} has nothing to learn from.",
                  start.fingerprint, file_digest(data_file) if data_file.exists() else None)
            return None
    fp = fingerprint(stage, start.fingerprint, step, file_digest(data_file), ctx.recipe.seed)
    out_dir = run.root / "models" / tag
    metrics_file = run.path("metrics", f"{tag}.jsonl")
    order = {"stage": stage, "key": key, "step": fingerprint(step), "model": start.path, "output_dir": str(out_dir),
             "data_file": str(data_file), "seed": ctx.recipe.seed}

    def train() -> Outcome:
        followers = ranks.team()
        if followers is not None:  # a multi-process launch: the other ranks train with this one
            followers.train(_absolute(order))
        with ctx.board.task(f"training {tag} ({step.trainer})", None) as update:
            result = check_train_result(trainer, trainer.train(_context(
                ctx, trainer, order, metrics_file=metrics_file,
                on_step=lambda step, total, metrics: update(step, total))))
        counts: dict[str, Any] = {"metrics": result.metrics}
        if trainer.kind != "sft":
            # Whether the policy moved and its reward did: the summary says "did not train" rather
            # than letting a stage that never moved read as "within noise".
            counts["health"] = training_health(metrics_file, tag, step.trainer, trainer.kind,
                                               {**options_of(type(trainer)), **step.options})
        return Outcome(ModelStage(tag, str(result.model_path), fp), counts, {"model_path": str(result.model_path)})

    return run_step(ctx, stage, fp, [out_dir, run.root / "metrics" / f"{tag}.jsonl"], work=train,
                    load=lambda: ModelStage(tag, run.stage(stage)["model_path"], fp),
                    is_complete=lambda: Path(run.stage(stage).get("model_path", "")).exists())


def _context(ctx: PluginContext, trainer: Trainer, order: Mapping[str, Any], **reporting: Any) -> TrainContext:
    """The context of the training step ``order``, the same in every rank of a launch (only rank 0
    passes ``metrics_file`` and ``on_step``)."""
    return TrainContext(model=order["model"], output_dir=Path(order["output_dir"]), data_file=Path(order["data_file"]),
                        reward=rule_reward(ctx) if trainer.kind == "online" else None, seed=order["seed"],
                        **reporting)


def _absolute(order: Mapping[str, Any]) -> dict[str, Any]:
    """``order`` with its local paths absolute, for ranks that may run in another directory."""
    local = ("output_dir", "data_file", "model") if Path(order["model"]).exists() else ("output_dir", "data_file")
    return {**order, **{k: str(Path(order[k]).absolute()) for k in local}}  # a model may be a hub id


def recipe_step(recipe: Recipe, key: str) -> TrainStep:
    """The training step of ``recipe`` at ``key`` (``sft``, ``rl[0]``, ...)."""
    for _, found, step, _ in training_steps(recipe):
        if found == key:
            return step
    raise RedStarError(f"the recipe has no training step {key!r}")


def join_training(ctx: PluginContext, order: Mapping[str, Any]) -> TrainResult:
    """A follower's part of the training step rank 0 started (``order``, see
    :mod:`redstar.pipeline.ranks`): the same trainer, built from the same recipe section, on the
    same model, data and output folder; the run's bookkeeping stays with rank 0."""
    step = recipe_step(ctx.recipe, order["key"])
    if fingerprint(step) != order["step"]:
        raise RedStarError(f"{order['key']} differs between this rank's recipe and rank 0's: start every rank with the "
                           "same command and recipe")
    trainer = ctx.build("trainers", step.trainer, step.options, order["key"])
    return trainer.train(_context(ctx, trainer, order))


def training_steps(recipe: Recipe) -> list[tuple[str, str, TrainStep, str]]:
    """Each training step of ``recipe`` in order: its stage (``train:sft``, ``train:rl:0``), its
    recipe key, the step, and the tag of the model it makes (``sft``; an RL step's trainer name,
    with its index when two steps use one trainer: ``dpo``, ``dpo-1``). The tag names the model's
    folder (``models/<tag>``) and its column in the scores."""
    steps = ([("train:sft", "sft", recipe.sft)] if recipe.sft else []) + \
        [(f"train:rl:{i}", f"rl[{i}]", step) for i, step in enumerate(recipe.rl)]
    tags = {"base"}
    out = []
    for stage, key, step in steps:
        tag = "sft" if stage == "train:sft" else step.trainer if step.trainer not in tags else f"{step.trainer}-{key[3:-1]}"
        tags.add(tag)
        out.append((stage, key, step, tag))
    return out


def _train(ctx: RunContext, inputs: Mapping[str, Any]) -> Outcome:
    """The student before training, then after SFT, then after each RL step."""
    recipe = ctx.recipe
    student = recipe.models.student
    current = ModelStage("base", resolve_model(student), fingerprint("model", student))
    models = [current]
    for stage, key, step, tag in training_steps(recipe):
        # A skipped step leaves the model as it was: the next one starts from the last trained.
        trained = _train_one(ctx, stage, key, step, current, tag)
        if trained is not None:
            current = trained
            models.append(current)
    return Outcome(models)


#: Fans out into one step per trainer (``train:sft``, ``train:rl:0``...), each keyed on the
#: model it starts from and the digest of its data file.
TRAIN = Stage("train", "train", _train, reads=("build",), fans_out=True)
