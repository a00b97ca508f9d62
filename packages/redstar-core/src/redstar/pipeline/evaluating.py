"""Evaluation stages: every model of the run (the student before training, after SFT, after each
RL step; optionally the teacher) on every evaluator of the recipe. Per-problem results go to
``eval/<model>/<evaluator>.jsonl`` (and ``<evaluator>.sampled.jsonl`` for the sampled
evaluation, ``evaluation.sampled``); scores go to the run state and ``summary.json``."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from redstar.evaluation import room_for_rl, room_units
from redstar.execution import SamplerSpec
from redstar.interfaces import Evaluator, Sampler, SamplingParams
from redstar.models import resolve_model
from redstar.pipeline.context import RunContext
from redstar.pipeline.rundir import fingerprint
from redstar.pipeline.stage import Outcome, Stage, run_step
from redstar.pipeline.training import ModelStage
from redstar.recipe import PluginRef
from redstar.services import evaluate_on
from redstar.stats import per_problem_results


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
    with lazy_sampler(ctx, model) as sampler:
        return {spec.name: _evaluate_one(ctx, model, spec, evaluator, sampler) for spec, evaluator in evaluators}


@contextmanager
def lazy_sampler(ctx: RunContext, model: ModelStage) -> Iterator[Callable[[], Sampler]]:
    """A getter of ``model``'s evaluation sampler: loaded on the first benchmark not already
    scored, then shared by the model's others, and closed at the end."""
    cfg = ctx.recipe.evaluation
    built: list[Sampler] = []

    def sampler() -> Sampler:
        if not built:
            # On the run's engine: with Ray, a benchmark's problems fan out over the replicas.
            built.append(ctx.engine.sampler(SamplerSpec(cfg.backend, model.path, cfg.options, "evaluation")))
        return built[0]

    try:
        yield sampler
    finally:
        for s in built:
            s.close()


def _evaluate_one(ctx: RunContext, model: ModelStage, spec: PluginRef, evaluator: Evaluator,
                  sampler: Callable[[], Sampler]) -> dict[str, Any]:
    """The primary score of ``model`` on one benchmark; with ``evaluation.sampled`` set (and the
    model among its ``models``), the sampled score under ``"sampled"`` and the figures of
    :func:`~redstar.evaluation.room_for_rl` under ``"room_for_rl"``."""
    cfg = ctx.recipe.evaluation
    stage = f"eval:{model.tag}:{spec.name}"
    results = ctx.run.root / "eval" / model.tag / f"{spec.name}.jsonl"
    score = score_step(ctx, stage, model, spec, evaluator, sampler, cfg.primary_settings(),
                       cfg.params(seed=ctx.recipe.seed), results)
    sampled = cfg.sampled
    if sampled is None or (sampled.models is not None and model.tag not in sampled.models):
        return score
    settings = {"backend": cfg.backend, "options": cfg.options, "max_new_tokens": cfg.max_new_tokens,
                "sampled": {k: v for k, v in sampled.to_dict().items() if k != "models"}}
    sampled_results = results.with_name(f"{spec.name}.sampled.jsonl")
    drawn = score_step(ctx, f"{stage}:sampled", model, spec, evaluator, sampler, settings,
                       cfg.sampled_params(seed=ctx.recipe.seed), sampled_results)
    room = room_for_rl(room_units(per_problem_results(results), per_problem_results(sampled_results)))
    return {**score, "sampled": drawn, "room_for_rl": room}


def score_step(ctx: RunContext, stage: str, model: ModelStage, spec: PluginRef, evaluator: Evaluator,
               sampler: Callable[[], Sampler], settings: Mapping[str, Any], params: SamplingParams,
               results: Path) -> dict[str, Any]:
    """One scoring step (``stage``): ``model`` on ``evaluator`` with ``params``, per-problem rows
    in ``results``; skipped when done with the same fingerprint, resumed when interrupted."""
    recipe, run = ctx.recipe, ctx.run
    fp = fingerprint(stage, model.fingerprint, dict(settings), spec, ctx.plugin_versions(), recipe.seed)

    def work() -> Outcome:
        # Judged on the run's engine too: with Ray, a benchmark's responses fan out as tasks.
        verifier = ctx.engine.verifier(ctx.verifier(evaluator.domain), recipe.execution.verify_batch)
        score = evaluate_on(ctx.board, f"evaluating {model.tag} on {spec.name}", evaluator, sampler(),
                            verifier, params, results).to_dict()
        return Outcome(score, extra={"score": score})

    return run_step(ctx, stage, fp, [results], work=work, load=lambda: run.stage(stage)["score"],
                    is_complete=lambda: True)


#: Fans out into one step per model and benchmark (``eval:<model>:<evaluator>``, and
#: ``eval:<model>:<evaluator>:sampled`` with ``evaluation.sampled``).
EVALUATE = Stage("evaluate", "eval", _evaluate, reads=("train",), fans_out=True)
