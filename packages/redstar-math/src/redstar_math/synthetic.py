"""Synthetic math word problems: chained arithmetic with exact answers and measurable levels.

This is the math half of RedStar's embedded default: the prompts ``redstar run --plugins math``
samples with no recipe, the held-out benchmark it evaluates on, and the text the tiny embedded
teacher and student models (``tools/build_tiny_models.py``) were trained on.

A problem is a starting amount followed by a chain of operations, told as a story::

    Mia has 23 apples. First, she buys 15 more. Second, she gives away 8. Third, she doubles
    them. How many apples does Mia have now?

What a level means (see :data:`MATH_LEVELS`): the number of operations in the chain and the number
of digits of the numbers it states. Level 1 is one operation on one-digit numbers; level 9 is
eight operations on two-digit numbers; level 10 eight operations on three-digit numbers. Every
running total stays a positive integer of at most ``operand_digits + 1`` digits (two digits up to
level 9), so answers are exact and each step is arithmetic a tiny model can learn: what grows
with the level is how many steps must be chained.

Each problem carries two solutions, the two styles of the embedded models:

- ``long_cot``, slow thinking (the teacher): one line per operation ("Second, she gives away 8:
  38 - 8 = 30."), then a check of the last step by its inverse ("Wait, let me verify the last
  step: 30 + 8 = 38. Correct."), inside ``<think>...</think>``, then ``The answer is \\boxed{N}.``
- ``short_answer``, fast thinking (the student base): ``The answer is \\boxed{N}.``

Held-out problems are disjoint from training problems for *every* seed and count, not only the
default ones: each problem's arithmetic (start value and operation chain, ignoring names and
objects) is hashed, and one bucket in :data:`HELDOUT_BUCKETS` belongs to the held-out set. The
training-side generator (:func:`generate_math_problems`, :class:`SyntheticMathSource`) never emits
a problem from that bucket, and the held-out generator (:func:`generate_heldout_math_problems`,
:class:`SyntheticMathEvaluator`) emits only problems from it, drawn from a separate seed space.
So a held-out question is never a renamed copy of a training computation either.
"""

from __future__ import annotations

import hashlib
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
LABEL = "synthetic math"


@dataclass(frozen=True)
class MathLevel:
    """What makes a level hard: ``steps`` operations, each stating a number of
    ``operand_digits`` digits, with every running total in ``[0, max_value]``."""

    steps: int
    operand_digits: int
    max_value: int


#: Level -> shape. Steps never decrease and operand digits never decrease as levels rise, and
#: each level is strictly harder than the one below in at least one of them.
MATH_LEVELS: dict[int, MathLevel] = {
    1: MathLevel(steps=1, operand_digits=1, max_value=99),
    2: MathLevel(steps=2, operand_digits=1, max_value=99),
    3: MathLevel(steps=2, operand_digits=2, max_value=99),
    4: MathLevel(steps=3, operand_digits=2, max_value=99),
    5: MathLevel(steps=4, operand_digits=2, max_value=99),
    6: MathLevel(steps=5, operand_digits=2, max_value=99),
    7: MathLevel(steps=6, operand_digits=2, max_value=99),
    8: MathLevel(steps=7, operand_digits=2, max_value=99),
    9: MathLevel(steps=8, operand_digits=2, max_value=99),
    10: MathLevel(steps=8, operand_digits=3, max_value=999),
}
ALL_LEVELS = tuple(MATH_LEVELS)

#: Problems whose arithmetic hashes to bucket 0 of this many are held out.
HELDOUT_BUCKETS = 8

ADD, SUB, DOUBLE = "+", "-", "*"
INVERSE = {ADD: "-", SUB: "+", DOUBLE: "/"}

PEOPLE = (("Mia", "she"), ("Tom", "he"), ("Ava", "she"), ("Leo", "he"),
          ("Zoe", "she"), ("Sam", "he"), ("Ivy", "she"), ("Max", "he"))
ITEMS = ("apples", "marbles", "stickers", "coins", "shells", "cards", "pencils", "books")
ADD_VERBS = ("buys {n} more", "finds {n} more", "gets {n} more")
SUB_VERBS = ("gives away {n}", "loses {n}", "sells {n}")
DOUBLE_VERB = "doubles them"
#: Each event of a story is introduced by its ordinal ("Second, she gives away 8."), and each line
#: of the worked solution repeats it. Besides reading naturally, this gives a small model a unique
#: token to find the next step by (the step after "Second" is the one after "Third" in the
#: question), instead of having to count sentences.
ORDINALS = ("First", "Second", "Third", "Fourth", "Fifth", "Sixth", "Seventh", "Eighth", "Ninth")

