"""The evaluators of :mod:`redstar_math.expr`: a parsed tree's free variables, its exact rational
value (:func:`exact_value`), its complex float value at a point (:func:`numeric_value`), and how it
was written (:func:`decimal_literal`, :func:`is_infinity`, :func:`significant_digits`)."""

from __future__ import annotations

import cmath
import math
from fractions import Fraction

from redstar_math.expr_limits import MAX_EXACT_BITS, MAX_FACTORIAL, Node, NotExact, TooBig, Undefined


# -- evaluation ------------------------------------------------------------------------
def free_variables(node: Node, found: set[str] | None = None) -> set[str]:
    found = set() if found is None else found
    if node[0] == "var":
        found.add(node[1])
    else:
        for child in node[1:]:
            if isinstance(child, tuple):
                free_variables(child, found)
            elif isinstance(child, list):
                for item in child:
                    free_variables(item, found)
    return found


def mentions(node: Node, leaf: Node) -> bool:
    """Whether ``leaf`` (such as ``("const", "i")``) occurs in the tree."""
    if node == leaf:
        return True
    return any(mentions(child, leaf) for child in _children(node))


def _children(node: Node) -> list[Node]:
    children = []
    for child in node[1:]:
        if isinstance(child, tuple):
            children.append(child)
        elif isinstance(child, list):
            children.extend(child)
    return children


#: What :func:`constant_scale` reports for a constant too large to evaluate.
HUGE_SCALE = 1e300


def constant_scale(node: Node) -> float:
    r"""The largest magnitude of a constant part of an expression in variables (a literal,
    ``10^6``, ``2\pi``): thresholds such as ``\min(x, 10^6)`` lie within it. One pass; each
    maximal constant subtree is evaluated once."""
    scale = _scale(node)
    return _magnitude(node) if scale is None else scale


def _scale(node: Node) -> float | None:
    """The largest magnitude of a constant part within the tree, or None when it has no
    variables (it is then measured as a whole by its nearest ancestor that has some)."""
    kind = node[0]
    if kind == "var":
        return 0.0
    if kind in ("num", "const"):
        return None
    children = _children(node)
    scanned = [_scale(child) for child in children]
    if all(inner is None for inner in scanned):
        return None
    return max(_magnitude(child) if inner is None else inner for child, inner in zip(children, scanned))


def _magnitude(node: Node) -> float:
    if node[0] == "num":
        try:
            return abs(node[1].numerator / node[1].denominator)
        except OverflowError:
            return HUGE_SCALE
    if node[0] == "const":
        return abs(CONSTANTS.get(node[1], 0j))
    try:
        return abs(numeric_value(node, {}))
    except TooBig:
        return HUGE_SCALE
    except (Undefined, NotExact, KeyError):
        return 0.0


def _exact_power(base: Fraction, exponent: Fraction) -> Fraction:
    if exponent.denominator != 1:
        if base < 0 and exponent.denominator % 2 == 1:
            # The real odd root, as \sqrt[3]{-8} = -2: (-8)^{2/3} = 4, (-8)^{1/3} = -2.
            sign = -1 if exponent.numerator % 2 else 1
            return sign * _exact_power(-base, exponent)
        if base >= 0:
            # Exact roots of perfect powers: 8^{1/3} = 2, (4/9)^{1/2} = 2/3.
            num = _integer_root(base.numerator, exponent.denominator)
            den = _integer_root(base.denominator, exponent.denominator)
            if num is not None and den is not None:
                return _exact_power(Fraction(num, den), Fraction(exponent.numerator))
        raise NotExact("irrational power")
    n = exponent.numerator
    if base in (0, 1):
        if base == 0 and n < 0:
            raise Undefined("zero to a negative power")
        return base
    if base == -1:
        return Fraction(1 if n % 2 == 0 else -1)
    bits = max(base.numerator.bit_length(), base.denominator.bit_length())
    if abs(n) > MAX_EXACT_BITS or bits * abs(n) > MAX_EXACT_BITS:
        raise TooBig("power too large to compute exactly")
    return base ** n


def _integer_root(value: int, degree: int) -> int | None:
    if degree > 64 or value.bit_length() > 4096:
        return None
    root = round(value ** (1.0 / degree)) if value < 2 ** 1000 else None
    if root is None:
        return None
    for candidate in (root - 1, root, root + 1):
        if candidate >= 0 and candidate ** degree == value:
            return candidate
    return None


