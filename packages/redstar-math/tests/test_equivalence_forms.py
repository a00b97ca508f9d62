"""Answer forms of issue 23: percents compared as percents, ``\\pm`` sets, times of day, long
expressions that equal the gold, and the ``strict_decimals`` reading."""

import time

import pytest

from redstar_math.equivalence import compare


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