#: How often each operation is drawn when it keeps the total in range.
OP_WEIGHTS = {ADD: 4, SUB: 4, DOUBLE: 2}


@dataclass(frozen=True)
class Operation:
    """One step of the chain: ``op`` is ``+``, ``-`` or ``*`` (doubling, ``operand`` 2);
    ``phrase`` is how the story says it ("gives away 8")."""

    op: str
    operand: int
    phrase: str

    def apply(self, value: int) -> int:
        if self.op == ADD:
            return value + self.operand
        if self.op == SUB:
            return value - self.operand
        return value * self.operand


@dataclass(frozen=True)
class SyntheticMathProblem:
    """A generated problem with its exact ``answer`` (a decimal string) and both solutions."""

    question: str
    answer: str
    level: int
    start: int
    operations: tuple[Operation, ...]
    long_cot: str
    short_answer: str

    @property
    def steps(self) -> int:
        return len(self.operations)

    @property
    def arithmetic(self) -> str:
        """The computation without the story, e.g. ``23+15-8*2`` (applied left to right)."""
        return arithmetic_key(self.start, self.operations)

    @property
    def stated_numbers(self) -> list[int]:
        """Every number the question states (the start and the operands it names)."""
        return [self.start] + [o.operand for o in self.operations if o.op != DOUBLE]


def arithmetic_key(start: int, operations: Iterable[Operation]) -> str:
    return str(start) + "".join(f"{o.op}{o.operand}" for o in operations)


