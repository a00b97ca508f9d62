"""The stages of a run, in order, and where a plugin's own stages go.

load -> score -> select (+ decontaminate) -> sample -> verify -> build (clean, SFT and preference
sets) -> train (SFT, then RL) -> validate (every model on the validation sets, when the recipe has
any) -> evaluate (every model on the held-out sets) -> report.

A plugin adds a stage by returning it from the ``redstar_pipeline_stages`` hook with ``after``
set to the stage it follows; ``--until``, the run state, timing and the summary's funnel pick it
up from its :class:`~redstar.pipeline.stage.Stage` without any change to the runner. A recipe
leaves a plugin's stage out with ``stages: {NAME: false}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from redstar.errors import PluginError, RecipeError
from redstar.faults import Origin, PluginFault, shown
from redstar.pipeline.curate import LOAD, SCORE, SELECT
from redstar.pipeline.datasets import BUILD
from redstar.pipeline.evaluating import EVALUATE
from redstar.pipeline.sampling import SAMPLE
from redstar.pipeline.stage import Outcome, Stage
from redstar.pipeline.training import TRAIN
from redstar.pipeline.validating import VALIDATE
from redstar.pipeline.verifying import VERIFY

CORE_STAGES: tuple[Stage, ...] = (LOAD, SCORE, SELECT, SAMPLE, VERIFY, BUILD, TRAIN, VALIDATE, EVALUATE)
CORE_PARTS = tuple(dict.fromkeys(stage.part for stage in CORE_STAGES))


def pipeline_stages(host: Any | None = None, recipe: Any | None = None) -> list[Stage]:
    """Core's stages with the installed plugins' stages inserted after the stage each names,
    less those ``recipe.stages`` switches off. A plugin that answers something else than
    stages is a :class:`~redstar.faults.PluginFault` naming it."""
    stages = list(CORE_STAGES)
    if host is None:
        return stages
    for plugin, added in host.call_each("redstar_pipeline_stages"):
        origin = host.origin(plugin)
        for stage in added or ():
            if not isinstance(stage, Stage):
                raise PluginFault(origin.describe(), "hook redstar_pipeline_stages",
                                  f"returned {shown(stage)} among its stages; expected redstar.pipeline.stage.Stage")
            names = [s.name for s in stages]
            if stage.name in names:
                raise PluginError(f"plugin {plugin!r} adds a stage named {stage.name!r}, which the run already has")
            if stage.after not in names:
                raise PluginError(f"plugin {plugin!r} adds stage {stage.name!r} after {stage.after!r}, "
                                  f"which is not a stage (stages: {', '.join(names)})")
            if stage.part not in CORE_PARTS:
                raise PluginError(f"plugin {plugin!r} adds stage {stage.name!r} to part {stage.part!r}, which is not "
                                  f"a part of a run ({', '.join(CORE_PARTS)})")
            missing = [r for r in stage.reads if r not in names[:names.index(stage.after) + 1]]
            if missing:
                raise PluginError(f"stage {stage.name!r} of plugin {plugin!r} reads {missing}, "
                                  f"which do not run before it")
            stages.insert(names.index(stage.after) + 1, _checked(stage, origin))
    return stages if recipe is None else switched(stages, recipe)


def switched(stages: list[Stage], recipe: Any) -> list[Stage]:
    """``stages`` less the plugin stages ``recipe.stages`` switches off (``{NAME: false}``). A name
    that is no plugin stage, a core stage, or a stage another reads is a RecipeError."""
    wanted: Mapping[str, bool] = getattr(recipe, "stages", None) or {}
    plugin_stages = [s.name for s in stages if s.plugin is not None]
    off = set()
    for name, on in wanted.items():
        key = f"stages.{name}"
        if name in {s.name for s in CORE_STAGES}:
            raise RecipeError(recipe.where(key), key, f"{name!r} is one of core's stages, which run in every run "
                                                      f"(`redstar run --until PART` stops earlier)")
        if name not in plugin_stages:
            raise RecipeError(recipe.where(key), key, f"no plugin adds a stage named {name!r} (plugin stages: "
                                                      f"{', '.join(plugin_stages) or 'none'})")
        if not on:
            off.add(name)
    for stage in stages:
        needs = off.intersection(stage.reads)
        if stage.name not in off and needs:
            key = f"stages.{sorted(needs)[0]}"
            raise RecipeError(recipe.where(key), key, f"stage {stage.name!r} reads {sorted(needs)[0]!r}: switch "
                                                      f"{stage.name!r} off too, or keep it on")
    return [s for s in stages if s.name not in off]


def _checked(stage: Stage, origin: Origin) -> Stage:
    """``stage`` whose work's answer is checked against the contract (an :class:`Outcome` whose
    counts hold every key its funnel rows read), a mistake named as the plugin's."""
    work = stage.work

    def checked_work(ctx: Any, inputs: Mapping[str, Any]) -> Outcome:
        return check_outcome(stage, origin, work(ctx, inputs))

    return replace(stage, work=checked_work, plugin=origin.name)


def check_outcome(stage: Stage, origin: Origin, outcome: Any) -> Outcome:
    def problem(text: str) -> PluginFault:
        code = getattr(stage.work, "__qualname__", "work")
        return PluginFault(origin.describe(), f"work function {code}", text, stage.name)

    if not isinstance(outcome, Outcome):
        raise problem(f"returned {shown(outcome)}; expected redstar.pipeline.stage.Outcome(value, counts)")
    counts = outcome.counts
    if not isinstance(counts, dict):
        raise problem(f"returned counts {shown(counts)}; expected a dict")
    for row in stage.funnel:
        if not isinstance(counts.get(row.key), int) or isinstance(counts.get(row.key), bool):
            raise problem(f"returned counts[{row.key!r}] = {shown(counts.get(row.key))}, which its funnel row "
                          f"{row.label!r} reads; expected an int")
    by_domain = counts.get("by_domain")
    if by_domain is not None:
        if not isinstance(by_domain, dict) or not all(isinstance(v, dict) for v in by_domain.values()):
            raise problem(f"returned counts['by_domain'] = {shown(by_domain)}; expected a dict of domain -> "
                          f"{{key: count}}")
        for domain, per in by_domain.items():
            for row in stage.funnel:
                if row.key in per and (not isinstance(per[row.key], int) or isinstance(per[row.key], bool)):
                    raise problem(f"returned counts['by_domain'][{domain!r}][{row.key!r}] = {shown(per[row.key])}; "
                                  f"expected an int")
    return outcome
