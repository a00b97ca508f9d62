r"""The shape of an answer: a scalar, a list, a set, a tuple or interval, a union of intervals, a
matrix, an equation - read from cleaned LaTeX (:mod:`redstar_math.latex`).

The shape decides how two answers are compared (:mod:`redstar_math.equivalence`):

- ``\{1, 2\}`` (set) and ``1, 2`` (bare list, as MATH writes "all solutions") are order-free;
- ``(1, 2)``, ``[0, 1)`` (tuples, points and intervals) are ordered, and their brackets must agree,
  so an open end never equals a closed one;
- ``A \cup B`` is an order-free union of intervals;
- ``\begin{pmatrix} ... \end{pmatrix}`` (and ``bmatrix``, ``matrix``, ``array``) is a matrix; a one-row
  or one-column matrix also equals the tuple of its entries;
- ``x = 3`` is an equation; when its left side is a lone variable it also equals ``3``;
- ``a \approx b`` matches what either side matches;
- an answer with ``\pm`` (or ``\mp``) anywhere is the list of its two readings, every ``\pm``
  read as ``+`` then as ``-`` (``\mp`` the other way): ``\frac{1 \pm \sqrt5}{2}``, ``x = 2 \pm \sqrt3``
  and ``(\pm 1, 0)`` are two values, equations or points; inside a list or set they are two of
  its elements (``\{0, \pm 1\}`` has three);
- ``x \le 3`` and ``-1 \le x < 4`` are intervals.

The scanners here walk the text once with a depth counter; nothing recurses on the input's
nesting except :func:`parse_answer` on the (already split) parts of a list, which is bounded by
:data:`MAX_ITEMS` and the answer length cap of the verifier.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from redstar_math.expr_limits import LONG_CACHE_SIZE, MAX_CACHED_CHARS

MAX_ITEMS = 64

OPENERS = "([{"
CLOSERS = ")]}"
LIST_SEPARATORS = (",", ";", " or ", " and ")
RELATIONS = {r"\leq": "<=", r"\leqslant": "<=", r"\le": "<=", r"\geq": ">=", r"\geqslant": ">=", r"\ge": ">=",
             r"\lt": "<", r"\gt": ">", "<=": "<=", ">=": ">=", "<": "<", ">": ">"}
RELATION_PATTERN = re.compile(r"\\leqslant|\\geqslant|\\leq|\\geq|\\le(?![a-zA-Z])|\\ge(?![a-zA-Z])|\\lt|\\gt|<=|>=|<|>")
LONE_VARIABLE = re.compile(r"^(?:[a-zA-Z]|\\[a-zA-Z]+)(?:_\w|_\{\w+(?:,\w+)*\})?(?:\([a-zA-Z]\))?$")
_VARIABLE = r"(?:[a-zA-Z]|\\[a-zA-Z]+)(?:_\{?\w+\}?)?"
#: ``(x, y)`` on the left of ``(x, y) = (1, 2)`` (matched without spaces).
VARIABLE_TUPLE = re.compile(r"^\(" + _VARIABLE + r"(?:," + _VARIABLE + r")+\)$")
MATRIX = re.compile(
    r"^\\begin\{(pmatrix|bmatrix|Bmatrix|vmatrix|Vmatrix|matrix|smallmatrix|array)\}(?:\{[^{}]*\})?(.*)\\end\{\1\}$",
    re.DOTALL,
)
BRACKETED_MATRIX = re.compile(r"^[\[(]\s*(\\begin\{(\w+)\}.*\\end\{\2\})\s*[\])]$", re.DOTALL)


@dataclass(frozen=True)
class Scalar:
    text: str


@dataclass(frozen=True)
class Items:
    """A list (``kind="list"``, order-free), set (``"set"``, order-free) or bracketed sequence
    (``"tuple"``: points, vectors and intervals, ordered, with their brackets)."""

    kind: str
    items: tuple[Answer, ...]
    open: str = ""
    close: str = ""

    @property
    def ordered(self) -> bool:
        return self.kind == "tuple"


@dataclass(frozen=True)
class Matrix:
    rows: tuple[tuple[Answer, ...], ...]


@dataclass(frozen=True)
class IntervalUnion:
    parts: tuple[Answer, ...]


@dataclass(frozen=True)
class Equation:
    lhs: str
    rhs: str

    @property
    def assigns(self) -> bool:
        """True for ``x = ...`` and ``(x, y) = ...``: a lone variable, or a tuple of them, on the left."""
        lhs = self.lhs.replace(" ", "")
        return bool(LONE_VARIABLE.match(lhs) or VARIABLE_TUPLE.match(lhs))


@dataclass(frozen=True)
class Alternatives:
    """``a \\approx b``: an answer stated two ways; matching either is enough."""

    options: tuple[Answer, ...]


@dataclass(frozen=True)
class Relation:
    """An inequality that is not a simple interval; compared as text."""

    text: str


Answer = Scalar | Items | Matrix | IntervalUnion | Equation | Relation | Alternatives


def split_top(text: str, separators: tuple[str, ...]) -> list[str]:
    """Split ``text`` at separators outside any brackets (``\\{`` counts as a bracket)."""
    if not any(separator in text for separator in separators):
        return [text.strip()]  # the common case, without the character-by-character walk
    parts: list[str] = []
    depth = 0
    start = 0
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n and text[i + 1] in "{}":
            depth += 1 if text[i + 1] == "{" else -1
            i += 2
            continue
        if ch in OPENERS:
            depth += 1
        elif ch in CLOSERS:
            depth -= 1
        elif depth == 0:
            for sep in separators:
                if text.startswith(sep, i):
                    parts.append(text[start:i])
                    i += len(sep)
                    start = i
                    break
            else:
                i += 1
            continue
        i += 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def _wrapped(text: str, opens: str, closes: str) -> tuple[str, str, str] | None:
    """``(open, inner, close)`` when the whole text is one bracketed group."""
    if text.startswith("\\{") and text.endswith("\\}"):
        opener, closer, body = "\\{", "\\}", text[2:-2]
    elif text and text[0] in opens and text[-1] in closes:
        opener, closer, body = text[0], text[-1], text[1:-1]
    else:
        return None
    depth = 0
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body) and body[i + 1] in "{}":
            depth += 1 if body[i + 1] == "{" else -1
            i += 2
        else:
            depth += ch in OPENERS
            depth -= ch in CLOSERS
            i += 1
        if depth < 0:
            return None  # "(1,2)\cup(3,4)" style: the first bracket closes early
    return (opener, body, closer) if depth == 0 else None


PLUS_MINUS = re.compile(r"\\(pm|mp)(?![a-zA-Z])")


def plus_minus_readings(text: str) -> tuple[str, str] | None:
    r"""The two readings of an answer with ``\pm``/``\mp``: every ``\pm`` as ``+`` (``\mp`` as
    ``-``), then every one the other way; None without them."""
    if "\\pm" not in text and "\\mp" not in text:
        return None
    plus = PLUS_MINUS.sub(lambda match: "+" if match.group(1) == "pm" else "-", text)
    if plus == text:
        return None  # \pmod and the like
    return plus, PLUS_MINUS.sub(lambda match: "-" if match.group(1) == "pm" else "+", text)


def _items(kind: str, parts: list[str], opener: str = "", closer: str = "") -> Answer:
    if len(parts) > MAX_ITEMS:
        return Scalar(" ".join(parts))
    items: list[Answer] = []
    for part in parts:
        readings = plus_minus_readings(part) if kind in ("list", "set") and not part.startswith("\\{") else None
        if readings is None:
            items.append(parse_answer(part))
        else:  # "\{0, \pm 1\}": two elements
            items.extend(parse_answer(reading) for reading in readings)
    return Items(kind, tuple(items), opener, closer)


def parse_shape(text: str) -> Answer:
    """:func:`parse_answer`, whose cache holds texts of up to ``MAX_CACHED_CHARS`` characters;
    longer ones go to a small cache of their own."""
    return parse_answer(text) if len(text) <= MAX_CACHED_CHARS else _parse_long(text)


@lru_cache(maxsize=LONG_CACHE_SIZE)
def _parse_long(text: str) -> Answer:
    return parse_answer.__wrapped__(text)


@lru_cache(maxsize=8192)
def parse_answer(text: str) -> Answer:
    """The shape of a cleaned answer (see the module docstring)."""
    text = text.strip()
    bracketed = BRACKETED_MATRIX.match(text)
    if bracketed:  # \left[\begin{array}...\end{array}\right] is the array itself
        text = bracketed.group(1)
    matrix = MATRIX.match(text)
    if matrix:
        rows = [r for r in split_top(matrix.group(2), ("\\\\",)) if r.strip()]
        return Matrix(tuple(tuple(parse_answer(c) for c in split_top(r, ("&",))) for r in rows[:MAX_ITEMS]))
    approximations = split_top(text, (r"\approx",))
    if len(approximations) > 1:  # "\cos 207^\circ \approx -0.891": either side is the answer
        return Alternatives(tuple(parse_answer(p) for p in approximations[:MAX_ITEMS] if p))
    union = split_top(text, (r"\cup",))
    if len(union) > 1:
        members = tuple(parse_answer(p) for p in union[:MAX_ITEMS])
        sets = [member for member in members if isinstance(member, Items) and member.kind == "set"]
        if len(sets) == len(members):
            # \{1, 2\} \cup \{3\} is the set \{1, 2, 3\}
            return Items("set", tuple(item for member in sets for item in member.items))
        return IntervalUnion(members)
    parts = split_top(text, LIST_SEPARATORS)
    if len(parts) > 1:
        return _items("list", [p for p in parts if p])
    group = _wrapped(text, "{", "}")
    if group is not None and group[0] == "{":
        return parse_answer(group[1])  # a TeX group, {1, 2}, is what it holds
    readings = None if text.startswith("\\{") else plus_minus_readings(text)
    if readings is not None:  # a set \{...\} reads each element's \pm itself (_items)
        return Items("list", (parse_answer(readings[0]), parse_answer(readings[1])))
    wrapped = _wrapped(text, "([", ")]")
    if wrapped is not None:
        opener, body, closer = wrapped
        inner = split_top(body, (",",))
        if opener == "\\{":
            builder = _set_builder(body)
            if builder is not None:
                return builder
            return _items("set", [p for p in inner if p] if body.strip() else [])
        if len(inner) > 1:
            return _items("tuple", inner, opener, closer)
    relation = _relation(text)
    if relation is not None:
        return relation
    sides = split_top(text, ("=",))
    if len(sides) > 1:
        return Equation(sides[0], sides[-1])
    return Scalar(text)


def _set_builder(body: str) -> Answer | None:
    """``\\{x \\mid x = 2 \\text{ or } x = 3\\}`` is the set ``\\{2, 3\\}``: a variable, a bar or colon,
    and assignments of that variable. Other set-builder sets are None (read as written)."""
    parts = split_top(body, (r"\mid", "|", ":"))
    if len(parts) != 2 or not LONE_VARIABLE.match(parts[0].replace(" ", "")):
        return None
    condition = parse_answer(parts[1])
    options = condition.items if isinstance(condition, Items) and condition.kind == "list" else (condition,)
    variable = parts[0].replace(" ", "")
    assignments = [o for o in options if isinstance(o, Equation) and o.lhs.replace(" ", "") == variable]
    if len(assignments) != len(options):
        return None
    return Items("set", tuple(parse_answer(o.rhs) for o in assignments))


def _relation(text: str) -> Answer | None:
    pieces = RELATION_PATTERN.split(text)
    if len(pieces) == 1:
        return None
    ops = [RELATIONS[m.group()] for m in RELATION_PATTERN.finditer(text)]
    pieces = [p.strip() for p in pieces]
    if len(pieces) == 2:
        left, right = pieces
        op = ops[0]
        if LONE_VARIABLE.match(left.replace(" ", "")):
            bound = right
        elif LONE_VARIABLE.match(right.replace(" ", "")):
            bound, op = left, {"<": ">", "<=": ">=", ">": "<", ">=": "<="}[op]
        else:
            return Relation(text)
        if op in ("<", "<="):
            return Items("tuple", (Scalar(r"-\infty"), parse_answer(bound)), "(", "]" if op == "<=" else ")")
        return Items("tuple", (parse_answer(bound), Scalar(r"\infty")), "[" if op == ">=" else "(", ")")
    if len(pieces) == 3 and LONE_VARIABLE.match(pieces[1].replace(" ", "")):
        if all(o in ("<", "<=") for o in ops):
            low, high, left_op, right_op = pieces[0], pieces[2], ops[0], ops[1]
        elif all(o in (">", ">=") for o in ops):
            low, high, left_op, right_op = pieces[2], pieces[0], ops[1], ops[0]
        else:
            return Relation(text)
        return Items("tuple", (parse_answer(low), parse_answer(high)),
                     "[" if "=" in left_op else "(", "]" if "=" in right_op else ")")
    return Relation(text)
