"""What every generated (synthetic) domain shares: its options, how levels are spread over the
problems, how distinct problems are drawn, and the held-out benchmark's options.

A synthetic domain (``redstar_math.synthetic``, ``redstar_code.synthetic``) writes only what is
its own: the levels (a mapping level -> shape), ``make_problem(rng, level)``, whether a problem
is held out, and how a problem becomes a :class:`~redstar.records.Prompt`. It subclasses
:class:`SyntheticSource` and :class:`SyntheticHeldout` for the recipe-facing classes.

The seeding scheme is part of the data's identity: the tiny embedded models were trained on, and
measured against, problems drawn exactly this way. Changing a seed string or the order of draws
changes every generated prompt.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, Protocol, TypeVar

from redstar.errors import RedStarError
from redstar.interfaces import Evaluator, Source
from redstar.records import Prompt

#: Give up on a problem after this many rejected draws (duplicates, the other split, a
#: domain's own rejects); only a request for more distinct problems than a level has gets there.
MAX_DRAWS = 200

#: (the Random to draw one problem from, its level)
Draw = tuple[random.Random, int]


class Problem(Protocol):
    # Read-only, so frozen dataclasses (redstar-code's CodeProblem) are problems too.
    @property
    def question(self) -> str: ...


P = TypeVar("P", bound=Problem)


def positive(label: str, name: str, value: Any) -> int:
    """``value`` if it is an integer of at least 1 (a bool is not), else an error naming the option."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise RedStarError(f"{label}: option {name!r} must be a positive integer, got {value!r}")
    return value


def check_levels(label: str, levels: Iterable[Any], known: Mapping[int, Any]) -> tuple[int, ...]:
    """``levels`` as a tuple, each a key of ``known`` (True is not level 1)."""
    levels = tuple(levels)
    if not levels:
        raise RedStarError(f"{label}: 'levels' is empty")
    for level in levels:
        if isinstance(level, bool) or level not in known:
            raise RedStarError(f"{label}: unknown level {level!r} (levels are the integers {min(known)} to {max(known)})")
    return levels


def level_range(label: str, min_level: Any, max_level: Any, known: Mapping[int, Any]) -> tuple[int, ...]:
    """The levels ``min_level`` to ``max_level``, both included, each a key of ``known``."""
    low, high = min(known), max(known)
    if (isinstance(min_level, bool) or isinstance(max_level, bool) or min_level not in known
            or max_level not in known or min_level > max_level):
        raise RedStarError(
            f"{label}: levels must satisfy {low} <= min_level <= max_level <= {high}, "
            f"got min_level={min_level!r}, max_level={max_level!r}"
        )
    return tuple(range(min_level, max_level + 1))


def spread_draws(prefix: str, seed: int, levels: Sequence[int]) -> Iterator[Draw]:
    """The training side's draws: problem ``i`` comes from ``Random(f"{prefix}:{seed}:{i}")`` at
    level ``levels[i % len(levels)]``, so each level gets an equal share and a longer list starts
    with the shorter one."""
    i = 0
    while True:
        yield random.Random(f"{prefix}:{seed}:{i}"), levels[i % len(levels)]
        i += 1


#: The held-out benchmarks' splits: ``test`` (the held-out set every report scores) and
#: ``validation`` (for choosing hyper-parameters, ``redstar sweep``'s ``select``).
SPLITS = ("test", "validation")


