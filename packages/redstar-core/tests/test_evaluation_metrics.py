import pytest

from redstar.evaluation import majority_correct, pass_at_k, summarise


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
