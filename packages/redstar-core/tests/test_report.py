"""The run report: per-group (per-level) scores in natural order, as a table and as a plot."""

import json

from redstar.report import group_order, write_report


def score(pass_at_1: float, by_group: dict[str, float]) -> dict:
    return {"pass_at_1": pass_at_1, "majority": pass_at_1, "truncated": 0,
            "by_group": {g: {"pass@1": v} for g, v in by_group.items()}}


def test_groups_sort_numbers_as_numbers():
    assert sorted(["level 10", "level 2", "level 1"], key=group_order) == ["level 1", "level 2", "level 10"]
    assert sorted(["b", "a"], key=group_order) == ["a", "b"]


def test_report_shows_scores_by_level_in_order_and_plots_them(tmp_path):
    summary = {
        "recipe": "r", "run_dir": str(tmp_path),
        "scores": {
            "base": {"heldout": score(0.1, {"level 10": 0.0, "level 2": 0.2, "level 1": 0.1})},
            "sft": {"heldout": score(0.4, {"level 10": 0.1, "level 2": 0.6, "level 1": 0.5})},
        },
    }
    md, page = write_report(tmp_path, summary)
    text = md.read_text()
    rows = [line for line in text.splitlines() if line.startswith("| level")]
    assert rows == ["| level 1 | 0.100 | 0.500 |", "| level 2 | 0.200 | 0.600 |", "| level 10 | 0.000 | 0.100 |"]
    assert (tmp_path / "plots" / "scores_by_group.png").stat().st_size > 0
    assert "plots/scores_by_group.png" in text
    assert page.read_text().count("data:image/png;base64,") == 2  # scores and scores by group


def test_no_group_plot_without_groups(tmp_path):
    summary = {"recipe": "r", "run_dir": str(tmp_path),
               "scores": {"base": {"bench": {"pass_at_1": 0.5, "majority": 0.5, "truncated": 0}}}}
    write_report(tmp_path, summary)
    assert (tmp_path / "plots" / "scores.png").exists()
    assert not (tmp_path / "plots" / "scores_by_group.png").exists()


# -- what ran: provenance ---------------------------------------------------------------------

def test_describe_run_names_recipe_models_backends_versions_and_machine(tmp_path, arith_host):
    import hashlib

    import redstar
    from redstar.provenance import describe_run
    from redstar.recipe import dump, validate

    student = tmp_path / "student"
    student.mkdir()
    (student / "config.json").write_text("{}")
    recipe = validate({"name": "prov", "models": {"teacher": "org/some-teacher", "student": str(student)},
                       "sampling": {"backend": "scripted"}, "evaluation": {"backend": "transformers"}})
    info = describe_run(recipe, arith_host)
    assert info["recipe"] == {"name": "prov", "sha256": hashlib.sha256(dump(recipe).encode()).hexdigest()}
    assert info["teacher"] == {"spec": "org/some-teacher", "resolved": "org/some-teacher"}  # a hub id
    assert info["student"] == {"spec": str(student), "resolved": str(student)}
    assert info["backends"] == {"sampling": "scripted", "evaluation": "transformers"}
    assert info["redstar"] == redstar.__version__
    assert "arith" in [p["name"] for p in info["plugins"]]
    m = info["machine"]
    assert m["python"].count(".") == 2 and m["cpus"] >= 1 and m["hostname"]
    assert isinstance(m["cuda"], bool) and "torch" in m
    json.dumps(info)  # goes into summary.json as it is


def test_describe_run_never_fails_on_a_missing_model_or_a_broken_torch(tmp_path, arith_host, monkeypatch):
    import sys

    from redstar.provenance import describe_run
    from redstar.recipe import validate

    recipe = validate({"models": {"teacher": "embedded:no-such-model", "student": "./nowhere"}})
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch raises ImportError
    info = describe_run(recipe, arith_host)
    assert info["teacher"] == {"spec": "embedded:no-such-model", "resolved": None}
    assert info["student"]["resolved"] is None
    assert info["machine"]["torch"] is None and info["machine"]["cuda"] is False
