"""The parser of :mod:`redstar_math.expr`: recursive descent with a depth limit over the tokens of
a scalar answer's LaTeX (:mod:`redstar_math.expr_tokens`) into a tree of tuples
(:data:`~redstar_math.expr_limits.Node`)."""

from __future__ import annotations

from fractions import Fraction

from redstar_math.expr_limits import MAX_DEPTH, Node, ParseError
from redstar_math.expr_tokens import (  # noqa: F401  (importable from here as before)
    EXPONENT_MARK,
    EXTREMA,
    FACTOR_COMMANDS,
    FUNCTIONS,
    GREEK,
    INVERSE,
    PRODUCT_OPS,
    TOKEN,
    number,
    tokenize,
)


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
        extra = self.peek()
        if extra is not None:
            raise ParseError(f"unexpected {extra[1]!r}")
        return node

    def enter(self) -> None:
        """One level deeper. Groups, signs, powers and commands all nest, and each level costs
        the parser and the evaluators a few stack frames: past :data:`MAX_DEPTH` the answer is
        compared as text (never a RecursionError)."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ParseError("expression nested too deeply", textual=True)

    def expression(self) -> Node:
        self.enter()
        terms = [self.term()]
        while self.at("+", "-"):
            op = self.take()[1]
            term = self.term()
            terms.append(term if op == "+" else ("neg", term))
        self.depth -= 1
        return terms[0] if len(terms) == 1 else ("add", terms)

    def term(self) -> Node:
        if self.at("-", "+"):
            signs = 0
            while self.at("-", "+"):  # a run of signs is one level, however long
                signs += self.take()[1] == "-"
            node = self.term()
            return ("neg", node) if signs % 2 else node
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
                mixed = self._mixednumber(factors, right)
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
    def _mixednumber(factors: list[Node], right: Node) -> Node | None:
        """``2\\frac{1}{2}`` is two and a half, as people write mixed numbers."""
        if (len(factors) == 1 and factors[0][0] == "num" and factors[0][2] is None and right[0] == "frac"
                and right[1][0] == "num" and right[2][0] == "num" and right[1][2] is None and right[2][2] is None):
            return ("add", [factors[0], ("div", right[1], right[2])])
        return None

    def signed_power(self) -> Node:
        signs = 0
        while self.at("-", "+"):
            signs += self.take()[1] == "-"
        node = self.power()
        return ("neg", node) if signs % 2 else node

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
        self.enter()  # 2^2^2^... nests without brackets
        signs = 0
        while self.at("-", "+"):
            signs += self.take()[1] == "-"
        node = self.group() if self.at("{") else self.power()
        self.depth -= 1
        return ("neg", node) if signs % 2 else node

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
            return number(token[1][0])
        if token[0] in ("num", "sci"):
            return number(token[1])
        if token[0] == "word":
            if len(token[1]) > 1:
                self.tokens.insert(self.pos, ("word", token[1][1:]))
            return self._letter(token[1][0])
        if token[0] == "cmd":
            self.pos -= 1
            return self.atom()
        raise ParseError(f"unexpected {token[1]!r} as an argument")

    def atom(self) -> Node:
        self.enter()
        try:
            return self._atom()
        finally:
            self.depth -= 1

    def _atom(self) -> Node:
        token = self.take()
        kind, value = token
        if kind in ("num", "sci"):
            node = number(value)
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
        if lower in EXTREMA:
            return self._extremum(lower)
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
        if name in EXTREMA:
            return self._extremum(name)
        if name in GREEK:
            return self._subscripted(("var", name))
        if name == "mathrm":
            return self.group()
        raise ParseError(f"unsupported command {command}")

    def _extremum(self, name: str) -> Node:
        r"""``\max(a, b)``, ``\min\{a, b, c\}``: ``("ext", name, [arguments])``."""
        closers = {"(": ")", "[": "]", "{": "}", "\\{": "\\}"}
        opener = self.take()[1]
        if opener not in closers:
            raise ParseError(f"\\{name} needs its arguments in brackets")
        arguments = [self.expression()]
        while self.at(","):
            self.take()
            arguments.append(self.expression())
        self.expect(closers[opener])
        return ("ext", name, arguments)

    def _function(self, name: str) -> Node:
        if name == "sign":
            name = "sgn"
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
