"""The sweep file: a base recipe, the recipe keys to vary, and seeds.

.. code-block:: yaml

    name: table1-sft-size          # default: the file's name
    base: default                  # the embedded default, or a recipe path relative to this file
    plugins: [math, code]          # with base: default, whose parts make it up (default: all)
    seeds: [0, 1, 2]               # each variant runs once per seed (default: the base's seed)
    set:                           # applied to every variant
      evaluation.max_new_tokens: 256
    vary:                          # the axes; the variants are their grid (x seeds)
      - selection.total: [40, 80, 160]                 # one key, its values
      - {label: [easy, hard], selection.min_level: [2, 7], selection.max_level: [6, 9]}  # zipped
      - - {label: SFT only, rl: []}                    # or the values one by one
        - {label: + DPO, rl: [{trainer: dpo}]}
    report:
      model: final                 # the model of each run that fills its row: final, or a tag (sft, base, dpo...)

Keys are dotted recipe keys, with ``[i]`` for a list item (``rl[0].trainer``). Every error names
the sweep file, the line and the key, as the recipe loader does (:mod:`redstar.recipe.loading`).

A value of a listed axis may carry candidates to choose between on validation, and the file then
says how to choose::

    vary:
      - - {label: SFT only, rl: []}
        - label: + DPO
          rl: [{trainer: dpo}]
          choose:                  # zipped, like an axis
            rl[0].options.learning_rate: [1.0e-6, 5.0e-6, 2.0e-5]
    select: {on: validation, metric: pass@1}

Each candidate runs up to the validation sets (the recipe's ``evaluation.validation``), the one
with the best mean validation score over the seeds is chosen, and only it is scored on the
held-out sets (:mod:`redstar.sweep.running`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from redstar.errors import RecipeError
from redstar.recipe import Recipe, key_lines
from redstar.recipe.loading import read_yaml_file

TOP_KEYS = ("name", "base", "plugins", "seeds", "set", "vary", "report", "select")
REPORT_KEYS = ("model",)
SELECT_KEYS = ("on", "metric")
#: Where candidates are compared: the recipe's ``evaluation.validation`` sets.
SELECT_ON = ("validation",)
#: What is compared: the row model's pass@1, averaged over the validation sets (each weighs the same).
SELECT_METRICS = ("pass@1",)
#: A dotted recipe key: ``selection.total``, ``rl[0].trainer``, ``selection.domains.math.n``.
_KEY = re.compile(r"^[A-Za-z_][\w-]*(\[\d+\])*(\.[A-Za-z_0-9][\w-]*(\[\d+\])*)*$")
#: Set by the sweep itself, not varied: each variant's name and seed.
_RESERVED = {"name": "each variant is named after the sweep and its values",
             "seed": "list the seeds under `seeds:` instead"}


@dataclass(frozen=True)
class Choice:
    """One candidate of a value's ``choose``: its label and the recipe keys it sets."""

    label: str
    sets: dict[str, tuple[Any, int | None]]


@dataclass(frozen=True)
class Level:
    """One value of an axis: its label, the recipe keys it sets (``key -> (value, line)``) and
    the candidates its ``choose`` lists (none: the value is run as it is)."""

    label: str
    sets: dict[str, tuple[Any, int | None]]
    line: int | None = None
    choices: tuple[Choice, ...] = ()

    def all_keys(self) -> list[str]:
        """Every recipe key this value sets, its candidates' included."""
        return list(dict.fromkeys([*self.sets, *(k for c in self.choices for k in c.sets)]))


@dataclass(frozen=True)
class Select:
    """How candidates are chosen: on which sets, by which score (see :data:`SELECT_ON`,
    :data:`SELECT_METRICS`)."""

    on: str = "validation"
    metric: str = "pass@1"
    line: int | None = None


@dataclass(frozen=True)
class Axis:
    """One ``vary`` entry: its title (the keys it sets) and its values in order; the first is the
    baseline its tables compare the others against."""

    title: str
    levels: tuple[Level, ...]


