r"""A small parser and evaluator for the LaTeX of scalar answers.

It reads what final answers are made of - numbers (``3``, ``0.25``, ``1.5e3``, ``0.\overline{3}``),
``\frac``, ``\sqrt[n]{}``, powers, implicit products (``2\sqrt{3}``, ``xy``), ``\pi``, ``e``, ``i``,
``\infty``, trigonometric and logarithmic functions, ``\binom``, ``!``, ``|x|``, floors, ``\max``,
``\min``, ``\operatorname{sgn}``, subscripted variables - into a tree of tuples, and evaluates it
two ways:

- :func:`exact_value`: a :class:`fractions.Fraction` when the expression is rational, with guards
  that refuse power towers and giant factorials instead of computing them (:class:`TooBig`);
- :func:`numeric_value`: a complex float at an assignment of the free variables, for radicals,
  ``\pi`` and symbolic expressions (two expressions are compared at several points).

Neither can hang: the parser is recursive descent with a depth limit, and evaluation refuses
exponents and factorials beyond fixed bounds before computing them. Anything outside this grammar
raises :class:`ParseError`; the verifier then falls back to a computer algebra system in a
separate, time-limited process.

The tokens are in :mod:`redstar_math.expr_tokens`, the parser in :mod:`redstar_math.expr_parse`,
the evaluators in :mod:`redstar_math.expr_eval`, and the tree type, limits and errors they share
in :mod:`redstar_math.expr_limits`; every name is importable from here as before.
"""
from redstar_math.expr_eval import (
    CANCELLATION,
    COMPLEX_FUNCTIONS,
    CONSTANTS,
    UNDERFLOW,
    constant_scale,
    decimal_literal,
    exact_value,
    free_variables,
    is_infinity,
    is_piecewise,
    mentions,
    numeric_value,
    significant_digits,
)
from redstar_math.expr_limits import (
    MAX_DEPTH,
    MAX_EXACT_BITS,
    MAX_FACTORIAL,
    MAX_SCIENTIFIC_EXPONENT,
    MAX_TOKENS,
    Node,
    NotExact,
    ParseError,
    TooBig,
    Undefined,
)
from redstar_math.expr_parse import (
    EXPONENT_MARK,
    FACTOR_COMMANDS,
    FUNCTIONS,
    GREEK,
    INVERSE,
    PRODUCT_OPS,
    TOKEN,
    Parser,
    parse,
    tokenize,
)

__all__ = ["CANCELLATION", "COMPLEX_FUNCTIONS", "CONSTANTS", "EXPONENT_MARK", "FACTOR_COMMANDS", "FUNCTIONS", "GREEK",
           "INVERSE", "MAX_DEPTH", "MAX_EXACT_BITS", "MAX_FACTORIAL", "MAX_SCIENTIFIC_EXPONENT", "MAX_TOKENS",
           "PRODUCT_OPS", "TOKEN", "UNDERFLOW", "Node", "NotExact", "ParseError", "Parser", "TooBig", "Undefined", "constant_scale",
           "decimal_literal", "exact_value", "free_variables", "is_infinity", "is_piecewise",
           "mentions", "numeric_value", "parse", "significant_digits", "tokenize"]
