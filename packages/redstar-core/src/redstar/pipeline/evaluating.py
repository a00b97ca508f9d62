"""Evaluation stages: every model of the run (the student before training, after SFT, after each
RL step; optionally the teacher) on every evaluator of the recipe. Per-problem results go to
``eval/<model>/<evaluator>.jsonl``; scores go to the run state and ``summary.json``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from redstar.execution import SamplerSpec
from redstar.interfaces import Evaluator, Sampler
from redstar.models import resolve_model
from redstar.pipeline.context import RunContext
from redstar.pipeline.rundir import fingerprint
from redstar.pipeline.stage import Outcome, Stage, run_step
from redstar.pipeline.training import ModelStage
from redstar.recipe import PluginRef
from redstar.services import evaluate_on


def _evaluate(ctx: RunContext, inputs: Mapping[str, Any]) -> Outcome:
    """Scores by model tag, then evaluator name."""
    recipe = ctx.recipe
    models: list[ModelStage] = list(inputs["train"])
    if recipe.evaluation.teacher:
        teacher = recipe.models.teacher
        models = [ModelStage("teacher", resolve_model(teacher), fingerprint("model", teacher)), *models]
    evaluators = [(spec, ctx.build("evaluators", spec.name, spec.options, f"evaluation.evaluators[{i}]"))
                  for i, spec in enumerate(recipe.evaluation.evaluators)]
    return Outcome({model.tag: _evaluate_model(ctx, model, evaluators) for model in models})


def _evaluate_model(ctx: RunContext, model: ModelStage, evaluators: list[tuple[PluginRef, Evaluator]]) -> dict[str, Any]:
    cfg = ctx.recipe.evaluation
    built: list[Sampler] = []

    def sampler() -> Sampler:
        # Loaded on the first benchmark not already scored, then shared by the model's others.
        if not built:
            # On the run's engine: with Ray, a benchmark's problems fan out over the replicas.
            built.append(ctx.engine.sampler(SamplerSpec(cfg.backend, model.path, cfg.options, "evaluation")))
        return built[0]

    try:
        return {spec.name: _evaluate_one(ctx, model, spec, evaluator, sampler) for spec, evaluator in evaluators}
    finally:
        for s in built:
            s.close()


def _evaluate_one(ctx: RunContext, model: ModelStage, spec: PluginRef, evaluator: Evaluator,
                  sampler: Callable[[], Sampler]) -> dict[str, Any]:
    recipe, run = ctx.recipe, ctx.run
    cfg = recipe.evaluation
    stage = f"eval:{model.tag}:{spec.name}"
    settings = {k: v for k, v in cfg.to_dict().items() if k != "evaluators"}
    fp = fingerprint(stage, model.fingerprint, settings, spec, ctx.plugin_versions(), recipe.seed)
    results = run.root / "eval" / model.tag / f"{spec.name}.jsonl"

    def work() -> Outcome:
        # Judged on the run's engine too: with Ray, a benchmark's responses fan out as tasks.
        verifier = ctx.engine.verifier(ctx.verifier(evaluator.domain), recipe.execution.verify_batch)
        score = evaluate_on(ctx.board, f"evaluating {model.tag} on {spec.name}", evaluator, sampler(),
                            verifier, cfg.params(seed=recipe.seed), results).to_dict()
        return Outcome(score, extra={"score": score})

    return run_step(ctx, stage, fp, [results], work=work, load=lambda: run.stage(stage)["score"],
                    is_complete=lambda: True)


#: Fans out into one step per model and benchmark (``eval:<model>:<evaluator>``).
EVALUATE = Stage("evaluate", "eval", _evaluate, reads=("train",), fans_out=True)
