import pytest

from redstar.evaluation import majority_correct, pass_at_k, summarise
from redstar.stats import wilson


@pytest.mark.parametrize("n,c,k,expected", [(4, 0, 1, 0.0), (4, 4, 1, 1.0), (4, 1, 1, 0.25), (4, 1, 2, 0.5), (5, 2, 3, 0.9)])
def test_pass_at_k_matches_hand_computed(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected)


def test_majority_vote():
    def s(extracted, correct):
        return {"extracted": extracted, "correct": correct}

    assert majority_correct([s("3", True), s("4", False), s("3", True)])
    assert not majority_correct([s("4", False), s("4", False), s("3", True)])
    assert not majority_correct([s(None, False)])


def test_summary_counts_truncation_separately():
    rows = [
        {"group": "level 1", "correct_count": 1, "majority_correct": True,
         "samples": [{"finish_reason": "stop", "reward": 1, "correct": True, "extracted": "1"},
                     {"finish_reason": "length", "reward": -1, "correct": False, "extracted": None}]},
        {"group": "level 2", "correct_count": 0, "majority_correct": False,
         "samples": [{"finish_reason": "stop", "reward": 0, "correct": False, "extracted": "9"},
                     {"finish_reason": "stop", "reward": 0, "correct": False, "extracted": "9"}]},
    ]
    score = summarise("bench", "m", rows, 2)
    assert score.pass_at_1 == pytest.approx(0.25)
    assert score.pass_at_k["pass@2"] == pytest.approx(0.5)
    assert score.truncated == 1 and score.no_answer == 1
    assert score.by_group["level 1"]["pass@1"] == pytest.approx(0.5)


def _rows(correct_counts, n, group=None):
    return [{"group": group, "correct_count": c, "majority_correct": c * 2 > n,
             "samples": [{"finish_reason": "stop", "reward": int(i < c), "correct": i < c, "extracted": "1"}
                         for i in range(n)]} for c in correct_counts]


def test_summary_carries_a_95_interval_for_pass_at_1_and_each_group():
    rows = _rows([1] * 10 + [0] * 10, 1, "level 1") + _rows([1] * 20, 1, "level 2")
    score = summarise("bench", "m", rows, 1)
    assert score.pass_at_1 == pytest.approx(0.75)
    low, high = score.pass_at_1_ci
    assert low < 0.75 < high
    assert score.pass_at_1_ci == pytest.approx([0.5981, 0.8581], abs=1e-4)  # Wilson, 30 of 40
    level2 = score.by_group["level 2"]
    assert level2["pass@1"] == 1.0 and level2["pass@1_ci"][1] == 1.0 and level2["pass@1_ci"][0] < 0.9
    assert score.by_group["level 1"]["pass@1_ci"] == pytest.approx([0.2993, 0.7007], abs=1e-4)
    assert score.to_dict()["pass_at_1_ci"] == score.pass_at_1_ci  # what summary.json stores
    assert {"problems", "pass@1", "pass@1_ci"} == set(level2)


def test_summary_interval_with_several_samples_is_deterministic():
    rows = _rows([0, 1, 2, 3, 4] * 8, 4)
    first, again = summarise("b", "m", rows, 4), summarise("b", "m", rows, 4)
    assert first.pass_at_1 == pytest.approx(0.5)
    assert first.pass_at_1_ci == again.pass_at_1_ci and first.pass_at_1_ci[0] < 0.5 < first.pass_at_1_ci[1]


def test_summary_of_nothing_claims_nothing():
    score = summarise("b", "m", [], 1)
    assert score.pass_at_1 == 0.0 and score.pass_at_1_ci == [0.0, 1.0]


def test_pass_at_k_and_majority_vote_carry_their_own_intervals():
    # 40 problems, 4 samples each: 0..4 right, evenly; majority right where 3 or 4 of 4 are.
    rows = _rows([0, 1, 2, 3, 4] * 8, 4)
    score = summarise("b", "m", rows, 4)
    assert score.majority == pytest.approx(16 / 40)
    assert score.majority_ci == pytest.approx([0.2635, 0.5540], abs=1e-4)  # Wilson, 16 of 40, by hand
    assert set(score.pass_at_k_ci) == set(score.pass_at_k) == {"pass@1", "pass@2", "pass@4"}
    for name, value in score.pass_at_k.items():
        low, high = score.pass_at_k_ci[name]
        assert low < value < high, name
    assert score.pass_at_k_ci["pass@1"] == pytest.approx(score.pass_at_1_ci)  # one estimator, one interval
    # Every problem solved by some sample: pass@4 is 1 on all but the 8 unsolved problems.
    assert score.pass_at_k["pass@4"] == pytest.approx(32 / 40)
    assert score.to_dict()["majority_ci"] == score.majority_ci


def test_a_score_whose_problems_all_agree_still_has_a_proper_interval():
    score = summarise("b", "m", _rows([4] * 12, 4), 4)
    assert score.pass_at_k["pass@2"] == 1.0 and score.majority == 1.0
    assert score.pass_at_k_ci["pass@2"][1] == 1.0 and score.pass_at_k_ci["pass@2"][0] < 0.8  # Wilson, 12 of 12
    assert score.majority_ci == pytest.approx(score.pass_at_k_ci["pass@2"])


def test_room_for_rl_counts_the_wrong_answers_a_sample_fixes():
    from redstar.evaluation import room_for_rl, room_units

    # 10 problems: greedy right on 4; of the 6 it gets wrong, some sample (of 4) solves 3;
    # and one greedy-right problem no sample solves.
    greedy = {f"p{i}": (1 if i < 4 else 0, 1) for i in range(10)}
    sampled = {f"p{i}": (c, 4) for i, c in enumerate([4, 2, 1, 0, 1, 3, 2, 0, 0, 0])}
    room = room_for_rl(room_units(greedy, sampled))
    assert (room["problems"], room["k"], room["wrong"], room["solved_by_a_sample"]) == (10, 4, 6, 3)
    assert room["pass_at_1"] == pytest.approx(0.4) and room["pass_at_k"] == pytest.approx(0.6)
    assert room["gain"]["difference"] == pytest.approx(0.2)
    assert (room["gain"]["better"], room["gain"]["worse"]) == (3, 1)  # McNemar on the discordant problems
    assert room["share"] == pytest.approx(0.5)
    assert room["share_ci"] == pytest.approx(list(wilson(3, 6)))  # one seed: a binomial proportion


def test_room_for_rl_pools_seeds_per_problem():
    from redstar.evaluation import room_for_rl

    # two problems, three seeds each: greedy wrong on 4 of the 6 problem-seeds, a sample fixes 2
    units = {"a": [((0, 1), (1, 4)), ((0, 1), (0, 4)), ((1, 1), (4, 4))],
             "b": [((0, 1), (2, 4)), ((0, 1), (0, 4)), ((1, 1), (0, 4))]}
    room = room_for_rl(units)
    assert (room["wrong"], room["solved_by_a_sample"], room["problems"]) == (4, 2, 2)
    assert room["pass_at_k"] == pytest.approx((2 / 3 + 1 / 3) / 2)
    assert room["pass_at_1"] == pytest.approx(1 / 3)
    assert 0 <= room["share_ci"][0] <= 0.5 <= room["share_ci"][1] <= 1
    assert room_for_rl({}) == {"problems": 0}
