"""The validation stage (``evaluation.validation``): scored apart from the held-out sets, never
one of them, and without their questions (:mod:`probe_plugin` stands in for a trainer and a
model)."""

import pytest
from probe_plugin import BASE, VALIDATION_START, Probe

from redstar.errors import RecipeError
from redstar.pipeline.runner import run_pipeline
from redstar.progress import ProgressBoard
from redstar.recipe import load_recipe


@pytest.fixture
def probe_host(arith_host, register_plugin):
    register_plugin(Probe(), name="probe")
    return arith_host


def test_validation_is_scored_for_every_model_apart_from_the_held_out_scores(tmp_path, probe_host):
    path = tmp_path / "r.yaml"
    path.write_text(BASE)
    summary = run_pipeline(load_recipe(path), tmp_path / "run", probe_host, ProgressBoard(enabled=False))
    assert set(summary["validation"]) == {"base", "sft"} and set(summary["scores"]) == {"base", "sft"}
    valid, held = summary["validation"]["sft"]["arith-heldout"], summary["scores"]["sft"]["arith-heldout"]
    # the stand-in's quality at the default learning rate (1e-5): 0.2 on both splits
    assert valid["problems"] == held["problems"] == 60 and valid["dropped_as_heldout"] == 0
    assert (tmp_path / "run" / "eval" / "sft" / "validation" / "arith-heldout.jsonl").is_file()
    assert "validate" in summary["seconds"] and not any(k.startswith("validate:") for k in summary["stages"])
    assert "### Validation" in (tmp_path / "run" / "report.md").read_text()
    # --until validate: trained and validated, the held-out sets untouched
    other = tmp_path / "other"
    partial = run_pipeline(load_recipe(path), other, probe_host, ProgressBoard(enabled=False), until="validate")
    assert partial["scores"] == {} and partial["validation"]["sft"]["arith-heldout"]["problems"] == 60
    assert not list(other.glob("eval/*/arith-heldout.jsonl"))


def test_a_validation_set_equal_to_a_held_out_one_is_refused(tmp_path, probe_host):
    path = tmp_path / "r.yaml"
    path.write_text(BASE.replace(f", start: {VALIDATION_START}", ""))
    with pytest.raises(RecipeError, match=r"evaluation.validation\[0\]: is also a held-out set"):
        run_pipeline(load_recipe(path), tmp_path / "run", probe_host)
    # the same problems under other options: nothing would be left to validate on
    path.write_text(BASE.replace(f"start: {VALIDATION_START}", "start: 1000"))
    with pytest.raises(RecipeError, match=r"evaluation.validation\[0\]: all 60 problems of arith-heldout are also"):
        run_pipeline(load_recipe(path), tmp_path / "run2", probe_host)


def test_validation_questions_also_held_out_are_dropped_and_counted(tmp_path, probe_host):
    path = tmp_path / "r.yaml"
    # 80 validation problems from the held-out set's start: its first 60 are the held-out set
    path.write_text(BASE.replace(f"count: 60, start: {VALIDATION_START}", "count: 80, start: 1000"))
    summary = run_pipeline(load_recipe(path), tmp_path / "run", probe_host, ProgressBoard(enabled=False))
    score = summary["validation"]["sft"]["arith-heldout"]
    assert score["dropped_as_heldout"] == 60 and score["problems"] == 20
    assert "### Validation" in (tmp_path / "run" / "report.md").read_text()
