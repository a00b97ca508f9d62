r"""Deciding whether a final answer equals the gold answer.

Cheapest first, and most checks stop early:

1. **string** - the cleaned spellings are identical (:mod:`redstar_math.latex`);
2. **choice** - the gold is a multiple-choice letter: compare letters (``(B)``, ``\text{B}``);
3. **structure** - lists and sets order-free, tuples and intervals ordered with their brackets,
   unions, matrices, equations (:mod:`redstar_math.forms`), element by element;
4. **exact** - both scalars are rational: compare :class:`fractions.Fraction` values;
5. **numeric** - constants and radicals: compare complex floats (relative tolerance 1e-9);
   **symbolic** - expressions in variables: compare at five fixed points (Schwartz-Zippel);
6. **cas** - only when RedStar's parser cannot read an answer: sympy, in a worker process with a
   hard time limit (:mod:`redstar_math.cas`), never for words or answers over 300 characters.

Floats decide only what they can: a pair that floats call equal, or whose float evaluation
cancelled or overflowed, is decided again by :mod:`redstar_math.precise` (mpmath at a precision
chosen from the magnitudes, or exact arithmetic modulo large primes for huge rationals), so
``2^{1000000}`` = ``4^{500000}`` and ``\pi + 10^{-20}`` != ``\pi``.

Two rules take approximation into account (``docs/math.md``, "Rounding"). A *decimal* written
with ``d`` decimals and at least three significant digits equals an exact value that, correctly
rounded to ``d`` decimals, gives it (``0.333`` = 1/3, ``3.14`` = pi, ``3.1416`` = pi, but not
``0.67`` = 2/3, ``0.3`` = 1/3, ``0.666`` = 2/3 or ``3.1415926535`` = pi); with an ellipsis
(``3.1415\ldots``) a cut-off expansion counts too. Scientific notation counts its mantissa's
digits (``1.05 \times 10^{3}`` is rounded to tens). Two decimals must be equal exactly. A
*percent* answer ``p\%`` equals both ``p`` and ``p/100``.
"""

from __future__ import annotations

import re
import time
import zlib
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache

from redstar_math import budget, expr, precise
from redstar_math.cas import GuardedCAS
from redstar_math.forms import (
    LONE_VARIABLE,
    Alternatives,
    Equation,
    IntervalUnion,
    Items,
    Matrix,
    Relation,
    Scalar,
    parse_answer,
)
from redstar_math.latex import clean

CHOICE = re.compile(r"^\(?([A-E])\)?$")
CHOICE_IN_ANSWER = re.compile(r"^\(?([A-E])\)?(?=$|[\s:.)])")
WORDY = re.compile(r"[a-zA-Z]{3,}")
PLAIN_WORD = re.compile(r"(?<![\\a-zA-Z])[a-zA-Z]{3,}")
DIGIT_RUN = re.compile(r"(\d+)")
RELATIVE_TOLERANCE = 1e-9
#: A decimal approximation needs at least this many significant digits to equal an exact value.
MIN_SIGNIFICANT_DIGITS = 3
POINTS = 5
MIN_AGREEING_POINTS = 3
#: Answers longer than this are compared as cleaned strings only.
MAX_PARSE_CHARS = 1000
#: Answers longer than this are not even cleaned: compared as text with whitespace collapsed.
MAX_CLEAN_CHARS = 20_000
MAX_CAS_CHARS = 300


@dataclass
class Context:
    """What one comparison carries: its deadline, the CAS (or None), and which paths decided."""

    deadline: float
    cas: GuardedCAS | None = None
    paths: list[str] = field(default_factory=list)
    #: Whether the gold and the answer were written as a decimal with an ellipsis ("3.14...").
    truncated: tuple[bool, bool] = (False, False)

    def remaining(self) -> float:
        return self.deadline - time.monotonic()


@dataclass(frozen=True)
class Decision:
    equal: bool
    #: The path that decided (see the module docstring), or why nothing could.
    path: str


