"""Reading the numeric value of a geometry answer: ``"40°"``, ``"3 \\sqrt { 2 }"``, ``"2πcm"``,
``"\\frac{20}{3}"``, ``"4.40米"``, ``"0.5cm2"``.

Choices in GeoQA, Geometry3K and MathVista are written in this LaTeX-ish shorthand, and models
state values the same way. :func:`parse_value` evaluates the small arithmetic language they use
(numbers, ``+ - * / ^``, brackets, ``\\frac``, ``\\sqrt``, ``π``, implicit products) with a
recursive-descent parser - never ``eval`` - after dropping units and degree marks.
"""

from __future__ import annotations

import math
import re

# Longest first, so that "cm2" is not read as "cm" followed by a stray 2.
_UNITS = (
    "平方厘米", "平方米", "厘米", "千米", "毫米", "米", "度",
    "cm^{2}", "cm^2", "cm²", "cm2", "m^{2}", "m^2", "m²", "mm^{2}", "mm^2", "mm²", "km²",
    "square units", "units^{2}", "units^2", "units", "unit", "inches", "inch", "in.", "feet", "ft",
    "yards", "yd", "degrees", "degree", "km", "cm", "mm", "m",
)
_DEGREE_MARKS = ("^{\\circ}", "^\\circ", "\\circ", "°", "^{°}", "^°")
_WRAPPERS = re.compile(r"\\(?:text|mathrm|mathbf|textbf|operatorname)\s*\{([^{}]*)\}")
_NUMBER = re.compile(r"\d+(?:\.\d*)?|\.\d+")


def strip_units(text: str) -> str:
    """Remove dollar signs, ``\\text{...}`` wrappers, spacing commands, degree marks and a
    trailing unit (``cm``, ``米``, ``square units``...)."""
    s = text.strip()
    s = _WRAPPERS.sub(r"\1", s)
    s = s.replace("$", "").replace("\\left", "").replace("\\right", "")
    for spacing in ("\\,", "\\;", "\\!", "\\ ", "~"):
        s = s.replace(spacing, " ")
    for mark in _DEGREE_MARKS:
        s = s.replace(mark, "")
    s = s.strip().rstrip(".").strip()
    changed = True
    while changed:
        changed = False
        for unit in _UNITS:
            if s.endswith(unit) and len(s) > len(unit):
                head = s[: -len(unit)]
                # "m" after a letter is part of a word or name ("Sum"), not a unit.
                if unit.isascii() and unit[0].isalpha() and head[-1:].isalpha() and head[-1:] not in "πi":
                    continue
                s = head.rstrip()
                changed = True
                break
    return s


def normalize_text(text: str) -> str:
    """A comparison key for non-numeric answers: units and marks dropped, spaces and case folded."""
    return re.sub(r"\s+", "", strip_units(text)).lower()


class _Parser:
    """Recursive descent over the tokens of one expression."""

    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise ValueError(f"expected {expected!r}, got {token!r}")
        self.pos += 1
        return token

    def parse(self) -> float:
        value = self.expr()
        if self.peek() is not None:
            raise ValueError(f"unexpected {self.peek()!r}")
        return value

    def expr(self) -> float:
        value = self.term()
        while self.peek() in ("+", "-"):
            value = value + self.term() if self.take() == "+" else value - self.term()
        return value

    def term(self) -> float:
        value = self.unary()
        while True:
            token = self.peek()
            if token in ("*", "/"):
                self.take()
                rhs = self.unary()
                value = value * rhs if token == "*" else value / rhs
            elif token is not None and (token in ("(", "{", "pi", "\\frac", "\\sqrt") or _NUMBER.fullmatch(token)):
                value = value * self.power()  # implicit product: 3\sqrt{2}, 2π, 2(3)
            else:
                return value

    def unary(self) -> float:
        if self.peek() == "-":
            self.take()
            return -self.unary()
        if self.peek() == "+":
            self.take()
            return self.unary()
        return self.power()

    def power(self) -> float:
        base = self.atom()
        if self.peek() == "^":
            self.take()
            return base ** self.unary()
        return base

    def group(self) -> float:
        """The argument of \\frac or \\sqrt: {expr}, or a single digit / atom (\\frac12, \\sqrt 2)."""
        if self.peek() == "{":
            self.take("{")
            value = self.expr()
            self.take("}")
            return value
        token = self.peek()
        if token is not None and _NUMBER.fullmatch(token) and len(token) > 1 and "." not in token:
            # \frac12 means 1/2: split the digit run.
            self.tokens[self.pos] = token[1:]
            return float(token[0])
        return self.atom()

    def atom(self) -> float:
        token = self.take()
        if token in ("(", "{"):
            value = self.expr()
            self.take(")" if token == "(" else "}")
            return value
        if token == "pi":
            return math.pi
        if token == "\\frac":
            numerator = self.group()
            return numerator / self.group()
        if token == "\\sqrt":
            if self.peek() == "[":
                self.take("[")
                degree = self.expr()
                self.take("]")
                return self.group() ** (1.0 / degree)
            return math.sqrt(self.group())
        if _NUMBER.fullmatch(token):
            return float(token)
        raise ValueError(f"unexpected {token!r}")


