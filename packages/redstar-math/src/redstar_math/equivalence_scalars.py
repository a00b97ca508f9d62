r"""Deciding whether two scalar answers are equal, cheapest first: as text, exactly (rationals,
huge rationals modulo primes), numerically (floats, then :mod:`redstar_math.precise` where floats
cannot decide, with the rounding rule for decimals), symbolically at points drawn for the pair
(:mod:`redstar_math.points`), and last with sympy (:mod:`redstar_math.cas`). Also the :class:`Context` that one comparison carries (deadline,
CAS, the paths that decided), which :mod:`redstar_math.equivalence` and
:mod:`redstar_math.equivalence_shapes` share."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache

from redstar_math import budget, expr, points, precise
from redstar_math.cas import GuardedCAS
from redstar_math.expr_limits import LONG_CACHE_SIZE, MAX_CACHED_CHARS

PLAIN_WORD = re.compile(r"(?<![\\a-zA-Z])[a-zA-Z]{3,}")
RELATIVE_TOLERANCE = 1e-9
#: A decimal approximation needs at least this many significant digits to equal an exact value.
MIN_SIGNIFICANT_DIGITS = 3
#: Points in one block of a symbolic comparison (:mod:`redstar_math.points`).
POINTS = points.BLOCK
#: Agreeing points a symbolic comparison needs (at least one in the gold's real domain).
MIN_AGREEING_POINTS = 4
#: Precise evaluations at points (beyond the final confirmation) one symbolic comparison may
#: spend: :data:`POINTS` for short expressions, fewer for long ones - about this many characters
#: of both texts per evaluation, and at least 2 - so that a check of two 5000-character
#: expressions stays near a second. A point left without one is undecided, never "equal".
PRECISE_CHARS = 4000
MAX_CAS_CHARS = 300


@dataclass
class Context:
    """What one comparison carries: its deadline, the CAS (or None), and which paths decided."""

    deadline: float
    cas: GuardedCAS | None = None
    paths: list[str] = field(default_factory=list)
    #: Whether the gold and the answer were written as a decimal with an ellipsis ("3.14...").
    truncated: tuple[bool, bool] = (False, False)
    #: The strict reading: a decimal equals only its exact value, never one it rounds (0.333 is
    #: not 1/3, 3.14 is not pi); see ``MathVerifier``'s ``strict_decimals``.
    strict_decimals: bool = False

    def remaining(self) -> float:
        return self.deadline - time.monotonic()


# -- scalars ---------------------------------------------------------------------------
@lru_cache(maxsize=16384)
def _parse(text: str) -> expr.Node:
    return expr.parse(text)


_parse_long = lru_cache(maxsize=LONG_CACHE_SIZE)(expr.parse)


def parse_text(text: str) -> expr.Node:
    """:func:`redstar_math.expr.parse`, cached (longer texts in a small cache of their own)."""
    return _parse(text) if len(text) <= MAX_CACHED_CHARS else _parse_long(text)


def _close(x: complex, y: complex) -> bool:
    return abs(x - y) <= RELATIVE_TOLERANCE * max(1.0, abs(x), abs(y))


def _scalar(g_text: str, a_text: str, ctx: Context, g_percent: bool, a_percent: bool) -> bool:
    if _scalar_plain(g_text, a_text, ctx):
        return True
    if g_percent == a_percent:
        return False  # two percents: the percents must be equal (0.2% is not 20%)
    # One side is a percent p% and the other a bare number: that number may be p or p/100.
    if g_percent:
        return _scalar_plain(f"({g_text})/100", a_text, ctx)
    return _scalar_plain(g_text, f"({a_text})/100", ctx)


def _scalar_plain(g_text: str, a_text: str, ctx: Context) -> bool:
    if g_text.replace(" ", "") == a_text.replace(" ", ""):
        ctx.paths.append("string")
        return True
    parsed = []
    failures = []
    for text in (g_text, a_text):
        try:
            parsed.append(parse_text(text))
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
    if ctx.strict_decimals:
        return False
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
    # A decimal approximation against an exact irrational value: the rounding rule decides,
    # never a float tolerance (3.1415926535 is not pi rounded to ten decimals).
    if g_literal is not None and a_literal is None:
        return _rounds_precisely(g_literal, a, ctx.truncated[0], ctx)
    if a_literal is not None and g_literal is None:
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
        if ctx.strict_decimals or expr.significant_digits(number, decimals) < MIN_SIGNIFICANT_DIGITS:
            # Too few digits to stand for an approximation, but it may be the value itself:
            # 0.5 = \sin(\pi/6). (With enough digits, being the value implies rounding to it.)
            return precise.precise_equal(("num", number, None), other, {})
        return precise.rounds_to(number, decimals, other, truncated)
    except expr.TooBig:
        ctx.paths[-1] = "too large"
        return False
    except (expr.Undefined, expr.NotExact):
        return False


class _At:
    """What one point says about two expressions (see :func:`_symbolic`)."""

    SKIP, AGREE, AGREE_OUTSIDE, DIFFER = range(4)


class _Scale:
    """The largest constant of two expressions (:func:`redstar_math.expr.constant_scale`),
    computed when a point first needs it and then kept."""

    def __init__(self, g: expr.Node, a: expr.Node) -> None:
        self.trees = (g, a)
        self.value: float | None = None

    def __call__(self) -> float:
        if self.value is None:
            self.value = max(expr.constant_scale(tree) for tree in self.trees)
        return self.value


@dataclass
class _Budget:
    """Precise evaluations left to one symbolic comparison (:data:`PRECISE_CHARS`)."""

    left: int


def _symbolic(g: expr.Node, a: expr.Node, names: list[str], ctx: Context, g_text: str, a_text: str) -> bool:
    r"""Expressions in variables, compared at points drawn for this pair (:mod:`redstar_math.points`).

    The answer must equal the gold at every point of the gold's real domain - where no step of
    the gold leaves the reals (``\sqrt{x}`` and ``\ln x`` need a positive x) - and be defined
    there. Outside it (the gold's value is not real) an agreement in complex arithmetic still
    counts towards :data:`MIN_AGREEING_POINTS` but a disagreement does not count against it
    (``\ln(x^2)`` and ``2\ln x`` differ only there). A gold that is complex (it mentions ``i``, or
    leaves the reals at every point of the first block) is compared at every point. Floats decide
    an agreement; a disagreement, a cancellation or an overflow is decided again with
    :mod:`redstar_math.precise` at that point; one agreement is confirmed there too
    (``x + 10^{-20}`` is not ``x``). Too few usable points: sympy decides (:func:`_fallback`)."""
    ctx.paths.append("symbolic")
    seed = f"{g_text}\0{a_text}".encode()
    scale = _Scale(g, a)
    # Analytic expressions that agree on moderate values agree on huge ones; piecewise ones need
    # the points where floats overflow or underflow decided too (by mpmath).
    piecewise = expr.is_piecewise(g) or expr.is_piecewise(a)
    complex_gold = expr.mentions(g, ("const", "i"))
    budget = _Budget(max(2, min(POINTS, PRECISE_CHARS // max(1, len(g_text) + len(a_text)))))
    agreeing, in_domain = 0, 0
    # A point where floats agreed, to confirm at high precision: in the real domain if there is
    # one, with values nearest 1 in magnitude (not where a factorial underflowed to 0.0).
    unconfirmed: tuple[tuple[bool, float], dict[str, complex]] | None = None
    for block in range(points.MAX_BLOCKS):
        said = _block(g, a, points.iterate(names, seed, block, scale), budget, complex_gold, piecewise)
        if said is not None and block == 0 and not complex_gold and all(real is False for _, _, real, _ in said):
            complex_gold = True  # never real here: compare as complex values everywhere
            said = _block(g, a, points.iterate(names, seed, block, scale), budget, complex_gold, piecewise)
        if said is None:
            return False
        for env, verdict, real, magnitude in said:
            if verdict in (_At.AGREE, _At.AGREE_OUTSIDE):
                agreeing += 1
                in_domain += verdict == _At.AGREE
                if magnitude is not None:
                    # (0.0 may be an underflow: e^{2x} at x = -800; last choice)
                    rank = (not real, abs(math.log2(magnitude)) if magnitude else math.inf)
                    if unconfirmed is None or rank < unconfirmed[0]:
                        unconfirmed = (rank, env)
        enough = agreeing >= MIN_AGREEING_POINTS and (in_domain or complex_gold)
        if enough and not piecewise or ctx.remaining() <= 0:
            break  # (a piecewise expression is checked at every block's points)
    if agreeing >= MIN_AGREEING_POINTS and (in_domain or complex_gold):
        # Floats agree to 1e-9; one precise evaluation tells "x + 10^{-20}" from "x".
        return unconfirmed is None or _precisely_equal(g, a, unconfirmed[1], ctx, undefined=True)
    return _fallback(g_text, a_text, ctx, textual=False)


def _block(g: expr.Node, a: expr.Node, drawn: Iterable[dict[str, complex]], budget: _Budget,
           complex_gold: bool, piecewise: bool) -> list[tuple[dict[str, complex], int, bool | None, float | None]] | None:
    """(point, what :func:`_at` says there) for each point in turn; None at the first
    disagreement, which decides (the points after it are never drawn)."""
    said = []
    for env in drawn:
        verdict, real, magnitude = _at(g, a, env, budget, complex_gold, piecewise)
        if verdict == _At.DIFFER:
            return None
        said.append((env, verdict, real, magnitude))
    return said


def _at(g: expr.Node, a: expr.Node, env: dict[str, complex], budget: _Budget,
        complex_gold: bool, piecewise: bool) -> tuple[int, bool | None, float | None]:
    """(verdict, whether the gold is real here - None where undefined -, the magnitude of the
    values where floats alone agreed - a point to confirm precisely - else None)."""
    losses: list[expr.Node] = []
    branches: list[expr.Node] = []
    try:
        x = expr.numeric_value(g, env, losses, branches)
    except (expr.Undefined, expr.NotExact):
        return _At.SKIP, None, None  # not the gold's domain
    except expr.TooBig:
        x = None
    real = not branches
    counts = complex_gold or real
    try:
        y = expr.numeric_value(a, env, losses)
    except (expr.Undefined, expr.NotExact):
        # Undefined where the gold is defined: |x| + 0 \cdot 0^x is not x.
        return (_At.DIFFER if counts and x is not None else _At.SKIP), real, None
    except expr.TooBig:
        y = None
    if x is not None and y is not None and not losses and _close(x, y):
        return (_At.AGREE if counts else _At.AGREE_OUTSIDE), real, max(abs(x), abs(y))
    if counts and not complex_gold and y is not None and abs(y.imag) > RELATIVE_TOLERANCE * max(1.0, abs(y)):
        # The gold is real here and the answer is not: the answer is undefined in the reals
        # here (\ln x + \ln y at x, y < 0, where \ln(xy) is real), a narrower domain.
        return _At.SKIP, real, None
    if x is not None and y is not None and not losses and _clearly_apart(x, y, env):
        return (_At.DIFFER if counts else _At.SKIP), real, None
    if not piecewise and (x is None or y is None or expr.UNDERFLOW in losses):
        return _At.SKIP, real, None  # beyond the floats' range; moderate points decide
    # Floats cancelled, underflowed, overflowed, or disagree only a little or at a large point
    # (\sin(x + \pi) at x = 10^{12} has lost its precision): mpmath decides.
    if budget.left <= 0:
        return _At.SKIP, real, None
    budget.left -= 1
    try:
        equal = precise.precise_equal(g, a, env)
    except (expr.TooBig, expr.Undefined, expr.NotExact):
        return _At.SKIP, real, None
    if equal:
        return (_At.AGREE if counts else _At.AGREE_OUTSIDE), real, None
    return (_At.DIFFER if counts else _At.SKIP), real, None


#: Floats decide "different" only at points whose coordinates are at most this large (beyond it a
#: sum with a constant loses the precision a periodic function needs), and only when the values
#: are this far apart relative to their size (far beyond the rounding of a few hundred steps).
TRUSTED_COORDINATE = 1e4
CLEARLY_APART = 1e-6


def _clearly_apart(x: complex, y: complex, env: dict[str, complex]) -> bool:
    return (all(abs(value) <= TRUSTED_COORDINATE for value in env.values())
            and abs(x - y) > CLEARLY_APART * max(1.0, abs(x), abs(y)))


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
