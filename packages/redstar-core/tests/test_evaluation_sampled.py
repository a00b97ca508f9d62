"""The sampled evaluation beside the primary one (``evaluation.sampled``) and the room-for-RL
figures, through a real run of the pipeline (the scripted arith sampler stands in for a model:
its answers are fixed by a hash, so every figure can be recomputed here from the files)."""

import json

import pytest

from redstar.evaluation import room_for_rl, room_units
from redstar.pipeline.runner import run_pipeline
from redstar.progress import ProgressBoard
from redstar.recipe import load_recipe
from redstar.stats import per_problem_results

RECIPE = """
name: sampled
models: {teacher: t, student: s}
sources: [{name: arith-gen, options: {count: 10}}]
selection: {min_level: 1, max_level: 10}
sampling: {backend: scripted, n: 2}
decontamination: {enabled: false}
sft: null
evaluation:
  backend: scripted
  evaluators: [{name: arith-heldout, options: {count: 40}}]
"""
SAMPLED = "  sampled: {n: 2, temperature: 1.0}\n"


def run(tmp_path, host, text):
    path = tmp_path / "r.yaml"
    path.write_text(text)
    return run_pipeline(load_recipe(path), tmp_path / "run", host, ProgressBoard(enabled=False))


def test_room_for_rl_is_measured_from_both_evaluations(tmp_path, arith_host):
    summary = run(tmp_path, arith_host, RECIPE + SAMPLED)
    score = summary["scores"]["base"]["arith-heldout"]
    drawn, room = score["sampled"], score["room_for_rl"]
    assert score["samples_per_problem"] == 1 and drawn["samples_per_problem"] == 2
    assert drawn["problems"] == score["problems"] == 40 and "pass@2" in drawn["pass_at_k"]

    folder = tmp_path / "run" / "eval" / "base"
    greedy = per_problem_results(folder / "arith-heldout.jsonl")
    sampled = per_problem_results(folder / "arith-heldout.sampled.jsonl")
    wrong = [k for k, (c, _) in greedy.items() if c == 0]
    fixed = [k for k in wrong if sampled[k][0] > 0]
    assert 0 < len(fixed) <= len(wrong) < 40  # the scripted answers leave room for a sample to fix
    assert (room["wrong"], room["solved_by_a_sample"]) == (len(wrong), len(fixed))
    assert room["share"] == pytest.approx(len(fixed) / len(wrong))
    assert room["pass_at_k"] == pytest.approx(drawn["pass_at_k"]["pass@2"])
    any_right = sum(c > 0 for c, _ in sampled.values()) / 40
    assert room["gain"]["difference"] == pytest.approx(any_right - score["pass_at_1"])
    assert room["share_ci"][0] <= room["share"] <= room["share_ci"][1]
    assert room == json.loads(json.dumps(room_for_rl(room_units(greedy, sampled))))
    assert "### Room for RL" in (tmp_path / "run" / "report.md").read_text()


def test_adding_the_sampled_evaluation_redoes_nothing_already_scored(tmp_path, arith_host):
    run(tmp_path, arith_host, RECIPE)
    state = tmp_path / "run" / "state.json"
    before = json.loads(state.read_text())["stages"]["eval:base:arith-heldout"]
    summary = run(tmp_path, arith_host, RECIPE + SAMPLED)
    stages = json.loads(state.read_text())["stages"]
    assert stages["eval:base:arith-heldout"] == before  # same fingerprint, loaded, not redone
    assert stages["eval:base:arith-heldout:sampled"]["done"]
    assert "room_for_rl" in summary["scores"]["base"]["arith-heldout"]


def test_the_sampled_evaluation_can_be_limited_to_some_models(tmp_path, arith_host):
    summary = run(tmp_path, arith_host, RECIPE + "  sampled: {n: 2, models: [sft]}\n")
    assert "sampled" not in summary["scores"]["base"]["arith-heldout"]  # base is not listed
    assert not (tmp_path / "run" / "eval" / "base" / "arith-heldout.sampled.jsonl").exists()


@pytest.mark.parametrize("options, key, message", [
    ("{n: 0}", "evaluation.sampled.n", "must be from 1 to 100000, got 0"),
    ("{temperature: 0}", "evaluation.sampled.temperature", "more than 0"),
    ("{top_p: 1.5}", "evaluation.sampled.top_p", "(0, 1]"),
    ("{k: 4}", "evaluation.sampled.k", "unknown key (allowed here: n, temperature, top_p, models)"),
])
def test_bad_sampled_options_name_their_line(tmp_path, options, key, message):
    from redstar.errors import RecipeError

    path = tmp_path / "r.yaml"
    path.write_text(RECIPE + f"  sampled: {options}\n")
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    assert info.value.key == key and message in str(info.value) and str(info.value).startswith(f"{path}:12: ")


def test_redstar_eval_measures_the_room_too(invoke_cli, arith_host, tmp_path):
    out = tmp_path / "eval"
    result = invoke_cli(["eval", "--model", "scripted-student", "--backend", "scripted", "--evaluator", "arith-heldout",
                         "--evaluator-option", "arith-heldout.count=12", "--sampled", "3", "--out", str(out)])
    score = json.loads((out / "scores.json").read_text())["arith-heldout"]
    assert score["samples_per_problem"] == 1 and score["sampled"]["samples_per_problem"] == 3
    greedy, sampled = (per_problem_results(out / f"arith-heldout{s}.jsonl") for s in ("", ".sampled"))
    assert score["room_for_rl"] == json.loads(json.dumps(room_for_rl(room_units(greedy, sampled))))
    assert f"{score['room_for_rl']['solved_by_a_sample']} of {score['room_for_rl']['wrong']} wrong answers" in result.output