def exact_value(node: Node) -> Fraction:
    """The exact rational value, or :class:`NotExact` / :class:`TooBig` / :class:`Undefined`."""
    kind = node[0]
    if kind == "num":
        return node[1]
    if kind == "add":
        return sum((exact_value(t) for t in node[1]), Fraction(0))
    if kind == "mul":
        product = Fraction(1)
        for factor in node[1]:
            product *= exact_value(factor)
            if max(product.numerator.bit_length(), product.denominator.bit_length()) > MAX_EXACT_BITS:
                raise TooBig("product too large")
        return product
    if kind == "neg":
        return -exact_value(node[1])
    if kind in ("div", "frac"):
        denominator = exact_value(node[2])
        if denominator == 0:
            raise Undefined("division by zero")
        return exact_value(node[1]) / denominator
    if kind == "pow":
        return _exact_power(exact_value(node[1]), exact_value(node[2]))
    if kind == "root":
        index = exact_value(node[2])
        if index == 0:
            raise Undefined("zeroth root")
        return _exact_power(exact_value(node[1]), 1 / index)
    if kind == "fact":
        n = exact_value(node[1])
        if n.denominator != 1 or n < 0:
            raise NotExact("factorial of a non-natural number")
        if n > MAX_FACTORIAL:
            raise TooBig("factorial too large")
        return Fraction(math.factorial(int(n)))
    if kind == "binom":
        n, k = exact_value(node[1]), exact_value(node[2])
        if n.denominator != 1 or k.denominator != 1 or n < 0 or n > 10 * MAX_FACTORIAL:
            raise NotExact("binomial of non-natural numbers")
        return Fraction(math.comb(int(n), int(k)) if k >= 0 else 0)
    if kind == "fn" and node[1] == "abs":
        return abs(exact_value(node[2]))
    if kind == "fn" and node[1] == "sgn":
        value = exact_value(node[2])
        return Fraction((value > 0) - (value < 0))
    if kind == "ext":
        values = [exact_value(item) for item in node[2]]
        return max(values) if node[1] == "max" else min(values)
    if kind == "fn" and node[1] in ("floor", "ceil"):
        value = exact_value(node[2])
        return Fraction(math.floor(value) if node[1] == "floor" else math.ceil(value))
    raise NotExact(kind)


COMPLEX_FUNCTIONS = {
    "sin": cmath.sin, "cos": cmath.cos, "tan": cmath.tan, "sinh": cmath.sinh, "cosh": cmath.cosh,
    "tanh": cmath.tanh, "arcsin": cmath.asin, "arccos": cmath.acos, "arctan": cmath.atan, "ln": cmath.log,
    "exp": cmath.exp,
    "sec": lambda z: 1 / cmath.cos(z), "csc": lambda z: 1 / cmath.sin(z), "cot": lambda z: 1 / cmath.tan(z),
    "arccot": lambda z: cmath.atan(1 / z), "arcsec": lambda z: cmath.acos(1 / z), "arccsc": lambda z: cmath.asin(1 / z),
    "abs": lambda z: complex(abs(z)), "sgn": lambda z: z / abs(z) if z else 0j,
    "floor": lambda z: complex(math.floor(z.real)), "ceil": lambda z: complex(math.ceil(z.real)),
}
CONSTANTS = {"pi": complex(math.pi), "e": complex(math.e), "i": 1j}


#: A sum smaller than this fraction of its largest term lost most of its float precision.
CANCELLATION = 1e-6


def numeric_value(node: Node, env: dict[str, complex], losses: list[Node] | None = None,
                  branches: list[Node] | None = None) -> complex:
    r"""The value as a complex float with the variables of ``env``; raises :class:`TooBig` on
    overflow and :class:`Undefined` outside a function's domain. When ``losses`` is a list, every
    sum that cancelled (its value below :data:`CANCELLATION` times its largest term, so that the
    float result may be mostly rounding error) is appended to it. When ``branches`` is a list,
    every step that left the reals - a real input, a non-real result: ``\sqrt{x}`` or ``\ln x``
    at a negative x, ``\arcsin x`` beyond 1 - is appended to it: the point is outside the
    expression's real domain.

    Real odd roots: a negative real to a rational power with an odd denominator is real, as
    ``\sqrt[3]{-8}`` is (``(-8)^{2/3}`` = 4), not the principal complex value."""
    try:
        return _numeric(node, env, losses, branches)
    except OverflowError:
        raise TooBig("overflow") from None
    except (ZeroDivisionError, ValueError) as exc:
        if isinstance(exc, (TooBig, Undefined, NotExact)):
            raise
        raise Undefined(str(exc)) from None


