"""Everything about a recipe that can be checked before the first stage runs.

A mistake found here costs a second; found after sampling it costs hours. So before it creates,
locks or writes anything in the run directory, a run (and ``redstar recipe check``) checks that
every plugin the recipe names is installed and takes the options given, with values of the types
its constructor declares, that the mix's domains are ones the sources yield, that every model
path exists, and that the plugins whose constructors
are cheap by contract (verifiers, cleaning filters, trainers, evaluators) accept their option
*values*: each is built once, and a constructor's ``ValueError`` becomes a
:class:`~redstar.errors.RecipeError` naming the recipe key. Samplers and sources are not built
here: building them may load a model or read a data set.
"""

from __future__ import annotations

from redstar.errors import RecipeError, RedStarError
from redstar.models import resolve_model
from redstar.pipeline.context import PluginContext
from redstar.pipeline.rl_prompts import check_step
from redstar.pipeline.stages import pipeline_stages
from redstar.recipe import check_plugins


def _warn(message: str) -> None:
    import click

    click.echo(message, err=True)


def preflight(ctx: PluginContext, check_paths: bool = True) -> None:
    """Raise a :class:`~redstar.errors.RecipeError` for the first problem found. Verifiers built
    here stay in ``ctx`` for the run to use; the other plugins are thrown away. ``check_paths``
    False skips the model paths, for a recipe written for another machine (a cluster's paths, or
    a student that an earlier run will produce)."""
    recipe = ctx.recipe
    # A plugin that failed to load: a warning, or an error where the run would not be the one asked for.
    ctx.host.check_loaded(getattr(ctx, "log", None) or _warn)
    pipeline_stages(ctx.host, recipe)  # the plugins' stages, and what `stages:` switches off
    check_plugins(recipe, ctx.host)
    for role in ("teacher", "student") if check_paths else ():
        try:
            resolve_model(getattr(recipe.models, role), host=ctx.host)
        except RedStarError as exc:
            raise RecipeError(recipe.where(f"models.{role}"), f"models.{role}", str(exc)) from None
    for domain in recipe.verifiers:
        ctx.verifier(domain)
    for i, spec in enumerate(recipe.cleaning.filters):
        ctx.build("filters", spec.name, spec.options, f"cleaning.filters[{i}]")
    if recipe.sft:
        ctx.build("trainers", recipe.sft.trainer, recipe.sft.options, "sft")
    for i, step in enumerate(recipe.rl):
        trainer = ctx.build("trainers", step.trainer, step.options, f"rl[{i}]")
        check_step(f"rl[{i}]", step, trainer.kind, recipe.where)
    keyed = [(f"evaluation.evaluators[{i}]", spec) for i, spec in enumerate(recipe.evaluation.evaluators)]
    keyed += [(f"evaluation.validation[{i}]", spec) for i, spec in enumerate(recipe.evaluation.validation)]
    for key, spec in keyed:
        if key.startswith("evaluation.validation") and spec in recipe.evaluation.evaluators:
            raise RecipeError(recipe.where(key), key, "is also a held-out set (in evaluation.evaluators): validation "
                              "needs a set of its own, e.g. `options: {split: validation}`")
        evaluator = ctx.build("evaluators", spec.name, spec.options, key)
        # The verifier that will judge this benchmark must accept the recipe's options too.
        if evaluator.domain in ctx.host.names("verifiers"):
            ctx.verifier(evaluator.domain)