def compare(gold: str, answer: str, deadline: float, cas: GuardedCAS | None = None) -> Decision:
    """Compare a gold answer with a model's final answer, both as written (LaTeX)."""
    if len(gold) > MAX_CLEAN_CHARS or len(answer) > MAX_CLEAN_CHARS:
        return Decision(" ".join(gold.split()) == " ".join(answer.split()), "too long to parse")
    g, a = clean(gold), clean(answer)
    if g.key == a.key and g.key:
        return Decision(True, "string")
    gold_letter = CHOICE.match(g.key)
    if gold_letter:
        letter = CHOICE_IN_ANSWER.match(a.text)
        return Decision(bool(letter) and letter.group(1) == gold_letter.group(1), "choice")
    if g.key.lower() == a.key.lower() and WORDY.search(g.key):
        return Decision(True, "string")
    if len(g.text) > MAX_PARSE_CHARS or len(a.text) > MAX_PARSE_CHARS:
        return Decision(False, "too long to parse")
    ctx = Context(deadline, cas, truncated=(g.truncated, a.truncated))
    equal = _match(parse_answer(g.text), parse_answer(a.text), ctx, g.percent, a.percent)
    if not equal and time.monotonic() > deadline:
        return Decision(False, "timeout")
    path = ctx.paths[-1] if ctx.paths else "structure"
    return Decision(bool(equal), path)


# -- shapes ----------------------------------------------------------------------------
def _single(answer: object) -> object:
    """A one-element list or set is its element (``\\{4\\}`` = ``4``)."""
    while isinstance(answer, Items) and not answer.ordered and len(answer.items) == 1:
        answer = answer.items[0]
    return answer


def _match(g: object, a: object, ctx: Context, g_percent: bool = False, a_percent: bool = False) -> bool:
    if ctx.remaining() <= 0:
        return False
    g, a = _single(g), _single(a)
    if isinstance(g, Alternatives):
        return any(_match(option, a, ctx, g_percent, a_percent) for option in g.options)
    if isinstance(a, Alternatives):
        return any(_match(g, option, ctx, g_percent, a_percent) for option in a.options)
    if isinstance(g, Equation) or isinstance(a, Equation):
        return _match_equations(g, a, ctx)
    if isinstance(g, Scalar) and isinstance(a, Scalar):
        return _scalar(g.text, a.text, ctx, g_percent, a_percent)
    if isinstance(g, Matrix) or isinstance(a, Matrix):
        return _match_matrices(g, a, ctx)
    if isinstance(g, IntervalUnion) or isinstance(a, IntervalUnion):
        # "x < -2 or x > 3" reads as a list of intervals, which is the union.
        g_parts, a_parts = _interval_parts(g), _interval_parts(a)
        return g_parts is not None and a_parts is not None and _unordered(g_parts, a_parts, ctx)
    if isinstance(g, Items) and isinstance(a, Items):
        if g.ordered and a.ordered:
            return (g.open, g.close) == (a.open, a.close) and _ordered(g.items, a.items, ctx)
        if g.ordered or a.ordered:
            # A point (1, 2) may be written as the bare list 1, 2 - in the same order - or as
            # assignments "x = 1 and y = 2" (in the order of their variables' names: "y = 2, x = 1"
            # is the same point), but a set is never a tuple.
            if "set" in (g.kind, a.kind):
                return False
            g_items, a_items = _by_variable(g), _by_variable(a)
            return g_items is not None and a_items is not None and _ordered(g_items, a_items, ctx)
        if "set" in (g.kind, a.kind):
            return _same_set(g.items, a.items, ctx)
        return _unordered(g.items, a.items, ctx)
    if isinstance(g, Relation) and isinstance(a, Relation):
        ctx.paths.append("string")
        return g.text.replace(" ", "") == a.text.replace(" ", "")
    return False


def _variable_key(name: str) -> list:
    """Natural order of variable names: ``x_2`` before ``x_{10}``, ``a`` before ``b``."""
    compact = name.replace(" ", "").replace("{", "").replace("}", "")
    return [(1, int(piece), "") if piece.isdigit() else (0, 0, piece) for piece in DIGIT_RUN.split(compact)]


def _by_variable(answer: Items) -> tuple | None:
    """The items of a list of assignments to distinct variables in the order of the variables'
    names; None for assignments that repeat a variable ("x = 1 or x = 2" lists values of x, it
    is not a point); any other list or tuple as it is."""
    items = answer.items
    if answer.ordered or not items or not all(isinstance(i, Equation) and i.assigns for i in items):
        return items
    names = [i.lhs.replace(" ", "") for i in items]
    if len(set(names)) != len(names):
        return None
    return tuple(item for _, item in sorted(zip(map(_variable_key, names), items), key=lambda pair: pair[0]))


def _ordered(gold: tuple, answer: tuple, ctx: Context) -> bool:
    ctx.paths.append("structure")
    return len(gold) == len(answer) and all(_match(x, y, ctx) for x, y in zip(gold, answer))


def _unordered(gold: tuple, answer: tuple, ctx: Context) -> bool:
    ctx.paths.append("structure")
    if len(gold) != len(answer):
        return False
    unused = list(answer)
    for item in gold:
        for i, candidate in enumerate(unused):
            if _match(item, candidate, ctx):
                del unused[i]
                break
        else:
            return False
    return True