def _numeric(node: Node, env: dict[str, complex], losses: list[Node] | None,
             branches: list[Node] | None = None) -> complex:
    kind = node[0]
    if kind == "num":
        return complex(float(node[1]))
    if kind == "var":
        return env[node[1]]
    if kind == "const":
        if node[1] == "inf":
            raise NotExact("infinity")
        return CONSTANTS[node[1]]
    if kind == "add":
        if losses is None:
            return sum((_numeric(t, env, None, branches) for t in node[1]), 0j)
        terms = [_numeric(t, env, losses, branches) for t in node[1]]
        total = sum(terms, 0j)
        if abs(total) < CANCELLATION * max(abs(t) for t in terms):
            losses.append(node)
        return total
    if kind == "mul":
        factors = [_numeric(factor, env, losses, branches) for factor in node[1]]
        product = 1 + 0j
        for factor in factors:
            product *= factor
        return _checked(node, product, factors, losses)
    if kind == "neg":
        # not -z: that gives -0.0 imaginary parts, and sqrt(-4) = -2i
        return 0j - _numeric(node[1], env, losses, branches)
    if kind in ("div", "frac"):
        numerator, denominator = _numeric(node[1], env, losses, branches), _numeric(node[2], env, losses, branches)
        return _checked(node, numerator / denominator, (numerator,), losses)
    if kind == "fact":
        value = _numeric(node[1], env, losses, branches)
        if value.imag != 0 or value.real > 170:
            raise TooBig("factorial too large")
        return _checked(node, complex(math.gamma(value.real + 1)), (1,), losses)
    if kind == "binom":
        n, k = _numeric(node[1], env, losses, branches).real, _numeric(node[2], env, losses, branches).real
        if n > 170:
            raise TooBig("binomial too large")
        return complex(math.gamma(n + 1) / (math.gamma(k + 1) * math.gamma(n - k + 1)))
    if kind == "ext":
        values = [_numeric(item, env, losses, branches) for item in node[2]]
        if any(v.imag != 0 for v in values):
            raise Undefined("max or min of a complex number")
        return complex((max if node[1] == "max" else min)(v.real for v in values))
    # The steps that may leave the reals: a real input and a non-real result is a point outside
    # the expression's real domain, recorded in ``branches``.
    operands: tuple[complex, ...]
    if kind == "pow":
        base, exponent = _numeric(node[1], env, losses, branches), _numeric(node[2], env, losses, branches)
        operands = (base, exponent)
        if base.imag == 0 and base.real < 0 and exponent.imag == 0 and exponent.real != int(exponent.real):
            odd = odd_root_exponent(node[2])
            value = _power(base, exponent) if odd is None else _real_odd_power(base.real, odd)
        else:
            value = _power(base, exponent)
    elif kind == "root":
        index = _numeric(node[2], env, losses, branches)
        radicand = _numeric(node[1], env, losses, branches)
        operands = (index, radicand)
        if radicand.imag == 0 and radicand.real < 0 and index.imag == 0 and index.real % 2 == 1:
            value = -_power(-radicand, 1 / index)  # odd roots of negatives are real
        else:
            value = _power(radicand, 1 / index)
    elif kind == "fn":
        argument = _numeric(node[2], env, losses, branches)
        operands = (argument,)
        value = complex(COMPLEX_FUNCTIONS[node[1]](argument))
    elif kind == "log":
        base, argument = _numeric(node[1], env, losses, branches), _numeric(node[2], env, losses, branches)
        operands = (base, argument)
        value = cmath.log(argument) / cmath.log(base)
    else:
        raise NotExact(kind)
    if branches is not None and value.imag != 0 and all(z.imag == 0 for z in operands):
        branches.append(node)
    if kind == "fn" and node[1] in ("floor", "ceil"):
        return value  # floor(0.5) = 0 is exact
    return _checked(node, value, operands, losses)


#: A nonzero result below this in magnitude has lost its precision to underflow.
TINY = 1e-290
#: What ``losses`` receives for an underflow (a cancelled sum is recorded as its own node).
UNDERFLOW: Node = ("underflow",)


