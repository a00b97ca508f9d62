"""The computer algebra worker: run as ``python -m redstar_math.cas_worker`` by
:class:`redstar_math.cas.GuardedCAS`, never imported by the verifier itself.

It reads one JSON request per line on stdin - ``{"a": latex, "b": latex}`` - and answers one JSON
line on stdout: ``{"equal": true | false}`` or ``{"equal": null, "error": "..."}``. It may take
as long as sympy takes: the parent enforces the time budget by killing this process.
"""

from __future__ import annotations

import json
import sys

#: Points that must agree (with none disagreeing in the first expression's real domain) before
#: two expressions are called equal without ``simplify``.
MIN_AGREEING = 4
TOLERANCE = "1e-9"


def _same(a: str, b: str) -> bool:
    import sympy
    from latex2sympy2_extended import latex2sympy

    left, right = latex2sympy(a), latex2sympy(b)
    if left == right:
        return True
    if not (isinstance(left, sympy.Expr) and isinstance(right, sympy.Expr)):
        return False
    # A numeric test settles most pairs quickly; simplify() runs only when it cannot. The points
    # are drawn for this pair as in the verifier itself (redstar_math.points: both signs, every
    # magnitude, from a hash of both texts), so |x| is not x and \max(x, 0) is not x here either.
    # The comparison stays in sympy numbers: Python floats would turn 9^(9^9) into inf, and inf
    # compares equal to inf.
    try:
        decided = _at_points(sympy, left, right, f"{a}\0{b}".encode())
    except (TypeError, ValueError, ZeroDivisionError, OverflowError, AttributeError):
        decided = None
    if decided is not None:
        return decided
    return bool(sympy.simplify(left - right) == 0)


def _at_points(sympy, left, right, seed: bytes) -> bool | None:
    """True or False when the points decide, None when too few of them could be used. A point
    where ``left`` (the gold) is not real is outside its real domain: an agreement there counts, a
    disagreement does not; so does a point where ``right`` is not real but ``left`` is (the
    answer's domain is narrower there)."""
    from redstar_math import points

    symbols = sorted((left - right).free_symbols, key=str)
    complex_left = left.has(sympy.I)
    numbers = [abs(float(n)) for n in (left.atoms(sympy.Number) | right.atoms(sympy.Number))
               if n.is_real and abs(n) < 10 ** 12]
    draws = points.draw([str(s) for s in symbols], seed, 0, max(numbers, default=0.0)) if symbols else [{}]
    tolerance = sympy.Float(TOLERANCE)
    agreeing = 0
    for env in draws:
        substitution = {s: sympy.Float(env[str(s)].real, 30) for s in symbols}
        x, y = left.evalf(30, subs=substitution), right.evalf(30, subs=substitution)
        if not (x.is_finite and y.is_finite):
            continue
        gap, scale = sympy.Abs(x - y), sympy.Max(1, sympy.Abs(x))
        if not bool(gap > tolerance * scale):
            agreeing += 1
            continue
        x_real, y_real = _real(sympy, x), _real(sympy, y)
        if complex_left or (x_real and y_real):
            return False
    if agreeing >= (MIN_AGREEING if symbols else 1):
        return True
    return None


def _real(sympy, value) -> bool:
    imaginary = sympy.Abs(sympy.im(value))
    return bool(imaginary <= sympy.Float("1e-20") * sympy.Max(1, sympy.Abs(value)))


def main() -> None:
    import sympy  # noqa: F401  (pay the import before announcing readiness)
    from latex2sympy2_extended import latex2sympy  # noqa: F401

    sys.stdout.write("ready\n")
    sys.stdout.flush()
    for line in sys.stdin:
        try:
            request = json.loads(line)
            reply: dict[str, bool | str | None] = {"equal": _same(request["a"], request["b"])}
        except Exception as exc:  # any failure of the CAS is "undecided", reported to the parent
            reply = {"equal": None, "error": f"{type(exc).__name__}: {exc}"[:300]}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