def _same_set(gold: tuple, answer: tuple, ctx: Context) -> bool:
    """Set equality: repeated elements do not count (``\\{1, 2, 2\\}`` = ``\\{1, 2\\}``)."""
    ctx.paths.append("structure")
    return (all(any(_match(x, y, ctx) for y in answer) for x in gold)
            and all(any(_match(x, y, ctx) for x in gold) for y in answer))


def _interval_parts(answer: object) -> tuple | None:
    if isinstance(answer, IntervalUnion):
        return answer.parts
    if isinstance(answer, Items) and answer.ordered:
        return (answer,)
    if isinstance(answer, Items) and answer.kind == "list" and all(
            isinstance(item, Items) and item.ordered for item in answer.items):
        return answer.items
    return None


def _match_matrices(g: object, a: object, ctx: Context) -> bool:
    ctx.paths.append("structure")
    if isinstance(g, Matrix) and isinstance(a, Matrix):
        return len(g.rows) == len(a.rows) and all(_ordered(r, s, ctx) for r, s in zip(g.rows, a.rows))
    matrix, other = (g, a) if isinstance(g, Matrix) else (a, g)
    if not isinstance(other, Items) or other.kind == "set":
        return False
    if len(matrix.rows) == 1:
        entries = matrix.rows[0]
    elif all(len(row) == 1 for row in matrix.rows):
        entries = tuple(row[0] for row in matrix.rows)
    else:
        return False
    return _ordered(entries, other.items, ctx)


def _stated_value(equation: Equation) -> str | None:
    """The value an equation states: the right side of ``x = 3`` and ``(x, y) = (1, 2)``, of
    ``8! = 40320`` (a left side without variables), the left side of ``3 = x``; None for an
    equation between expressions in variables (``y = 2x + 3``)."""
    if equation.assigns:
        return equation.rhs
    try:
        if expr.free_variables(_parse(equation.lhs)):
            return None
    except (expr.ParseError, expr.TooBig):
        return None
    return equation.lhs if LONE_VARIABLE.match(equation.rhs.replace(" ", "")) else equation.rhs


def _match_equations(g: object, a: object, ctx: Context) -> bool:
    if isinstance(g, Equation) and isinstance(a, Equation):
        if g.assigns and a.assigns and g.lhs.replace(" ", "") == a.lhs.replace(" ", ""):
            return _match(parse_answer(g.rhs), parse_answer(a.rhs), ctx)
        return _proportional(g, a, ctx)
    if isinstance(g, Equation):
        value = _stated_value(g)
        return value is not None and _match(parse_answer(value), a, ctx)
    assert isinstance(a, Equation)
    value = _stated_value(a)
    return value is not None and _match(g, parse_answer(value), ctx)


def _proportional(g: Equation, a: Equation, ctx: Context) -> bool:
    """Two equations are the same when ``lhs - rhs`` of one is a non-zero constant multiple of
    the other's (``y = 2x + 3`` and ``2x - y + 3 = 0``)."""
    ctx.paths.append("symbolic")
    try:
        f = ("add", [_parse(g.lhs), ("neg", _parse(g.rhs))])
        h = ("add", [_parse(a.lhs), ("neg", _parse(a.rhs))])
    except (expr.ParseError, expr.TooBig):
        return False
    names = sorted(expr.free_variables(f) | expr.free_variables(h))
    ratio = None
    agreeing = 0
    for point in range(POINTS):
        env = _point(names, point)
        try:
            x, y = expr.numeric_value(f, env), expr.numeric_value(h, env)
        except (expr.Undefined, expr.NotExact, expr.TooBig):
            continue
        if _close(x, 0) and _close(y, 0):
            agreeing += 1
            continue
        if _close(y, 0):
            return False
        if ratio is None:
            ratio = x / y
            if _close(ratio, 0):
                return False
        elif not _close(x, ratio * y):
            return False
        agreeing += 1
    return agreeing >= MIN_AGREEING_POINTS


# -- scalars ---------------------------------------------------------------------------
@lru_cache(maxsize=16384)
def _parse(text: str) -> expr.Node:
    return expr.parse(text)


def _point(names: list[str], index: int) -> dict[str, complex]:
    """A fixed, generic assignment of each variable (in [0.35, 2.25], the same in every run)."""
    return {
        name: complex(0.35 + (zlib.crc32(f"{index}:{name}".encode()) % 10007) / 10007 * 1.9)
        for name in names
    }


