import math

import pytest

from redstar_geo.values import decimals, normalize_text, parse_value, same_value, strip_units


@pytest.mark.parametrize(("text", "value"), [
    ("40°", 40.0),
    ("$40^\\circ$", 40.0),
    ("140^{\\circ}", 140.0),
    ("3 \\sqrt { 2 }", 3 * math.sqrt(2)),
    ("\\sqrt { 7 }", math.sqrt(7)),
    ("6 \\sqrt 2", 6 * math.sqrt(2)),
    ("\\frac{20}{3}", 20 / 3),
    ("\\dfrac{1}{2}", 0.5),
    ("\\frac12", 0.5),
    ("2πcm", 2 * math.pi),
    ("4\\pi", 4 * math.pi),
    ("4.40米", 4.4),
    ("0.5cm2", 0.5),
    ("12 square units", 12.0),
    ("\\text{40 cm}", 40.0),
    ("x = 120", 120.0),
    ("-5", -5.0),
    ("1,000", 1000.0),
    ("2(3)", 6.0),
    ("2^3", 8.0),
])
def test_parse_value_reads_the_benchmarks_notation(text, value):
    assert parse_value(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["A B and C D", "Sum", "", "x", "ParallelBetweenLine(DA,EB)", "1/0", "(3"])
def test_parse_value_returns_none_for_non_values(text):
    assert parse_value(text) is None


def test_strip_units_keeps_letters_that_belong_to_a_word():
    assert strip_units("12cm") == "12"
    assert strip_units("Sum") == "Sum"  # the trailing "m" is not metres
    assert normalize_text(" A B and C D ") == "abandcd"


def test_same_value_exact_and_rounded_choices():
    assert same_value("40", "40°")
    assert same_value("4.2426", "3 \\sqrt { 2 }")
    assert same_value("9.2195", "9.22")  # a more precise value rounds to the choice
    assert not same_value("9.2", "9.22")  # a less precise one does not
    assert not same_value("39.6", "40")  # integer choices are never rounded to
    assert not same_value("A", "40")
    assert decimals("9.20") == 2 and decimals("\\frac{1}{2}") is None
