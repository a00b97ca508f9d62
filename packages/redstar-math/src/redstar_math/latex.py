r"""Cleaning a final answer's LaTeX into a canonical spelling before it is compared.

:func:`clean` removes what never changes an answer's value: ``$`` and ``\(...\)`` wrappers,
``\left``/``\right``, spacing commands, ``\displaystyle``, a nested ``\boxed``; it unifies
spellings (``\dfrac``/``\tfrac``/``\cfrac`` -> ``\frac``, ``\frac12`` -> ``\frac{1}{2}``,
``\sqrt2`` -> ``\sqrt{2}``, unicode minus, ``×``, ``π``, ``√``, ``∞``), unwraps ``\text{}``-like
commands, and drops degree marks, a percent sign (remembered in :attr:`Cleaned.percent`), currency
signs, trailing units ("cm", "square units", "dollars", ``\text{ m/s}``, ``\frac{\text{m}}{\text{s}}``,
siunitx's ``\SI{5}{\centi\meter}``) and thousands separators (``1,000``, ``1{,}000``, ``1,\!000``,
``10\,000``, ``4 096``; also inside a list, ``1,000, 2,000``, but inside brackets only when the
answer separates its elements with ", ", as in ``(1,000, 2,000)``: ``[1,100]`` is an interval). A decimal followed by an ellipsis (``3.14\ldots``) is kept as the
decimal and marked :attr:`Cleaned.truncated`.

Everything is a handful of regular-expression passes, with no recursion, so cleaning costs
microseconds and cannot hang on deeply nested input. Whitespace is collapsed first, and no pattern
has two adjacent quantifiers over the same characters, so every pass is linear in the length.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from redstar_math.expr_limits import LONG_CACHE_SIZE, MAX_CACHED_CHARS

UNICODE = str.maketrans({
    "\u2212": "-", "\u2013": "-", "\u2014": "-", "\ufe63": "-", "\uff0d": "-",
    "\u00d7": r" \times ", "\u00b7": r" \cdot ", "\u22c5": r" \cdot ", "\u00f7": r" \div ",
    "\u03c0": r" \pi ", "\u221a": r"\sqrt", "\u221e": r"\infty ", "\u222a": r" \cup ", "\u2229": r" \cap ",
    "\u2205": r"\emptyset ", "\u2264": r" \le ", "\u2265": r" \ge ", "\u2260": r" \ne ", "\u00b0": "", "\u00bd": "(1/2)",
    "\u00bc": "(1/4)", "\u00be": "(3/4)", "\u2044": "/", "\uff0c": ",", "\u00a0": " ", "\u2009": " ",
    "\u202f": " ", "\u2032": "'", "\u2026": "...", "\u2248": r" \approx ", "\u00b1": r" \pm ", "\u2213": r" \mp ",
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
# \lbrace 1, 2 \rbrace is \{1, 2\}; \langle 1, 2 \rangle is the vector (1, 2).
DELIMITER_NAMES = re.compile(r"\\(lbrace|rbrace|langle|rangle|lbrack|rbrack)(?![a-zA-Z])")
DELIMITERS = {"lbrace": "\\{", "rbrace": "\\}", "langle": "(", "rangle": ")", "lbrack": "[", "rbrack": "]"}
BINOM_SPELLINGS = re.compile(r"\\[dt]binom(?![a-zA-Z])")
CHOOSE = re.compile(r"\{([^{}]*)\\choose(?![a-zA-Z])([^{}]*)\}")
DEGREES = re.compile(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ(?![a-zA-Z])|\\degree(?![a-zA-Z])")
PERCENT = re.compile(r"\\?%")
#: "20 percent", "20 per cent", "20 \text{ percent}": a percent sign in words, at the end.
PERCENT_WORD = re.compile(r"(?i)(?<=[\d}.)])\s*(?:\\(?:text|mathrm|textrm|mbox)\s*\{\s*)?per ?cent\s*\}?\s*$")
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
# Trailing units: up to five words of two or more letters (optionally squared or cubed) after a
# space that follows something ending like a number or an expression. Each repetition needs a
# separator and their number is bounded, so an attempt costs at most a few passes over the text
# that follows its start; it is only applied to short answers anyway.
UNIT_WORD = r"[a-zA-Z]{2,}\.?(?:\s*\^\s*\{?[23]\}?)?"
UNIT_WORDS = re.compile(r"(?:(?<=[\d}).])|(?<=\\pi))\s+" + UNIT_WORD + r"(?:(?:\s+|\s*/\s*)" + UNIT_WORD + r"){0,4}\s*$")
MAX_UNIT_SCAN = 300
UNIT_LETTERS = re.compile(r"[a-zA-Z]{2,}")
NUMBER_END = re.compile(r"\d|\\pi|\}")
DIGIT = re.compile(r"\d")
TWO_LETTERS = re.compile(r"[a-zA-Z]{2}")
# A trailing unit in \text{...}-like commands: "3 \text{ m/s}", "5\,\mathrm{m}\,\mathrm{s}^{-1}",
# "5 \frac{\text{m}}{\text{s}}" (at most four of them). It must follow something that ends like a
# number or a group. The bounded repetition keeps each attempt short: unbounded, a text of many
# "\text{m}" would make every attempt run to the end (quadratic).
_UNIT_CMD = r"\\(?:text|mbox|mathrm|textrm|rm|operatorname)\s*\{\s*[a-zA-Z][a-zA-Z\s/.^\d-]{0,40}\}"
_UNIT_POWER = r"(?:\s*\^\s*(?:\{\s*-?\s*\d\s*\}|-?\d))?"
_UNIT_FRAC = r"\\frac\s*\{\s*" + _UNIT_CMD + _UNIT_POWER + r"\s*\}\s*\{\s*" + _UNIT_CMD + _UNIT_POWER + r"\s*\}"
_UNIT_TOKEN = r"(?:" + _UNIT_CMD + r"|" + _UNIT_FRAC + r")" + _UNIT_POWER
TEXT_UNIT = re.compile(
    r"(?<=[\d}).])\s*" + _UNIT_TOKEN + r"(?:\s*(?:(?:/|\\cdot)\s*)?" + _UNIT_TOKEN + r"){0,3}\s*$"
)
# siunitx: \SI{5}{\centi\meter} and \qty{5}{cm} are the number; \num{3,200} is the number;
# \si{cm} / \unit{cm} is a unit.
SIUNITX_QUANTITY = re.compile(
    r"\\(?:SI|qty)\s*(?:\[[^\]]{0,80}\])?\s*\{([^{}]*)\}\s*\{(?:[^{}]|\{[^{}]*\})*\}"
)
SIUNITX_NUMBER = re.compile(r"\\num\s*(?:\[[^\]]{0,80}\])?\s*\{([^{}]*)\}")
SIUNITX_UNIT = re.compile(r"\\(?:si|unit)\s*(?:\[[^\]]{0,80}\])?\s*\{(?:[^{}]|\{[^{}]*\})*\}")
# "1,\!048,\!576": a negative thin space inside a number is nothing.
NEGATIVE_SPACE_IN_NUMBER = re.compile(r"(?<=[\d,])\\!(?=[\d,])")
# A number with comma thousands separators inside a longer answer ("1,000, 2,000"): one to three
# digits, then groups of exactly three; not when a digit or another ",digit" follows ("1,0000",
# "1,000,00" are not thousands) nor when a digit, point or comma precedes.
THOUSANDS_IN_TEXT = re.compile(r"(?<![\d.,])\d{1,3}(?:,\d{3})+(?![\d]|,\d)")
# "3.14\ldots", "0.333...": a decimal whose digits go on (truncated, not rounded).
ELLIPSIS_DECIMAL = re.compile(r"^([+-]?\d*\.\d+)\s*(?:\\ldots|\\dots|\\cdots|\.\.\.)$")
TRAILING_DEGREES = re.compile(r"(?i)\bdegrees?\s*$")
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
    #: True when the answer was a decimal followed by an ellipsis (``3.14\ldots``): its digits
    #: are the start of the value's expansion.
    truncated: bool = False

    @property
    def key(self) -> str:
        return self.text.replace(" ", "")


def _closing_brace(text: str) -> int | None:
    """Index of the ``}`` matching the ``{`` that ``text`` starts with (escaped ``\\{``, ``\\}``
    and ``\\\\`` are not braces)."""
    depth = 0
    index = 0
    while index < len(text):
        ch = text[index]
        if ch == "\\":
            index += 2
            continue
        depth += ch == "{"
        depth -= ch == "}"
        if depth == 0:
            return index
        index += 1
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
    words = UNIT_LETTERS.findall(match.group())
    if any(w.lower() in NOT_UNITS for w in words):
        return text
    head = text[:match.start()].rstrip()
    if not NUMBER_END.search(head):
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


def _thousands_outside_brackets(text: str) -> str:
    """Remove comma thousands separators from numbers that are not inside ``()``, ``[]`` or
    ``\\{\\}`` (there ``[1,100]`` is an interval and ``(1,000)`` may be a pair) - unless the answer
    separates its elements with a comma and a space, as in ``(1,000, 2,000)``; ``{}`` groups count
    as outside (``\\frac{1,000}{3}``). One pass: the bracket depth is tracked between matches."""
    if ", " in text:
        return THOUSANDS_IN_TEXT.sub(lambda match: match.group().replace(",", ""), text)
    pieces = []
    depth = 0
    scanned = 0
    last = 0
    for match in THOUSANDS_IN_TEXT.finditer(text):
        i = scanned
        end = match.start()
        while i < end:
            ch = text[i]
            if ch == "\\" and i + 1 < end and text[i + 1] in "{}":
                depth += 1 if text[i + 1] == "{" else -1
                i += 2
                continue
            if ch in "([":
                depth += 1
            elif ch in ")]":
                depth -= 1
            i += 1
        scanned = max(i, end)
        if depth == 0:
            pieces.append(text[last:match.start()])
            pieces.append(match.group().replace(",", ""))
            last = match.end()
    if not pieces:
        return text
    pieces.append(text[last:])
    return "".join(pieces)


def clean_text(answer: str) -> Cleaned:
    """:func:`clean`, whose cache holds answers of up to ``MAX_CACHED_CHARS`` characters;
    longer ones go to a small cache of their own."""
    return clean(answer) if len(answer) <= MAX_CACHED_CHARS else _clean_long(answer)


@lru_cache(maxsize=LONG_CACHE_SIZE)
def _clean_long(answer: str) -> Cleaned:
    return clean.__wrapped__(answer)


@lru_cache(maxsize=16384)
def clean(answer: str) -> Cleaned:
    """Clean one answer (see the module docstring). Passes whose patterns need a character the
    text does not have (most need a backslash) are skipped; the result is cached, as the gold of
    a prompt and its samples' answers repeat."""
    text = WHITESPACE.sub(" ", answer.translate(UNICODE)).strip()
    if "\\" in text or "$" in text:
        text = DOLLAR_SIGN.sub(" ", text)
        text = MATH_DELIMITERS.sub(" ", text).strip()
    commands = "\\" in text
    if commands:
        text = _unwrap_box(text)
        if "\\SI" in text or "\\qty" in text or "\\num" in text or "\\si" in text or "\\unit" in text:
            text = SIUNITX_QUANTITY.sub(r"\1", text)
            text = SIUNITX_NUMBER.sub(r"\1", text)
            text = SIUNITX_UNIT.sub(" ", text)
        text = THIN_SPACE_THOUSANDS.sub("", text)
        text = NEGATIVE_SPACE_IN_NUMBER.sub("", text)
    if "{,}" in text:
        text = BRACED_COMMA.sub("", text)
    if commands or "~" in text:
        text = SPACING.sub(" ", text)
    if commands:
        text = FRAC_SPELLINGS.sub(r"\\frac", text)
        text = DELIMITER_NAMES.sub(lambda match: DELIMITERS[match.group(1)], text)
        text = BINOM_SPELLINGS.sub(r"\\binom", text)
        if "\\choose" in text:
            text = CHOOSE.sub(r"\\binom{\1}{\2}", text)  # {n \choose k}
        text = DEGREES.sub(" ", text)
    percents = 0
    if "%" in text:
        text, percents = PERCENT.subn(" ", text)
    if "cent" in text:
        text, words = PERCENT_WORD.subn("", text)
        percents += words
    if commands:
        # A trailing \text{...} of unit-like words after a number is a unit, even a one-letter one
        # ("3 \text{ m/s}"); the \text wrapper is what tells it from a variable.
        head = TEXT_UNIT.sub("", text)
        if head != text and DIGIT.search(head):
            text = head
        # Unwrap \text{...} from the inside out; each pass removes one level of nesting.
        for _ in range(8):
            text, count = TEXT_COMMANDS.subn(r" \1 ", text)
            if not count:
                break
    text = WHITESPACE.sub(" ", text).strip()
    if commands:
        text = SET_MEMBERSHIP.sub("", text)
    if TWO_LETTERS.search(text):
        text = _strip_units(text)
        text = TRAILING_DEGREES.sub("", text).rstrip()
    truncated = ELLIPSIS_DECIMAL.match(text) if "..." in text or "dots" in text else None
    if truncated:
        text = truncated.group(1)
    text = text.strip().rstrip(".;,").strip()
    if "\\frac" in text:
        text = FRAC_TWO_DIGITS.sub(r"\\frac{\1}{\2}", text)
        text = FRAC_GROUP_THEN_DIGIT.sub(r"\\frac\1{\2}", text)
        text = FRAC_DIGIT_THEN_GROUP.sub(r"\\frac{\1}{", text)
    if "\\sqrt" in text:
        text = SQRT_SHORT.sub(r"\\sqrt{\1}", text)
    if "{" in text:
        text = SINGLE_CHAR_SCRIPT.sub(r"\1\2", text)
    if THOUSANDS_COMMA.match(text):
        text = text.replace(",", "")
    elif THOUSANDS_SPACE.match(text):
        text = text.replace(" ", "")
    elif "," in text:
        text = _thousands_outside_brackets(text)
    if text.startswith("+") and not text.startswith("+-"):
        text = text[1:].lstrip()
    compact = text.replace(" ", "")
    text = SYMBOL_SYNONYMS.get(compact) or WORD_SYNONYMS.get(compact.lower()) or text
    return Cleaned(text, percent=percents > 0, truncated=truncated is not None)
