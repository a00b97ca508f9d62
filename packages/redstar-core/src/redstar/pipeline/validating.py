"""The validation stage: every model of the run (not the teacher) on the recipe's validation
sets (``evaluation.validation``), scored like the held-out sets and before them, so that
``redstar sweep``'s ``select`` can choose between variants on validation and score the held-out
sets only for the variant it chose (``redstar run --until validate`` stops here).

A validation question that is also a question of the recipe's held-out sets (equal up to case
and whitespace, as decontamination compares them) is dropped from validation and counted
(``dropped_as_heldout``): what chooses must never see what is reported. Per-problem results go
to ``eval/<model>/validation/<evaluator>.jsonl``; scores to the run state and ``summary.json``
(under ``validation``, apart from ``scores``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from redstar.decontamination import exact_key
from redstar.errors import RecipeError
from redstar.interfaces import Evaluator
from redstar.pipeline.context import RunContext
from redstar.pipeline.evaluating import lazy_sampler, score_step
from redstar.pipeline.stage import Outcome, Stage
from redstar.pipeline.training import ModelStage
from redstar.records import Prompt


class _Apart(Evaluator):
    """A validation set without the questions of the held-out sets."""

    def __init__(self, inner: Evaluator, problems: list[Prompt]) -> None:
        self.name = inner.name  # type: ignore[misc]  # an instance's name, as its class's
        self.domain = inner.domain  # type: ignore[misc]
        self._problems = problems

    def load(self) -> list[Prompt]:
        return self._problems


def _validate(ctx: RunContext, inputs: Mapping[str, Any]) -> Outcome:
    """Scores by model tag, then validation evaluator name (empty without validation sets)."""
    cfg = ctx.recipe.evaluation
    if not cfg.validation:
        return Outcome({})
    heldout = {exact_key(p.question)
               for i, spec in enumerate(cfg.evaluators)
               for p in ctx.build("evaluators", spec.name, spec.options, f"evaluation.evaluators[{i}]").load()}
    sets = []
    for i, spec in enumerate(cfg.validation):
        key = f"evaluation.validation[{i}]"  # preflight has checked that it is not a held-out set itself
        built = ctx.build("evaluators", spec.name, spec.options, key)
        problems = built.load()
        kept = [p for p in problems if exact_key(p.question) not in heldout]
        if not kept:
            raise RecipeError(ctx.recipe.where(key), key, f"all {len(problems)} problems of {spec.name} are also in "
                              "a held-out set (evaluation.evaluators); validation needs problems of its own")
        sets.append((spec, _Apart(built, kept), len(problems) - len(kept)))
    # What the held-out sets are decides what validation drops, so it is part of the fingerprint.
    settings = {**cfg.primary_settings(), "apart_from": [e.to_dict() for e in cfg.evaluators]}
    scores: dict[str, dict[str, Any]] = {}
    for model in inputs["train"]:
        scores[model.tag] = _validate_model(ctx, model, sets, settings)
    return Outcome(scores)


def _validate_model(ctx: RunContext, model: ModelStage, sets: list[Any], settings: dict[str, Any]) -> dict[str, Any]:
    params = ctx.recipe.evaluation.params(seed=ctx.recipe.seed)
    out = {}
    with lazy_sampler(ctx, model) as sampler:
        for spec, evaluator, dropped in sets:
            results = ctx.run.root / "eval" / model.tag / "validation" / f"{spec.name}.jsonl"
            score = score_step(ctx, f"validate:{model.tag}:{spec.name}", model, spec, evaluator, sampler, settings,
                               params, results)
            out[spec.name] = {**score, "dropped_as_heldout": dropped}
    return out


#: Fans out into one step per model and validation set (``validate:<model>:<evaluator>``); part
#: ``validate``, between training and the held-out evaluation.
VALIDATE = Stage("validate", "validate", _validate, reads=("train",), fans_out=True)