def _tokenize(text: str) -> list[str]:
    s = text.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    s = s.replace("\\times", "*").replace("\\cdot", "*").replace("×", "*").replace("÷", "/")
    s = s.replace("\\pi", "pi").replace("π", "pi").replace("√", "\\sqrt")
    s = re.sub(r"(?<=\d),(?=\d{3}\b)", "", s)  # thousands separators
    tokens = []
    i = 0
    while i < len(s):
        ch = s[i]
        if ch.isspace():
            i += 1
            continue
        number = _NUMBER.match(s, i)
        if number:
            tokens.append(number.group())
            i = number.end()
            continue
        if s.startswith("pi", i):
            tokens.append("pi")
            i += 2
            continue
        command = re.match(r"\\(frac|sqrt)", s[i:])
        if command:
            tokens.append("\\" + command.group(1))
            i += len(command.group())
            continue
        if ch in "+-*/^(){}[]":
            tokens.append(ch)
            i += 1
            continue
        raise ValueError(f"cannot read {s[i:]!r}")
    return tokens


def parse_value(text: str) -> float | None:
    """The number ``text`` denotes, or None when it is not a plain arithmetic value (a name like
    ``"A B and C D"``, an equation, an empty string)."""
    s = strip_units(text)
    if "=" in s:  # "x = 40" states a value; keep the right-hand side.
        s = s.rsplit("=", 1)[1]
    if not s or not any(ch.isdigit() for ch in s) and "pi" not in s and "π" not in s:
        return None
    try:
        value = _Parser(s).parse()
    except (ValueError, ZeroDivisionError, OverflowError):
        return None
    if isinstance(value, complex) or math.isnan(value) or math.isinf(value):
        return None
    return float(value)


def decimals(text: str) -> int | None:
    """How many decimals a plain decimal choice is written with (``"9.20"`` -> 2), or None when
    the choice is not a plain decimal (``"\\frac{1}{2}"``)."""
    match = re.fullmatch(r"-?\d+(?:\.(\d+))?", strip_units(text).replace(" ", ""))
    if not match:
        return None
    return len(match.group(1) or "")


def same_value(stated: str, choice: str) -> bool:
    """True when the value stated in a response is the value of a choice: equal up to 1e-4
    relative; or, for a choice written as a rounded decimal (``"9.22"``) and a stated value given
    with more decimals (``9.2195``), rounding to the choice at its precision - a model that
    computes 9.2195 means that choice."""
    stated_value, choice_value = parse_value(stated), parse_value(choice)
    if stated_value is None or choice_value is None:
        return False
    if math.isclose(stated_value, choice_value, rel_tol=1e-4, abs_tol=1e-6):
        return True
    choice_places, stated_places = decimals(choice), decimals(stated)
    if choice_places and stated_places is not None and stated_places > choice_places:
        return abs(stated_value - choice_value) <= 0.5 * 10 ** (-choice_places) + 1e-9
    return False
