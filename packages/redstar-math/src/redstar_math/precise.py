r"""Deciding what floats cannot: exact comparison of huge rationals and high-precision comparison
of irrational values, in this process and with hard size limits.

Two tools, used by :mod:`redstar_math.equivalence` only where the cheap paths cannot decide:

- :func:`modular_equal` (from :mod:`redstar_math.modular`): two *rational* values too large to
  compute exactly (``2^{1000000}`` vs ``4^{500000}``) are compared modulo three large primes.
- :func:`precise_equal` and :func:`rounds_to`: irrational values are evaluated with mpmath at a
  precision chosen from the magnitudes involved (``96 + 2 * max |log2|value||`` bits, at least
  160). Where no step cancelled, the values are exact to a few units in their last place and
  must agree to all but 32 bits; where one did (``\sin^2 x + \cos^2 x - 1``, ``\sin(\pi)``), the
  difference is evaluated again with 64 more bits: a true identity leaves a difference that
  shrinks by about 2^-64, a real difference (``\pi + 10^{-20}`` vs ``\pi``,
  ``e^{\pi\sqrt{163}}`` vs ``640320^3+744``) stays. Values whose
  magnitude exceeds 2^:data:`MAX_MAGNITUDE_BITS` are refused (:class:`~redstar_math.expr.TooBig`)
  before they are computed.
"""

from __future__ import annotations

import threading
from fractions import Fraction

import mpmath

from redstar_math.expr import (
    FUNCTIONS,
    MAX_EXACT_BITS,
    Node,
    NotExact,
    TooBig,
    Undefined,
)
from redstar_math.expr_eval import odd_root_exponent
from redstar_math.modular import MAX_MODULAR_FACTORIAL, PRIMES, modular_equal  # noqa: F401  (importable here)

#: Values (and intermediate results) beyond 2^this in magnitude, or below its inverse, are refused.
MAX_MAGNITUDE_BITS = 30_000
BASE_PRECISION = 160
EXTRA_PRECISION = 64
#: A difference that shrank by this factor when the precision grew by EXTRA_PRECISION bits is zero.
SHRINK = Fraction(1, 2**32)
#: Without cancellation, values that agree to all but this many of their bits are equal.
SLACK_BITS = 32
#: A sum (or function value) this many bits below its largest term (or its argument) cancelled.
CANCELLATION_BITS = 20
#: Precisions beyond which mpmath's elementary functions (sin, exp, ln, ...) take too long (about
#: 10 ms each at 8000 bits, growing fast) and its gamma function of a non-integer (a factorial
#: or binomial of 150.3: 10 ms at 160 bits, over a second at 2000): such a value is refused
#: (:class:`~redstar_math.expr.TooBig`) rather than computed. Powers and roots stay cheap at any
#: precision and have no such limit.
MAX_FUNCTION_PRECISION = 16_384
MAX_GAMMA_PRECISION = 384


# -- high precision ----------------------------------------------------------------------
_local = threading.local()


def _context() -> mpmath.ctx_mp.MPContext:
    """One mpmath context per thread: the precision is context state."""
    context = getattr(_local, "context", None)
    if context is None:
        context = _local.context = mpmath.MPContext()
    return context


_FUNCTION_NAMES = {
    "sin": "sin", "cos": "cos", "tan": "tan", "sec": "sec", "csc": "csc", "cot": "cot", "arcsin": "asin",
    "arccos": "acos", "arctan": "atan", "sinh": "sinh", "cosh": "cosh", "tanh": "tanh", "ln": "ln", "exp": "exp",
    "arccot": "acot", "arcsec": "asec", "arccsc": "acsc",
}
assert set(_FUNCTION_NAMES) >= FUNCTIONS - {"log", "sqrt", "sgn", "sign"}  # sign is read as sgn


