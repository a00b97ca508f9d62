"""Comparing answers by their shape (:mod:`redstar_math.forms`), element by element: lists and
sets order-free (sets ignoring repeats), tuples and intervals ordered with their brackets, unions of
intervals, matrices against matrices or vectors, points written as assignments, and equations (by
the value they state, or as proportional equations). Scalars inside them go to
:mod:`redstar_math.equivalence_scalars`."""

from __future__ import annotations

import re

from redstar_math import expr, points
from redstar_math.equivalence_scalars import MIN_AGREEING_POINTS, Context, _close, _scalar, _Scale, parse_text
from redstar_math.forms import (
    LONE_VARIABLE,
    Alternatives,
    Equation,
    IntervalUnion,
    Items,
    Matrix,
    Relation,
    Scalar,
    parse_answer,
)

DIGIT_RUN = re.compile(r"(\d+)")


# -- shapes ----------------------------------------------------------------------------
def _single(answer: object) -> object:
    """A one-element list or set is its element (``\\{4\\}`` = ``4``)."""
    while isinstance(answer, Items) and not answer.ordered and len(answer.items) == 1:
        answer = answer.items[0]
    return answer


def _match(g: object, a: object, ctx: Context, g_percent: bool = False, a_percent: bool = False) -> bool:
    if ctx.remaining() <= 0:
        return False
    g, a = _single(g), _single(a)
    if isinstance(g, Alternatives):
        return any(_match(option, a, ctx, g_percent, a_percent) for option in g.options)
    if isinstance(a, Alternatives):
        return any(_match(g, option, ctx, g_percent, a_percent) for option in a.options)
    if isinstance(g, Equation) or isinstance(a, Equation):
        return _match_equations(g, a, ctx)
    if isinstance(g, Scalar) and isinstance(a, Scalar):
        return _scalar(g.text, a.text, ctx, g_percent, a_percent)
    if isinstance(g, Matrix) or isinstance(a, Matrix):
        return _match_matrices(g, a, ctx)
    if isinstance(g, IntervalUnion) or isinstance(a, IntervalUnion):
        # "x < -2 or x > 3" reads as a list of intervals, which is the union.
        g_parts, a_parts = _interval_parts(g), _interval_parts(a)
        return g_parts is not None and a_parts is not None and _unordered(g_parts, a_parts, ctx)
    if isinstance(g, Items) and isinstance(a, Items):
        if g.ordered and a.ordered:
            return (g.open, g.close) == (a.open, a.close) and _ordered(g.items, a.items, ctx)
        if g.ordered or a.ordered:
            # A point (1, 2) may be written as the bare list 1, 2 - in the same order - or as
            # assignments "x = 1 and y = 2" (in the order of their variables' names: "y = 2, x = 1"
            # is the same point), but a set is never a tuple.
            if "set" in (g.kind, a.kind):
                return False
            g_items, a_items = _by_variable(g), _by_variable(a)
            return g_items is not None and a_items is not None and _ordered(g_items, a_items, ctx)
        if "set" in (g.kind, a.kind):
            return _same_set(g.items, a.items, ctx)
        return _unordered(g.items, a.items, ctx)
    if isinstance(g, Relation) and isinstance(a, Relation):
        ctx.paths.append("string")
        return g.text.replace(" ", "") == a.text.replace(" ", "")
    return False


def _variable_key(name: str) -> list:
    """Natural order of variable names: ``x_2`` before ``x_{10}``, ``a`` before ``b``."""
    compact = name.replace(" ", "").replace("{", "").replace("}", "")
    return [(1, int(piece), "") if piece.isdigit() else (0, 0, piece) for piece in DIGIT_RUN.split(compact)]


def _by_variable(answer: Items) -> tuple | None:
    """The items of a list of assignments to distinct variables in the order of the variables'
    names; None for assignments that repeat a variable ("x = 1 or x = 2" lists values of x, it
    is not a point); any other list or tuple as it is."""
    items = answer.items
    if answer.ordered or not items:
        return items
    assignments = [i for i in items if isinstance(i, Equation) and i.assigns]
    if len(assignments) != len(items):
        return items
    names = [i.lhs.replace(" ", "") for i in assignments]
    if len(set(names)) != len(names):
        return None
    return tuple(item for _, item in sorted(zip(map(_variable_key, names), assignments), key=lambda pair: pair[0]))


def _ordered(gold: tuple, answer: tuple, ctx: Context) -> bool:
    ctx.paths.append("structure")
    return len(gold) == len(answer) and all(_match(x, y, ctx) for x, y in zip(gold, answer))


