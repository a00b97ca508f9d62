"""Answer forms of issue 23: percents compared as percents, ``\\pm`` sets, times of day, long
expressions that equal the gold, and the ``strict_decimals`` reading."""

import math
import time

import pytest

from redstar_math.cas import GuardedCAS
from redstar_math.equivalence import Decision, compare


def decide(gold, answer, budget=5.0, **options):
    return compare(gold, answer, time.monotonic() + budget, None, **options)


@pytest.mark.parametrize(("gold", "answer", "equal"), [
    # a percent against a percent compares the percents
    (r"20\%", r"0.2\%", False), (r"0.05\%", r"5\%", False), (r"20\%", r"20\%", True), (r"20\%", r"20.0\%", True),
    (r"12.5\%", r"\frac{25}{2}\%", True), (r"\frac{100}{3}\%", r"33.3\%", True), (r"50\%", r"5\%", False),
    (r"20\%", "20 percent", True), (r"20\%", r"0.2 \text{ percent}", False), (r"0.2", "20 per cent", True),
    # a bare number against a percent: p or p/100 (the documented policy)
    (r"20\%", "0.2", True), (r"20\%", "20", True), ("0.2", r"20\%", True), ("20", r"20\%", True),
    (r"\frac34", r"75\%", True), (r"20\%", "0.002", False), ("0.2", r"0.2\%", True), ("20", r"0.2\%", False),
])
def test_percent_semantics(gold, answer, equal):
    assert decide(gold, answer).equal == equal, (gold, answer)


@pytest.mark.parametrize(("gold", "answer", "equal"), [
    (r"x = 2 \pm \sqrt{3}", r"2+\sqrt3, 2-\sqrt3", True), (r"2+\sqrt3, 2-\sqrt3", r"x = 2 \pm \sqrt{3}", True),
    (r"\frac{1\pm\sqrt5}{2}", r"\frac{1+\sqrt5}{2}, \frac{1-\sqrt5}{2}", True),  # inside a fraction
    (r"\frac{-b \pm \sqrt{b^2-4ac}}{2a}", r"\frac{-b - \sqrt{b^2-4ac}}{2a}, \frac{-b + \sqrt{b^2-4ac}}{2a}", True),
    (r"1 \pm \sqrt2 + 1", r"2+\sqrt2, 2-\sqrt2", True),  # the sign belongs to \sqrt2 alone
    (r"1 \pm \sqrt2 + 1", r"1+\sqrt3, 3-\sqrt2", False),
    (r"x_{1,2} = 2 \pm \sqrt3", r"2+\sqrt3, 2-\sqrt3", True), (r"x = 2 \pm \sqrt{3}", r"x = 2 + \sqrt3 \text{ or } x = 2 - \sqrt3", True),
    (r"\{2\pm\sqrt3\}", r"\{2+\sqrt3, 2-\sqrt3\}", True), (r"\{0, \pm 1\}", r"\{-1, 0, 1\}", True),
    (r"\pm 1, \pm 2", "1, -1, 2, -2", True), (r"\pm 1, \pm 2", "1, -1, 2", False), ("x = ±3", "3, -3", True),
    (r"(\pm 1, 0)", "(1, 0), (-1, 0)", True), (r"(\pm 1, 0)", "(1, 0), (0, -1)", False),
    (r"a \pm b \mp c", "a + b - c, a - b + c", True), (r"a \pm b \mp c", "a + b + c, a - b - c", False),
    (r"2 \pm \sqrt{3}", r"2 + \sqrt 3", False), (r"\pm\sqrt{2}", r"\sqrt{2}", False),
])
def test_plus_minus(gold, answer, equal):
    assert decide(gold, answer).equal == equal, (gold, answer)


