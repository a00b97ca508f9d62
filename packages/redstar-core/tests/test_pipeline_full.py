"""The whole pipeline through training, evaluation and the report, on a real tiny transformers
student (built in the test) trained by the real SFT trainer; the teacher is the arith plugin's
scripted sampler so that positives exist."""

import json

import pytest

from redstar.pipeline.runner import run_pipeline
from redstar.progress import ProgressBoard
from redstar.recipe import validate

#: whole runs with real training: `pytest -m 'not slow'` leaves it out of a quick loop (CI runs everything).
pytestmark = pytest.mark.slow


def recipe_for(student, **over):
    data = {
        "name": "arith-full",
        "models": {"teacher": "scripted", "student": str(student)},
        "sources": [{"name": "arith-gen", "options": {"count": 16}}],
        "selection": {"min_level": 1, "max_level": 10},
        "sampling": {"backend": "scripted", "n": 2},
        "sft": {"trainer": "sft", "options": {"epochs": 1, "batch_size": 8, "learning_rate": 1e-3}},
        "evaluation": {"evaluators": [{"name": "arith-heldout", "options": {"count": 4}}], "backend": "transformers",
                       "max_new_tokens": 8, "options": {"batch_size": 8}},
    }
    data.update(over)
    return validate(data)


def test_full_run_trains_evaluates_and_reports(tmp_path, arith_host, tiny_lm):
    out = tmp_path / "run"
    summary = run_pipeline(recipe_for(tiny_lm), out, arith_host, ProgressBoard(enabled=False))
    assert set(summary["scores"]) == {"base", "sft"}
    for tag in ("base", "sft"):
        score = summary["scores"][tag]["arith-heldout"]
        assert score["problems"] == 4 and 0.0 <= score["pass_at_1"] <= 1.0
        rows = [json.loads(line) for line in (out / "eval" / tag / "arith-heldout.jsonl").read_text().splitlines()]
        assert len(rows) == 4 and all(len(r["samples"]) == 1 for r in rows)
    assert (out / "models" / "sft").exists()
    assert summary["models"]["sft"] != summary["models"]["base"]
    metrics = [json.loads(line) for line in (out / "metrics" / "sft.jsonl").read_text().splitlines()]
    assert metrics and any("loss" in m for m in metrics)
    html = (out / "report.html").read_text()
    assert "data:image/png;base64" in html and "arith-heldout" in html
    assert (out / "plots" / "scores.png").exists()
    compared = summary["comparisons"]["sft"]["arith-heldout"]
    assert compared["against"] == "base" and compared["problems"] == 4
    assert json.loads((out / "summary.json").read_text())["comparisons"] == summary["comparisons"]

    # Running again changes nothing: every stage is already done.
    state = (out / "state.json").read_text()
    run_pipeline(recipe_for(tiny_lm), out, arith_host, ProgressBoard(enabled=False))
    assert json.loads((out / "state.json").read_text())["stages"] == json.loads(state)["stages"]


def test_rl_steps_chain_from_the_sft_model(tmp_path, arith_host, tiny_lm, register_plugin):
    """Core's pipeline hands each RL trainer the previous model and the data of its kind; the rl
    package's DPO reads the preference set the pipeline built."""
    pytest.importorskip("redstar_rl")
    import redstar_rl.plugin

    register_plugin(redstar_rl.plugin, name="rl")
    recipe = recipe_for(tiny_lm, rl=[{"trainer": "dpo", "options": {"epochs": 1, "batch_size": 4, "grad_accum": 1,
                                                                      "learning_rate": 1e-4, "max_length": 256}}])
    out = tmp_path / "run"
    summary = run_pipeline(recipe, out, arith_host, ProgressBoard(enabled=False))
    assert set(summary["scores"]) == {"base", "sft", "dpo"}
    dpo_metrics = [json.loads(line) for line in (out / "metrics" / "dpo.jsonl").read_text().splitlines()]
    assert dpo_metrics
    state = json.loads((out / "state.json").read_text())["stages"]
    assert state["train:rl:0"]["model_path"].startswith(str(out / "models" / "dpo"))


def test_changing_only_evaluation_keeps_the_trained_model(tmp_path, arith_host, tiny_lm):
    out = tmp_path / "run"
    run_pipeline(recipe_for(tiny_lm), out, arith_host, ProgressBoard(enabled=False))
    before = json.loads((out / "state.json").read_text())["stages"]
    changed = recipe_for(tiny_lm, evaluation={"evaluators": [{"name": "arith-heldout", "options": {"count": 5}}],
                                              "max_new_tokens": 8, "options": {"batch_size": 8}})
    summary = run_pipeline(changed, out, arith_host, ProgressBoard(enabled=False))
    after = json.loads((out / "state.json").read_text())["stages"]
    assert after["train:sft"] == before["train:sft"]
    assert summary["scores"]["sft"]["arith-heldout"]["problems"] == 5