def _unordered(gold: tuple, answer: tuple, ctx: Context) -> bool:
    ctx.paths.append("structure")
    if len(gold) != len(answer):
        return False
    unused = list(answer)
    for item in gold:
        for i, candidate in enumerate(unused):
            if _match(item, candidate, ctx):
                del unused[i]
                break
        else:
            return False
    return True


def _same_set(gold: tuple, answer: tuple, ctx: Context) -> bool:
    """Set equality: repeated elements do not count (``\\{1, 2, 2\\}`` = ``\\{1, 2\\}``)."""
    ctx.paths.append("structure")
    return (all(any(_match(x, y, ctx) for y in answer) for x in gold)
            and all(any(_match(x, y, ctx) for x in gold) for y in answer))


def _interval_parts(answer: object) -> tuple | None:
    if isinstance(answer, IntervalUnion):
        return answer.parts
    if isinstance(answer, Items) and answer.ordered:
        return (answer,)
    if isinstance(answer, Items) and answer.kind == "list" and all(
            isinstance(item, Items) and item.ordered for item in answer.items):
        return answer.items
    return None


def _match_matrices(g: object, a: object, ctx: Context) -> bool:
    ctx.paths.append("structure")
    if isinstance(g, Matrix) and isinstance(a, Matrix):
        return len(g.rows) == len(a.rows) and all(_ordered(r, s, ctx) for r, s in zip(g.rows, a.rows))
    if isinstance(g, Matrix):
        matrix, other = g, a
    else:
        assert isinstance(a, Matrix)  # _match sends only pairs with a matrix here
        matrix, other = a, g
    if not isinstance(other, Items) or other.kind == "set":
        return False
    if len(matrix.rows) == 1:
        entries = matrix.rows[0]
    elif all(len(row) == 1 for row in matrix.rows):
        entries = tuple(row[0] for row in matrix.rows)
    else:
        return False
    return _ordered(entries, other.items, ctx)


def _stated_value(equation: Equation) -> str | None:
    """The value an equation states: the right side of ``x = 3`` and ``(x, y) = (1, 2)``, of
    ``8! = 40320`` (a left side without variables), the left side of ``3 = x``; None for an
    equation between expressions in variables (``y = 2x + 3``)."""
    if equation.assigns:
        return equation.rhs
    try:
        if expr.free_variables(parse_text(equation.lhs)):
            return None
    except (expr.ParseError, expr.TooBig):
        return None
    return equation.lhs if LONE_VARIABLE.match(equation.rhs.replace(" ", "")) else equation.rhs


def _match_equations(g: object, a: object, ctx: Context) -> bool:
    if isinstance(g, Equation) and isinstance(a, Equation):
        if g.assigns and a.assigns and g.lhs.replace(" ", "") == a.lhs.replace(" ", ""):
            return _match(parse_answer(g.rhs), parse_answer(a.rhs), ctx)
        return _proportional(g, a, ctx)
    if isinstance(g, Equation):
        value = _stated_value(g)
        return value is not None and _match(parse_answer(value), a, ctx)
    assert isinstance(a, Equation)
    value = _stated_value(a)
    return value is not None and _match(g, parse_answer(value), ctx)


def _proportional(g: Equation, a: Equation, ctx: Context) -> bool:
    """Two equations are the same when ``lhs - rhs`` of one is a non-zero constant multiple of
    the other's (``y = 2x + 3`` and ``2x - y + 3 = 0``)."""
    ctx.paths.append("symbolic")
    try:
        f = ("add", [parse_text(g.lhs), ("neg", parse_text(g.rhs))])
        h = ("add", [parse_text(a.lhs), ("neg", parse_text(a.rhs))])
    except (expr.ParseError, expr.TooBig):
        return False
    names = sorted(expr.free_variables(f) | expr.free_variables(h))
    ratio = None
    agreeing = 0
    scale = _Scale(f, h)
    for env in points.iterate(names, f"{g.lhs}={g.rhs}\0{a.lhs}={a.rhs}".encode(), 0, scale):
        try:
            x, y = expr.numeric_value(f, env), expr.numeric_value(h, env)
        except (expr.Undefined, expr.NotExact, expr.TooBig):
            continue
        if _close(x, 0) and _close(y, 0):
            agreeing += 1
            continue
        if _close(y, 0):
            return False
        if ratio is None:
            ratio = x / y
            if _close(ratio, 0):
                return False
        elif not _close(x, ratio * y):
            return False
        agreeing += 1
    return agreeing >= MIN_AGREEING_POINTS
