r"""Cleaning a final answer's LaTeX into a canonical spelling before it is compared.

:func:`clean` removes what never changes an answer's value: ``$`` and ``\(...\)`` wrappers,
``\left``/``\right``, spacing commands, ``\displaystyle``, a nested ``\boxed``; it unifies
spellings (``\dfrac``/``\tfrac``/``\cfrac`` -> ``\frac``, ``\frac12`` -> ``\frac{1}{2}``,
``\sqrt2`` -> ``\sqrt{2}``, unicode minus, ``×``, ``π``, ``√``, ``∞``), unwraps ``\text{}``-like
commands, and drops degree marks, a percent sign (remembered in :attr:`Cleaned.percent`), currency
signs, trailing units ("cm", "square units", "dollars") and thousands separators.

Everything is a handful of linear regular-expression passes, with no recursion, so cleaning costs
microseconds and cannot hang on deeply nested input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

UNICODE = str.maketrans({
    "\u2212": "-", "\u2013": "-", "\u2014": "-", "\ufe63": "-", "\uff0d": "-",
    "\u00d7": r" \times ", "\u00b7": r" \cdot ", "\u22c5": r" \cdot ", "\u00f7": r" \div ",
    "\u03c0": r" \pi ", "\u221a": r"\sqrt", "\u221e": r"\infty ", "\u222a": r" \cup ", "\u2229": r" \cap ",
    "\u2205": r"\emptyset ", "\u2264": r" \le ", "\u2265": r" \ge ", "\u2260": r" \ne ", "\u00b0": "", "\u00bd": "(1/2)",
    "\u00bc": "(1/4)", "\u00be": "(3/4)", "\u2044": "/", "\uff0c": ",", "\u00a0": " ", "\u2009": " ",
    "\u202f": " ", "\u2032": "'",
})

TEXT_COMMANDS = re.compile(
    r"\\(?:text|textbf|textit|textrm|textnormal|textsf|texttt|mathrm|mathbf|mathit|mathsf|mathtt|mathnormal|"
    r"mbox|hbox|operatorname|emph|boldsymbol|bm|pmb)\s*\{([^{}]*)\}"
)
SPACING = re.compile(
    r"\\(?:left|right|bigl|bigr|Bigl|Bigr|biggl|biggr|Biggl|Biggr|big|Big|bigg|Bigg|middle)(?![a-zA-Z])"
    r"|\\(?:displaystyle|textstyle|scriptstyle|limits|nolimits)(?![a-zA-Z])"
    r"|(?<!\\)\\[!,;:> ]|\\(?:quad|qquad|enspace|thinspace|medspace|thickspace)(?![a-zA-Z])|~"
)
FRAC_SPELLINGS = re.compile(r"\\[dtc]frac(?![a-zA-Z])")
BINOM_SPELLINGS = re.compile(r"\\[dt]binom(?![a-zA-Z])")
DEGREES = re.compile(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ(?![a-zA-Z])|\\degree(?![a-zA-Z])")
PERCENT = re.compile(r"\\?%")
DOLLAR_SIGN = re.compile(r"\\\$|\\(?:dollar|textdollar)(?![a-zA-Z])")
MATH_DELIMITERS = re.compile(r"\$|\\\(|\\\)|\\\[|\\\]")
FRAC_TWO_DIGITS = re.compile(r"\\frac\s*(\d)\s*(\d)")
FRAC_DIGIT_THEN_GROUP = re.compile(r"\\frac\s*([0-9a-zA-Z])\s*\{")
FRAC_GROUP_THEN_DIGIT = re.compile(r"\\frac\s*(\{[^{}]*\})\s*([0-9a-zA-Z])")
SQRT_SHORT = re.compile(r"\\sqrt\s*([0-9a-zA-Z])")
SINGLE_CHAR_SCRIPT = re.compile(r"([_^])\{\s*([0-9a-zA-Z])\s*\}")
THOUSANDS_COMMA = re.compile(r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
THOUSANDS_SPACE = re.compile(r"^[+-]?\d{1,3}(?: \d{3})+(?:\.\d+)?$")
BRACED_COMMA = re.compile(r"(?<=\d)\{,\}(?=\d{3})")
THIN_SPACE_THOUSANDS = re.compile(r"(?<=\d)\\,(?=\d{3})")
# Trailing units: words of two or more letters (optionally squared or cubed) after a space that
# follows something ending like a number or an expression. Each repetition needs a separator, so
# the pattern cannot backtrack exponentially; it is only applied to short answers anyway.
UNIT_WORD = r"[a-zA-Z]{2,}\.?(?:\s*\^\s*\{?[23]\}?)?"
UNIT_WORDS = re.compile(r"(?:(?<=[\d}).])|(?<=\\pi))\s+" + UNIT_WORD + r"(?:(?:\s+|\s*/\s*)" + UNIT_WORD + r")*\s*$")
MAX_UNIT_SCAN = 300
TEXT_UNIT = re.compile(
    r"(?<=[\d}).\s])\s*\\(?:text|mbox|mathrm|textrm)\s*\{\s*[a-zA-Z][a-zA-Z\s/.^\d-]{0,40}\}"
    r"(?:\s*\^\s*\{?[23]\}?)?\s*$"
)
SET_MEMBERSHIP = re.compile(r"^[a-zA-Z](?:_\{?\w+\}?)?\s*\\in(?![a-zA-Z])\s*")
WHITESPACE = re.compile(r"\s+")
#: Words that are answers or connectives rather than units.
NOT_UNITS = {"or", "and", "no", "yes", "none", "all", "real", "numbers", "solution", "solutions", "undefined",
             "infinity", "inf", "true", "false", "sin", "cos", "tan", "log", "ln", "exp", "sqrt", "pi",
             "even", "odd", "is", "are", "to"}


@dataclass(frozen=True)
class Cleaned:
    """A cleaned answer: ``text`` keeps single spaces (they separate ``\\sin x``), ``key`` has
    none and is what two answers are first compared by. ``percent`` is True when a percent
    sign was removed."""

    text: str
    percent: bool = False

    @property
    def key(self) -> str:
        return self.text.replace(" ", "")


def _closing_brace(text: str) -> int | None:
    """Index of the ``}`` matching the ``{`` that ``text`` starts with."""
    depth = 0
    for index, ch in enumerate(text):
        depth += ch == "{"
        depth -= ch == "}"
        if depth == 0:
            return index
    return None


def _unwrap_box(text: str) -> str:
    for command in ("\\boxed", "\\fbox"):
        while text.startswith(command) and text.endswith("}"):
            inner = text[len(command):].lstrip()
            if not inner.startswith("{") or _closing_brace(inner) != len(inner) - 1:
                break
            text = inner[1:-1].strip()
    return text


def _strip_units(text: str) -> str:
    if len(text) > MAX_UNIT_SCAN:
        return text
    match = UNIT_WORDS.search(text)
    if match is None or match.start() == 0:
        return text
    words = re.findall(r"[a-zA-Z]{2,}", match.group())
    if any(w.lower() in NOT_UNITS for w in words):
        return text
    head = text[:match.start()].rstrip()
    if not re.search(r"\d|\\pi|\}", head):
        return text
    return head


#: Whole answers with one meaning and several spellings (compared without spaces).
SYMBOL_SYNONYMS = {
    r"\mathbb{R}": r"(-\infty,\infty)", r"\mathbbR": r"(-\infty,\infty)", r"\R": r"(-\infty,\infty)",
    r"\varnothing": r"\emptyset", r"\{\}": r"\emptyset", r"\O": r"\emptyset", r"\oslash": r"\emptyset",
}
#: The same for words, compared in lower case without spaces.
WORD_SYNONYMS = {
    "allrealnumbers": r"(-\infty,\infty)", "nosolution": r"\emptyset", "nosolutions": r"\emptyset",
    "thereisnosolution": r"\emptyset", "emptyset": r"\emptyset",
}


def clean(answer: str) -> Cleaned:
    """Clean one answer (see the module docstring)."""
    text = answer.translate(UNICODE).strip()
    text = DOLLAR_SIGN.sub(" ", text)
    text = MATH_DELIMITERS.sub(" ", text).strip()
    text = _unwrap_box(text)
    text = THIN_SPACE_THOUSANDS.sub("", text)
    text = BRACED_COMMA.sub("", text)
    text = SPACING.sub(" ", text)
    text = FRAC_SPELLINGS.sub(r"\\frac", text)
    text = BINOM_SPELLINGS.sub(r"\\binom", text)
    text = DEGREES.sub(" ", text)
    text, percents = PERCENT.subn(" ", text)
    # A trailing \text{...} of unit-like words after a number is a unit, even a one-letter one
    # ("3 \text{ m/s}"); the \text wrapper is what tells it from a variable.
    head = TEXT_UNIT.sub("", text)
    if head != text and re.search(r"\d", head):
        text = head
    # Unwrap \text{...} from the inside out; each pass removes one level of nesting.
    for _ in range(8):
        text, count = TEXT_COMMANDS.subn(r" \1 ", text)
        if not count:
            break
    text = WHITESPACE.sub(" ", text).strip()
    text = SET_MEMBERSHIP.sub("", text)
    if re.search(r"[a-zA-Z]{2}", text):
        text = _strip_units(text)
        text = re.sub(r"(?i)\s*\bdegrees?\b\s*$", "", text)
    text = text.strip().rstrip(".;,").strip()
    text = FRAC_TWO_DIGITS.sub(r"\\frac{\1}{\2}", text)
    text = FRAC_GROUP_THEN_DIGIT.sub(r"\\frac\1{\2}", text)
    text = FRAC_DIGIT_THEN_GROUP.sub(r"\\frac{\1}{", text)
    text = SQRT_SHORT.sub(r"\\sqrt{\1}", text)
    text = SINGLE_CHAR_SCRIPT.sub(r"\1\2", text)
    if THOUSANDS_COMMA.match(text):
        text = text.replace(",", "")
    elif THOUSANDS_SPACE.match(text):
        text = text.replace(" ", "")
    if text.startswith("+") and not text.startswith("+-"):
        text = text[1:].lstrip()
    compact = text.replace(" ", "")
    text = SYMBOL_SYNONYMS.get(compact) or WORD_SYNONYMS.get(compact.lower()) or text
    return Cleaned(text, percent=percents > 0)
