r"""A small parser and evaluator for the LaTeX of scalar answers.

It reads what final answers are made of - numbers (``3``, ``0.25``, ``1.5e3``, ``0.\overline{3}``),
``\frac``, ``\sqrt[n]{}``, powers, implicit products (``2\sqrt{3}``, ``xy``), ``\pi``, ``e``, ``i``,
``\infty``, trigonometric and logarithmic functions, ``\binom``, ``!``, ``|x|``, floors, subscripted
variables - into a tree of tuples, and evaluates it two ways:

- :func:`exact_value`: a :class:`fractions.Fraction` when the expression is rational, with guards
  that refuse power towers and giant factorials instead of computing them (:class:`TooBig`);
- :func:`numeric_value`: a complex float at an assignment of the free variables, for radicals,
  ``\pi`` and symbolic expressions (two expressions are compared at several points).

Neither can hang: the parser is recursive descent with a depth limit, and evaluation refuses
exponents and factorials beyond fixed bounds before computing them. Anything outside this grammar
raises :class:`ParseError`; the verifier then falls back to a computer algebra system in a
separate, time-limited process.
"""

from __future__ import annotations

import cmath
import math
import re
from fractions import Fraction
from typing import Any

Node = tuple[Any, ...]

#: Refuse exact powers whose result would need more bits than this.
MAX_EXACT_BITS = 100_000
MAX_FACTORIAL = 1000
MAX_DEPTH = 60
MAX_TOKENS = 1200
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
    "ln", "log", "exp", "sqrt", "arccot", "arcsec", "arccsc",
}
INVERSE = {"sin": "arcsin", "cos": "arccos", "tan": "arctan"}
GREEK = {
    "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta", "vartheta", "iota",
    "kappa", "lambda", "mu", "nu", "xi", "rho", "sigma", "tau", "upsilon", "phi", "varphi", "chi", "psi",
    "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Sigma", "Phi", "Psi", "Omega",
}
PRODUCT_OPS = {"*", r"\cdot", r"\times", "/", r"\div"}
# Commands that begin a factor, so that "2\sqrt{3}" is an implicit product.
FACTOR_COMMANDS = {r"\frac", r"\sqrt", r"\binom", r"\pi", r"\infty", r"\lfloor", r"\lceil", r"\overline",
                   r"\exp", r"\mathrm"} | {"\\" + f for f in FUNCTIONS} | {"\\" + g for g in GREEK}


def tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        match = TOKEN.match(text, pos)
        if match is None:
            raise ParseError(f"unexpected character {text[pos]!r}")
        kind = match.lastgroup
        value = match.group(kind)
        pos = match.end()
        if kind == "ws":
            continue
        tokens.append((kind, value))
        if len(tokens) > MAX_TOKENS:
            raise ParseError("answer too long to parse", textual=True)
    return tokens


def _number(literal: str) -> Node:
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
    fraction = literal.partition(".")[2]
    return ("num", Fraction(literal.rstrip(".") or "0"), len(fraction) if fraction else None)


