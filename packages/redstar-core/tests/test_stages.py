"""The stage shape: core's stages run through one runner, and a plugin's stage is skipped,
redone, timed and summarised like theirs without touching the runner."""

import json

import pytest

from redstar import hookimpl
from redstar.errors import PluginError
from redstar.pipeline.runner import run_pipeline
from redstar.pipeline.stage import FunnelRow, Outcome, Stage, parts
from redstar.pipeline.stages import CORE_STAGES, pipeline_stages
from redstar.progress import ProgressBoard
from redstar.recipe import load_recipe

RECIPE = """
name: stages
models: {teacher: t, student: s}
sources: [{name: arith-gen, options: {count: 10}}]
selection: {min_level: 1, max_level: 10}
sampling: {backend: scripted, n: 2}
decontamination: {enabled: false}
sft: null
"""

CALLS = []


def longest(ctx, inputs):
    CALLS.append(len(inputs["sample"]))
    value = max(len(s.response) for s in inputs["sample"])
    ctx.run.path("longest.txt").write_text(str(value))
    return Outcome(value, {"longest": value, "verified": len(inputs["verify"])})


class Adds:
    @hookimpl
    def redstar_pipeline_stages(self):
        return [Stage("longest", "curate", longest, reads=("sample", "verify"), after="verify",
                      depends_on=lambda recipe: recipe.sampling.n, outputs=("longest.txt",),
                      load=lambda ctx: int(ctx.run.path("longest.txt").read_text()),
                      funnel=(FunnelRow("samples verified (plugin)", "verified", "samples"),))]


def test_until_and_the_funnel_come_from_the_stage_list():
    assert parts(CORE_STAGES) == ("curate", "train", "validate", "eval", "report")
    labels = [row.label for stage in CORE_STAGES for row in stage.funnel]
    assert labels == ["prompts loaded", "prompts selected", "samples drawn", "samples correct",
                      "prompts with a positive", "SFT rows (correct and clean)"]


def test_a_plugin_stage_runs_in_place_is_skipped_when_done_and_summarised(tmp_path, arith_host, register_plugin):
    register_plugin(Adds(), name="adds")
    assert [s.name for s in pipeline_stages(arith_host)][4:7] == ["verify", "longest", "build"]
    path = tmp_path / "r.yaml"
    path.write_text(RECIPE)
    out = tmp_path / "run"
    CALLS.clear()
    summary = run_pipeline(load_recipe(path), out, arith_host, ProgressBoard(enabled=False), until="curate")
    assert CALLS == [20]
    assert summary["stages"]["longest"]["longest"] == int((out / "longest.txt").read_text()) > 0
    assert ["samples verified (plugin)", 20] in summary["sample_funnel"]
    assert "longest" in summary["seconds"]
    run_pipeline(load_recipe(path), out, arith_host, ProgressBoard(enabled=False), until="curate")
    assert CALLS == [20]  # nothing it depends on changed: read back, not redone
    path.write_text(RECIPE.replace("n: 2", "n: 3"))
    run_pipeline(load_recipe(path), out, arith_host, ProgressBoard(enabled=False), until="curate")
    assert CALLS == [20, 30]  # what it depends on changed: redone
    state = json.loads((out / "state.json").read_text())["stages"]
    assert state["longest"]["done"] and state["longest"]["counts"]["verified"] == 30


def test_a_stage_in_the_wrong_place_is_a_clear_error(arith_host, register_plugin):
    class Bad:
        @hookimpl
        def redstar_pipeline_stages(self):
            return [Stage("early", "curate", longest, reads=("verify",), after="load")]

    register_plugin(Bad(), name="bad")
    with pytest.raises(PluginError, match=r"reads \['verify'\], which do not run before it"):
        pipeline_stages(arith_host)
