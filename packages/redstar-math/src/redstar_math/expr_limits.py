"""What the parser and the evaluators of :mod:`redstar_math.expr` share: the tree type
(:data:`Node`), the size limits that keep parsing and evaluation bounded, and the errors raised
for input outside the grammar, values with no exact form, values too large to compute and
undefined values."""

from __future__ import annotations

from typing import Any

Node = tuple[Any, ...]

#: Refuse exact powers whose result would need more bits than this.
MAX_EXACT_BITS = 100_000
MAX_FACTORIAL = 1000
MAX_DEPTH = 60
#: Tokens of one scalar expression (about one per character of dense LaTeX).
MAX_TOKENS = 5000
#: Texts longer than this are kept only in small caches of :data:`LONG_CACHE_SIZE` entries (a
#: long answer is rare, and thousands of them would hold hundreds of megabytes; a few let one
#: check reuse its own work: the comparison, then the voting key).
MAX_CACHED_CHARS = 1000
LONG_CACHE_SIZE = 4
#: Scientific notation is read exactly up to this exponent (``1e20000``); larger ones are refused.
MAX_SCIENTIFIC_EXPONENT = 20_000


class ParseError(ValueError):
    """Not an expression this parser reads. ``textual`` marks what is compared as text only and
    never sent to a computer algebra system: words, base subscripts, and inputs beyond the
    parser's size and depth guards (sympy would be slower on them still)."""

    def __init__(self, message: str, textual: bool = False):
        super().__init__(message)
        self.textual = textual


class NotExact(ValueError):
    """The expression has no exact rational value (irrational, complex or symbolic)."""


class TooBig(ValueError):
    """The value is too large to compute (a power tower such as ``9^{9^{9^9}}``)."""


class Undefined(ValueError):
    """Division by zero or a function outside its domain at the evaluation point."""