class Parser:
    """Recursive descent over the tokens of one scalar expression."""

    def __init__(self, text: str):
        self.tokens = tokenize(text)
        self.pos = 0
        self.depth = 0
        self.abs_open = 0

    # -- token helpers -------------------------------------------------------------------
    def peek(self, offset: int = 0) -> tuple[str, str] | None:
        i = self.pos + offset
        return self.tokens[i] if i < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise ParseError("unexpected end of expression")
        self.pos += 1
        return token

    def expect(self, value: str) -> None:
        token = self.take()
        if token[1] != value:
            raise ParseError(f"expected {value!r}, got {token[1]!r}")

    def at(self, *values: str) -> bool:
        token = self.peek()
        return token is not None and token[1] in values

    # -- grammar -------------------------------------------------------------------------
    def parse(self) -> Node:
        node = self.expression()
        if self.peek() is not None:
            raise ParseError(f"unexpected {self.peek()[1]!r}")
        return node

    def expression(self) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ParseError("expression nested too deeply", textual=True)
        terms = [self.term()]
        while self.at("+", "-"):
            op = self.take()[1]
            term = self.term()
            terms.append(term if op == "+" else ("neg", term))
        self.depth -= 1
        return terms[0] if len(terms) == 1 else ("add", terms)

    def term(self) -> Node:
        if self.at("-"):
            self.take()
            return ("neg", self.term())
        if self.at("+"):
            self.take()
            return self.term()
        factors = [self.power()]
        while True:
            token = self.peek()
            if token is None:
                break
            if token[1] in PRODUCT_OPS:
                self.take()
                right = self.signed_power()
                if token[1] in ("/", r"\div"):
                    factors = [("div", self._product(factors), right)]
                else:
                    factors.append(right)
            elif self.starts_factor(token):
                right = self.power()
                mixed = self._mixed_number(factors, right)
                if mixed is not None:
                    factors = [mixed]
                else:
                    factors.append(right)
            else:
                break
        return self._product(factors)

    @staticmethod
    def _product(factors: list[Node]) -> Node:
        return factors[0] if len(factors) == 1 else ("mul", factors)

    @staticmethod
    def _mixed_number(factors: list[Node], right: Node) -> Node | None:
        """``2\\frac{1}{2}`` is two and a half, as people write mixed numbers."""
        if (len(factors) == 1 and factors[0][0] == "num" and factors[0][2] is None and right[0] == "frac"
                and right[1][0] == "num" and right[2][0] == "num" and right[1][2] is None and right[2][2] is None):
            return ("add", [factors[0], ("div", right[1], right[2])])
        return None

    def signed_power(self) -> Node:
        if self.at("-"):
            self.take()
            return ("neg", self.signed_power())
        if self.at("+"):
            self.take()
        return self.power()

    def starts_factor(self, token: tuple[str, str]) -> bool:
        kind, value = token
        if kind in ("num", "sci", "word"):
            return True
        if kind == "cmd":
            return value in FACTOR_COMMANDS
        if value in ("(", "{", "["):
            return True
        return value == "|" and self.abs_open == 0

    def power(self) -> Node:
        base = self.postfix()
        if self.at("^"):
            self.take()
            exponent = self.exponent()
            return ("pow", base, exponent)
        return base

    def exponent(self) -> Node:
        if self.at("-"):
            self.take()
            return ("neg", self.exponent())
        if self.at("{"):
            return self.group()
        return self.power()

    def postfix(self) -> Node:
        node = self.atom()
        while self.at("!"):
            self.take()
            node = ("fact", node)
        return node

    def group(self) -> Node:
        """``{...}``, or a single token where LaTeX allows one (``\\frac12``)."""
        if self.at("{"):
            self.take()
            node = self.expression()
            self.expect("}")
            return node
        token = self.take()
        if token[0] == "num" and "." not in token[1] and len(token[1]) > 1:
            # \frac123 is \frac{1}{2}3: a bare argument is one character.
            self.tokens.insert(self.pos, ("num", token[1][1:]))
            return _number(token[1][0])
        if token[0] in ("num", "sci"):
            return _number(token[1])
        if token[0] == "word":
            if len(token[1]) > 1:
                self.tokens.insert(self.pos, ("word", token[1][1:]))
            return self._letter(token[1][0])
        if token[0] == "cmd":
            self.pos -= 1
            return self.atom()
        raise ParseError(f"unexpected {token[1]!r} as an argument")

    def atom(self) -> Node:
        token = self.take()
        kind, value = token
        if kind in ("num", "sci"):
            node = _number(value)
            if self.at(r"\overline"):
                return self._repeating(value)
            if self.at("_"):
                raise ParseError("a number with a base subscript", textual=True)
            return node
        if kind == "word":
            return self._word(value)
        if value in ("(", "["):
            node = self.expression()
            if not self.at(")", "]"):
                raise ParseError("unbalanced parenthesis")
            self.take()
            return node
        if value == "{":
            node = self.expression()
            self.expect("}")
            return node
        if value == "|":
            self.abs_open += 1
            node = self.expression()
            self.expect("|")
            self.abs_open -= 1
            return ("fn", "abs", node)
        if kind == "cmd":
            return self._command(value)
        raise ParseError(f"unexpected {value!r}")

    def _repeating(self, literal: str) -> Node:
        self.take()  # \overline
        if not self.at("{"):
            raise ParseError("\\overline needs a group")
        self.take()
        digits = ""
        while not self.at("}"):
            digits += self.take()[1]
        self.take()
        if not digits.isdigit():
            raise ParseError("a repeating decimal needs digits")
        whole, _, fixed = (literal if "." in literal else literal + ".").partition(".")
        # whole.fixed followed by `digits` repeating forever: whole.fixed + digits / (10^k - 1) / 10^|fixed|
        shift = Fraction(10) ** len(fixed)
        start = Fraction(int(whole + fixed or "0")) / shift
        repeat = Fraction(int(digits), (10 ** len(digits) - 1)) / shift
        return ("num", start + repeat, None)

    def _letter(self, letter: str) -> Node:
        if letter == "e":
            return ("const", "e")
        if letter == "i":
            return ("const", "i")
        return self._subscripted(("var", letter))

    def _subscripted(self, node: Node) -> Node:
        if not self.at("_"):
            return node
        self.take()
        if self.at("{"):
            self.take()
            parts = []
            while not self.at("}"):
                parts.append(self.take()[1])
            self.take()
            sub = "".join(parts)
        else:
            sub = self.take()[1]
        return ("var", f"{node[1]}_{sub}")

    def _word(self, word: str) -> Node:
        lower = word.lower()
        if lower in FUNCTIONS:
            return self._function(lower)
        if lower == "pi":
            return ("const", "pi")
        if lower in ("inf", "infty", "infinity"):
            return ("const", "inf")
        if len(word) > 2:
            raise ParseError(f"the word {word!r}", textual=True)
        if len(word) == 2:
            self.tokens.insert(self.pos, ("word", word[1]))
        return self._letter(word[0])

    def _command(self, command: str) -> Node:
        name = command[1:]
        if name == "frac":
            return ("frac", self.group(), self.group())
        if name == "sqrt":
            index = None
            if self.at("["):
                self.take()
                index = self.expression()
                self.expect("]")
            radicand = self.group()
            return ("root", radicand, index if index is not None else ("num", Fraction(2), None))
        if name == "binom":
            return ("binom", self.group(), self.group())
        if name == "pi":
            return ("const", "pi")
        if name in ("infty", "inf"):
            return ("const", "inf")
        if name in ("lfloor", "lceil"):
            node = self.expression()
            self.expect(r"\rfloor" if name == "lfloor" else r"\rceil")
            return ("fn", "floor" if name == "lfloor" else "ceil", node)
        if name in FUNCTIONS:
            return self._function(name)
        if name in GREEK:
            return self._subscripted(("var", name))
        if name == "mathrm":
            return self.group()
        raise ParseError(f"unsupported command {command}")

    def _function(self, name: str) -> Node:
        power = None
        base = None
        if name == "log" and self.at("_"):
            self.take()
            base = self.group()
        if self.at("^"):
            self.take()
            power = self.exponent()
            if power == ("neg", ("num", Fraction(1), None)) and name in INVERSE:
                name, power = INVERSE[name], None
        if name == "sqrt":
            node: Node = ("root", self.group(), ("num", Fraction(2), None))
        else:
            parenthesized = self.at("(", "[")
            argument = self._argument()
            if base is not None:
                node = ("log", base, argument)
            elif name == "log":
                node = ("fn", "ln", argument)  # log without a base is natural, as in sympy
            else:
                node = ("fn", name, argument)
            if parenthesized and self.at("^"):
                # \sin(x)^2 is (\sin x)^2: the power after the parentheses is the function's.
                self.take()
                node = ("pow", node, self.exponent())
        return node if power is None else ("pow", node, power)

    def _argument(self) -> Node:
        """A function's argument: a parenthesized expression (``\\sin(x)^2`` leaves the power to
        the caller), a braced group with its power (``\\sin{x}^2`` is ``sin(x^2)``, as TeX sets
        it), or a run of implicit factors without + or - (``\\sin 2x`` is ``sin(2x)``), which stops
        at the next function."""
        if self.at("(", "["):
            return self.postfix()
        if self.at("{"):
            return self.power()
        factors = [self.power()]
        while True:
            token = self.peek()
            if token is None or not self.starts_factor(token):
                break
            if token[0] == "cmd" and token[1][1:] in FUNCTIONS or token[0] == "word" and token[1].lower() in FUNCTIONS:
                break
            factors.append(self.power())
        return self._product(factors)


