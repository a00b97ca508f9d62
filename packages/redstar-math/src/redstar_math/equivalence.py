r"""Deciding whether a final answer equals the gold answer.

Cheapest first, and most checks stop early:

1. **string** - the cleaned spellings are identical (:mod:`redstar_math.latex`);
2. **choice** - the gold is a multiple-choice letter: compare letters (``(B)``, ``\text{B}``);
3. **structure** - lists and sets order-free, tuples and intervals ordered with their brackets,
   unions, matrices, equations (:mod:`redstar_math.forms`), element by element;
4. **exact** - both scalars are rational: compare :class:`fractions.Fraction` values;
5. **numeric** - constants and radicals: compare complex floats (relative tolerance 1e-9);
   **symbolic** - expressions in variables: compare at points drawn for the pair over the whole
   line, on the gold's real domain (:mod:`redstar_math.points`);
6. **cas** - only when RedStar's parser cannot read an answer: sympy, in a worker process with a
   hard time limit (:mod:`redstar_math.cas`), never for words or answers over 300 characters.

Floats decide only what they can: a pair that floats call equal, or whose float evaluation
cancelled or overflowed, is decided again by :mod:`redstar_math.precise` (mpmath at a precision
chosen from the magnitudes, or exact arithmetic modulo large primes for huge rationals), so
``2^{1000000}`` = ``4^{500000}`` and ``\pi + 10^{-20}`` != ``\pi``.

Two rules take approximation into account (``docs/math.md``, "Rounding"); with
``strict_decimals`` the first is off and a decimal equals only its exact value. A *decimal* written
with ``d`` decimals and at least three significant digits equals an exact value that, correctly
rounded to ``d`` decimals, gives it (``0.333`` = 1/3, ``3.14`` = pi, ``3.1416`` = pi, but not
``0.67`` = 2/3, ``0.3`` = 1/3, ``0.666`` = 2/3 or ``3.1415926535`` = pi); with an ellipsis
(``3.1415\ldots``) a cut-off expansion counts too. Scientific notation counts its mantissa's
digits (``1.05 \times 10^{3}`` is rounded to tens). Two decimals must be equal exactly. Two
*percents* compare their percents (``0.2\%`` is not ``20\%``); a bare number against ``p\%`` may be
``p`` or ``p/100``.

Here are the entry points (:func:`compare`, :func:`canonical`); the comparison by shape is in
:mod:`redstar_math.equivalence_shapes`, that of scalars (and the :class:`Context` every comparison
carries) in :mod:`redstar_math.equivalence_scalars`; every name is importable from here as before.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from redstar_math import expr, times
from redstar_math.cas import GuardedCAS
from redstar_math.equivalence_scalars import (
    MAX_CAS_CHARS,
    MIN_AGREEING_POINTS,
    MIN_SIGNIFICANT_DIGITS,
    PLAIN_WORD,
    POINTS,
    RELATIVE_TOLERANCE,
    Context,
    _parse,  # noqa: F401  (tools/bench/math_verify_bench.py clears its cache through this name)
    parse_text,
)
from redstar_math.equivalence_shapes import DIGIT_RUN, _match
from redstar_math.forms import Scalar, parse_shape
from redstar_math.latex import clean_text

__all__ = ["CHOICE", "CHOICE_IN_ANSWER", "DIGIT_RUN", "MAX_CANONICAL_BITS", "MAX_CAS_CHARS", "MAX_CLEAN_CHARS",
           "MAX_PARSE_CHARS", "MIN_AGREEING_POINTS", "MIN_SIGNIFICANT_DIGITS", "PLAIN_WORD", "POINTS",
           "RELATIVE_TOLERANCE", "WORDY", "Context", "Decision", "canonical", "compare"]

CHOICE = re.compile(r"^\(?([A-E])\)?$")
CHOICE_IN_ANSWER = re.compile(r"^\(?([A-E])\)?(?=$|[\s:.)])")
WORDY = re.compile(r"[a-zA-Z]{3,}")
#: Answers longer than this (cleaned) are compared as cleaned strings only. Up to it, a check
#: costs at most about a second on a 2-core machine (docs/math.md, "Never hanging").
MAX_PARSE_CHARS = 5000
#: Answers longer than this are not even cleaned: compared as text with whitespace collapsed.
MAX_CLEAN_CHARS = 20_000


@dataclass(frozen=True)
class Decision:
    equal: bool
    #: The path that decided (see the module docstring), or why nothing could.
    path: str


def compare(gold: str, answer: str, deadline: float, cas: GuardedCAS | None = None,
            strict_decimals: bool = False) -> Decision:
    """Compare a gold answer with a model's final answer, both as written (LaTeX). With
    ``strict_decimals`` a decimal equals only its exact value (no rounding rule)."""
    if len(gold) > MAX_CLEAN_CHARS or len(answer) > MAX_CLEAN_CHARS:
        return Decision(" ".join(gold.split()) == " ".join(answer.split()), "too long to parse")
    same_time = times.same_time(gold, answer)  # before cleaning, which drops "PM" as a unit
    if same_time is not None:
        return Decision(same_time, "time")
    g, a = clean_text(gold), clean_text(answer)
    if g.key == a.key and g.key:
        return Decision(True, "string")
    gold_letter = CHOICE.match(g.key)
    if gold_letter:
        letter = CHOICE_IN_ANSWER.match(a.text)
        return Decision(letter is not None and letter.group(1) == gold_letter.group(1), "choice")
    if g.key.lower() == a.key.lower() and WORDY.search(g.key):
        return Decision(True, "string")
    if len(g.text) > MAX_PARSE_CHARS or len(a.text) > MAX_PARSE_CHARS:
        return Decision(False, "too long to parse")
    ctx = Context(deadline, cas, truncated=(g.truncated, a.truncated), strict_decimals=strict_decimals)
    equal = _match(parse_shape(g.text), parse_shape(a.text), ctx, g.percent, a.percent)
    if not equal and time.monotonic() > deadline:
        return Decision(False, "timeout")
    path = ctx.paths[-1] if ctx.paths else "structure"
    return Decision(bool(equal), path)


#: Exact values with more bits than this keep their written form as the canonical one (Python
#: refuses to print integers of more than 4300 digits, and a 1000-digit key helps no vote).
MAX_CANONICAL_BITS = 3000


def canonical(answer: str) -> str:
    """A canonical spelling of an answer for majority voting: the exact value for rational
    scalars (``0.5``, ``\\frac12`` -> ``1/2``), otherwise the cleaned text without spaces."""
    if len(answer) > MAX_CLEAN_CHARS:
        return "".join(answer.split())
    cleaned = clean_text(answer)
    if len(cleaned.text) <= MAX_PARSE_CHARS and isinstance(parse_shape(cleaned.text), Scalar):
        try:
            value = expr.exact_value(parse_text(cleaned.text))
        except (expr.ParseError, expr.NotExact, expr.TooBig, expr.Undefined):
            return cleaned.key
        if max(value.numerator.bit_length(), value.denominator.bit_length()) > MAX_CANONICAL_BITS:
            return cleaned.key
        return str(value) + ("%" if cleaned.percent else "")
    return cleaned.key
