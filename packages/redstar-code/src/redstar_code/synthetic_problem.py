"""The shape of a synthetic code problem and how it computes: the levels (:data:`CODE_LEVELS`),
the steps (:class:`Arith`, :class:`Test`, the :data:`Stage` kinds), the generated
:class:`CodeProblem`, and running a problem's steps on an input (the expected output, and the
trace the teacher checks).
Drawing problems and the held-out split are in :mod:`redstar_code.synthetic`; how a problem is
written out (statement, programs, reasoning) in :mod:`redstar_code.synthetic_text`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, TypeAlias

SCALAR, LIST = "scalar", "list"
STDIN, CALL = "stdin", "call"


@dataclass(frozen=True)
class CodeLevel:
    """The program shape of a level: ``shape`` is scalar or list; ``stages`` the per-element
    stages in order (``map``, ``branch`` = if/else rewrite, ``filter``); ``after`` the number of
    arithmetic steps applied to the scalar (or to the list's aggregate)."""

    shape: str
    stages: tuple[str, ...]
    after: int


#: Level -> shape; the program size (:attr:`CodeProblem.size`) of a level equals the level.
CODE_LEVELS: dict[int, CodeLevel] = {
    1: CodeLevel(SCALAR, (), 1),
    2: CodeLevel(SCALAR, (), 2),
    3: CodeLevel(LIST, ("map",), 0),
    4: CodeLevel(LIST, ("map", "filter"), 0),
    5: CodeLevel(LIST, ("map", "filter"), 1),
    6: CodeLevel(LIST, ("branch", "filter"), 0),
    7: CodeLevel(LIST, ("branch", "filter"), 1),
    8: CodeLevel(LIST, ("map", "branch", "filter"), 1),
    9: CodeLevel(LIST, ("map", "branch", "filter"), 2),
    10: CodeLevel(LIST, ("map", "branch", "filter", "map"), 2),
}
ALL_LEVELS = tuple(CODE_LEVELS)


@dataclass(frozen=True)
class Arith:
    """``value <op> k`` with op ``+``, ``-`` or ``*``."""

    op: str
    k: int

    def apply(self, value: int) -> int:
        return value + self.k if self.op == "+" else value - self.k if self.op == "-" else value * self.k

    def words(self, target: str) -> str:
        if self.op == "+":
            return f"add {self.k} to {target}"
        if self.op == "-":
            return f"subtract {self.k} from {target}"
        return f"multiply {target} by {self.k}"

    def expr(self, operand: str) -> str:
        return f"{operand} {self.op} {self.k}"


@dataclass(frozen=True)
class Test:
    """A predicate on a number: ``even``, ``odd``, ``>`` t or ``<`` t."""

    kind: str
    t: int = 0

    def holds(self, value: int) -> bool:
        if self.kind == "even":
            return value % 2 == 0
        if self.kind == "odd":
            return value % 2 == 1
        return value > self.t if self.kind == ">" else value < self.t

    def words(self) -> str:
        if self.kind in ("even", "odd"):
            return f"it is {self.kind}"
        return f"it is {'greater' if self.kind == '>' else 'less'} than {self.t}"

    def expr(self, name: str) -> str:
        if self.kind == "even":
            return f"{name} % 2 == 0"
        if self.kind == "odd":
            return f"{name} % 2 == 1"
        return f"{name} {self.kind} {self.t}"


class _StageText:
    """What the three stage kinds share: their ``kind`` name, their size, and the repr that
    :attr:`CodeProblem.computation` (and so the held-out split) hashes."""

    kind: ClassVar[str]
    #: Operations + if statements this stage adds to the program.
    size: ClassVar[int]

    def __repr__(self) -> str:
        # Written out as the one ``Stage`` dataclass with every kind's fields (None where a kind
        # has none) printed itself before the kinds became classes: the held-out split and the
        # pinned held-out sets hash this text, so it must not change.
        fields = ", ".join(f"{name}={getattr(self, name, None)!r}" for name in ("test", "then", "otherwise"))
        return f"Stage(kind={self.kind!r}, {fields})"


@dataclass(frozen=True, repr=False)
class MapStage(_StageText):
    """Rewrite each number: ``then``."""

    then: Arith
    kind: ClassVar[str] = "map"
    size: ClassVar[int] = 1

    def apply(self, value: int) -> int:
        return self.then.apply(value)

    def words(self) -> str:
        return self.then.words("each number")


@dataclass(frozen=True, repr=False)
class BranchStage(_StageText):
    """Rewrite each number with ``then`` if ``test`` holds for it, else with ``otherwise``."""

    test: Test
    then: Arith
    otherwise: Arith
    kind: ClassVar[str] = "branch"
    size: ClassVar[int] = 3

    def apply(self, value: int) -> int:
        return self.then.apply(value) if self.test.holds(value) else self.otherwise.apply(value)

    def words(self) -> str:
        return f"for each number, if {self.test.words()}, {self.then.words('it')}, otherwise {self.otherwise.words('it')}"


@dataclass(frozen=True, repr=False)
class FilterStage(_StageText):
    """Keep a number only when ``test`` holds for it."""

    test: Test
    kind: ClassVar[str] = "filter"
    size: ClassVar[int] = 1

    def apply(self, value: int) -> int | None:
        """The number, or None when the filter drops it."""
        return value if self.test.holds(value) else None

    def words(self) -> str:
        if self.test.kind in ("even", "odd"):
            return f"keep only the {self.test.kind} numbers"
        return f"keep only the numbers {'greater' if self.test.kind == '>' else 'less'} than {self.test.t}"


#: One per-element stage of a list problem; its ``kind`` is the name :data:`CODE_LEVELS` uses.
Stage: TypeAlias = MapStage | BranchStage | FilterStage


@dataclass(frozen=True)
class CodeProblem:
    """A generated problem: ``question`` (statement with an example), ``input_output`` (TACO
    JSON string), ``fn_name`` (None for standard input), both solutions and the level."""

    question: str
    input_output: str
    fn_name: str | None
    level: int
    shape: str
    io: str
    stages: tuple[Stage, ...]
    aggregate: str | None
    after: tuple[Arith, ...]
    long_cot: str
    short_answer: str

    @property
    def computation(self) -> str:
        """The computation without I/O kind, names or examples: what the held-out split hashes."""
        return repr((self.shape, self.stages, self.aggregate, self.after))

    @property
    def size(self) -> int:
        """Program size: arithmetic operations + aggregations + if statements + loops."""
        loop = 1 if self.shape == LIST else 0
        return sum(s.size for s in self.stages) + (1 if self.aggregate else 0) + len(self.after) + loop

    @property
    def distinct_outputs(self) -> int:
        return len({json.dumps(o) for o in json.loads(self.input_output)["outputs"]})

    @property
    def solution(self) -> str:
        """The teacher's program (the code block of ``long_cot``)."""
        return extract_code(self.long_cot)

    def run(self, value: int | list[int]) -> int:
        """The expected result for one input, computed directly from the problem's steps."""
        return _compute(self.shape, self.stages, self.aggregate, self.after, value)


def extract_code(text: str) -> str:
    """The body of the last ```python block in ``text``."""
    start = text.rindex("```python\n") + len("```python\n")
    return text[start:text.index("```", start)]


def _as_number(value: int | list[int]) -> int:
    """The input of a scalar problem; a list here is a caller's bug, named in a TypeError."""
    if isinstance(value, int):
        return value
    raise TypeError(f"a scalar problem's input is one integer, not {value!r}")


def _as_numbers(value: int | list[int]) -> list[int]:
    """The input of a list problem; one integer here is a caller's bug, named in a TypeError."""
    if isinstance(value, int):
        raise TypeError(f"a list problem's input is a list of integers, not {value!r}")
    return value


def _through(stages: Sequence[Stage], x: int) -> int | None:
    """``x`` after every stage in turn, or None once a filter drops it."""
    for stage in stages:
        y = stage.apply(x)
        if y is None:
            return None
        x = y
    return x


def _aggregate(aggregate: str | None, kept: list[int]) -> int:
    return sum(kept) if aggregate == "sum" else len(kept)


def _compute(shape: str, stages: Sequence[Stage], aggregate: str | None, after: Sequence[Arith],
             value: int | list[int]) -> int:
    if shape == LIST:
        kept = [y for y in (_through(stages, x) for x in _as_numbers(value)) if y is not None]
        result = _aggregate(aggregate, kept)
    else:
        result = _as_number(value)
    for step in after:
        result = step.apply(result)
    return result


def _trace(shape: str, stages: Sequence[Stage], aggregate: str | None, after: Sequence[Arith],
           value: int | list[int]) -> str:
    """The example pushed through every step, as the teacher writes it in its check."""
    parts = []
    if shape == LIST:
        current = list(_as_numbers(value))
        parts.append(" ".join(map(str, current)) or "(none)")
        for stage in stages:
            current = [y for y in (stage.apply(x) for x in current) if y is not None]
            parts.append(" ".join(map(str, current)) or "(none)")
        result = _aggregate(aggregate, current)
    else:
        result = _as_number(value)
    parts.append(str(result))
    for step in after:
        result = step.apply(result)
        parts.append(str(result))
    return " -> ".join(parts)
