"""The option handling and draw loops every synthetic domain shares (redstar.synthetic), on a
toy domain: sums of two dice, the level being the number of faces."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

import pytest

from redstar.errors import RedStarError
from redstar.plugins import instantiate
from redstar.records import Prompt
from redstar.synthetic import (
    MAX_DRAWS,
    SyntheticHeldout,
    SyntheticSource,
    check_levels,
    draw_distinct,
    heldout_draws,
    level_range,
    positive,
    spread_draws,
)

LEVELS = {2: "two faces", 3: "three", 4: "four"}


@dataclass(frozen=True)
class Roll:
    question: str
    level: int


def make_roll(rng, level):
    a, b = rng.randint(1, level), rng.randint(1, level)
    return Roll(f"{a} + {b} on {level}-sided dice?", level)


def dice(seed, levels, count, heldout=False):
    draws = heldout_draws("dice", seed, levels[0]) if heldout else spread_draws("dice", seed, levels)
    return draw_distinct("dice", draws, count, make_roll, lambda roll: True)


class DiceSource(SyntheticSource):
    name, domain, label, levels_known = "dice", "dice", "synthetic dice", LEVELS

    def problems(self):
        return dice(self.seed, self.levels, self.count)

    def to_prompt(self, roll):
        return Prompt(domain="dice", source=self.name, question=roll.question, reference="?", difficulty=roll.level)


class DiceHeldout(SyntheticHeldout):
    name, domain, label, levels_known = "dice-heldout", "dice", "synthetic dice", LEVELS

    def problems(self):
        return [roll for level in self.levels for roll in dice(self.seed, [level], self.count, heldout=True)]

    def to_prompt(self, roll):
        return Prompt(domain="dice", source=self.name, question=roll.question, reference="?", difficulty=roll.level)


@pytest.mark.parametrize("value", [0, -2, 1.0, True, "3"])
def test_positive_rejects_what_is_not_a_positive_integer(value):
    with pytest.raises(RedStarError, match=f"synthetic dice: option 'count' must be a positive integer, got {value!r}"):
        positive("synthetic dice", "count", value)
    assert positive("synthetic dice", "count", 3) == 3


def test_levels_must_exist_and_a_bool_is_not_level_1():
    assert check_levels("d", [4, 2], LEVELS) == (4, 2)
    with pytest.raises(RedStarError, match=r"d: unknown level 5 \(levels are the integers 2 to 4\)"):
        check_levels("d", [2, 5], LEVELS)
    with pytest.raises(RedStarError, match="unknown level True"):
        check_levels("d", [True], {1: "", 2: ""})
    with pytest.raises(RedStarError, match="'levels' is empty"):
        check_levels("d", [], LEVELS)


def test_a_level_range_is_checked_against_the_levels_that_exist():
    assert level_range("d", 2, 3, LEVELS) == (2, 3)
    for low, high in ((1, 3), (3, 5), (4, 3), (True, 3)):
        with pytest.raises(RedStarError, match=f"d: levels must satisfy 2 <= min_level <= max_level <= 4, "
                                               f"got min_level={low!r}, max_level={high!r}"):
            level_range("d", low, high, LEVELS)


def test_levels_are_spread_in_turn_and_a_longer_set_starts_with_the_shorter():
    rolls = dice(0, (2, 3, 4), 7)
    assert [r.level for r in rolls] == [2, 3, 4, 2, 3, 4, 2]
    assert dice(0, (2, 3, 4), 4) == rolls[:4]
    assert len({r.question for r in rolls}) == 7
    assert dice(1, (2, 3, 4), 7) != rolls


def test_the_seed_strings_are_fixed():
    # They are the data's identity: the tiny models were trained and measured on problems drawn
    # from exactly these seeds.
    (rng, level), = [next(spread_draws("dice", 7, (2, 3)))]
    assert (rng.random(), level) == (random.Random("dice:7:0").random(), 2)
    draws = heldout_draws("dice", 7, 3)
    next(draws)
    rng, level = next(draws)
    assert (rng.random(), level) == (random.Random("dice-heldout:7:3:1").random(), 3)
    rng, level = next(heldout_draws("dice", 7, 3, "validation"))
    assert (rng.random(), level) == (random.Random("dice-validation:7:3:0").random(), 3)
    with pytest.raises(ValueError, match="split must be one of test, validation"):
        heldout_draws("dice", 7, 3, "dev")


def test_a_level_too_small_for_the_count_asked_is_a_clear_error():
    # level 2 has four distinct rolls: the fifth cannot be drawn
    with pytest.raises(RedStarError, match=f"dice: could not draw a new distinct level-2 problem in {MAX_DRAWS} "
                                           "tries after 4 problems; ask for fewer"):
        dice(0, (2,), 5)


def test_the_source_takes_the_shared_options():
    source = instantiate(DiceSource, {"count": 5, "seed": 2, "min_level": 3, "max_level": 4})
    prompts = list(source.load())
    assert [p.difficulty for p in prompts] == [3, 4, 3, 4, 3]
    with pytest.raises(RedStarError, match="synthetic dice: levels must satisfy"):
        DiceSource(min_level=1)


def test_the_heldout_benchmark_takes_count_per_level_limit_and_path(tmp_path):
    full = instantiate(DiceHeldout, {"count": 2, "levels": [3, 4]}).load()
    assert [p.difficulty for p in full] == [3, 3, 4, 4]
    assert instantiate(DiceHeldout, {"count": 2, "levels": [3, 4], "limit": 3}).load() == full[:3]
    with pytest.raises(RedStarError, match="option 'limit' must be a positive integer"):
        DiceHeldout(limit=0)
    saved = tmp_path / "heldout.jsonl"
    saved.write_text("".join(json.dumps(p.to_dict()) + "\n" for p in full[1:]))
    assert instantiate(DiceHeldout, {"path": str(saved), "limit": 2}).load() == full[1:3]
