"""The stages of a run, in order, and where a plugin's own stages go.

load -> score -> select (+ decontaminate) -> sample -> verify -> build (clean, SFT and preference
sets) -> train (SFT, then RL) -> validate (every model on the validation sets, when the recipe has
any) -> evaluate (every model on the held-out sets) -> report.

A plugin adds a stage by returning it from the ``redstar_pipeline_stages`` hook with ``after``
set to the stage it follows; ``--until``, the run state, timing and the summary's funnel pick it
up from its :class:`~redstar.pipeline.stage.Stage` without any change to the runner.
"""

from __future__ import annotations

from typing import Any

from redstar.errors import PluginError
from redstar.pipeline.curate import LOAD, SCORE, SELECT
from redstar.pipeline.datasets import BUILD
from redstar.pipeline.evaluating import EVALUATE
from redstar.pipeline.sampling import SAMPLE
from redstar.pipeline.stage import Stage
from redstar.pipeline.training import TRAIN
from redstar.pipeline.validating import VALIDATE
from redstar.pipeline.verifying import VERIFY

CORE_STAGES: tuple[Stage, ...] = (LOAD, SCORE, SELECT, SAMPLE, VERIFY, BUILD, TRAIN, VALIDATE, EVALUATE)


def pipeline_stages(host: Any | None = None) -> list[Stage]:
    """Core's stages with the installed plugins' stages inserted after the stage each names."""
    stages = list(CORE_STAGES)
    if host is None:
        return stages
    for plugin, added in host.call_each("redstar_pipeline_stages"):
        for stage in added or ():
            names = [s.name for s in stages]
            if stage.name in names:
                raise PluginError(f"plugin {plugin!r} adds a stage named {stage.name!r}, which the run already has")
            if stage.after not in names:
                raise PluginError(f"plugin {plugin!r} adds stage {stage.name!r} after {stage.after!r}, "
                                  f"which is not a stage (stages: {', '.join(names)})")
            missing = [r for r in stage.reads if r not in names[:names.index(stage.after) + 1]]
            if missing:
                raise PluginError(f"stage {stage.name!r} of plugin {plugin!r} reads {missing}, "
                                  f"which do not run before it")
            stages.insert(names.index(stage.after) + 1, stage)
    return stages