@dataclass
class SweepSpec:
    path: Path
    name: str
    base: str  # "default" or a path as written
    base_path: Path | None  # the base recipe file, resolved against the sweep file
    plugins: list[str] | None
    seeds: list[int] | None
    sets: dict[str, tuple[Any, int | None]]
    axes: list[Axis]
    model: str = "final"
    lines: dict[str, int] = field(default_factory=dict)
    select: Select | None = None

    def where(self, key: str) -> str:
        line = self.lines.get(key)
        return f"{self.path}:{line}" if line else str(self.path)


def load_sweep(path: str | Path) -> SweepSpec:
    """Read and check a sweep file (its shape and keys; the variants' recipes are checked when
    they are expanded, :func:`redstar.sweep.variants.expand`)."""
    path = Path(path)
    data, text = read_yaml_file(path, "sweep")
    lines = key_lines(text)
    return _parse(path, data, lines)


def _parse(path: Path, data: Any, lines: dict[str, int]) -> SweepSpec:
    def fail(key: str, message: str) -> RecipeError:
        line = lines.get(key)
        return RecipeError(f"{path}:{line}" if line else path, key, message)

    if not isinstance(data, dict):
        raise fail("<top>", f"a sweep file is a mapping (base, seeds, vary...), got {type(data).__name__}")
    for key in data:
        if key not in TOP_KEYS:
            raise fail(str(key), f"unknown key (allowed here: {', '.join(TOP_KEYS)})")
    name = data.get("name", path.stem)
    if not isinstance(name, str) or not name.strip():
        raise fail("name", f"must be a non-empty string, got {name!r}")
    base = data.get("base", "default")
    if not isinstance(base, str) or not base.strip():
        raise fail("base", f"must be `default` or a recipe path, got {base!r}")
    base_path = None
    if base != "default":
        base_path = (path.parent / base).resolve() if not Path(base).is_absolute() else Path(base)
        if not base_path.is_file():
            raise fail("base", f"recipe {base_path} not found (a path is relative to the sweep file)")
    plugins = data.get("plugins")
    if plugins is not None:
        if base != "default":
            raise fail("plugins", "picks the parts of `base: default`; a base recipe file says its own plugins")
        if isinstance(plugins, str):
            plugins = [p.strip() for p in plugins.split(",") if p.strip()]
        if not isinstance(plugins, list) or not plugins or not all(isinstance(p, str) for p in plugins):
            raise fail("plugins", f"must be a list of plugin names, got {plugins!r}")
    seeds = data.get("seeds")
    if seeds is not None:
        if isinstance(seeds, int) and not isinstance(seeds, bool):
            seeds = [seeds]
        if (not isinstance(seeds, list) or not seeds
                or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)):
            raise fail("seeds", f"must be a list of integers, got {seeds!r}")
        if len(set(seeds)) != len(seeds):
            raise fail("seeds", f"lists a seed twice: {seeds!r}")
    sets = data.get("set") or {}
    if not isinstance(sets, dict):
        raise fail("set", f"must be a mapping of recipe keys to values, got {type(sets).__name__}")
    checked_sets = {k: (v, lines.get(f"set.{k}")) for k, v in sets.items()}
    for key in checked_sets:
        _check_key(str(key), f"set.{key}", fail)
    vary = data.get("vary") or []
    if not isinstance(vary, list):
        raise fail("vary", f"must be a list of axes, got {type(vary).__name__}")
    axes = [_axis(entry, f"vary[{i}]", lines, fail) for i, entry in enumerate(vary)]
    seen: dict[str, str] = {}
    for i, axis in enumerate(axes):
        keys = list(dict.fromkeys(k for level in axis.levels for k in level.all_keys()))
        for key in keys:
            for other, where in seen.items():
                if _overlaps(key, other):
                    raise fail(f"vary[{i}]", f"{key} is also varied by {where}: vary it in one axis")
        seen.update((key, f"vary[{i}]") for key in keys)
    report = data.get("report") or {}
    if not isinstance(report, dict):
        raise fail("report", f"must be a mapping, got {type(report).__name__}")
    for key in report:
        if key not in REPORT_KEYS:
            raise fail(f"report.{key}", f"unknown key (allowed here: {', '.join(REPORT_KEYS)})")
    model = report.get("model", "final")
    if not isinstance(model, str) or not model:
        raise fail("report.model", f"must be `final` or a model tag (base, sft, dpo...), got {model!r}")
    select = _select(data.get("select"), lines, fail)
    choosing = [(i, level) for i, axis in enumerate(axes) for level in axis.levels if level.choices]
    if choosing and select is None:
        i, level = choosing[0]
        raise fail(f"vary[{i}]", f"value {level.label!r} lists candidates (`choose`) but the file has no `select:` "
                                 "saying how to choose them, e.g. `select: {on: validation, metric: pass@1}`")
    if select is not None and not choosing:
        raise fail("select", "no value of `vary` lists candidates (`choose`): there is nothing to select")
    return SweepSpec(path=path, name=name.strip(), base=base, base_path=base_path, plugins=plugins, seeds=seeds,
                     sets=checked_sets, axes=axes, model=model, lines=lines, select=select)


