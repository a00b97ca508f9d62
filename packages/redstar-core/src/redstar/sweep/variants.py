"""The sweep's grid, expanded into validated recipes: one :class:`Variant` per combination of the
axes' values and per seed. Every variant's recipe is validated before any run starts; an error
names the line of the sweep file that set the offending key (or of the base recipe file)."""

from __future__ import annotations

import copy
import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redstar.errors import RecipeError
from redstar.recipe import Recipe, default_recipe, key_lines, validate
from redstar.recipe.loading import read_yaml_file
from redstar.sweep.spec import Choice, Level, SweepSpec

_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


@dataclass
class Variant:
    """One run of the sweep: the value it takes on each axis, its seed, its recipe, and the
    sweep-file line of every key it sets (for errors found later, e.g. by a plugin)."""

    slug: str
    levels: tuple[Level, ...]
    seed: int
    recipe: Recipe
    sets: dict[str, tuple[Any, int | None]]
    #: The candidate it is, for a value with ``choose`` (empty otherwise).
    choice: tuple[Choice, ...] = ()

    @property
    def title(self) -> str:
        return ", ".join([level.label for level in self.levels] + [c.label for c in self.choice]
                         + [f"seed {self.seed}"])

    @property
    def choice_label(self) -> str:
        return ", ".join(c.label for c in self.choice)

    @property
    def candidates(self) -> int:
        """How many candidates its row chooses between (1: nothing to choose)."""
        count = 1
        for level in self.levels:
            count *= max(1, len(level.choices))
        return count

    def run_dir(self, out: Path) -> Path:
        return out / "runs" / self.slug


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:48] or "value"


def assign(data: dict[str, Any], key: str, value: Any) -> None:
    """Set dotted ``key`` (``selection.total``, ``rl[0].trainer``) in recipe ``data``, creating
    the mappings on the way; a list index past the end is an error (the base has fewer items)."""
    parts = [(name, None if index is None or index == "" else int(index)) for name, index in _PART.findall(key)]
    target: Any = data
    for i, (name, index) in enumerate(parts):
        last = i == len(parts) - 1
        if name:
            if not isinstance(target, dict):
                raise ValueError(f"{'.'.join(p for p, _ in parts[:i]) or 'the recipe'} is not a mapping")
            if last:
                target[name] = copy.deepcopy(value)
                return
            if not isinstance(target.get(name), (dict, list)):
                target[name] = {}
            target = target[name]
        else:
            if not isinstance(target, list) or index is None or index >= len(target):
                size = len(target) if isinstance(target, list) else 0
                raise ValueError(f"the base recipe has {size} item(s) there, so [{index}] does not exist; "
                                 "set the whole list instead")
            if last:
                target[index] = copy.deepcopy(value)
                return
            target = target[index]


def _base(spec: SweepSpec, host: Any) -> tuple[dict[str, Any], str | None]:
    if spec.base_path is None:
        return default_recipe(host, spec.plugins).to_dict(), None
    data, text = read_yaml_file(spec.base_path)
    if not isinstance(data, dict):
        raise RecipeError(spec.base_path, "<top>", "a recipe is a mapping of sections")
    return data, text


def _located(exc: RecipeError, variant: str, sets: dict[str, tuple[Any, int | None]], spec: SweepSpec) -> RecipeError:
    """``exc`` (an error in a variant's recipe) pointed at the sweep-file line that set its key,
    when the sweep set it (or something above it); else left naming the base recipe."""
    message = str(exc).split(f"{exc.key}: ", 1)[-1]
    for key in sorted(sets, key=len, reverse=True):
        if exc.key == key or exc.key.startswith((key + ".", key + "[")):
            line = sets[key][1]
            return RecipeError(f"{spec.path}:{line}" if line else spec.path, exc.key, f"{message} (variant {variant})")
    return RecipeError(exc.path or spec.path, exc.key, f"{message} (variant {variant})")


def expand(spec: SweepSpec, host: Any) -> list[Variant]:
    """Every variant of ``spec`` (the axes' grid, seeds innermost), each recipe validated."""
    base, base_text = _base(spec, host)
    base_lines = key_lines(base_text) if base_text else {}
    seeds = spec.seeds or [int(base.get("seed", 0)) if isinstance(base.get("seed", 0), int) else 0]
    slugs = [[_slug(level.label) for level in axis.levels] for axis in spec.axes]
    for axis_slugs in slugs:  # two labels that slug alike ("7-9", "7 9") get their position
        for j, slug in enumerate(axis_slugs):
            if axis_slugs.count(slug) > 1:
                axis_slugs[j] = f"{slug}-{j + 1}"
    variants = []
    for combo in itertools.product(*[list(enumerate(axis.levels)) for axis in spec.axes]):
        levels = tuple(level for _, level in combo)
        for choice in itertools.product(*[level.choices for level in levels if level.choices]):
            variants += _seeds(spec, base, base_text, base_lines, seeds, levels, choice,
                               "_".join([slugs[a][j] for a, (j, _) in enumerate(combo)] + [_slug(c.label) for c in choice]))
    return variants


def _seeds(spec: SweepSpec, base: dict[str, Any], base_text: str | None, base_lines: dict[str, int], seeds: list[int],
           levels: tuple[Level, ...], choice: tuple[Choice, ...], name: str) -> list[Variant]:
    """One candidate's variants, one per seed, each recipe validated."""
    variants = []
    for seed in seeds:
        slug = f"{name}_seed-{seed}" if name else f"seed-{seed}"
        sets = dict(spec.sets)
        for level in levels:
            sets.update(level.sets)
        for candidate in choice:
            sets.update(candidate.sets)
        data = copy.deepcopy(base)
        for key, (value, line) in sets.items():
            try:
                assign(data, key, value)
            except ValueError as exc:
                raise RecipeError(f"{spec.path}:{line}" if line else spec.path, key, str(exc)) from None
        data["seed"] = seed
        data["name"] = f"{spec.name}-{slug}"
        try:
            recipe = validate(data, spec.base_path, base_text)
        except RecipeError as exc:
            raise _located(exc, slug, sets, spec) from None
        # Errors found later (a plugin's options, at --check or preflight) name the base file's
        # line; those in keys the sweep set are re-pointed by ``located``.
        recipe._lines = base_lines
        if choice and spec.select is not None and not recipe.evaluation.validation:
            raise RecipeError(spec.where("select"), "select",
                              f"chooses on {spec.select.on}, but variant {slug} has no evaluation.validation sets "
                              "(set them for every variant, e.g. under `set:`)")
        variants.append(Variant(slug=slug, levels=levels, seed=seed, recipe=recipe, sets=sets, choice=choice))
    return variants


def located(exc: RecipeError, variant: Variant, spec: SweepSpec) -> RecipeError:
    """An error a check of ``variant``'s recipe raised, pointed at the sweep file where the sweep
    set the key."""
    return _located(exc, variant.slug, variant.sets, spec)
