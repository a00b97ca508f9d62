"""The computer algebra worker: run as ``python -m redstar_math.cas_worker`` by
:class:`redstar_math.cas.GuardedCAS`, never imported by the verifier itself.

It reads one JSON request per line on stdin - ``{"a": latex, "b": latex}`` - and answers one JSON
line on stdout: ``{"equal": true | false}`` or ``{"equal": null, "error": "..."}``. It may take
as long as sympy takes: the parent enforces the time budget by killing this process.
"""

from __future__ import annotations

import json
import sys

#: Random points at which two expressions are compared before trying ``simplify``.
POINTS = ((0.5377, 1.8339, 2.2588), (1.3188, 0.6694, 1.4285), (0.8622, 2.0317, 0.7254))


def _same(a: str, b: str) -> bool:
    import sympy
    from latex2sympy2_extended import latex2sympy

    left, right = latex2sympy(a), latex2sympy(b)
    if left == right:
        return True
    if not (isinstance(left, sympy.Expr) and isinstance(right, sympy.Expr)):
        return False
    difference = left - right
    symbols = sorted(difference.free_symbols, key=str)
    # A numeric test settles most pairs quickly; simplify() runs only when it cannot. The
    # comparison stays in sympy numbers: Python floats would turn 9^(9^9) into inf, and inf
    # compares equal to inf.
    try:
        for point in POINTS:
            substitution = {s: sympy.Float(point[i % len(point)] + 0.1 * i) for i, s in enumerate(symbols)}
            gap = sympy.Abs(difference.evalf(30, subs=substitution))
            scale = sympy.Abs(left.evalf(30, subs=substitution))
            if not (gap.is_finite and scale.is_finite):
                raise ValueError("not a finite number at this point")
            if bool(gap > sympy.Float("1e-9") * sympy.Max(1, scale)):
                return False
        return True
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        pass
    return sympy.simplify(difference) == 0


def main() -> None:
    import sympy  # noqa: F401  (pay the import before announcing readiness)
    from latex2sympy2_extended import latex2sympy  # noqa: F401

    sys.stdout.write("ready\n")
    sys.stdout.flush()
    for line in sys.stdin:
        try:
            request = json.loads(line)
            reply = {"equal": _same(request["a"], request["b"])}
        except Exception as exc:  # any failure of the CAS is "undecided", reported to the parent
            reply = {"equal": None, "error": f"{type(exc).__name__}: {exc}"[:300]}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
