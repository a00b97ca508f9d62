"""A real sweep end to end through the command line: the embedded math default cut down (60
prompts, 2 samples each, one SFT epoch, no RL, 20 held-out problems, 10 validation problems, the
SFT model sampled twice per problem), two SFT set sizes, one seed. Sampling, the base model's
evaluation and the curation before the selection run once; the tables, plot and HTML are
written; a rerun skips both finished variants."""

import json
import os

import pytest
from click.testing import CliRunner

from redstar.cli import build_cli
from redstar.plugins import Host

SWEEP = """\
name: tiny-sizes
base: default
plugins: [math]
seeds: [0]
set:
  sources[0].options.count: 60
  sampling.n: 2
  sampling.n_by_level: {}
  sft.options.epochs: 1
  rl: []
  evaluation.evaluators[0].options.count: 2
  evaluation.validation: [{name: synthetic-math-heldout, options: {count: 1, split: validation}}]
  evaluation.sampled: {n: 2, models: [sft]}
vary:
  - selection.total: [6, 12]
"""


@pytest.fixture(scope="module")
def math_host():
    pytest.importorskip("redstar_math")
    return Host(load_entry_points=True, allow=["math"])


def test_a_small_real_sweep_runs_shares_and_tabulates(tmp_path, math_host):
    path = tmp_path / "tiny.yaml"
    path.write_text(SWEEP)
    out = tmp_path / "out"
    cli = build_cli(math_host)
    runner = CliRunner()
    dry = runner.invoke(cli, ["sweep", str(path), "--out", str(out), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "sample: 2 variants" in dry.output and "select:" not in dry.output

    result = runner.invoke(cli, ["sweep", str(path), "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    small, large = out / "runs" / "total-6_seed-0", out / "runs" / "total-12_seed-0"
    state = json.loads((large / "state.json").read_text())["stages"]
    for step in ("load", "score", "sample", "eval:base:synthetic-math-heldout"):
        assert state[step]["shared_from"] == str(small), step
    assert "shared_from" not in state["train:sft"]  # a larger SFT set: its own model
    # the smaller variant's sealed sample shards serve the larger one as hard links
    sealed = sorted((small / "samples").glob("*.parquet"))
    assert all(os.path.samefile(p, large / "samples" / p.name) for p in sealed)

    sweep = json.loads((out / "sweep.json").read_text())
    (table,) = sweep["tables"]
    assert [row["label"] for row in table["rows"]] == ["total=6", "total=12"]
    for row in table["rows"]:
        cell = row["cells"]["synthetic-math-heldout"]
        assert cell["problems"] == 20 and cell["ci"][0] <= cell["pass_at_1"] <= cell["ci"][1]
        assert row["model"] == ["sft"]
    assert "vs_baseline" in table["rows"][1]["cells"]["synthetic-math-heldout"]
    for name in ("sweep.md", "sweep.html", "sweep.png"):
        assert (out / name).stat().st_size > 0
    summaries = [json.loads((d / "summary.json").read_text()) for d in (small, large)]
    assert [s["stages"]["select"]["selected"] for s in summaries] == [6, 12]
    # the real models on the validation split (apart from the held-out set) and sampled twice
    for summary in summaries:
        assert set(summary["validation"]) == {"base", "sft"}
        assert summary["validation"]["sft"]["synthetic-math-heldout"]["problems"] == 10
        score = summary["scores"]["sft"]["synthetic-math-heldout"]
        assert score["sampled"]["samples_per_problem"] == 2 and score["room_for_rl"]["problems"] == 20
        assert "sampled" not in summary["scores"]["base"]["synthetic-math-heldout"]
    assert "room" in table["rows"][0]["cells"]["synthetic-math-heldout"]

    again = runner.invoke(cli, ["sweep", str(path), "--out", str(out), "--no-progress"])
    assert again.exit_code == 0 and again.output.count("finished before, skipped") == 2, again.output