def _close(x: complex, y: complex) -> bool:
    return abs(x - y) <= RELATIVE_TOLERANCE * max(1.0, abs(x), abs(y))


def _scalar(g_text: str, a_text: str, ctx: Context, g_percent: bool, a_percent: bool) -> bool:
    if _scalar_plain(g_text, a_text, ctx):
        return True
    # p% is both p and p/100.
    if g_percent and _scalar_plain(f"({g_text})/100", a_text, ctx):
        return True
    return a_percent and _scalar_plain(g_text, f"({a_text})/100", ctx)


def _scalar_plain(g_text: str, a_text: str, ctx: Context) -> bool:
    if g_text.replace(" ", "") == a_text.replace(" ", ""):
        ctx.paths.append("string")
        return True
    parsed = []
    failures = []
    for text in (g_text, a_text):
        try:
            parsed.append(_parse(text))
        except expr.ParseError as exc:
            failures.append(exc)
        except expr.TooBig:
            ctx.paths.append("too large")
            return False
    if failures:
        return _fallback(g_text, a_text, ctx, textual=any(exc.textual for exc in failures))
    g, a = parsed
    infinite = expr.is_infinity(g), expr.is_infinity(a)
    if any(infinite):
        ctx.paths.append("exact")
        return infinite[0] == infinite[1]
    decided = _exact(g, a, ctx)
    if decided is not None:
        return decided
    names = sorted(expr.free_variables(g) | expr.free_variables(a))
    if not names:
        return _numeric(g, a, ctx)
    return _symbolic(g, a, names, ctx, g_text, a_text)


def _exact(g: expr.Node, a: expr.Node, ctx: Context) -> bool | None:
    """Decide with exact rationals when both sides are rational; None when either is not."""
    try:
        x, y = expr.exact_value(g), expr.exact_value(a)
    except (expr.NotExact, expr.Undefined):
        return None
    except expr.TooBig:
        return _modular(g, a, ctx)
    ctx.paths.append("exact")
    if x == y:
        return True
    g_literal, a_literal = expr.decimal_literal(g), expr.decimal_literal(a)
    if g_literal is not None and a_literal is not None:
        return False  # two decimals must agree exactly: 1726.2 is not 1726.16
    return (_rounds_exactly(g_literal, y, ctx.truncated[0])
            or _rounds_exactly(a_literal, x, ctx.truncated[1]))


def _modular(g: expr.Node, a: expr.Node, ctx: Context) -> bool | None:
    """Rationals too large to compute: compared modulo large primes (:mod:`redstar_math.precise`)."""
    try:
        equal = precise.modular_equal(g, a)
    except expr.NotExact:
        return None  # irrational: the precise numeric comparison decides
    except expr.TooBig:
        ctx.paths.append("too large")
        return False
    except expr.Undefined:
        ctx.paths.append("exact")
        return False
    ctx.paths.append("exact")
    return equal


def _rounds_exactly(literal: tuple[Fraction, int] | None, value: Fraction, truncated: bool) -> bool:
    """The rounding rule for a rational value, in exact arithmetic: the decimal ``literal`` has
    at least three significant digits and is ``value`` rounded to its decimals (ties either way),
    or - written with an ellipsis - cut off there."""
    if literal is None:
        return False
    number, decimals = literal
    if expr.significant_digits(number, decimals) < MIN_SIGNIFICANT_DIGITS:
        return False
    unit = Fraction(10) ** -decimals
    if 2 * abs(number - value) <= unit:
        return True
    same_sign = number == 0 or (number > 0) == (value > 0)
    return truncated and same_sign and abs(number) <= abs(value) < abs(number) + unit


def _numeric(g: expr.Node, a: expr.Node, ctx: Context) -> bool:
    ctx.paths.append("numeric")
    g_literal, a_literal = expr.decimal_literal(g), expr.decimal_literal(a)
    if (g_literal is None) != (a_literal is None):
        # A decimal approximation against an exact irrational value: the rounding rule decides,
        # never a float tolerance (3.1415926535 is not pi rounded to ten decimals).
        if g_literal is not None:
            return _rounds_precisely(g_literal, a, ctx.truncated[0], ctx)
        return _rounds_precisely(a_literal, g, ctx.truncated[1], ctx)
    losses: list[expr.Node] = []
    try:
        x, y = expr.numeric_value(g, {}, losses), expr.numeric_value(a, {}, losses)
    except (expr.Undefined, expr.NotExact):
        return False
    except expr.TooBig:
        return _precisely_equal(g, a, {}, ctx)
    if not losses and not _close(x, y):
        return False  # floats are reliable for "different" when no sum cancelled
    return _precisely_equal(g, a, {}, ctx)


