"""Hyper-parameters chosen on validation (a sweep's ``choose`` and ``select``), end to end
through ``redstar sweep``, on a scripted case whose answer is known (:mod:`probe_plugin`: the
validation problems prefer learning rate 1e-4, the held-out ones 1e-3)."""

import json

import pytest
from click.testing import CliRunner
from probe_plugin import BASE, Probe

from redstar.cli import build_cli

SWEEP = """
name: lr-choice
base: base.yaml
seeds: [0]
vary:
  - - label: fixed
      sft.options.learning_rate: 1.0e-5
    - label: probe
      choose: {sft.options.learning_rate: [1.0e-5, 1.0e-4, 1.0e-3]}
select: {on: validation, metric: pass@1}
"""


@pytest.fixture
def probe_host(arith_host, register_plugin):
    register_plugin(Probe(), name="probe")
    return arith_host


def run_sweep(host, tmp_path, *extra):
    (tmp_path / "base.yaml").write_text(BASE)
    (tmp_path / "sweep.yaml").write_text(SWEEP)
    result = CliRunner().invoke(build_cli(host), ["sweep", str(tmp_path / "sweep.yaml"), "--out",
                                                  str(tmp_path / "out"), "--no-progress", *extra])
    assert result.exit_code == 0, result.output
    return result


def test_the_learning_rate_best_on_validation_is_chosen_and_only_it_is_scored_held_out(tmp_path, probe_host):
    output = run_sweep(probe_host, tmp_path).output
    out = tmp_path / "out"
    sweep = json.loads((out / "sweep.json").read_text())
    (group,) = sweep["selection"]["groups"]
    scores = {c["label"]: c["score"] for c in group["candidates"]}
    # 60 validation problems: each candidate's pass@1 is near its validation quality.
    assert scores["learning_rate=0.0001"] > scores["learning_rate=0.001"] > scores["learning_rate=1e-05"]
    assert group["chosen_label"] == "learning_rate=0.0001"  # held-out would have preferred 1e-3
    assert "chosen on validation for probe: learning_rate=0.0001" in output

    chosen = out / "runs" / "probe_learning-rate-0-0001_seed-0"
    losers = [out / "runs" / "probe_learning-rate-1e-05_seed-0", out / "runs" / "probe_learning-rate-0-001_seed-0"]
    for run in losers:  # trained and validated, never scored on the held-out set
        state = json.loads((run / "state.json").read_text())["stages"]
        assert any(k.startswith("validate:sft:") for k in state)
        assert not any(k.startswith("eval:") for k in state), sorted(state)
        assert not list(run.glob("eval/*/arith-heldout.jsonl"))
        summary = json.loads((run / "summary.json").read_text())
        assert summary["scores"] == {} and summary["validation"]["sft"]["arith-heldout"]["problems"] == 60
    summary = json.loads((chosen / "summary.json").read_text())
    assert summary["scores"]["sft"]["arith-heldout"]["pass_at_1"] == pytest.approx(0.4, abs=0.15)
    assert (chosen / "eval" / "sft" / "arith-heldout.jsonl").is_file()
    # what chose and what is reported are different problems
    held = {json.loads(line)["question"] for line in (chosen / "eval/sft/arith-heldout.jsonl").open()}
    valid = {json.loads(line)["question"] for line in (chosen / "eval/sft/validation/arith-heldout.jsonl").open()}
    assert len(held) == len(valid) == 60 and not held & valid

    (table,) = sweep["tables"]
    assert [r["label"] for r in table["rows"]] == ["fixed", "probe (learning_rate=0.0001)"]
    assert table["rows"][1]["variants"] == [chosen.name]
    listed = {v["slug"]: v for v in sweep["variants"]}
    assert listed[chosen.name]["chosen"] and not any(listed[r.name]["chosen"] for r in losers)
    text = (out / "sweep.md").read_text()
    assert "## Chosen on validation" in text and "**learning_rate=0.0001 (chosen)**" in text

    again = run_sweep(probe_host, tmp_path).output
    assert again.count("finished before, skipped") == 5, again  # 3 candidates, then fixed and the chosen