def heldout_draws(prefix: str, seed: int, level: int, split: str = "test") -> Iterator[Draw]:
    """The held-out side's draws for one level, from a seed space that the training side never
    uses: ``{prefix}-heldout`` for the test split, ``{prefix}-validation`` for the validation
    split (a problem of both is possible where a level has few distinct problems; a run drops it
    from validation, :mod:`redstar.pipeline.validating`)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    space = f"{prefix}-heldout" if split == "test" else f"{prefix}-{split}"
    return ((random.Random(f"{space}:{seed}:{level}:{i}"), level) for i in range(10**9))


def draw_distinct(label: str, draws: Iterator[Draw], count: int, make: Callable[[random.Random, int], P],
                  accept: Callable[[P], bool], what: str = "problem") -> list[P]:
    """``count`` problems with distinct questions, one per draw: each draw's Random is asked
    for problems until one is new and ``accept``-ed (the right split, say), at most
    :data:`MAX_DRAWS` times. ``what`` names the kind of problem in the error."""
    problems: list[P] = []
    seen: set[str] = set()
    for rng, level in draws:
        if len(problems) == count:
            break
        for _ in range(MAX_DRAWS):
            problem = make(rng, level)
            if problem.question not in seen and accept(problem):
                break
        else:
            raise RedStarError(
                f"{label}: could not draw a new distinct level-{level} {what} in {MAX_DRAWS} tries "
                f"after {len(problems)} problems; ask for fewer"
            )
        seen.add(problem.question)
        problems.append(problem)
    return problems


class _Synthetic(ABC):
    """What the source and the benchmark of a synthetic domain declare."""

    #: Starts every error message, e.g. ``"synthetic math"``.
    label: ClassVar[str]
    #: Level -> shape: the levels that exist.
    levels_known: ClassVar[Mapping[int, Any]]

    @abstractmethod
    def to_prompt(self, problem: Any) -> Prompt:
        """The prompt of one generated problem (its ``source`` is this class's ``name``)."""


class SyntheticSource(_Synthetic, Source):
    """A source of generated problems, spread evenly over a band of levels.

    Args:
        count: How many problems in all, spread evenly over the levels ``min_level`` to
            ``max_level``.
        seed: The seed the problems are drawn with: the same seed gives the same set.
        min_level: The easiest level generated (1 to 10).
        max_level: The hardest level generated (1 to 10).
    """

    def __init__(self, count: int = 200, seed: int = 0, min_level: int = 1, max_level: int = 10) -> None:
        self.count = positive(self.label, "count", count)
        self.seed = seed
        self.levels = level_range(self.label, min_level, max_level, self.levels_known)

    @abstractmethod
    def problems(self) -> Sequence[Any]:
        """``self.count`` training-side problems of ``self.levels`` for ``self.seed``."""

    def load(self) -> Iterator[Prompt]:
        for problem in self.problems():
            yield self.to_prompt(problem)


class SyntheticHeldout(_Synthetic, Evaluator):
    """A held-out benchmark of generated problems: ``count`` problems per level for each of
    ``levels``, drawn for ``seed``, none of whose computations the training side (the source, the
    embedded models' training data) can produce, whatever the seeds.

    Args:
        count: How many problems per level. How many a comparison needs to see a given
            difference is worked out in docs/recipes.md (sizing the held-out sets).
        seed: The seed the problems are drawn with: the same seed gives the same set.
        levels: The levels generated (null: every level the generator knows).
        split: ``test`` (the held-out set that reports score) or ``validation`` (a set drawn from
            its own seed space, for choosing hyper-parameters: a recipe's
            ``evaluation.validation``); a run drops any validation question that is also in its
            test sets.
        path: A JSON Lines file of prompt rows to evaluate instead of generating (a set saved
            earlier).
        limit: Evaluate only the first this many problems (``redstar eval`` passes ``path`` and
            ``limit`` to every evaluator).
    """

    def __init__(self, count: int = 10, seed: int = 0, levels: list[int] | None = None,
                 path: str | None = None, limit: int | None = None, split: str = "test") -> None:
        self.count = positive(self.label, "count", count)
        self.seed = seed
        self.levels = check_levels(self.label, self.levels_known if levels is None else levels, self.levels_known)
        self.path = path
        self.limit = None if limit is None else positive(self.label, "limit", limit)
        if split not in SPLITS:
            raise RedStarError(f"{self.label}: option 'split' must be one of {', '.join(SPLITS)}, got {split!r}")
        self.split = split

    @abstractmethod
    def problems(self) -> Sequence[Any]:
        """``self.count`` held-out problems per level of ``self.levels`` for ``self.seed``, from
        ``self.split``."""

    def load(self) -> list[Prompt]:
        if self.path is not None:
            from redstar.tables import parse_records

            prompts = parse_records(self.path, Prompt.from_dict)
        else:
            prompts = [self.to_prompt(p) for p in self.problems()]
        return prompts if self.limit is None else prompts[: self.limit]
