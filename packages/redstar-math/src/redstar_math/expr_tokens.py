"""The tokens of :mod:`redstar_math.expr`: the vocabulary a scalar answer's LaTeX is read in
(functions, Greek letters, product operators), :func:`tokenize`, and the numeric literals
(:func:`number`) - integers of any length, decimals with their count of decimals, scientific
notation."""

from __future__ import annotations

import re
from fractions import Fraction

from redstar_math.expr_limits import MAX_SCIENTIFIC_EXPONENT, MAX_TOKENS, Node, ParseError, TooBig

TOKEN = re.compile(
    r"(?P<sci>(?:\d+(?:\.\d*)?|\.\d+)[eE][+-]?\d+)(?![a-zA-Z\d])"
    r"|(?P<num>\d+(?:\.\d*)?|\.\d+)"
    r"|(?P<cmd>\\[a-zA-Z]+|\\[{}|])"
    r"|(?P<word>[a-zA-Z]+)"
    r"|(?P<op>[-+*/^_()\[\]{}|!=,<>'&:;])"
    r"|(?P<ws>\s+)"
)

EXPONENT_MARK = re.compile("[eE]")

FUNCTIONS = {
    "sin", "cos", "tan", "sec", "csc", "cot", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh",
    "ln", "log", "exp", "sqrt", "arccot", "arcsec", "arccsc", "sgn", "sign",
}
#: Functions of several arguments, ``\max(a, b, c)``.
EXTREMA = {"max", "min"}
INVERSE = {"sin": "arcsin", "cos": "arccos", "tan": "arctan"}
GREEK = {
    "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta", "vartheta", "iota",
    "kappa", "lambda", "mu", "nu", "xi", "rho", "sigma", "tau", "upsilon", "phi", "varphi", "chi", "psi",
    "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Sigma", "Phi", "Psi", "Omega",
}
PRODUCT_OPS = {"*", r"\cdot", r"\times", "/", r"\div"}
# Commands that begin a factor, so that "2\sqrt{3}" is an implicit product.
FACTOR_COMMANDS = {r"\frac", r"\sqrt", r"\binom", r"\pi", r"\infty", r"\lfloor", r"\lceil", r"\overline",
                   r"\exp", r"\mathrm"} | {"\\" + f for f in FUNCTIONS | EXTREMA} | {"\\" + g for g in GREEK}
#: Integers with more digits than this are converted piecewise (Python refuses more than 4300 at once).
DIGIT_CHUNK = 4000


def tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        match = TOKEN.match(text, pos)
        if match is None:
            raise ParseError(f"unexpected character {text[pos]!r}")
        kind = match.lastgroup
        assert kind is not None  # every alternative of TOKEN is a named group
        value = match.group(kind)
        pos = match.end()
        if kind == "ws":
            continue
        tokens.append((kind, value))
        if len(tokens) > MAX_TOKENS:
            raise ParseError("answer too long to parse", textual=True)
    return tokens


def number(literal: str) -> Node:
    """A numeric literal; the third item is its count of decimals (None for integers, ``12.``
    and ``3e5``), which the verifier uses to accept correctly rounded approximations. For
    scientific notation with a decimal mantissa it is the mantissa's decimals less the exponent
    (``1.05e3`` has -1: it is rounded to tens)."""
    if "e" in literal or "E" in literal:
        mantissa, exponent = EXPONENT_MARK.split(literal)
        if abs(int(exponent)) > MAX_SCIENTIFIC_EXPONENT:
            raise TooBig("exponent of scientific notation out of range")
        decimals = len(mantissa.split(".", 1)[1]) - int(exponent) if "." in mantissa.rstrip(".") else None
        return ("num", Fraction(mantissa.rstrip(".")) * Fraction(10) ** int(exponent), decimals)
    whole, _, fraction = literal.partition(".")
    if len(literal) > DIGIT_CHUNK:
        digits = whole + fraction
        value = 0
        for start in range(0, len(digits), DIGIT_CHUNK):
            chunk = digits[start:start + DIGIT_CHUNK]
            value = value * 10 ** len(chunk) + int(chunk)
        return ("num", Fraction(value, 10 ** len(fraction)), len(fraction) if fraction else None)
    return ("num", Fraction(literal.rstrip(".") or "0"), len(fraction) if fraction else None)
