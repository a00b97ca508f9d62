"""Synthetic programming problems with TACO-format tests and measurable levels.

This is the code half of RedStar's embedded default: the prompts ``redstar run --plugins code``
samples with no recipe, the held-out benchmark it evaluates on, and the text the tiny embedded
teacher and student models (``tools/build_tiny_models.py``) were trained on.

A problem describes a small computation step by step, on one integer ("Take an integer n. First,
add 7 to it. Second, multiply it by 3.") or on a list ("First, multiply each number by 2. Second,
keep only the numbers greater than 5. Third, add them up. ..."), and asks for it either as a program that reads standard
input and prints, or as a named function (TACO's two kinds). Its tests are TACO's
``input_output`` JSON string:

- standard input: ``{"inputs": ["5\\n", ...], "outputs": ["36\\n", ...]}`` (whole stdin and
  expected stdout per test);
- call-based: ``{"fn_name": "calc", "inputs": [[5], ...], "outputs": [36, ...]}`` (each input is
  the list of arguments, each output the return value).

What a level means (see :data:`CODE_LEVELS`): the size of the program, counted as arithmetic
operations + aggregations + ``if`` statements + loops, equals the level. Levels 1-2 are
straight-line arithmetic on one integer; from level 3 a loop over a list, then filters
(``if``), if/else rewrites and operations on the total are added.

Each problem carries two solutions, the two styles of the embedded models:

- ``long_cot`` (the teacher): inside ``<think>...</think>`` the plan, one line per step, then a
  check that runs the example through every step ("Wait, let me check the example: ..."), then
  the program written out step by step (one commented statement per step, an explicit loop) in a
  fenced ``python`` block;
- ``short_answer`` (the student base): the program alone, compressed into nested expressions and
  list comprehensions, with no reasoning.

Held-out problems are disjoint from training problems for every seed: a problem's computation
(its steps and constants, ignoring the I/O kind, the function name and the example) is hashed, and
one bucket of :data:`HELDOUT_BUCKETS` is held out; the training-side generator never emits it and
the held-out generator emits only it, from a separate seed space.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from redstar.records import Prompt
from redstar.synthetic import (
    SyntheticHeldout,
    SyntheticSource,
    check_levels,
    draw_distinct,
    heldout_draws,
    spread_draws,
)

#: Starts every error message about these problems or their options.
LABEL = "synthetic code"

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

HELDOUT_BUCKETS = 8
TESTS_PER_PROBLEM = 5
#: A problem whose tests have fewer distinct expected outputs than this is redrawn: a filter that
#: drops every number makes all outputs 0, and then a program printing 0 would pass.
MIN_DISTINCT_OUTPUTS = 3

SCALAR_FUNCTIONS = ("calc", "transform", "compute")
#: Steps are numbered by ordinal words in the statement, the plan and the program's comments:
#: natural, and a unique token by which a small model finds the step it is working on.
ORDINALS = ("First", "Second", "Third", "Fourth", "Fifth", "Sixth", "Seventh", "Eighth", "Ninth", "Tenth")
LIST_FUNCTIONS = ("solve", "process", "total_of")


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


@dataclass(frozen=True)
class Stage:
    """One per-element stage: ``map`` (``then``), ``branch`` (``then`` if ``test`` else
    ``otherwise``) or ``filter`` (keep when ``test``)."""

    kind: str
    test: Test | None = None
    then: Arith | None = None
    otherwise: Arith | None = None

    def apply(self, value: int) -> int | None:
        """The new value, or None when a filter drops it."""
        if self.kind == "map":
            return self.then.apply(value)
        if self.kind == "branch":
            return self.then.apply(value) if self.test.holds(value) else self.otherwise.apply(value)
        return value if self.test.holds(value) else None

    @property
    def size(self) -> int:
        """Operations + if statements this stage adds to the program."""
        return {"map": 1, "branch": 3, "filter": 1}[self.kind]

    def words(self) -> str:
        if self.kind == "map":
            return self.then.words("each number")
        if self.kind == "branch":
            return f"for each number, if {self.test.words()}, {self.then.words('it')}, otherwise {self.otherwise.words('it')}"
        if self.test.kind in ("even", "odd"):
            return f"keep only the {self.test.kind} numbers"
        return f"keep only the numbers {'greater' if self.test.kind == '>' else 'less'} than {self.test.t}"


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


def _compute(shape: str, stages: Sequence[Stage], aggregate: str | None, after: Sequence[Arith],
             value: int | list[int]) -> int:
    if shape == LIST:
        kept = []
        for x in value:
            for stage in stages:
                x = stage.apply(x)
                if x is None:
                    break
            if x is not None:
                kept.append(x)
        value = sum(kept) if aggregate == "sum" else len(kept)
    for step in after:
        value = step.apply(value)
    return value


def _trace(shape: str, stages: Sequence[Stage], aggregate: str | None, after: Sequence[Arith],
           value: int | list[int]) -> str:
    """The example pushed through every step, as the teacher writes it in its check."""
    parts = []
    if shape == LIST:
        current: list[int] = list(value)
        parts.append(" ".join(map(str, current)) or "(none)")
        for stage in stages:
            current = [y for y in (stage.apply(x) for x in current) if y is not None]
            parts.append(" ".join(map(str, current)) or "(none)")
        value = sum(current) if aggregate == "sum" else len(current)
        parts.append(str(value))
    else:
        parts.append(str(value))
    for step in after:
        value = step.apply(value)
        parts.append(str(value))
    return " -> ".join(parts)


def _draw_arith(rng: random.Random) -> Arith:
    op = rng.choice("+-*")
    return Arith(op, rng.randint(2, 5) if op == "*" else rng.randint(1, 9))


def _draw_test(rng: random.Random) -> Test:
    kind = rng.choice(("even", "odd", ">", "<"))
    return Test(kind, rng.randint(2, 15) if kind in "<>" else 0)


def _draw_stage(rng: random.Random, kind: str) -> Stage:
    if kind == "map":
        return Stage("map", then=_draw_arith(rng))
    if kind == "branch":
        then, otherwise = _draw_arith(rng), _draw_arith(rng)
        while otherwise == then:
            otherwise = _draw_arith(rng)
        return Stage("branch", test=_draw_test(rng), then=then, otherwise=otherwise)
    return Stage("filter", test=_draw_test(rng))


def _statement(shape: str, stages: Sequence[Stage], aggregate: str | None, after: Sequence[Arith]) -> list[str]:
    """The steps in words, one clause per step."""
    if shape == SCALAR:
        return [step.words("it") for step in after]
    steps = [stage.words() for stage in stages]
    steps.append("add them up" if aggregate == "sum" else "count them")
    steps.extend(step.words("the total") for step in after)
    return steps


def _numbered(steps: list[str]) -> str:
    """ "First, add 7 to it. Second, multiply it by 3." """
    return " ".join(f"{ordinal}, {step}." for ordinal, step in zip(ORDINALS, steps))


def _question(shape: str, io: str, fn_name: str | None, steps: list[str], example: int | list[int],
              expected: int) -> str:
    what = f"Take {'an integer n' if shape == SCALAR else 'a list of integers'}. {_numbered(steps)}"
    if io == STDIN:
        if shape == SCALAR:
            how = "Read n from standard input and print the result."
            example_text = f"Example input:\n{example}\nExample output:\n{expected}"
        else:
            how = ("The input has the count of numbers on the first line and the numbers on the second line. "
                   "Print the result.")
            example_text = f"Example input:\n{len(example)}\n{' '.join(map(str, example))}\nExample output:\n{expected}"
    else:
        arg = "n" if shape == SCALAR else "nums"
        how = f"Write a function {fn_name}({arg}) that returns the result."
        example_text = f"Example: {fn_name}({example!r}) returns {expected}."
    return f"{what}\n{how}\n{example_text}"


def _explicit_program(shape: str, io: str, fn_name: str | None, stages: Sequence[Stage], aggregate: str | None,
                      after: Sequence[Arith]) -> str:
    """The teacher's program: one statement per step, each under a comment naming its step
    ("# Second"), and an explicit loop."""
    lines: list[str] = []
    ordinals = iter(ORDINALS)
    pad = "    " if io == CALL else ""
    if shape == SCALAR:
        lines.append(f"def {fn_name}(n):" if io == CALL else "n = int(input())")
        for step in after:
            lines += [f"{pad}# {next(ordinals)}", f"{pad}n = {step.expr('n')}"]
        lines.append(f"{pad}return n" if io == CALL else "print(n)")
        return "\n".join(lines) + "\n"
    if io == CALL:
        lines.append(f"def {fn_name}(nums):")
    else:
        lines.append("k = int(input())")
        lines.append("nums = list(map(int, input().split()))")
    lines.append(f"{pad}total = 0")
    lines.append(f"{pad}for x in nums:")
    indent = pad + "    "
    for stage in stages:
        lines.append(f"{indent}# {next(ordinals)}")
        if stage.kind == "map":
            lines.append(f"{indent}x = {stage.then.expr('x')}")
        elif stage.kind == "branch":
            lines.append(f"{indent}if {stage.test.expr('x')}:")
            lines.append(f"{indent}    x = {stage.then.expr('x')}")
            lines.append(f"{indent}else:")
            lines.append(f"{indent}    x = {stage.otherwise.expr('x')}")
        else:
            lines.append(f"{indent}if {stage.test.expr('x')}:")
            indent += "    "
    lines.append(f"{indent}# {next(ordinals)}")
    lines.append(f"{indent}total = total + {'x' if aggregate == 'sum' else '1'}")
    for step in after:
        lines += [f"{pad}# {next(ordinals)}", f"{pad}total = {step.expr('total')}"]
    lines.append(f"{pad}return total" if io == CALL else "print(total)")
    return "\n".join(lines) + "\n"


def _nested(expr: str, steps: Sequence[Arith]) -> str:
    for step in steps:
        expr = step.expr(f"({expr})" if " " in expr else expr)
    return expr


def _compact_program(shape: str, io: str, fn_name: str | None, stages: Sequence[Stage], aggregate: str | None,
                     after: Sequence[Arith]) -> str:
    """The student base's program: the steps compressed into nested expressions."""
    if shape == SCALAR:
        if io == CALL:
            return f"def {fn_name}(n):\n    return {_nested('n', after)}\n"
        return f"print({_nested('int(input())', after)})\n"
    lines = [] if io == CALL else ["input()", "nums = list(map(int, input().split()))"]
    for stage in stages:
        if stage.kind == "map":
            lines.append(f"nums = [{stage.then.expr('x')} for x in nums]")
        elif stage.kind == "branch":
            lines.append(f"nums = [{stage.then.expr('x')} if {stage.test.expr('x')} else {stage.otherwise.expr('x')} "
                         "for x in nums]")
        else:
            lines.append(f"nums = [x for x in nums if {stage.test.expr('x')}]")
    result = _nested("sum(nums)" if aggregate == "sum" else "len(nums)", after)
    if io == CALL:
        return f"def {fn_name}(nums):\n" + "".join(f"    {line}\n" for line in lines) + f"    return {result}\n"
    return "\n".join(lines) + f"\nprint({result})\n"