class _Evaluator:
    """Evaluates a tree with one mpmath context at its current precision, recording the largest
    magnitude (in bits, either way from 1) of any intermediate value."""

    def __init__(self, context, env: dict[str, complex]):
        self.ctx = context
        self.env = env
        self.span = 0
        #: Whether some step lost most of its relative precision: a sum far below its largest
        #: term, or a function value far below its argument (\sin(\pi), \ln(1 + 10^{-30})).
        self.cancelled = False

    def _check_cancellation(self, result, reference_mag: int) -> None:
        if not result or self.ctx.mag(result) < reference_mag - CANCELLATION_BITS:
            self.cancelled = True

    def _seen(self, value):
        if value:
            bits = abs(self.ctx.mag(value))  # an int: about log2 |value|, from the exponent
            if bits > self.span:
                if bits > MAX_MAGNITUDE_BITS:
                    raise TooBig("magnitude too large for a precise comparison")
                self.span = bits
        return value

    def _real_if_possible(self, value):
        if isinstance(value, self.ctx.mpc) and value.imag == 0:
            return value.real
        return value

    def value(self, node: Node):
        return self._seen(self._value(node))

    def _value(self, node: Node):
        ctx = self.ctx
        kind = node[0]
        if kind == "num":
            number: Fraction = node[1]
            if max(number.numerator.bit_length(), number.denominator.bit_length()) > MAX_EXACT_BITS:
                raise TooBig("literal too large")
            return ctx.mpf(number.numerator) / number.denominator
        if kind == "var":
            z = self.env[node[1]]
            return ctx.mpf(z.real) if z.imag == 0 else ctx.mpc(z.real, z.imag)
        if kind == "const":
            if node[1] == "pi":
                return +ctx.pi
            if node[1] == "e":
                return +ctx.e
            if node[1] == "i":
                return ctx.mpc(0, 1)
            raise NotExact("infinity")
        if kind == "add":
            total = ctx.mpf(0)
            top = None
            for term in node[1]:
                value = self.value(term)
                if value:
                    bits = ctx.mag(value)
                    top = bits if top is None or bits > top else top
                total += value
            if top is not None:
                self._check_cancellation(total, top)
            return total
        if kind == "mul":
            product = ctx.mpf(1)
            for factor in node[1]:
                product *= self.value(factor)
                self._seen(product)
            return product
        if kind == "neg":
            return -self.value(node[1])
        if kind in ("div", "frac"):
            numerator, denominator = self.value(node[1]), self.value(node[2])
            if not denominator:
                raise Undefined("division by zero")
            return numerator / denominator
        if kind == "pow":
            base, exponent = self._real_if_possible(self.value(node[1])), self._real_if_possible(self.value(node[2]))
            if not isinstance(base, ctx.mpc) and base < 0 and not isinstance(exponent, ctx.mpc) \
                    and exponent != int(exponent):
                odd = odd_root_exponent(node[2])
                if odd is not None:  # the real odd root, as in redstar_math.expr_eval
                    magnitude = self._power(-base, ctx.mpf(odd.numerator) / odd.denominator)
                    return -magnitude if odd.numerator % 2 else magnitude
            return self._power(base, exponent)
        if kind == "ext":
            values = [self._real_if_possible(self.value(item)) for item in node[2]]
            if any(isinstance(value, ctx.mpc) for value in values):
                raise Undefined("max or min of a complex number")
            return max(values) if node[1] == "max" else min(values)
        if kind == "root":
            index = self._real_if_possible(self.value(node[2]))
            radicand = self._real_if_possible(self.value(node[1]))
            if not index:
                raise Undefined("zeroth root")
            if (not isinstance(radicand, ctx.mpc) and radicand < 0 and not isinstance(index, ctx.mpc)
                    and index == int(index) and int(index) % 2 == 1):
                return -self._power(-radicand, 1 / index)  # odd roots of negatives are real
            return self._power(radicand, 1 / index)
        if kind == "fact":
            value = self._real_if_possible(self.value(node[1]))
            if isinstance(value, ctx.mpc) or value > MAX_MODULAR_FACTORIAL:
                raise TooBig("factorial too large")
            if value < 0 and value == int(value):
                raise Undefined("factorial of a negative integer")
            self._gamma_allowed(value)
            return ctx.factorial(value)
        if kind == "binom":
            n, k = self.value(node[1]), self.value(node[2])
            if abs(n) > MAX_MODULAR_FACTORIAL:
                raise TooBig("binomial too large")
            self._gamma_allowed(n)
            self._gamma_allowed(k)
            return ctx.binomial(n, k)
        if kind == "fn":
            argument = self._real_if_possible(self.value(node[2]))
            name = node[1]
            if name == "abs":
                return abs(argument)
            if name == "sgn":
                return argument / abs(argument) if argument else ctx.mpf(0)
            if name in ("floor", "ceil"):
                real = argument.real if isinstance(argument, ctx.mpc) else argument
                return ctx.floor(real) if name == "floor" else ctx.ceil(real)
            if ctx.prec > MAX_FUNCTION_PRECISION:
                raise TooBig("a function value at too high a precision")
            if name in ("ln", "log"):
                if not argument:
                    raise Undefined("log of zero")
                result = ctx.ln(argument)
                self._check_cancellation(result, 1)
                return result
            if name in ("sinh", "cosh", "exp") and abs(argument) > 2 * MAX_MAGNITUDE_BITS:
                raise TooBig("exponential too large")
            result = getattr(ctx, _FUNCTION_NAMES[name])(argument)
            self._check_cancellation(result, max(ctx.mag(argument), 1) if argument else 1)
            return result
        if kind == "log":
            if ctx.prec > MAX_FUNCTION_PRECISION:
                raise TooBig("a logarithm at too high a precision")
            base, argument = self.value(node[1]), self.value(node[2])
            if not base or not argument:
                raise Undefined("log of zero")
            denominator, numerator = ctx.ln(base), ctx.ln(argument)
            if not denominator:
                raise Undefined("log base 1")
            self._check_cancellation(denominator, 1)
            self._check_cancellation(numerator, 1)
            return numerator / denominator
        raise NotExact(kind)

    def _gamma_allowed(self, value) -> None:
        """Refuse the gamma function of a non-integer at a high precision (see
        :data:`MAX_GAMMA_PRECISION`); factorials of integers are exact products, always cheap."""
        if self.ctx.prec > MAX_GAMMA_PRECISION and (isinstance(value, self.ctx.mpc) or value != int(value)):
            raise TooBig("the gamma function of a non-integer at too high a precision")

    def _power(self, base, exponent):
        ctx = self.ctx
        base, exponent = self._real_if_possible(base), self._real_if_possible(exponent)
        if not base:
            real = exponent.real if isinstance(exponent, ctx.mpc) else exponent
            if real <= 0:
                raise Undefined("zero to a non-positive power")
            return ctx.mpf(0)
        # Refuse before computing: |log2 |result|| is at most |Re e| |log2 |b|| + |Im e| (|log2 |b|| + pi).
        bits = abs(ctx.mag(base) - 1)  # about |log2 |base||, from the exponent: no logarithm
        real, imag = (exponent.real, exponent.imag) if isinstance(exponent, ctx.mpc) else (exponent, 0)
        if abs(real) * bits + abs(imag) * (bits + 5) > MAX_MAGNITUDE_BITS:
            raise TooBig("power too large for a precise comparison")
        return ctx.power(base, exponent)