def _select(data: Any, lines: dict[str, int], fail: Any) -> Select | None:
    if data is None:
        return None
    if not isinstance(data, dict):
        raise fail("select", "must be a mapping, e.g. `{on: validation, metric: pass@1}`, "
                             f"got {type(data).__name__}")
    # YAML 1.1 (PyYAML) reads the bare key `on` as the boolean true.
    data = {("on" if key is True else key): value for key, value in data.items()}
    for key in data:
        if key not in SELECT_KEYS:
            raise fail(f"select.{key}", f"unknown key (allowed here: {', '.join(SELECT_KEYS)})")
    on, metric = data.get("on", "validation"), data.get("metric", "pass@1")
    if on not in SELECT_ON:
        raise fail("select.on", f"must be one of {', '.join(SELECT_ON)} (the recipe's evaluation.validation sets), "
                                f"got {on!r}")
    if metric not in SELECT_METRICS:
        raise fail("select.metric", f"must be one of {', '.join(SELECT_METRICS)}, got {metric!r}")
    return Select(on=on, metric=metric, line=lines.get("select"))


def _choices(data: Any, where: str, lines: dict[str, int], fail: Any) -> tuple[Choice, ...]:
    """A value's candidates: recipe keys mapped to equally long lists of values, zipped (the
    first value of each is the first candidate), as a zipped axis is written."""
    if not isinstance(data, dict) or not data:
        raise fail(where, "must map recipe keys to the values to choose from, e.g. "
                          f"`{{rl[0].options.learning_rate: [1.0e-6, 1.0e-5]}}`, got {data!r}")
    for key, values in data.items():
        _check_key(str(key), f"{where}.{key}", fail)
        if not isinstance(values, list) or len(values) < 2:
            raise fail(f"{where}.{key}", f"must list at least two values to choose from, got {values!r}")
    sizes = {len(v) for v in data.values()}
    if len(sizes) != 1:
        raise fail(where, "zipped keys need equally many values: " + ", ".join(f"{k} has {len(v)}" for k, v in data.items()))
    choices = []
    for j in range(sizes.pop()):
        sets = {str(k): (v[j], lines.get(f"{where}.{k}[{j}]", lines.get(f"{where}.{k}"))) for k, v in data.items()}
        choices.append(Choice(_label(sets), sets))
    labels = [c.label for c in choices]
    for label in labels:
        if labels.count(label) > 1:
            raise fail(where, f"two candidates are the same ({label}): list each value once")
    return tuple(choices)


def _overlaps(a: str, b: str) -> bool:
    return a == b or a.startswith((b + ".", b + "[")) or b.startswith((a + ".", a + "["))


def _check_key(key: str, where: str, fail: Any) -> None:
    if not _KEY.match(key):
        raise fail(where, "not a dotted recipe key (e.g. selection.total, rl[0].trainer)")
    top = re.split(r"[.\[]", key, maxsplit=1)[0]
    if top in _RESERVED:
        raise fail(where, f"cannot be varied: {_RESERVED[top]}")
    if top not in Recipe.model_fields:
        raise fail(where, f"unknown recipe key {top!r} (recipe sections: {', '.join(Recipe.model_fields)})")