def is_heldout(arithmetic: str) -> bool:
    """Whether a computation (:attr:`SyntheticMathProblem.arithmetic`) belongs to the held-out
    set. Depends only on the arithmetic, never on a seed, so the split holds for every seed."""
    digest = hashlib.sha256(f"redstar-synthetic-math:{arithmetic}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % HELDOUT_BUCKETS == 0


def _operand_range(digits: int) -> tuple[int, int]:
    return (1, 9) if digits == 1 else (10 ** (digits - 1), 10**digits - 1)


def _draw_operation(rng: random.Random, value: int, spec: MathLevel) -> Operation:
    low, high = _operand_range(spec.operand_digits)
    choices = []
    if value + low <= spec.max_value:
        choices.append(ADD)
    if value - low >= 1:
        choices.append(SUB)
    if value >= 2 and value * 2 <= spec.max_value:
        choices.append(DOUBLE)
    op = rng.choices(choices, weights=[OP_WEIGHTS[c] for c in choices])[0]
    if op == ADD:
        n = rng.randint(low, min(high, spec.max_value - value))
        return Operation(ADD, n, rng.choice(ADD_VERBS).format(n=n))
    if op == SUB:
        n = rng.randint(low, min(high, value - 1))
        return Operation(SUB, n, rng.choice(SUB_VERBS).format(n=n))
    return Operation(DOUBLE, 2, DOUBLE_VERB)


def _long_cot(name: str, pronoun: str, items: str, start: int, operations: Sequence[Operation]) -> str:
    lines = [f"{name} starts with {start} {items}."]
    value = start
    for ordinal, operation in zip(ORDINALS, operations):
        result = operation.apply(value)
        lines.append(f"{ordinal}, {pronoun} {operation.phrase}: {value} {operation.op} {operation.operand} = {result}.")
        before, value = value, result
    last = operations[-1]
    lines.append(f"Wait, let me verify the last step: {value} {INVERSE[last.op]} {last.operand} = {before}. Correct.")
    lines.append(f"So {name} has {value} {items}.")
    return "<think>\n" + "\n".join(lines) + f"\n</think>\n\nThe answer is \\boxed{{{value}}}."


def short_answer(answer: str | int) -> str:
    """The fast-thinking style: the answer with no work shown."""
    return f"The answer is \\boxed{{{answer}}}."


def make_problem(rng: random.Random, level: int) -> SyntheticMathProblem:
    """Draw one problem of ``level`` from ``rng``."""
    spec = MATH_LEVELS[level]
    low, high = _operand_range(spec.operand_digits)
    name, pronoun = rng.choice(PEOPLE)
    items = rng.choice(ITEMS)
    start = rng.randint(max(low, 2), high)
    operations: list[Operation] = []
    value = start
    for _ in range(spec.steps):
        operation = _draw_operation(rng, value, spec)
        operations.append(operation)
        value = operation.apply(value)
    sentences = [f"{name} has {start} {items}."]
    sentences += [f"{ordinal}, {pronoun} {operation.phrase}." for ordinal, operation in zip(ORDINALS, operations)]
    sentences.append(f"How many {items} does {name} have now?")
    return SyntheticMathProblem(
        question=" ".join(sentences),
        answer=str(value),
        level=level,
        start=start,
        operations=tuple(operations),
        long_cot=_long_cot(name, pronoun, items, start, operations),
        short_answer=short_answer(value),
    )


def generate_math_problems(count: int, seed: int = 0, levels: Iterable[int] = ALL_LEVELS) -> list[SyntheticMathProblem]:
    """``count`` distinct training-side problems, cycling through ``levels`` in order (so each
    level gets an equal share). Deterministic for a seed; problem ``i`` depends only on the seed
    and ``i``, so a longer list starts with the shorter one. Never emits a held-out problem."""
    levels = check_levels(LABEL, levels, MATH_LEVELS)
    return draw_distinct(LABEL, spread_draws("synthetic-math", seed, levels), count, make_problem,
                         lambda problem: not is_heldout(problem.arithmetic))


def generate_heldout_math_problems(count_per_level: int, seed: int = 0, levels: Iterable[int] = ALL_LEVELS,
                                   split: str = "test") -> list[SyntheticMathProblem]:
    """``count_per_level`` distinct held-out problems for each of ``levels``, drawn from a seed
    space separate from :func:`generate_math_problems` and restricted to the held-out bucket;
    ``split="validation"`` draws them from the validation split's own seed space."""
    problems: list[SyntheticMathProblem] = []
    for level in check_levels(LABEL, levels, MATH_LEVELS):
        problems += draw_distinct(LABEL, heldout_draws("synthetic-math", seed, level, split), count_per_level,
                                  make_problem, lambda problem: is_heldout(problem.arithmetic))
    return problems


def to_prompt(problem: SyntheticMathProblem, source: str) -> Prompt:
    return Prompt(
        domain="math",
        source=source,
        question=problem.question,
        reference=problem.answer,
        difficulty=float(problem.level),
        metadata={"level": problem.level, "group": f"level {problem.level}", "steps": problem.steps},
    )


class SyntheticMathSource(SyntheticSource):
    """Generated chained-arithmetic word problems (no download), for the embedded default and
    for trying a pipeline on a laptop.

    A level (1 to 10) is the number of operations and the digits of the numbers (see
    :data:`MATH_LEVELS`). The gold answer is the prompt's ``reference``, the level its
    ``difficulty`` and ``metadata["level"]``. The options (``count``, ``seed``, ``min_level``,
    ``max_level``) are described on :class:`redstar.synthetic.SyntheticSource`.
    """

    name = "synthetic-math"
    domain = "math"
    label = LABEL
    levels_known = MATH_LEVELS

    def problems(self) -> list[SyntheticMathProblem]:
        return generate_math_problems(self.count, self.seed, self.levels)

    def to_prompt(self, problem: SyntheticMathProblem) -> Prompt:
        return to_prompt(problem, self.name)


class SyntheticMathEvaluator(SyntheticHeldout):
    """A held-out benchmark of synthetic math problems: ``count`` problems per level for each of
    ``levels`` (default 1-10), grouped by level in reports. No problem's arithmetic can appear
    in :class:`SyntheticMathSource` or in the embedded models' training data, whatever the seeds
    (see the module docstring). The options are described on
    :class:`redstar.synthetic.SyntheticHeldout`."""

    name = "synthetic-math-heldout"
    domain = "math"
    label = LABEL
    levels_known = MATH_LEVELS

    def problems(self) -> list[SyntheticMathProblem]:
        return generate_heldout_math_problems(self.count, self.seed, self.levels, self.split)

    def to_prompt(self, problem: SyntheticMathProblem) -> Prompt:
        return to_prompt(problem, self.name)
