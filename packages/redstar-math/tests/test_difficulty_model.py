"""The trained difficulty scorer: agreement metrics, a tiny model trained for a few steps, the
scorer that loads it, and `redstar score-model train|eval`."""

import json
import math
import re

import pytest

import redstar_math.plugin
from redstar.errors import RedStarError
from redstar.records import Prompt
from redstar_math.difficulty_model import (
    MODEL_CARD,
    TrainedScorer,
    agreement,
    evaluate_difficulty_model,
    spearman,
    train_difficulty_model,
)
from redstar_math.synthetic import SyntheticMathSource


def test_spearman_and_agreement_on_known_values():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 1, 2, 3], [1, 2, 3, 4]) == pytest.approx(0.9486833, rel=1e-6)  # ties share ranks
    assert math.isnan(spearman([5, 5, 5], [1, 2, 3]))
    result = agreement([3.2, 5.6, 9.0, 1.0], [3, 7, 9, 4])
    assert (result.count, result.exact, result.within_one) == (4, 0.5, 0.75)
    assert result.mean_absolute_error == pytest.approx((0.2 + 1.4 + 0 + 3) / 4)
    # Four prompts say little: each figure carries its 95% interval.
    assert result.exact_ci == pytest.approx([0.1500, 0.8500], abs=1e-4)  # Wilson, 2 of 4
    low, high = result.mean_absolute_error_ci
    assert 0 <= low < result.mean_absolute_error < high <= 3
    assert result.spearman_ci[0] < result.spearman < result.spearman_ci[1]


def test_spearman_interval_narrows_with_more_prompts():
    from redstar.stats import correlation_interval

    few, many = correlation_interval(0.6, 10), correlation_interval(0.6, 400)
    assert few[0] < many[0] < 0.6 < many[1] < few[1]
    assert many == pytest.approx((0.5333, 0.6593), abs=1e-4)  # tanh(atanh(0.6) -+ 1.96/sqrt(397))
    assert correlation_interval(0.9, 3) == (-1.0, 1.0)
    assert all(math.isnan(x) for x in correlation_interval(float("nan"), 50))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    prompts = list(SyntheticMathSource(count=60, seed=0).load())
    out = tmp_path_factory.mktemp("difficulty") / "model"
    card = train_difficulty_model(prompts, out, base="tiny", max_steps=3, batch_size=8, heldout_fraction=0.25)
    return out, card, prompts


def test_tiny_model_trains_saves_and_reports_heldout_agreement(trained):
    out, card, prompts = trained
    assert card["steps"] == 3 and math.isfinite(card["train_loss"])
    assert card["train_prompts"] + card["heldout_prompts"] == len(prompts)
    assert card["heldout_prompts"] > 0
    heldout = card["heldout_agreement"]
    assert heldout["count"] == card["heldout_prompts"]
    assert 0 <= heldout["exact"] <= heldout["within_one"] <= 1
    assert heldout["exact_ci"][0] <= heldout["exact"] <= heldout["exact_ci"][1]
    assert json.loads((out / MODEL_CARD).read_text())["heldout_agreement"] == heldout
    assert (out / "config.json").exists() and (out / "tokenizer.json").exists()


def test_trained_scorer_scores_new_prompts_within_range(trained):
    out, _, _ = trained
    new = list(SyntheticMathSource(count=12, seed=5).load())
    levels = TrainedScorer(model=str(out), batch_size=5, device="cpu").score(new)
    assert len(levels) == 12 and all(1.0 <= level <= 10.0 for level in levels)
    assert evaluate_difficulty_model(out, new).count == 12


def test_prompts_without_levels_and_folders_without_a_card_are_refused(tmp_path, trained):
    unlabelled = [Prompt(domain="math", source="x", question="q", reference="1")]
    with pytest.raises(RedStarError, match="no difficulty"):
        train_difficulty_model(unlabelled, tmp_path / "m")
    with pytest.raises(RedStarError, match="not a RedStar difficulty model"):
        TrainedScorer(model=str(tmp_path))


def test_score_model_cli_train_and_eval(register_plugin, invoke_cli, tmp_path, trained):
    register_plugin(redstar_math.plugin, name="math")
    out = tmp_path / "cli-model"
    result = invoke_cli(["score-model", "train", "--source", "synthetic-math", "--option", "count=40", "--out",
                         str(out), "--max-steps", "2", "--batch-size", "8", "--heldout-fraction", "0.3", "--json"])
    card = json.loads(result.stdout)  # stderr carries progress bars
    assert card["saved"] == str(out) and card["steps"] == 2 and card["base"] == "tiny"
    result = invoke_cli(["score-model", "eval", "--model", str(trained[0]), "--source", "synthetic-math",
                         "--option", "count=20", "--option", "seed=3", "--json"])
    assert json.loads(result.stdout)["agreement"]["count"] == 20
    shown = invoke_cli(["score-model", "eval", "--model", str(trained[0]), "--source", "synthetic-math",
                        "--option", "count=20", "--option", "seed=3"]).stdout
    assert re.search(r"^  exact: \d\.\d{4} \[\d\.\d{4}, \d\.\d{4}\] \(95%\)$", shown, re.M), shown
    assert "exact_ci" not in shown  # each interval sits beside its figure
    failed = invoke_cli(["score-model", "eval", "--model", str(trained[0]), "--source", "synthetic-math",
                         "--option", "colour=red"], expect_exit=1)
    assert "colour" in failed.output