def _axis(entry: Any, where: str, lines: dict[str, int], fail: Any) -> Axis:
    """An axis as a mapping of keys to equally long lists of values (zipped), or as a list of
    mappings, one per value."""
    if isinstance(entry, dict):
        if not entry:
            raise fail(where, "an axis needs at least one key and its values")
        if "choose" in entry:
            raise fail(f"{where}.choose", "candidates go in a value of a listed axis (`- {label: ..., choose: "
                                          "{key: [values]}}`), not in a zipped one")
        columns = {k: v for k, v in entry.items() if k != "label"}
        for key, values in columns.items():
            _check_key(str(key), f"{where}.{key}", fail)
            if not isinstance(values, list) or not values:
                raise fail(f"{where}.{key}", f"must be the list of values to try, got {values!r} "
                                             "(a single value for every variant goes under `set:`)")
        sizes = {len(v) for v in columns.values()}
        if len(sizes) != 1:
            raise fail(where, "zipped keys need equally many values: "
                              + ", ".join(f"{k} has {len(v)}" for k, v in columns.items()))
        count = sizes.pop()
        labels = entry.get("label")
        if labels is not None and (not isinstance(labels, list) or len(labels) != count):
            raise fail(f"{where}.label", f"must list one label per value ({count}), got {labels!r}")
        levels = []
        for j in range(count):
            sets = {k: (v[j], lines.get(f"{where}.{k}[{j}]", lines.get(f"{where}.{k}"))) for k, v in columns.items()}
            label = str(labels[j]) if labels is not None else _label(sets)
            levels.append(Level(label, sets, lines.get(f"{where}.{next(iter(columns))}[{j}]")))
        return _finish(Axis(", ".join(columns), tuple(levels)), where, fail)
    if isinstance(entry, list):
        if not entry:
            raise fail(where, "an axis needs at least one value")
        levels = []
        for j, item in enumerate(entry):
            at = f"{where}[{j}]"
            if not isinstance(item, dict) or not any(k != "label" for k in item):
                raise fail(at, f"each value of a listed axis is a mapping of recipe keys, got {item!r}")
            sets = {}
            for key, value in item.items():
                if key not in ("label", "choose"):
                    _check_key(str(key), f"{at}.{key}", fail)
                    sets[str(key)] = (value, lines.get(f"{at}.{key}"))
            choices = _choices(item["choose"], f"{at}.choose", lines, fail) if "choose" in item else ()
            label = str(item["label"]) if "label" in item else _label(sets)
            if not label:
                raise fail(at, "a value that only lists candidates needs a `label`")
            levels.append(Level(label, sets, lines.get(at), choices))
        for j, level in enumerate(levels):
            for choice in level.choices[:1]:
                for key in choice.sets:
                    # A candidate may refine what its value sets (rl[0].options.learning_rate in the
                    # value's rl), never set it again or replace it whole.
                    clash = next((k for k in level.sets if k == key or k.startswith((key + ".", key + "["))), None)
                    if clash is not None:
                        raise fail(f"{where}[{j}].choose.{key}", f"{clash} is set by the value itself: set it in one place")
        keys = list(dict.fromkeys(k for level in levels for k in level.sets))
        return _finish(Axis(", ".join(keys), tuple(levels)), where, fail)
    raise fail(where, "an axis is a mapping (`selection.total: [40, 80]`) or a list of mappings, "
                      f"got {type(entry).__name__}")


def _finish(axis: Axis, where: str, fail: Any) -> Axis:
    labels = [level.label for level in axis.levels]
    for label in labels:
        if labels.count(label) > 1:
            raise fail(where, f"two values have the label {label!r}: give each its own `label`")
    return axis


def _label(sets: dict[str, tuple[Any, int | None]]) -> str:
    """``total=40`` (the key's last part) for a value without a ``label``."""
    parts = []
    for key, (value, _) in sets.items():
        short = re.split(r"\.", key)[-1]
        shown = value if isinstance(value, (int, float, str, bool)) or value is None else _compact(value)
        parts.append(f"{short}={shown}")
    return ", ".join(parts)


def _compact(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=10**6).strip()
    return text if len(text) <= 40 else text[:37] + "..."
