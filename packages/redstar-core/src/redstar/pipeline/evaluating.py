"""Evaluation stages: every model of the run (the student before training, after SFT, after each
RL step; optionally the teacher) on every evaluator of the recipe. Per-problem results go to
``eval/<model>/<evaluator>.jsonl``; scores go to the run state and ``summary.json``."""

from __future__ import annotations

from typing import Any

from redstar.evaluation import evaluate
from redstar.models import resolve_model
from redstar.pipeline.context import RunContext
from redstar.pipeline.rundir import fingerprint
from redstar.pipeline.training import ModelStage


def evaluate_stages(ctx: RunContext, models: list[ModelStage]) -> dict[str, dict[str, Any]]:
    """Scores by model tag, then evaluator name."""
    recipe, run = ctx.recipe, ctx.run
    cfg = recipe.evaluation
    if cfg.teacher:
        teacher = recipe.models.teacher
        models = [ModelStage("teacher", resolve_model(teacher), fingerprint("model", teacher)), *models]
    evaluators = [(spec.name, ctx.build("evaluators", spec.name, spec.options, f"evaluation.evaluators[{i}]"),
                   spec) for i, spec in enumerate(cfg.evaluators)]
    scores: dict[str, dict[str, Any]] = {}
    for model in models:
        sampler = None
        try:
            for name, evaluator, spec in evaluators:
                stage = f"eval:{model.tag}:{name}"
                fp = fingerprint(stage, model.fingerprint, {k: v for k, v in cfg.to_dict().items() if k != "evaluators"},
                                 spec, ctx.plugin_versions(), recipe.seed)
                if run.is_done(stage, fp):
                    scores.setdefault(model.tag, {})[name] = run.stage(stage)["score"]
                    continue
                results = run.root / "eval" / model.tag / f"{name}.jsonl"
                run.begin(stage, fp, [results])
                if sampler is None:
                    sampler = ctx.build("samplers", cfg.backend, cfg.options, "evaluation", model=model.path)
                problems = evaluator.load()
                with ctx.board.task(f"evaluating {model.tag} on {name}", len(problems)) as update:
                    score = evaluate(name, problems, sampler, ctx.verifier(evaluator.domain),
                                     cfg.params(seed=recipe.seed), results,
                                     on_progress=lambda done, total: update(done, total))
                run.finish(stage, score=score.to_dict())
                scores.setdefault(model.tag, {})[name] = score.to_dict()
        finally:
            if sampler is not None:
                sampler.close()
    return scores