def _checked(node: Node, value: complex, operands, losses: list[Node] | None) -> complex:
    """``value``, after recording :data:`UNDERFLOW` in ``losses`` for a result that is 0 or
    subnormal although no operand is 0 (``x^{10000}`` at x = 0.35, ``e^{-1000}``), and so no
    longer tells its true size."""
    if losses is not None and abs(value) < TINY and all(operand != 0 for operand in operands):
        losses.append(UNDERFLOW)
    return value


#: Functions with a corner or a jump: where they appear, two expressions that agree on moderate
#: values may still differ on huge ones (``\min(e^x, 10^{300})``).
PIECEWISE = {"abs", "floor", "ceil", "sgn"}


def is_piecewise(node: Node) -> bool:
    r"""Whether the tree has ``|x|``, a floor, a ceiling, ``sgn``, ``\max`` or ``\min``."""
    if node[0] == "ext" or node[0] == "fn" and node[1] in PIECEWISE:
        return True
    return any(is_piecewise(child) for child in _children(node))


def odd_root_exponent(node: Node) -> Fraction | None:
    """The exponent as a fraction when it is a constant rational with an odd denominator."""
    try:
        exponent = exact_value(node)
    except (NotExact, TooBig, Undefined):
        return None
    return exponent if exponent.denominator % 2 == 1 else None


def _real_odd_power(base: float, exponent: Fraction) -> complex:
    """A negative real to a rational power with an odd denominator: the real root."""
    magnitude = _power(complex(-base), complex(float(exponent)))
    return -magnitude if exponent.numerator % 2 else magnitude


def _power(base: complex, exponent: complex) -> complex:
    # Signed zeros pick a branch of the complex power; real inputs mean the principal branch.
    base, exponent = complex(base.real, base.imag or 0.0), complex(exponent.real, exponent.imag or 0.0)
    if abs(exponent) > 1e5 and abs(base) > 1.0001:
        raise TooBig("power too large")
    if base.imag == 0 and exponent.imag == 0 and base.real > 0:
        return complex(base.real ** exponent.real)
    if base == 0:
        if exponent.real <= 0:
            raise Undefined("zero to a non-positive power")
        return 0j
    return base ** exponent


def is_infinity(node: Node) -> int:
    """+1 for ``\\infty``, -1 for ``-\\infty``, 0 otherwise."""
    sign = 1
    while node[0] == "neg":
        sign, node = -sign, node[1]
    return sign if node == ("const", "inf") else 0


def decimal_literal(node: Node) -> tuple[Fraction, int] | None:
    """``(value, decimals)`` when the expression is a decimal approximation as written: a decimal
    literal (``3.14``: 2 decimals), possibly negated, in scientific notation (``1.05e3``,
    ``1.05 \\times 10^{3}``: -1 decimals, i.e. rounded to tens) or divided by a power of ten
    (``(33.3)/100``, how a percent is read: 3 decimals); None otherwise (integers included)."""
    sign = 1
    while node[0] == "neg":
        sign, node = -sign, node[1]
    kind = node[0]
    if kind == "num":
        return None if node[2] is None else (sign * node[1], node[2])
    if kind == "mul" and len(node[1]) == 2:
        inner, shift = decimal_literal(node[1][0]), _power_of_ten(node[1][1])
        if inner is not None and shift is not None:
            return sign * inner[0] * Fraction(10) ** shift, inner[1] - shift
    if kind in ("div", "frac"):
        inner, shift = decimal_literal(node[1]), _power_of_ten(node[2])
        if inner is not None and shift is not None:
            return sign * inner[0] / Fraction(10) ** shift, inner[1] + shift
    return None


def significant_digits(number: Fraction, decimals: int) -> int:
    """Significant digits of a decimal as written (``0.0120`` with 4 decimals: 3)."""
    scaled = abs(number) * Fraction(10) ** decimals
    return len(str(scaled.numerator // scaled.denominator)) if scaled >= 1 else 0


def _power_of_ten(node: Node) -> int | None:
    """k when the node is ``10^k`` (k an integer literal, possibly negative) or an integer
    literal that is a power of ten (``100``)."""
    if node[0] == "num" and node[2] is None and node[1].denominator == 1 and node[1] > 0:
        digits = str(node[1].numerator)
        return len(digits) - 1 if digits.rstrip("0") == "1" else None
    if node[0] == "pow" and node[1] == ("num", Fraction(10), None):
        exponent, sign = node[2], 1
        while exponent[0] == "neg":
            sign, exponent = -sign, exponent[1]
        if exponent[0] == "num" and exponent[2] is None and exponent[1].denominator == 1:
            return sign * exponent[1].numerator
    return None
