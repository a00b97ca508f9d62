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

This module draws problems (:func:`make_problem`), keeps the held-out split and holds the source
and the evaluator; a problem's levels, steps and computation are in
:mod:`redstar_code.synthetic_problem`, its text in :mod:`redstar_code.synthetic_text`, and every
name of theirs is importable from here as before.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable
from typing import TypedDict

from redstar.records import Prompt
from redstar.synthetic import (
    SyntheticHeldout,
    SyntheticSource,
    check_levels,
    draw_distinct,
    heldout_draws,
    spread_draws,
)
from redstar_code.synthetic_problem import (
    ALL_LEVELS,
    CALL,
    CODE_LEVELS,
    LIST,
    SCALAR,
    STDIN,
    Arith,
    BranchStage,
    CodeLevel,
    CodeProblem,
    FilterStage,
    MapStage,
    Stage,
    Test,
    _as_number,
    _as_numbers,
    _compute,
    _trace,
    extract_code,
)
from redstar_code.synthetic_text import (
    ORDINALS,
    _compact_program,
    _explicit_program,
    _long_cot,
    _question,
    _statement,
)

__all__ = ["ALL_LEVELS", "CALL", "CODE_LEVELS", "HELDOUT_BUCKETS", "LABEL", "LIST", "LIST_FUNCTIONS",
           "MIN_DISTINCT_OUTPUTS", "ORDINALS", "SCALAR", "SCALAR_FUNCTIONS", "STDIN", "TESTS_PER_PROBLEM", "Arith",
           "BranchStage", "CallTests", "CodeLevel", "CodeProblem", "FilterStage", "MapStage", "Stage", "StdinTests",
           "SyntheticCodeEvaluator", "SyntheticCodeSource", "Test", "extract_code", "generate_code_problems",
           "generate_heldout_code_problems", "is_heldout", "make_problem", "to_prompt"]

#: Starts every error message about these problems or their options.
LABEL = "synthetic code"

HELDOUT_BUCKETS = 8
TESTS_PER_PROBLEM = 5
#: A problem whose tests have fewer distinct expected outputs than this is redrawn: a filter that
#: drops every number makes all outputs 0, and then a program printing 0 would pass.
MIN_DISTINCT_OUTPUTS = 3

class StdinTests(TypedDict):
    """TACO's tests of a standard-input problem: each test's whole stdin and expected stdout."""

    inputs: list[str]
    outputs: list[str]


class CallTests(TypedDict):
    """TACO's tests of a call-based problem: the function's name, each test's argument list and
    its expected return value."""

    fn_name: str
    inputs: list[list[int | list[int]]]
    outputs: list[int]


SCALAR_FUNCTIONS = ("calc", "transform", "compute")
LIST_FUNCTIONS = ("solve", "process", "total_of")


def _draw_arith(rng: random.Random) -> Arith:
    op = rng.choice("+-*")
    return Arith(op, rng.randint(2, 5) if op == "*" else rng.randint(1, 9))


def _draw_test(rng: random.Random) -> Test:
    kind = rng.choice(("even", "odd", ">", "<"))
    return Test(kind, rng.randint(2, 15) if kind in "<>" else 0)


def _draw_stage(rng: random.Random, kind: str) -> Stage:
    if kind == "map":
        return MapStage(then=_draw_arith(rng))
    if kind == "branch":
        then, otherwise = _draw_arith(rng), _draw_arith(rng)
        while otherwise == then:
            otherwise = _draw_arith(rng)
        return BranchStage(test=_draw_test(rng), then=then, otherwise=otherwise)
    return FilterStage(test=_draw_test(rng))


def _draw_input(rng: random.Random, shape: str, length: int | None = None) -> int | list[int]:
    if shape == SCALAR:
        return rng.randint(0, 20)
    return [rng.randint(0, 20) for _ in range(length or rng.randint(2, 6))]


def _stdin(shape: str, value: int | list[int]) -> str:
    """A test's whole standard input: the number, or the count of numbers then the numbers."""
    if shape == SCALAR:
        return f"{_as_number(value)}\n"
    numbers = _as_numbers(value)
    return f"{len(numbers)}\n{' '.join(map(str, numbers))}\n"


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
    tests: StdinTests | CallTests
    if fn_name is None:  # standard input
        tests = {"inputs": [_stdin(spec.shape, v) for v in inputs], "outputs": [f"{o}\n" for o in outputs]}
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


def generate_heldout_code_problems(count_per_level: int, seed: int = 0, levels: Iterable[int] = ALL_LEVELS,
                                   split: str = "test") -> list[CodeProblem]:
    """``count_per_level`` distinct held-out problems per level, from a separate seed space and
    only from the held-out bucket; ``split="validation"`` draws them from the validation split's
    own seed space."""
    problems: list[CodeProblem] = []
    for level in check_levels(LABEL, levels, CODE_LEVELS):
        problems += draw_distinct(LABEL, heldout_draws("synthetic-code", seed, level, split), count_per_level,
                                  make_problem,
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

    A level (1 to 10) is the program's size (see :data:`CODE_LEVELS`). The prompt's
    ``reference`` is the TACO ``input_output`` JSON string; ``metadata`` has ``level``, ``group``
    and, for call-based problems, ``fn_name``. The options (``count``, ``seed``, ``min_level``,
    ``max_level``) are described on :class:`redstar.synthetic.SyntheticSource`.
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
    and the embedded models' training data whatever the seeds (see the module docstring). The
    options are described on :class:`redstar.synthetic.SyntheticHeldout`."""

    name = "synthetic-code-heldout"
    domain = "code"
    label = LABEL
    levels_known = CODE_LEVELS

    def problems(self) -> list[CodeProblem]:
        return generate_heldout_code_problems(self.count, self.seed, self.levels, self.split)

    def to_prompt(self, problem: CodeProblem) -> Prompt:
        return to_prompt(problem, self.name)