def parse(text: str) -> Node:
    """Parse one cleaned scalar answer (see :mod:`redstar_math.latex`)."""
    if not text.strip():
        raise ParseError("empty answer", textual=True)
    return Parser(text).parse()


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


def _exact_power(base: Fraction, exponent: Fraction) -> Fraction:
    if exponent.denominator != 1:
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
    "abs": lambda z: complex(abs(z)),
    "floor": lambda z: complex(math.floor(z.real)), "ceil": lambda z: complex(math.ceil(z.real)),
}
CONSTANTS = {"pi": complex(math.pi), "e": complex(math.e), "i": 1j}


#: A sum smaller than this fraction of its largest term lost most of its float precision.
CANCELLATION = 1e-6


def numeric_value(node: Node, env: dict[str, complex], losses: list[Node] | None = None) -> complex:
    """The value as a complex float with the variables of ``env``; raises :class:`TooBig` on
    overflow and :class:`Undefined` outside a function's domain. When ``losses`` is a list, every
    sum that cancelled (its value below :data:`CANCELLATION` times its largest term, so that the
    float result may be mostly rounding error) is appended to it."""
    try:
        return _numeric(node, env, losses)
    except OverflowError:
        raise TooBig("overflow") from None
    except (ZeroDivisionError, ValueError) as exc:
        if isinstance(exc, (TooBig, Undefined, NotExact)):
            raise
        raise Undefined(str(exc)) from None