def _long_cot(shape: str, steps: list[str], trace: str, expected: int, program: str) -> str:
    intro = ("The input is one integer; I apply the steps in order." if shape == SCALAR else
             "The input is a list of numbers; I can do every step in one loop with a running total.")
    plan = "\n".join(f"{ordinal}, {step}." for ordinal, step in zip(ORDINALS, steps))
    check = f"Wait, let me check the example: {trace}. It gives {expected}, as expected."
    return f"<think>\n{intro}\n{plan}\n{check}\n</think>\n\n```python\n{program}```"


def _draw_input(rng: random.Random, shape: str, length: int | None = None) -> int | list[int]:
    if shape == SCALAR:
        return rng.randint(0, 20)
    return [rng.randint(0, 20) for _ in range(length or rng.randint(2, 6))]


def make_problem(rng: random.Random, level: int) -> CodeProblem:
    """Draw one problem of ``level`` from ``rng``."""
    spec = CODE_LEVELS[level]
    stages = tuple(_draw_stage(rng, kind) for kind in spec.stages)
    after = tuple(_draw_arith(rng) for _ in range(spec.after))
    aggregate = rng.choice(("sum", "sum", "count")) if spec.shape == LIST else None
    io = rng.choice((STDIN, CALL))
    fn_name = rng.choice(SCALAR_FUNCTIONS if spec.shape == SCALAR else LIST_FUNCTIONS) if io == CALL else None
    example = _draw_input(rng, spec.shape, length=3)
    inputs = [example] + [_draw_input(rng, spec.shape) for _ in range(TESTS_PER_PROBLEM - 1)]
    outputs = [_compute(spec.shape, stages, aggregate, after, value) for value in inputs]
    if io == STDIN:
        def stdin(value: int | list[int]) -> str:
            return f"{value}\n" if spec.shape == SCALAR else f"{len(value)}\n{' '.join(map(str, value))}\n"

        tests = {"inputs": [stdin(v) for v in inputs], "outputs": [f"{o}\n" for o in outputs]}
    else:
        tests = {"fn_name": fn_name, "inputs": [[v] for v in inputs], "outputs": outputs}
    steps = _statement(spec.shape, stages, aggregate, after)
    program = _explicit_program(spec.shape, io, fn_name, stages, aggregate, after)
    trace = _trace(spec.shape, stages, aggregate, after, example)
    return CodeProblem(
        question=_question(spec.shape, io, fn_name, steps, example, outputs[0]),
        input_output=json.dumps(tests),
        fn_name=fn_name,
        level=level,
        shape=spec.shape,
        io=io,
        stages=stages,
        aggregate=aggregate,
        after=after,
        long_cot=_long_cot(spec.shape, steps, trace, outputs[0], program),
        short_answer="```python\n" + _compact_program(spec.shape, io, fn_name, stages, aggregate, after) + "```",
    )