def _evaluate(nodes: tuple[Node, ...], env: dict[str, complex], prec: int) -> tuple[list, _Evaluator]:
    ctx = _context()
    ctx.prec = prec
    evaluator = _Evaluator(ctx, env)
    try:
        values = [evaluator.value(node) for node in nodes]
    except (ZeroDivisionError, ValueError, OverflowError) as exc:
        if isinstance(exc, (TooBig, Undefined, NotExact)):
            raise
        raise Undefined(str(exc)) from None
    if not all(ctx.isfinite(value) for value in values):
        raise Undefined("not a finite value")
    return values, evaluator


def _precision_for(span: int, extra: int = 0) -> int:
    return max(BASE_PRECISION, 96 + 2 * span + extra)


def precise_equal(g: Node, a: Node, env: dict[str, complex]) -> bool:
    """Whether ``g`` and ``a`` are equal at ``env`` (see the module docstring). Raises
    :class:`TooBig`, :class:`Undefined` or :class:`NotExact` when it cannot decide.

    Without cancellation every value carries a relative error of a few units in its last place,
    so one evaluation decides: equal when the values agree to all but :data:`SLACK_BITS` of
    their bits. With cancellation the error is not known, so the difference is evaluated again
    with :data:`EXTRA_PRECISION` more bits: a true zero shrinks by about 2^-64, a true
    difference stays."""
    (x, y), evaluation = _evaluate((g, a), env, BASE_PRECISION)
    prec = _precision_for(evaluation.span)
    if prec > BASE_PRECISION:
        (x, y), evaluation = _evaluate((g, a), env, prec)
    first = abs(x - y)
    if not first:
        return True
    ctx = _context()
    if not evaluation.cancelled:
        return first <= ctx.ldexp(max(abs(x), abs(y)), SLACK_BITS - prec)
    (x, y), _ = _evaluate((g, a), env, prec + EXTRA_PRECISION)
    second = abs(x - y)
    return not second or second <= first * ctx.mpf(SHRINK.numerator) / SHRINK.denominator


def rounds_to(number: Fraction, decimals: int, node: Node, truncated: bool = False) -> bool:
    """Whether the decimal ``number`` (written with ``decimals`` decimals; negative for tens,
    hundreds, ...) is the value of ``node`` correctly rounded - or, when ``truncated``, cut off
    - at that many decimals. Ties count as rounding either way. Raises :class:`TooBig`,
    :class:`Undefined` or :class:`NotExact` when the value cannot be computed."""
    digits = len(str(abs(number.numerator))) + len(str(number.denominator)) + abs(decimals)
    (value,), evaluation = _evaluate((node,), {}, BASE_PRECISION)
    prec = _precision_for(evaluation.span, extra=4 * digits)
    if prec > BASE_PRECISION:
        (value,), _ = _evaluate((node,), {}, prec)
    ctx = _context()
    if isinstance(value, ctx.mpc):
        if abs(value.imag) > abs(value) * ctx.ldexp(1, 24 - prec):
            return False
        value = value.real
    slack = ctx.ldexp(1, 24 - prec) * max(abs(value), ctx.mpf(1))
    written = ctx.mpf(number.numerator) / number.denominator
    unit = ctx.mpf(10) ** -decimals
    if abs(written - value) <= unit / 2 + slack:
        return True
    if not truncated or (number != 0 and (number > 0) != (value > 0)):
        return False
    return abs(written) - slack <= abs(value) < abs(written) + unit + slack
