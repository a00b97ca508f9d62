"""A shorter version of the embedded default run, end to end on the shipped tiny models:
`redstar run --plugins math,code` with smaller counts. Real teacher sampling, real verification
(math equivalence, code in the sandbox), real SFT, real evaluation, the report. The default ends at SFT (no RL step)."""

import json
import math

import pytest
import yaml

from redstar.recipe import default_recipe, load_recipe

#: the embedded default run end to end: minutes on 2 cores: `pytest -m 'not slow'` leaves it out of a quick loop (CI runs everything).
pytestmark = pytest.mark.slow


def shorter(recipe):
    """The default recipe with fewer prompts, samples and evaluation problems."""
    data = recipe.to_dict()
    for source in data["sources"]:
        source["options"]["count"] = 60 if source["name"] == "synthetic-math" else 40
    data["sampling"]["n"] = 3
    data["sampling"]["n_by_level"] = {7: 4}
    data["sft"]["options"]["epochs"] = 1
    for evaluator in data["evaluation"]["evaluators"]:
        evaluator["options"]["count"] = 1
    data["name"] = "default-short"
    return data


def test_default_run_end_to_end(tmp_path, invoke_cli, register_plugin, redstar_host):
    import redstar_code.plugin
    import redstar_math.plugin
    import redstar_rl.plugin

    for name, module in (("math", redstar_math.plugin), ("code", redstar_code.plugin), ("rl", redstar_rl.plugin)):
        register_plugin(module, name=name)
    recipe_file = tmp_path / "short.yaml"
    recipe_file.write_text(yaml.safe_dump(shorter(default_recipe(redstar_host, ["math", "code"])), sort_keys=False))
    out = tmp_path / "run"
    result = invoke_cli(["run", "--recipe", str(recipe_file), "--out", str(out), "--no-progress"])
    assert "Scores" in result.output

    summary = json.loads((out / "summary.json").read_text())
    verify = summary["stages"]["verify"]
    # the teacher gives a mix: positives for SFT and negatives for preference pairs
    assert verify["correct"] > 0 and verify["wrong"] + verify["no_answer"] > 0
    selected = [json.loads(line) for line in (out / "selected.jsonl").read_text().splitlines()]
    assert {p["domain"] for p in selected} == {"math", "code"}
    recipe = load_recipe(out / "recipe.yaml")
    for p in selected:  # each domain in its own band (selection.domains), or the global one
        low, high = recipe.selection.band(p["domain"])
        assert low <= p["difficulty"] <= high
    assert summary["stages"]["build"]["sft_rows"] > 0 and summary["stages"]["build"]["preference_pairs"] > 0
    assert recipe.rl == [] and set(summary["scores"]) == {"base", "sft"}  # the default ends at SFT
    for per_model in summary["scores"].values():
        assert set(per_model) == {"synthetic-math-heldout", "synthetic-code-heldout"}
    # One optimizer step per batch of rows: the CPU default must not inherit the paper-scale
    # gradient accumulation (16), which left a default run a dozen steps.
    rows = summary["stages"]["build"]["sft_rows"]
    steps = [json.loads(line) for line in (out / "metrics" / "sft.jsonl").read_text().splitlines()]
    assert steps[-1]["total"] == math.ceil(rows / recipe.sft.options["batch_size"]), (rows, steps[-1])
    assert (out / "report.html").exists() and (out / "plots" / "scores.png").exists()
