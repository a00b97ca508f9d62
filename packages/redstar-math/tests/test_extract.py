"""Reading final answers out of responses and gold answers out of dataset solutions."""

import pytest

from redstar_math.extract import extract_final_answer, gsm8k_gold, last_boxed, metamath_gold


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (r"so $\boxed{\frac{\sqrt{3}}{2}}$.", r"\frac{\sqrt{3}}{2}"),
        (r"nested \boxed{\left\{ 1, \{2\} \right\}} here", r"\left\{ 1, \{2\} \right\}"),
        (r"\boxed{\boxed{6}}", r"\boxed{6}"),
        (r"first \boxed{2}, wrong. Redo.\n\nFinally \boxed{3}.", "3"),
        (r"The roots are $\boxed{2}$ and $\boxed{-3}$.", "2, -3"),
        (r"$\boxed{1}$, $\boxed{2}$ or $\boxed{3}$", "1, 2, 3"),
        (r"\fbox{204} minutes", "204"),
        (r"\framebox[2cm]{7}", "7"),
        (r"The answer is \boxed 7.", "7"),
        ("The answer is: 18", "18"),
        ("Final Answer: The final answer is $5$. I hope it is correct.", "5"),
        ("**Final Answer:** 12", "12"),
        ("**Answer:** 7", "7"),
        ("Answer: $x^2$", "x^2"),
        ("Janet makes 9 * 2 = 18 dollars.\n#### 18", "18"),
        ("The final answer is 12.", "12"),
        ("The answer is $\\$10$.", "\\$10"),
        ("The answer is (B).", "(B)"),
        ("<think>\nmaybe \\boxed{4}\n</think>\nSo we get $\\boxed{5}$.", "5"),
    ],
)
def test_final_answer_is_read(response, expected):
    assert extract_final_answer(response) == expected


@pytest.mark.parametrize(
    "response",
    [
        "The sum is 2 + 3 = 5, though I am not sure how to finish.",  # a number in the middle is no answer
        "<think>\n2 + 3 = 5 so \\boxed{5}, but let me double check by",  # still thinking: truncated
        "We conclude $\\boxed{}$.",  # an empty box
        "So the probability is \\boxed{\\frac{1}{2",  # a box that never closes
        "{braces} and {more {nested} braces} 10",
        "",
    ],
)
def test_no_committed_answer_is_none(response):
    assert extract_final_answer(response) is None


def test_box_inside_unclosed_think_and_after_close():
    assert extract_final_answer("<think>\\boxed{1}</think>no box here") is None
    assert extract_final_answer("<think>a</think><think>b</think> \\boxed{2}") == "2"


def test_huge_and_adversarial_inputs_are_read_or_rejected():
    long_reasoning = "Let x = 3. " * 100_000  # about 1 MB
    assert extract_final_answer(long_reasoning + "\\boxed{5}") == "5"
    assert extract_final_answer(long_reasoning) is None
    assert extract_final_answer("\\boxed{" * 150_000) is None  # 1 MB of unclosed boxes
    assert extract_final_answer("{" * 500_000 + "}" * 500_000 + "\\boxed{3}") == "3"
    deep = "\\boxed{" + "{" * 5000 + "5" + "}" * 5000 + "}"
    assert extract_final_answer(deep) == "{" * 5000 + "5" + "}" * 5000


def test_gold_of_math_solution_is_last_box_with_nesting():
    solution = r"We get $\boxed{2}$ first, and in the end $\boxed{\frac{1+\sqrt{5}}{4}}$."
    assert last_boxed(solution) == r"\frac{1+\sqrt{5}}{4}"
    assert last_boxed("no box") is None


def test_gsm8k_gold_is_text_after_marker_without_commas():
    assert gsm8k_gold("He sells 3 * 4 = 12.\n#### 70,000") == "70000"
    assert gsm8k_gold("no marker") is None
    assert gsm8k_gold("####   ") is None


def test_metamath_gold_prefers_box_then_answer_line():
    assert metamath_gold("We find \\boxed{12}.\nThe answer is: 12") == "12"
    assert metamath_gold("So she has 5 apples.\nThe answer is: 5") == "5"
    assert metamath_gold("no answer at all") is None
