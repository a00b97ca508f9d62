"""RedStar's own comparison of a program's result with a test's expected one (``mode="strict"``).

Standard input: the whole standard output against the whole expected output, line by line,
after removing trailing whitespace at the end of every line and blank lines at the end of the
output. Whitespace here means spaces, tabs and ``\\r`` only: any other character (a vertical tab,
a form feed, a Unicode space) is output like a letter. Leading whitespace and blank lines in the
middle count. With a ``float_tolerance``, a line's leading whitespace still counts, and the rest
is compared token by token (tokens are separated by runs of that whitespace): two tokens that both
read as decimal numbers written with ASCII digits (:data:`NUMBER`) match when they differ by at
most the tolerance, absolutely or relatively; any other tokens must be equal.

Call-based: the return value (as JSON, so a tuple is a list) equals the expected value, or the
expected value is a one-element list holding it (TACO stores many return values wrapped that
way). Numbers compare with the tolerance when one is set; otherwise exactly, with Python's ``==``
(so ``True == 1``).
"""

from __future__ import annotations

import math
import re
from typing import Any

#: What is trimmed at the end of a line, and what separates tokens (with a tolerance).
WHITESPACE = " \t\r"
_SEPARATOR = re.compile(r"[ \t\r]+")
#: A number, for ``float_tolerance``: optional sign, ASCII digits with an optional decimal point,
#: optional exponent. Not what ``float()`` reads: no other scripts' digits (Devanagari,
#: full-width), no underscores, no ``inf`` or ``nan``.
NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def output_lines(text: str) -> list[str]:
    lines = [line.rstrip(WHITESPACE) for line in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def stdout_matches(actual: str, expected: str, float_tolerance: float | None = None) -> bool:
    got, want = output_lines(actual), output_lines(expected)
    if float_tolerance is None:
        return got == want
    if len(got) != len(want):
        return False
    return all(_line_matches(a, b, float_tolerance) for a, b in zip(got, want))


def _line_matches(got: str, want: str, tolerance: float) -> bool:
    body_got, body_want = got.lstrip(WHITESPACE), want.lstrip(WHITESPACE)
    if got[: len(got) - len(body_got)] != want[: len(want) - len(body_want)]:
        return False  # leading whitespace counts
    tokens_got, tokens_want = _SEPARATOR.split(body_got), _SEPARATOR.split(body_want)
    if len(tokens_got) != len(tokens_want):
        return False
    return all(_token_matches(a, b, tolerance) for a, b in zip(tokens_got, tokens_want))


def _token_matches(got: str, want: str, tolerance: float) -> bool:
    if got == want:
        return True
    a, b = _number(got), _number(want)
    return a is not None and b is not None and _close(a, b, tolerance)


def _number(token: str) -> float | None:
    if NUMBER.fullmatch(token) is None:
        return None
    value = float(token)
    return value if math.isfinite(value) else None


def _close(a: float, b: float, tolerance: float) -> bool:
    return abs(a - b) <= tolerance or abs(a - b) <= tolerance * max(abs(a), abs(b))


def return_matches(actual: Any, expected: Any, float_tolerance: float | None = None) -> bool:
    if values_equal(actual, expected, float_tolerance):
        return True
    return isinstance(expected, list) and len(expected) == 1 and values_equal(actual, expected[0], float_tolerance)


def values_equal(a: Any, b: Any, tolerance: float | None) -> bool:
    if tolerance is None:
        return a == b
    if _is_number(a) and _is_number(b):
        return a == b or (math.isfinite(a) and math.isfinite(b) and _close(float(a), float(b), tolerance))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(values_equal(x, y, tolerance) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(values_equal(a[k], b[k], tolerance) for k in a)
    return a == b


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
