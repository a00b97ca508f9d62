"""No pattern of the math verifier is super-linear, and every entry point reads 100 000-character
runs of every character class correctly.

A regular expression that backtracks quadratically (``\\s*(?:\\.\\s*)?I hope it is correct\\.?\\s*$``
took 247 s on 80 000 spaces) takes minutes on the inputs below instead of milliseconds. The test
asserts no timing; it runs each scan under :func:`redstar_math.budget.time_limit` with a generous
budget, so that a regression is reported as the pattern and input that ran away rather than as a
hung test run. Python's regular-expression engine checks for signals while it matches, so the
budget interrupts even a single runaway ``search``.
"""

from __future__ import annotations

import re

import pytest

from redstar_math import equivalence, expr, extract, forms, latex, times
from redstar_math.budget import BudgetExceeded, time_limit
from redstar_math.extract import extract_final_answer, gsm8k_gold, last_boxed, metamath_gold
from redstar_math.latex import clean
from redstar_math.verifier import MathVerifier

N = 100_000
#: Seconds for one scan of a 100 000-character input (and its trigger variants): linear scans take
#: milliseconds, quadratic ones seconds to minutes (the old TEXT_UNIT: 10 s, MARKER_TAIL: 4 min).
BUDGET = 5.0

#: Every character class the patterns use, alone and in the short periodic mixes that make
#: patterns with alternatives or lookbehinds start again and again.
UNITS = [
    " ", "\t", "\n", "\u00a0", "0", "7", "a", "x", "e", "I", "\\", "{", "}", "$", "*", ".", ",", ":", "：", ";", "^",
    "_", "(", ")", "[", "]", "-", "+", "/", "&", "#", "%", "~", "!", "=", "<", ">", "|", "'", "。",
    "\\ ", "1,", ", ", "a ", "ab ", "{,}", "\\!", "1 ", "**", ". ", "\\{", "\\}", "$ ", "^{", "_{", "1,000",
    "\\text{m}", "\\text{", "x=1,", "1/", "\\,", "the ", "answer ", "\\boxed{", "0.", "\\frac{",
]
#: Text that makes a pattern start its work: marker words, commands, a number before a unit.
TRIGGERS = [
    "1", "5 ", "the final answer is", "final answer", "the answer is", "\nanswer:", "####", "\\boxed", "\\fbox",
    "\\text{a", "\\frac{\\text{m}}{\\text{s", "5 cm", "5\\text{m}", "\\SI{5}{", "\\num{", "3.14", "1,000",
    "x", "^", "\\frac", "\\sqrt", "\\begin{pmatrix}", "\\left(", "x \\in", "I hope it is correct",
]


def runs():
    for unit in UNITS:
        yield unit, (unit * (N // len(unit) + 1))[:N]


def verifier_patterns():
    for module in (extract, latex, forms, expr, equivalence, times):
        for name, value in vars(module).items():
            values = value if isinstance(value, (list, tuple)) else [value]
            for i, item in enumerate(values):
                if isinstance(item, re.Pattern):
                    yield f"{module.__name__}.{name}" + (f"[{i}]" if len(values) > 1 else ""), item


PATTERNS = list(verifier_patterns())


def test_the_patterns_are_all_found():
    names = {name for name, _ in PATTERNS}
    assert len(PATTERNS) >= 45
    assert {"redstar_math.extract.MARKERS[3]", "redstar_math.latex.TEXT_UNIT", "redstar_math.expr.TOKEN"} <= names


@pytest.mark.parametrize(("name", "pattern"), PATTERNS, ids=[name for name, _ in PATTERNS])
def test_pattern_is_linear_on_long_runs(name, pattern):
    """Every start position over a run (``finditer``), and the start positions inside a trigger
    followed by a run, where one attempt may consume the whole run."""
    for unit, run in runs():
        for tail in ("", "\x01"):  # a run that ends the text, and one followed by what fails
            text = run + tail
            try:
                with time_limit(BUDGET):
                    found = sum(1 for _ in pattern.finditer(text))
                    for trigger in TRIGGERS:
                        prefixed = trigger + text
                        for start in range(len(trigger) + 1):
                            pattern.match(prefixed, start)
            except BudgetExceeded:
                pytest.fail(f"{name} ran away on {unit!r} * {N} (+ {tail!r}) or a trigger before it")
            assert found <= len(text) + 1


@pytest.mark.parametrize(("unit", "run"), list(runs()), ids=[repr(u) for u in UNITS])
def test_extraction_and_cleaning_of_long_runs(unit, run):
    with time_limit(BUDGET):
        # A run in the reasoning, then the committed answer: found whatever the run is.
        assert extract_final_answer(run + "\nThe answer is $5$.") == "5"
        assert extract_final_answer(run + "\nSo $\\boxed{5}$.") == "5"
        assert last_boxed(run + "\\boxed{5}") == "5"
        assert gsm8k_gold(run + "\n#### 5") == "5"
        # A run as (or after) the answer: read or refused, never a hang.
        for response in ("The answer is " + run, "The answer is 5" + run, "\\boxed{" + run + "}",
                         "Final Answer: The final answer is $" + run + "$. I hope it is correct.", run):
            answer = extract_final_answer(response)
            assert answer is None or 0 < len(answer) <= len(response)
        assert len(clean(run).text) <= N
        metamath_gold(run)


@pytest.mark.parametrize("unit", [" ", "\t", "\n", ".", "*", "$", "\\", "{", "}", "1", "a", ",", "#"])
def test_verifier_reads_answers_beside_long_runs(unit):
    """End to end with the verifier's own budget (5 s): a runaway step would come back as a
    "timeout" verdict, so these exact verdicts show that every step stayed linear."""
    verifier = MathVerifier(use_cas=False)
    run = unit * N
    # The issue's case: a long run in the answer line, after the answer.
    verdict = verifier.verify("The answer is 5" + run, "5")
    if unit.isspace():
        assert verdict.correct, verdict  # trailing whitespace is not part of the answer
    else:  # anything else: 100 000 characters push the marker out of the 64 KiB window, or are read
        assert not verdict.correct and verdict.reason != "timeout", verdict
    # A run in the reasoning, then the committed answer.
    verdict = verifier.verify(run + "\nSo the answer is $\\boxed{5}$.", "5")
    assert verdict.correct, verdict
    # A run as the answer itself: compared (or found missing), never hanging.
    verdict = verifier.verify("The answer is " + run, "5")
    assert not verdict.correct and verdict.reason != "timeout", verdict


def test_the_issue_case_spaces_in_the_answer_line_are_read():
    """80 000 spaces in the answer line took the old sign-off pattern 247 s."""
    verifier = MathVerifier(use_cas=False)
    spaces = " " * N
    assert verifier.verify("The answer is" + spaces + "5.", "5").correct
    assert verifier.verify("Final Answer: The final answer is $5$." + spaces + "I hope it is correct.", "5").correct
    assert verifier.verify("The answer is 5" + spaces + "x", "5").reason != "timeout"
    assert extract_final_answer("Final Answer: The final answer is $5$" + spaces + ". I hope it is correct.") == "5"
