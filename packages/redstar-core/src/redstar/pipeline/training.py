"""Training stages: SFT of the student on the verified Long-CoT, then each RL step of the recipe
in order, each starting from the model the previous one produced.

A trainer gets the data file its ``kind`` needs (``sft.jsonl``, ``preference.jsonl`` or
``online.jsonl``) and, for online RL, the verifiers' rule reward. Trainers checkpoint into their
output folder, so an interrupted stage with an unchanged fingerprint resumes from its last
checkpoint; a changed recipe section or changed data retrains that stage and the ones after it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redstar.interfaces import TrainContext
from redstar.models import resolve_model
from redstar.pipeline.context import RunContext
from redstar.pipeline.rundir import file_digest, fingerprint

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


def rule_reward(ctx: RunContext) -> Any:
    def reward(rows: Sequence[Mapping[str, Any]], responses: Sequence[str]) -> list[float]:
        out = []
        for row, response in zip(rows, responses):
            verdict = ctx.verifier(row["domain"]).verify(response, row["reference"], row.get("metadata") or {})
            out.append(float(verdict.reward))
        return out

    return reward


def _train_one(ctx: RunContext, stage: str, key: str, trainer_name: str, options: dict[str, Any],
               start: ModelStage, tag: str) -> ModelStage | None:
    run = ctx.run
    trainer = ctx.build("trainers", trainer_name, options, key)
    data_file = run.root / DATA_FILES[trainer.kind]
    if not data_file.exists() or data_file.stat().st_size == 0 or not data_file.read_text(encoding="utf-8").strip():
        # Finish what can be finished (the base model's scores, the funnel that shows where the
        # samples died) instead of ending the run with nothing; the summary carries the warning.
        message = (f"{stage}: skipped: {data_file.name} is empty, so there is nothing to train {trainer_name!r} on. "
                   f"{NO_DATA_ADVICE}")
        run.begin(stage, fingerprint(stage, "skipped", start.fingerprint))
        run.finish(stage, {"skipped": message})
        ctx.log(f"[yellow]{message}")
        return None
    fp = fingerprint(stage, start.fingerprint, trainer_name, options, file_digest(data_file), ctx.recipe.seed)
    if run.is_done(stage, fp):
        path = run.stage(stage)["model_path"]
        if Path(path).exists():
            return ModelStage(tag, path, fp)
    out_dir = run.root / "models" / tag
    run.begin(stage, fp, [out_dir, run.root / "metrics" / f"{tag}.jsonl"])
    with ctx.board.task(f"training {tag} ({trainer_name})", None) as update:
        result = trainer.train(TrainContext(
            model=start.path,
            output_dir=out_dir,
            data_file=data_file,
            reward=rule_reward(ctx) if trainer.kind == "online" else None,
            metrics_file=run.path("metrics", f"{tag}.jsonl"),
            on_step=lambda step, total, metrics: update(step, total),
            seed=ctx.recipe.seed,
        ))
    run.finish(stage, {"metrics": result.metrics}, model_path=str(result.model_path))
    return ModelStage(tag, str(result.model_path), fp)


def train_stages(ctx: RunContext) -> list[ModelStage]:
    recipe = ctx.recipe
    student = recipe.models.student
    current = ModelStage("base", resolve_model(student), fingerprint("model", student))
    models = [current]
    if recipe.sft:
        trained = _train_one(ctx, "train:sft", "sft", recipe.sft.trainer, recipe.sft.options, current, "sft")
        if trained is not None:
            current = trained
            models.append(current)
    tags = {m.tag for m in models}
    for i, step in enumerate(recipe.rl):
        tag = step.trainer if step.trainer not in tags else f"{step.trainer}-{i}"
        tags.add(tag)
        # A skipped step leaves the model as it was: the next one starts from the last trained.
        trained = _train_one(ctx, f"train:rl:{i}", f"rl[{i}]", step.trainer, step.options, current, tag)
        if trained is not None:
            current = trained
            models.append(current)
    return models