def is_heldout(computation: str) -> bool:
    """Whether a computation (:attr:`CodeProblem.computation`) belongs to the held-out set;
    independent of any seed."""
    digest = hashlib.sha256(f"redstar-synthetic-code:{computation}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % HELDOUT_BUCKETS == 0


def _telling(problem: CodeProblem) -> bool:
    return problem.distinct_outputs >= MIN_DISTINCT_OUTPUTS


def generate_code_problems(count: int, seed: int = 0, levels: Iterable[int] = ALL_LEVELS) -> list[CodeProblem]:
    """``count`` distinct training-side problems cycling through ``levels``; deterministic for a
    seed, problem ``i`` depends only on the seed and ``i``; never a held-out computation."""
    levels = check_levels(LABEL, levels, CODE_LEVELS)
    return draw_distinct(LABEL, spread_draws("synthetic-code", seed, levels), count, make_problem,
                         lambda problem: not is_heldout(problem.computation) and _telling(problem),
                         what="problem with telling tests")


def generate_heldout_code_problems(count_per_level: int, seed: int = 0,
                                   levels: Iterable[int] = ALL_LEVELS) -> list[CodeProblem]:
    """``count_per_level`` distinct held-out problems per level, from a separate seed space and
    only from the held-out bucket."""
    problems: list[CodeProblem] = []
    for level in check_levels(LABEL, levels, CODE_LEVELS):
        problems += draw_distinct(LABEL, heldout_draws("synthetic-code", seed, level), count_per_level, make_problem,
                                  lambda problem: is_heldout(problem.computation) and _telling(problem),
                                  what="problem with telling tests")
    return problems


def to_prompt(problem: CodeProblem, source: str) -> Prompt:
    metadata = {"level": problem.level, "group": f"level {problem.level}"}
    if problem.fn_name is not None:
        metadata["fn_name"] = problem.fn_name
    return Prompt(domain="code", source=source, question=problem.question, reference=problem.input_output,
                  difficulty=float(problem.level), metadata=metadata)


class SyntheticCodeSource(SyntheticSource):
    """Generated programming problems with TACO-format tests (no download).

    Options: ``count`` problems in all, spread evenly over levels ``min_level`` to ``max_level``
    (1-10, the program size, see :data:`CODE_LEVELS`); ``seed`` makes the set reproducible. The
    prompt's ``reference`` is the TACO ``input_output`` JSON string; ``metadata`` has ``level``,
    ``group`` and, for call-based problems, ``fn_name``.
    """

    name = "synthetic-code"
    domain = "code"
    label = LABEL
    levels_known = CODE_LEVELS

    def problems(self) -> list[CodeProblem]:
        return generate_code_problems(self.count, self.seed, self.levels)

    def to_prompt(self, problem: CodeProblem) -> Prompt:
        return to_prompt(problem, self.name)


class SyntheticCodeEvaluator(SyntheticHeldout):
    """A held-out benchmark of synthetic programming problems: ``count`` problems per level for
    each of ``levels`` (default 1-10), grouped by level. Disjoint from :class:`SyntheticCodeSource`
    and the embedded models' training data whatever the seeds (see the module docstring).

    ``path``: a JSON Lines file of prompt rows to evaluate instead of generating (a set saved earlier).
    ``limit``: only the first N problems (``redstar eval`` passes both to every evaluator)."""

    name = "synthetic-code-heldout"
    domain = "code"
    label = LABEL
    levels_known = CODE_LEVELS

    def problems(self) -> list[CodeProblem]:
        return generate_heldout_code_problems(self.count, self.seed, self.levels)

    def to_prompt(self, problem: CodeProblem) -> Prompt:
        return to_prompt(problem, self.name)