def _precisely_equal(g: expr.Node, a: expr.Node, env: dict[str, complex], ctx: Context,
                     undefined: bool = False) -> bool:
    """:func:`redstar_math.precise.precise_equal`; ``undefined`` is the answer when it cannot
    evaluate a side."""
    try:
        return precise.precise_equal(g, a, env)
    except expr.TooBig:
        ctx.paths[-1] = "too large"
        return False
    except (expr.Undefined, expr.NotExact):
        return undefined


def _rounds_precisely(literal: tuple[Fraction, int], other: expr.Node, truncated: bool, ctx: Context) -> bool:
    number, decimals = literal
    try:
        if expr.significant_digits(number, decimals) < MIN_SIGNIFICANT_DIGITS:
            # Too few digits to stand for an approximation, but it may be the value itself:
            # 0.5 = \sin(\pi/6). (With enough digits, being the value implies rounding to it.)
            return precise.precise_equal(("num", number, None), other, {})
        return precise.rounds_to(number, decimals, other, truncated)
    except expr.TooBig:
        ctx.paths[-1] = "too large"
        return False
    except (expr.Undefined, expr.NotExact):
        return False


def _symbolic(g: expr.Node, a: expr.Node, names: list[str], ctx: Context, g_text: str, a_text: str) -> bool:
    ctx.paths.append("symbolic")
    agreeing = 0
    unconfirmed = None  # a point where floats agreed, to confirm at high precision
    for point in range(POINTS):
        env = _point(names, point)
        losses: list[expr.Node] = []
        try:
            x, y = expr.numeric_value(g, env, losses), expr.numeric_value(a, env, losses)
        except (expr.Undefined, expr.NotExact):
            continue
        except expr.TooBig:
            if not _precisely_equal(g, a, env, ctx):
                return False
            agreeing += 1
            continue
        if losses:
            if not _precisely_equal(g, a, env, ctx, undefined=_close(x, y)):
                return False
        elif not _close(x, y):
            return False
        elif unconfirmed is None:
            unconfirmed = env
        agreeing += 1
    if agreeing >= MIN_AGREEING_POINTS:
        # Floats agree to 1e-9; one precise evaluation tells "x + 10^{-20}" from "x".
        return unconfirmed is None or _precisely_equal(g, a, unconfirmed, ctx, undefined=True)
    return _fallback(g_text, a_text, ctx, textual=False)


def _has_words(text: str) -> bool:
    """Plain words (not commands, not function names) mean prose, which sympy cannot read."""
    return any(word.lower() not in expr.FUNCTIONS | {"pi", "inf", "infty"} for word in PLAIN_WORD.findall(text))


def _fallback(g_text: str, a_text: str, ctx: Context, textual: bool) -> bool:
    """Sympy, for what RedStar's parser cannot read - never for words, long inputs or when
    the budget is spent."""
    textual = textual or _has_words(g_text) or _has_words(a_text)
    if textual or ctx.cas is None or max(len(g_text), len(a_text)) > MAX_CAS_CHARS:
        ctx.paths.append("string")
        return False
    remaining = ctx.remaining()
    if remaining <= 0.01:
        ctx.paths.append("timeout")
        return False
    with budget.shielded():  # the worker has its own hard limit; never abandon it mid-request
        result = ctx.cas.equal(g_text, a_text, timeout=remaining)
        budget.extend(ctx.cas.last_start_seconds)  # starting the worker is not this check's cost
    ctx.paths.append("cas" if result is not None else "cas undecided")
    return bool(result)


#: Exact values with more bits than this keep their written form as the canonical one (Python
#: refuses to print integers of more than 4300 digits, and a 1000-digit key helps no vote).
MAX_CANONICAL_BITS = 3000


def canonical(answer: str) -> str:
    """A canonical spelling of an answer for majority voting: the exact value for rational
    scalars (``0.5``, ``\\frac12`` -> ``1/2``), otherwise the cleaned text without spaces."""
    if len(answer) > MAX_CLEAN_CHARS:
        return "".join(answer.split())
    cleaned = clean(answer)
    if len(cleaned.text) <= MAX_PARSE_CHARS and isinstance(parse_answer(cleaned.text), Scalar):
        try:
            value = expr.exact_value(_parse(cleaned.text))
        except (expr.ParseError, expr.NotExact, expr.TooBig, expr.Undefined):
            return cleaned.key
        if max(value.numerator.bit_length(), value.denominator.bit_length()) > MAX_CANONICAL_BITS:
            return cleaned.key
        return str(value) + ("%" if cleaned.percent else "")
    return cleaned.key
