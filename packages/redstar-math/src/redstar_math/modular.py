r"""Exact comparison of rationals too large to compute: ``2^{1000000}`` vs ``4^{500000}``,
``9^{9^9}`` vs ``3^{2\cdot 9^9}``, ``1001!`` vs ``1001\cdot 1000!`` are compared modulo three fixed
61- to 63-bit primes (:func:`modular_equal`). Equal values agree modulo every prime, and two
different values agree modulo all three only if their difference is a multiple of their product
(about 2^185), which no answer that is not built for it is. Exponents must themselves be
computable exactly (:data:`redstar_math.expr.MAX_EXACT_BITS`), factorials are limited to
:data:`MAX_MODULAR_FACTORIAL`; beyond that the pair is undecided ("too large").
:mod:`redstar_math.precise` re-exports these names."""

from __future__ import annotations

import math
from fractions import Fraction
from functools import lru_cache

from redstar_math.expr import Node, NotExact, TooBig, Undefined, exact_value

PRIMES = (2**61 - 1, 2**62 - 57, 2**63 - 25)
MAX_MODULAR_FACTORIAL = 100_000


class _Unusable(ValueError):
    """This prime divides a denominator: the value has no residue modulo it."""


def _exact_integer(node: Node) -> int:
    value = exact_value(node)
    if value.denominator != 1:
        raise NotExact("not an integer")
    return value.numerator


@lru_cache(maxsize=64)
def _factorial_mod(n: int, p: int) -> int:
    product = 1
    for start in range(2, n + 1, 64):  # exact products of 64 small factors, then reduce
        product = product * math.prod(range(start, min(start + 64, n + 1))) % p
    return product


def _mod(node: Node, p: int) -> int:
    kind = node[0]
    if kind == "num":
        value: Fraction = node[1]
        denominator = value.denominator % p
        if denominator == 0:
            raise _Unusable(p)
        return value.numerator % p * pow(denominator, -1, p) % p
    if kind == "add":
        return sum(_mod(term, p) for term in node[1]) % p
    if kind == "neg":
        return -_mod(node[1], p) % p
    if kind == "mul":
        product = 1
        for factor in node[1]:
            product = product * _mod(factor, p) % p
        return product
    if kind in ("div", "frac"):
        denominator = _mod(node[2], p)
        if denominator == 0:
            try:
                if exact_value(node[2]) == 0:
                    raise Undefined("division by zero")
            except TooBig:
                pass
            raise _Unusable(p)
        return _mod(node[1], p) * pow(denominator, -1, p) % p
    if kind == "pow":
        exponent = exact_value(node[2])  # TooBig for a tower of three or more levels
        if exponent.denominator != 1:
            return _mod(("num", exact_value(node), None), p)  # a root: exact when it is rational
        n = exponent.numerator
        base = _mod(node[1], p)
        if base == 0:
            if n > 0:
                return 0
            raise _Unusable(p)
        if n < 0:
            base, n = pow(base, -1, p), -n
        return pow(base, n % (p - 1), p)  # Fermat: base^(p-1) = 1 modulo p
    if kind == "root":
        return _mod(("num", exact_value(node), None), p)
    if kind == "fact":
        n = _exact_integer(node[1])
        if n < 0:
            raise NotExact("factorial of a negative number")
        if n > MAX_MODULAR_FACTORIAL:
            raise TooBig("factorial too large")
        return _factorial_mod(n, p)
    if kind == "binom":
        n, k = _exact_integer(node[1]), _exact_integer(node[2])
        if n < 0 or n > MAX_MODULAR_FACTORIAL:
            raise NotExact("binomial out of range")
        if k < 0 or k > n:
            return 0
        k = min(k, n - k)
        top = bottom = 1
        for j in range(k):
            top = top * (n - j) % p
            bottom = bottom * (j + 1) % p
        return top * pow(bottom, -1, p) % p
    if kind == "fn" and node[1] in ("abs", "floor", "ceil", "sgn") or kind == "ext":
        return _mod(("num", exact_value(node), None), p)
    raise NotExact(kind)


def modular_equal(g: Node, a: Node) -> bool:
    """Whether two rational values are equal, compared modulo :data:`PRIMES` (see the module
    docstring). Raises :class:`NotExact` when either is not rational, :class:`TooBig` when an
    exponent or factorial is beyond the limits, :class:`Undefined` on a division by zero."""
    compared = 0
    for p in PRIMES:
        try:
            x, y = _mod(g, p), _mod(a, p)
        except _Unusable:
            continue
        if x != y:
            return False
        compared += 1
    if compared < 2:
        raise TooBig("no usable modulus")
    return True
