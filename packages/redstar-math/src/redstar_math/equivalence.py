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

Two rules take approximation into account. A *decimal* written with ``d`` decimals and at least
three significant digits equals an exact value that rounds to it (``0.333`` = 1/3, ``3.14`` = pi,
but not ``0.67`` = 2/3 or ``0.3`` = 1/3); two decimals must be equal exactly. A *percent* answer
``p\%`` equals both ``p`` and ``p/100``.
"""

from __future__ import annotations

import re
import time
import zlib
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache

from redstar_math import expr
from redstar_math.cas import GuardedCAS
from redstar_math.forms import Alternatives, Equation, IntervalUnion, Items, Matrix, Relation, Scalar, parse_answer
from redstar_math.latex import clean

CHOICE = re.compile(r"^\(?([A-E])\)?$")
CHOICE_IN_ANSWER = re.compile(r"^\(?([A-E])\)?(?=$|[\s:.)])")
WORDY = re.compile(r"[a-zA-Z]{3,}")
PLAIN_WORD = re.compile(r"(?<![\\a-zA-Z])[a-zA-Z]{3,}")
RELATIVE_TOLERANCE = 1e-9
POINTS = 5
MIN_AGREEING_POINTS = 3
#: Answers longer than this are compared as cleaned strings only.
MAX_PARSE_CHARS = 1000
MAX_CAS_CHARS = 300


@dataclass
class Context:
    """What one comparison carries: its deadline, the CAS (or None), and which paths decided."""

    deadline: float
    cas: GuardedCAS | None = None
    paths: list[str] = field(default_factory=list)

    def remaining(self) -> float:
        return self.deadline - time.monotonic()


@dataclass(frozen=True)
class Decision:
    equal: bool
    #: The path that decided (see the module docstring), or why nothing could.
    path: str


def compare(gold: str, answer: str, deadline: float, cas: GuardedCAS | None = None) -> Decision:
    """Compare a gold answer with a model's final answer, both as written (LaTeX)."""
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
    ctx = Context(deadline, cas)
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
            # A point (1, 2) may be written as the bare list 1, 2 - in the same order - but a set
            # is never a tuple.
            if "set" in (g.kind, a.kind):
                return False
            return _ordered(g.items, a.items, ctx)
        if "set" in (g.kind, a.kind):
            return _same_set(g.items, a.items, ctx)
        return _unordered(g.items, a.items, ctx)
    if isinstance(g, Relation) and isinstance(a, Relation):
        ctx.paths.append("string")
        return g.text.replace(" ", "") == a.text.replace(" ", "")
    return False


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


def _match_equations(g: object, a: object, ctx: Context) -> bool:
    if isinstance(g, Equation) and isinstance(a, Equation):
        if g.assigns and a.assigns and g.lhs.replace(" ", "") == a.lhs.replace(" ", ""):
            return _match(parse_answer(g.rhs), parse_answer(a.rhs), ctx)
        return _proportional(g, a, ctx)
    if isinstance(g, Equation):
        return g.assigns and _match(parse_answer(g.rhs), a, ctx)
    assert isinstance(a, Equation)
    return a.assigns and _match(g, parse_answer(a.rhs), ctx)


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
    try:
        decided = _exact(g, a, ctx)
    except expr.TooBig:
        ctx.paths.append("too large")
        return False
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
    ctx.paths.append("exact")
    if x == y:
        return True
    if expr.decimal_literal(g) is not None and expr.decimal_literal(a) is not None:
        return False  # two decimals must agree exactly: 1726.2 is not 1726.16
    return _rounds_to(g, y) or _rounds_to(a, x)


def _rounds_to(literal_node: expr.Node, value: complex | Fraction) -> bool:
    """True when ``literal_node`` is a decimal with at least three significant digits that is
    ``value`` correctly rounded (and the other side is not itself a decimal literal)."""
    literal = expr.decimal_literal(literal_node)
    if literal is None:
        return False
    number, decimals = literal
    if len(str(abs(number * 10 ** decimals).numerator)) < 3:
        return False
    if isinstance(value, complex):
        if abs(value.imag) > 1e-12:
            return False
        value = value.real
    half_unit = 0.5 * 10.0 ** -decimals
    return abs(float(number) - float(value)) <= half_unit * (1 + 1e-9)


def _numeric(g: expr.Node, a: expr.Node, ctx: Context) -> bool:
    ctx.paths.append("numeric")
    try:
        x, y = expr.numeric_value(g, {}), expr.numeric_value(a, {})
    except (expr.Undefined, expr.NotExact):
        return False
    except expr.TooBig:
        ctx.paths[-1] = "too large"
        return False
    if _close(x, y):
        return True
    both_literals = expr.decimal_literal(g) is not None and expr.decimal_literal(a) is not None
    return not both_literals and (_rounds_to(g, y) or _rounds_to(a, x))


def _symbolic(g: expr.Node, a: expr.Node, names: list[str], ctx: Context, g_text: str, a_text: str) -> bool:
    ctx.paths.append("symbolic")
    agreeing = 0
    for point in range(POINTS):
        env = _point(names, point)
        try:
            x, y = expr.numeric_value(g, env), expr.numeric_value(a, env)
        except (expr.Undefined, expr.NotExact):
            continue
        except expr.TooBig:
            ctx.paths[-1] = "too large"
            return False
        if not _close(x, y):
            return False
        agreeing += 1
    if agreeing >= MIN_AGREEING_POINTS:
        return True
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
    result = ctx.cas.equal(g_text, a_text, timeout=remaining)
    ctx.paths.append("cas" if result is not None else "cas undecided")
    return bool(result)


def canonical(answer: str) -> str:
    """A canonical spelling of an answer for majority voting: the exact value for rational
    scalars (``0.5``, ``\\frac12`` -> ``1/2``), otherwise the cleaned text without spaces."""
    cleaned = clean(answer)
    if len(cleaned.text) <= MAX_PARSE_CHARS and isinstance(parse_answer(cleaned.text), Scalar):
        try:
            value = expr.exact_value(_parse(cleaned.text))
        except (expr.ParseError, expr.NotExact, expr.TooBig, expr.Undefined):
            return cleaned.key
        return str(value) + ("%" if cleaned.percent else "")
    return cleaned.key
