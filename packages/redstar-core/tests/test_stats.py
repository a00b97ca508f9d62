"""Uncertainty of scores: pass@1 intervals, the paired comparison, and comparing a run's models."""

import json

import pytest

from redstar.errors import InputError
from redstar.stats import compare_models, paired_comparison, pass_at_1_interval, seed_spread, wilson


def test_wilson_matches_the_textbook_values():
    # 20 of 40: centred at 0.5, half-width 1.96 * sqrt(.25/40) shrunk by 1 / (1 + z^2/n).
    assert wilson(20, 40) == pytest.approx((0.3520, 0.6480), abs=1e-4)
    assert wilson(0, 40) == pytest.approx((0.0, 0.0876), abs=1e-4)
    assert wilson(40, 40) == pytest.approx((0.9124, 1.0), abs=1e-4)
    assert wilson(0, 0) == (0.0, 1.0)


@pytest.mark.parametrize("correct,low,high", [(0, 0.0, 0.0876), (40, 0.9124, 1.0), (20, 0.3520, 0.6480)])
def test_one_sample_per_problem_uses_wilson(correct, low, high):
    results = [(1, 1)] * correct + [(0, 1)] * (40 - correct)
    assert pass_at_1_interval(results) == pytest.approx((low, high), abs=1e-4)


def test_several_samples_per_problem_bootstrap_over_problems():
    rates = [0, 1, 2, 3, 4, 2, 1, 0, 4, 3] * 4  # correct out of 4, mean 0.5
    results = [(c, 4) for c in rates]
    low, high = pass_at_1_interval(results)
    assert low < 0.5 < high
    # Narrower than Wilson over problems, which assumes each problem all-or-nothing.
    wide = wilson(20, 40)
    assert wide[0] < low and high < wide[1]
    assert pass_at_1_interval(results) == (low, high)  # deterministic: fixed seed


@pytest.mark.parametrize("correct", [0, 4])
def test_several_samples_all_alike_still_have_width(correct):
    low, high = pass_at_1_interval([(correct, 4)] * 40)
    assert low <= correct / 4 <= high and high - low > 0.05  # not collapsed to a point


def test_interval_rejects_impossible_counts():
    with pytest.raises(ValueError, match="correct <= samples"):
        pass_at_1_interval([(3, 2)])


def test_a_clear_difference_is_not_within_noise():
    after = [(1, 1)] * 30 + [(0, 1)] * 10
    before = [(0, 1)] * 35 + [(1, 1)] * 5
    c = paired_comparison(after, before)
    assert c.difference == pytest.approx(0.625)
    assert c.test == "mcnemar-exact" and c.p_value < 0.001
    assert 0 < c.ci[0] < c.difference < c.ci[1]
    assert not c.within_noise and (c.better, c.worse, c.problems) == (30, 5, 40)


def test_equal_results_are_within_noise():
    same = [(1, 1)] * 12 + [(0, 1)] * 28
    c = paired_comparison(same, same)
    assert c.difference == 0 and c.p_value == 1.0 and c.ci == (0.0, 0.0)
    assert c.within_noise


def test_three_problems_apart_on_forty_is_within_noise():
    # The geo report's 0.150 vs 0.225 on 40 problems: three more solved, none lost.
    before = [(1, 1)] * 6 + [(0, 1)] * 34
    after = [(1, 1)] * 9 + [(0, 1)] * 31
    c = paired_comparison(after, before)
    assert c.difference == pytest.approx(0.075)
    assert c.p_value == pytest.approx(0.25)  # McNemar exact: 3 of 3 discordant, 2 * 0.5^3
    assert c.within_noise


def test_a_handful_of_problems_is_guarded_by_the_exact_test():
    c = paired_comparison([(1, 1)] * 3, [(0, 1)] * 3)
    assert c.ci == (1.0, 1.0)  # the bootstrap has nothing to vary
    assert c.p_value == pytest.approx(0.25) and c.within_noise


def test_several_samples_use_the_sign_flip_test_deterministically():
    after = [(3, 4)] * 20 + [(1, 4)] * 20
    before = [(2, 4)] * 20 + [(0, 4)] * 10 + [(4, 4)] * 10
    c = paired_comparison(after, before)
    assert c.test == "sign-flip-monte-carlo" and c.difference == pytest.approx(0.0)
    assert c.within_noise and c.p_value > 0.5
    assert paired_comparison(after, before) == c
    clear = paired_comparison([(4, 4)] * 30 + [(3, 4)] * 10, [(1, 4)] * 30 + [(1, 4)] * 10)
    assert clear.test == "sign-flip-monte-carlo" and clear.p_value < 0.001 and not clear.within_noise


def test_paired_comparison_needs_the_same_problems():
    with pytest.raises(ValueError, match="same problems"):
        paired_comparison([(1, 1)], [])


def test_seed_spread():
    spread = seed_spread([0.5, 0.6, 0.7])
    assert spread["seeds"] == 3 and spread["mean"] == pytest.approx(0.6) and spread["std"] == pytest.approx(0.1)
    assert (spread["min"], spread["max"]) == (0.5, 0.7)
    assert seed_spread([0.4])["std"] == 0.0