def _numeric(node: Node, env: dict[str, complex], losses: list[Node] | None) -> complex:
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
            return sum((_numeric(t, env, None) for t in node[1]), 0j)
        terms = [_numeric(t, env, losses) for t in node[1]]
        total = sum(terms, 0j)
        if abs(total) < CANCELLATION * max(abs(t) for t in terms):
            losses.append(node)
        return total
    if kind == "mul":
        product = 1 + 0j
        for factor in node[1]:
            product *= _numeric(factor, env, losses)
        return product
    if kind == "neg":
        return 0j - _numeric(node[1], env, losses)  # not -z: that gives -0.0 imaginary parts, and sqrt(-4) = -2i
    if kind in ("div", "frac"):
        return _numeric(node[1], env, losses) / _numeric(node[2], env, losses)
    if kind == "pow":
        return _power(_numeric(node[1], env, losses), _numeric(node[2], env, losses))
    if kind == "root":
        index = _numeric(node[2], env, losses)
        radicand = _numeric(node[1], env, losses)
        if radicand.imag == 0 and radicand.real < 0 and index.imag == 0 and index.real % 2 == 1:
            return -_power(-radicand, 1 / index)  # odd roots of negatives are real
        return _power(radicand, 1 / index)
    if kind == "fact":
        value = _numeric(node[1], env, losses)
        if value.imag != 0 or value.real > 170:
            raise TooBig("factorial too large")
        return complex(math.gamma(value.real + 1))
    if kind == "binom":
        n, k = _numeric(node[1], env, losses).real, _numeric(node[2], env, losses).real
        if n > 170:
            raise TooBig("binomial too large")
        return complex(math.gamma(n + 1) / (math.gamma(k + 1) * math.gamma(n - k + 1)))
    if kind == "fn":
        return complex(COMPLEX_FUNCTIONS[node[1]](_numeric(node[2], env, losses)))
    if kind == "log":
        return cmath.log(_numeric(node[2], env, losses)) / cmath.log(_numeric(node[1], env, losses))
    raise NotExact(kind)


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