@pytest.mark.parametrize(("gold", "answer", "equal"), [
    ("3:30 PM", "15:30", True), ("15:30", r"3{:}30 \text{ PM}", True), (r"3{:}30", "3:30", True),
    (r"3:30 \text{ p.m.}", "15:30", True), (r"\text{3:30 p.m.}", r"15\colon 30", True), ("3 PM", "15:00", True),
    ("12:15 AM", "00:15", True), ("12:15 PM", "12:15", True), ("9:05:30 am", "09:05:30", True),
    ("3:30 PM", "3:30 AM", False), ("3:30 PM", "15:45", False), ("3:30 PM", "03:30", False),
    ("15:30", "3:30", False),  # neither says a.m. or p.m.: the clock must be the same
    ("3:30", "3:30 PM", True), ("3:30 PM", "3:30", True),  # one side unmarked: either half of the day
    ("3:30 PM", "330", False), ("1:30 PM", "13:30 PM", False),  # 13 p.m. is no time
    ("3:30 PM", r"\frac{1}{10}", False),  # not as the ratio 3:30 either
])
def test_times_of_day(gold, answer, equal):
    decision = decide(gold, answer)
    assert decision.equal == equal, (gold, answer, decision)


def test_readings_without_am_or_pm_may_still_be_equal_ratios():
    cas = GuardedCAS()
    try:
        for gold, answer in [("12:18", "10:15"), ("2:3", "10:15")]:
            assert compare(gold, answer, time.monotonic() + 60, cas).equal
        assert not compare("12:18", "10:16", time.monotonic() + 60, cas).equal
    finally:
        cas.close()


@pytest.mark.parametrize(("gold", "answer", "default", "strict"), [
    (r"\frac13", "0.333", True, False), (r"\pi", "3.14", True, False), ("3.14", r"\pi", True, False),
    (r"\pi", r"3.1415\ldots", True, False), (r"\frac{1}{3}", r"33.3\%", True, False),
    (r"\frac{1000\pi}{3}", r"1.047 \times 10^{3}", True, False), (r"\sqrt2", "1.414", True, False),
    # exact decimals stay equal in both readings
    (r"\frac12", "0.5", True, True), ("0.5", r"\sin\frac{\pi}{6}", True, True), (r"\frac{3}{8}", "0.375", True, True),
    (r"\frac34", r"75\%", True, True), ("1.5", r"\frac{3}{2}", True, True), ("0.125", "1.25e-1", True, True),
    # and two decimals are compared exactly in both
    ("0.33", "0.333", False, False),
])
def test_strict_decimals(gold, answer, default, strict):
    assert decide(gold, answer).equal == default, (gold, answer)
    assert decide(gold, answer, strict_decimals=True).equal == strict, (gold, answer)


def _digits(n):
    """The decimal digits of a positive integer of any size (str() refuses more than 4300)."""
    chunks = []
    while n:
        n, chunk = divmod(n, 10**1000)
        chunks.append(chunk)
    return str(chunks[-1]) + "".join(f"{chunk:01000d}" for chunk in reversed(chunks[:-1]))


def _expanded(n):
    """(x+1)^n written out term by term: 1176 characters for n = 60."""
    return "+".join(f"{math.comb(n, k)}x^{{{k}}}" for k in range(n + 1))


@pytest.mark.parametrize(("gold", "answer", "equal"), [
    ("601", "+".join(["1"] * 601), True), ("601", "+".join(["1"] * 600), False),
    ("(x+1)^{60}", _expanded(60), True), ("(x+1)^{60}", _expanded(60) + "+1", False), (_expanded(60), "(1+x)^{60}", True),
    ("2^{16000}", _digits(2**16000), True), ("2^{16000}", _digits(2**16000 + 1), False),  # 4817 digits: past 4300
    ("x", "+".join([r"\frac{x}{200}"] * 200), True),
])
def test_long_expressions_that_equal_the_gold(gold, answer, equal):
    assert len(answer) > 1000 or len(gold) > 1000
    decision = decide(gold, answer)
    assert decision.equal == equal and decision.path != "too long to parse", (decision, len(answer))


def test_answers_beyond_the_parse_limit_are_compared_as_text():
    long_sum = "+".join(["1"] * 2600)  # 5199 characters
    assert decide("2600", long_sum) == Decision(False, "too long to parse")
    assert decide(long_sum, long_sum + " ").equal
    # However deep, nesting is refused before it can exhaust the stack.
    for nested in (r"\sqrt" * 500 + "{4}", "2^" * 2000 + "1", r"\frac{1}{" * 300 + "2" + "}" * 300, "(" * 1000 + "2" + ")" * 1000):
        assert not decide("2", nested).equal
    assert decide("2", "-" * 4000 + "2").equal  # a run of signs is one level
