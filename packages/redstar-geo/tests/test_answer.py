import pytest

from redstar_geo.answer import extract_choice, final_segment, last_boxed

CHOICES = {"A": "40°", "B": "60°", "C": "120°", "D": "140°"}


@pytest.mark.parametrize(("response", "letter", "rule"), [
    ("Reasoning...\nAnswer: D", "D", "answer"),
    ("**Answer:** (B) 60°", "B", "answer"),
    ("Final answer: C.", "C", "answer"),
    ("Answer: x = 120", "C", "answer"),  # a stated value matched to the choices
    ("final answer: $140^{\\circ}$", "D", "answer"),
    ("so the angle is \\boxed{140^\\circ}", "D", "boxed"),
    ("Therefore \\boxed{\\text{B}}", "B", "boxed"),
    ("The correct answer is option C.", "C", "phrase"),
    ("the answer is 60°.", "B", "phrase"),
    ("... so the answer must be (D)", "D", "phrase"),
    ("Comparing the options, ∠2 matches (A) best", "A", "paren"),
    ("so it is\nB", "B", "letter"),
    ("so it is\n**C**.", "C", "letter"),
])
def test_rules_find_the_chosen_option(response, letter, rule):
    found = extract_choice(response, CHOICES)
    assert (found.letter, found.rule) == (letter, rule)


def test_answer_line_wins_over_earlier_mentions_and_later_rules():
    response = "(A) is tempting, but the answer is not B.\nAnswer: D\n\\boxed{40°}"
    assert extract_choice(response, CHOICES).letter == "D"


def test_the_last_answer_line_counts():
    assert extract_choice("Answer: A\nWait, that is wrong.\nAnswer: C", CHOICES).letter == "C"


def test_long_cot_reads_only_after_the_reasoning():
    response = "<think>Maybe Answer: A? Let me check again.</think>\nAnswer: B"
    assert extract_choice(response, CHOICES).letter == "B"
    assert final_segment("<think>Answer: A, let me keep going") is None
    assert extract_choice("<think>Answer: A, let me keep going", CHOICES).stated is None


def test_stated_answer_that_matches_no_choice_has_no_letter():
    found = extract_choice("Answer: 45°", CHOICES)
    assert found.stated == "45°" and found.letter is None
    assert extract_choice("Answer: E", CHOICES).letter is None


def test_lone_capitals_and_articles_are_not_answers():
    assert extract_choice("I think A triangle is drawn", CHOICES).stated is None
    assert extract_choice("no conclusion here", CHOICES).stated is None
    assert extract_choice("so it is\nE", CHOICES).stated is None  # E is not a choice


def test_free_form_returns_the_stated_text():
    found = extract_choice("Work...\nAnswer: 30", {})
    assert found.stated == "30" and found.letter is None


def test_last_boxed_balances_braces():
    assert last_boxed("\\boxed{1} then \\boxed{\\frac{1}{2}}") == "\\frac{1}{2}"
    assert last_boxed("\\boxed{unclosed") is None