# -- a run's models, from their per-problem files --------------------------------------------

def write_eval(run, tag, evaluator, correct):
    """``correct``: prompt id -> list of per-sample booleans."""
    path = run / "eval" / tag / f"{evaluator}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [{"prompt_id": pid, "correct_count": sum(flags), "samples": [{"correct": f} for f in flags]}
            for pid, flags in correct.items()]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def test_compare_models_chains_models_and_pairs_by_problem(tmp_path):
    ids = [f"p{i}" for i in range(40)]
    write_eval(tmp_path, "teacher", "bench", {i: [True] for i in ids})
    write_eval(tmp_path, "base", "bench", {i: [k < 5] for k, i in enumerate(ids)})
    write_eval(tmp_path, "sft", "bench", {i: [k < 30] for k, i in enumerate(reversed(ids))})  # other order
    write_eval(tmp_path, "dpo", "bench", {i: [k < 30] for k, i in enumerate(reversed(ids[5:]))})  # fewer problems
    scores = {tag: {"bench": {}} for tag in ("teacher", "base", "sft", "dpo")}
    found = compare_models(tmp_path, scores)
    assert set(found) == {"sft", "dpo"}  # the teacher is a reference, base starts the chain
    sft = found["sft"]["bench"]
    assert sft["against"] == "base" and sft["problems"] == 40
    assert sft["difference"] == pytest.approx((30 - 5) / 40) and not sft["within_noise"]  # sft solves p10..p39
    dpo = found["dpo"]["bench"]
    assert dpo["against"] == "sft" and dpo["problems"] == 35 and dpo["within_noise"]


def test_compare_models_skips_missing_files_and_names_a_bad_row(tmp_path):
    scores = {"base": {"bench": {}}, "sft": {"bench": {}}}
    assert compare_models(tmp_path, scores) == {}
    write_eval(tmp_path, "base", "bench", {"p1": [True]})
    (tmp_path / "eval" / "sft").mkdir(parents=True)
    (tmp_path / "eval" / "sft" / "bench.jsonl").write_text('{"prompt_id": "p1", "samples": []}\n')
    with pytest.raises(InputError, match=r"sft/bench.jsonl:1: field 'correct_count'"):
        compare_models(tmp_path, scores)


def test_mean_interval_bootstraps_fractions_and_falls_back_to_wilson_when_all_agree():
    from redstar.stats import mean_interval, wilson

    values = [0.0, 0.25, 0.5, 0.75, 1.0] * 10
    low, high = mean_interval(values)
    assert low < 0.5 < high and high - low < 0.3
    assert mean_interval(values) == (low, high)  # fixed seed: a rebuilt report shows the same bounds
    assert mean_interval([0.5] * 20) == wilson(10.0, 20)
    assert mean_interval([]) == (0.0, 1.0)
    with pytest.raises(ValueError, match="lies in \\[0, 1\\]"):
        mean_interval([0.5, 1.5])


def test_sample_size_for_a_paired_comparison_follows_connors_formula():
    from redstar.stats import detectable_difference, paired_sample_size

    # delta 0.03, discordance 0.1, two-sided 5%, power 80%: (1.96 sqrt(.1) + .8416 sqrt(.0991))^2 / .0009
    expected = (1.959964 * 0.1 ** 0.5 + 0.841621 * 0.0991 ** 0.5) ** 2 / 0.0009
    assert paired_sample_size(0.03, 0.1) == int(expected) + 1 == 870
    # more discordance needs more problems; a larger difference fewer
    assert paired_sample_size(0.03, 0.2) > paired_sample_size(0.03, 0.1) > paired_sample_size(0.06, 0.1)
    # the inverse: what a set of that size can see
    assert detectable_difference(870, 0.1) == pytest.approx(0.03, abs=5e-4)
    assert detectable_difference(100, 0.1) > 0.08
    assert detectable_difference(5, 0.1) == float("inf")  # even a difference as large as the discordance is unseen
    with pytest.raises(ValueError, match="discordance"):
        paired_sample_size(0.2, 0.1)


def test_discordance_counts_the_problems_whose_answers_differ():
    from redstar.stats import discordance

    assert discordance([(1, 1), (0, 1), (1, 1), (0, 1)], [(1, 1), (1, 1), (0, 1), (0, 1)]) == 0.5
    with pytest.raises(ValueError, match="same problems"):
        discordance([(1, 1)], [])


def test_ratio_interval_keeps_a_problems_units_together():
    from redstar.stats import ratio_interval

    assert ratio_interval([1, 0, 1], [1, 1, 1]) == pytest.approx(wilson(2, 3))  # one unit each: Wilson
    low, high = ratio_interval([2, 0, 1, 3] * 5, [3, 2, 1, 3] * 5)
    assert low < 30 / 45 < high and ratio_interval([2, 0, 1, 3] * 5, [3, 2, 1, 3] * 5) == (low, high)
    assert ratio_interval([], []) == (0.0, 1.0) and ratio_interval([0], [0]) == (0.0, 1.0)
    with pytest.raises(ValueError):
        ratio_interval([2], [1])
