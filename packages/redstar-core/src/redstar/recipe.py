"""Recipes: the YAML file that drives ``redstar run``.

A recipe is validated against :data:`SCHEMA` before anything runs. An unknown key or a value of
the wrong type is a :class:`~redstar.errors.RecipeError` naming the file, the line and the dotted
key (``sampling.temperature``). Plugin options (``sources[].options`` and the like) are checked
later against the plugin's constructor, once the plugin is known.

With no recipe file, :func:`default_recipe` assembles the embedded default from core's
:data:`BASE_RECIPE` and the ``redstar_default_recipe`` parts of the selected plugins.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from redstar.errors import RecipeError

ANY = object()


@dataclass(frozen=True)
class Field:
    """One key of the schema: accepted types, default, and for mappings/lists their schema."""

    types: tuple[type, ...] | object
    default: Any = None
    fields: dict[str, Field] | None = None  # a mapping with fixed keys
    items: Field | None = None  # a list's items
    values: Field | None = None  # a mapping with free keys
    doc: str = ""


def _f(types: Any, default: Any = None, doc: str = "", **kw: Any) -> Field:
    return Field(types if types is ANY else (types if isinstance(types, tuple) else (types,)), default, doc=doc, **kw)


NUM = (int, float)
PLUGIN_REF = {"name": _f(str, doc="registered plugin name"), "options": _f(dict, {}, doc="constructor options")}

SCHEMA: dict[str, Field] = {
    "name": _f(str, "redstar-run", doc="run name (the default output folder is runs/<name>)"),
    "seed": _f(int, 0),
    "models": _f(dict, fields={
        "teacher": _f(str, doc="model that writes Long-CoT samples: path, hub id or embedded:NAME"),
        "student": _f(str, doc="model that is trained and evaluated"),
    }),
    "sources": _f(list, [], items=_f(dict, fields=PLUGIN_REF)),
    "scoring": _f(dict, fields={
        "scorer": _f(str, "given"),
        "options": _f(dict, {}),
    }),
    "selection": _f(dict, fields={
        "min_level": _f(NUM, 7, doc="keep prompts with difficulty >= this (the paper: 7)"),
        "max_level": _f(NUM, 9, doc="and <= this (the paper: 9)"),
        "per_source": _f(dict, {}, values=_f(int), doc="at most this many prompts per source"),
        "mix": _f(dict, {}, values=_f(NUM), doc="domain -> share of the selected prompts"),
        "mix_mode": _f(str, "ratio", doc="ratio: the selection has exactly the mix's proportions (a short domain "
                                        "shrinks the others); cap: a share is an upper bound only"),
        "total": _f((int, type(None)), None, doc="number of prompts to select (with mix)"),
        "domains": _f(dict, {}, values=_f(dict, fields={
            "min_level": _f((int, float, type(None)), None, doc="this domain's band (default: the global one)"),
            "max_level": _f((int, float, type(None)), None),
            "max_prompts": _f((int, type(None)), None, doc="at most this many prompts of this domain"),
            "n": _f((int, type(None)), None, doc="responses per prompt (default: sampling.n)"),
            "n_by_level": _f((dict, type(None)), None, values=_f(int),
                             doc="level -> responses (default: sampling.n_by_level)"),
        }), doc="domain -> its own band, cap and samples per prompt; unset keys use the global settings"),
    }),
    "decontamination": _f(dict, fields={
        "enabled": _f(bool, True),
        "ngram": _f(int, 13, doc="word n-gram length that counts as overlap"),
        "evaluators": _f((list, type(None)), None, items=_f(str),
                         doc="evaluators to check against (default: every installed one)"),
        "exact_only": _f(list, [], items=_f(str),
                         doc="evaluators checked by exact match only (generated sets disjoint by construction)"),
    }),
    "verifiers": _f(dict, {}, values=_f(dict), doc="domain -> options for that domain's verifier"),
    "sampling": _f(dict, fields={
        "backend": _f(str, "transformers"),
        "options": _f(dict, {}),
        "n": _f(int, 4, doc="responses per prompt"),
        "n_by_level": _f(dict, {}, values=_f(int), doc="level -> responses (harder prompts get more)"),
        "temperature": _f(NUM, 1.0),
        "top_p": _f(NUM, 1.0),
        "max_new_tokens": _f(int, 1024),
        "chunk_size": _f(int, 32, doc="prompts per batch written to disk (the resume granularity)"),
    }),
    "cleaning": _f(dict, fields={
        "filters": _f(list, [{"name": "repetition", "options": {}}, {"name": "language", "options": {}}],
                      items=_f(dict, fields=PLUGIN_REF)),
        "drop_truncated": _f(bool, True, doc="drop responses that hit max_new_tokens"),
    }),
    "preference": _f(dict, fields={
        "pairs_per_prompt": _f(int, 1),
        "negatives": _f(str, "wrong_first", doc="wrong_first | wrong_only | any"),
    }),
    "sft": _f((dict, type(None)), {"trainer": "sft", "options": {}}, fields={
        "trainer": _f(str, "sft"),
        "options": _f(dict, {}),
    }),
    "rl": _f(list, [], items=_f(dict, fields={"trainer": _f(str), "options": _f(dict, {})})),
    "evaluation": _f(dict, fields={
        "evaluators": _f(list, [], items=_f(dict, fields=PLUGIN_REF)),
        "backend": _f(str, "transformers"),
        "options": _f(dict, {}),
        "n": _f(int, 1, doc="samples per problem (pass@1 is averaged over them)"),
        "temperature": _f(NUM, 0.0),
        "top_p": _f(NUM, 1.0),
        "max_new_tokens": _f(int, 1024),
        "teacher": _f(bool, False, doc="also evaluate the teacher"),
    }),
}

#: Core's defaults under every embedded recipe; plugins add sources, evaluators, mix and models.
BASE_RECIPE: dict[str, Any] = {
    "name": "default",
    "models": {"teacher": "embedded:tiny-teacher", "student": "embedded:tiny-student"},
    "sampling": {"n": 4, "n_by_level": {7: 6}, "max_new_tokens": 384, "options": {"batch_size": 32}},
    # grad_accum 1: the trainers default to the paper-scale 16 (8 for DPO), which leaves a CPU run
    # of a thousand rows a dozen optimizer steps.
    "sft": {"trainer": "sft", "options": {"epochs": 3, "learning_rate": 1e-3, "batch_size": 16, "grad_accum": 1}},
    "evaluation": {"n": 1, "temperature": 0.0, "max_new_tokens": 384, "options": {"batch_size": 64}},
}


class RecipeLoader(yaml.SafeLoader):
    """YAML 1.1 reads ``5e-7`` (no dot) as a string; people write learning rates that way, so
    recipes accept exponent floats without a dot too."""


RecipeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def parse_yaml(text: str) -> Any:
    return yaml.load(text, Loader=RecipeLoader)  # noqa: S506 - a SafeLoader subclass


class _LineLoader(yaml.SafeLoader):
    pass


def _lines(text: str) -> dict[str, int]:
    """Map dotted keys to 1-based line numbers, for error messages."""
    node = yaml.compose(text, Loader=_LineLoader)
    out: dict[str, int] = {}

    def walk(n: Any, prefix: str) -> None:
        if isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                key = f"{prefix}.{k.value}" if prefix else str(k.value)
                out[key] = k.start_mark.line + 1
                walk(v, key)
        elif isinstance(n, yaml.SequenceNode):
            for i, v in enumerate(n.value):
                key = f"{prefix}[{i}]"
                out[key] = v.start_mark.line + 1
                walk(v, key)

    if node is not None:
        walk(node, "")
    return out


class Recipe(dict):
    """A validated recipe with every default filled in; ``path`` is where it came from and
    ``lines`` maps each dotted key written in the file to its line."""

    path: Path | None = None
    lines: dict[str, int] = {}

    def where(self, key: str) -> str | None:
        """``file:line`` of ``key`` (or of the nearest enclosing key written in the file), for
        errors found after validation, such as a plugin option the plugin does not take."""
        if self.path is None:
            return None
        probe = key
        while probe:
            if probe in self.lines:
                return f"{self.path}:{self.lines[probe]}"
            probe = re.sub(r"(\.[^.\[\]]*|\[\d+\])$", "", probe) if re.search(r"[.\[]", probe) else ""
        return str(self.path)

    def section(self, key: str) -> Any:
        return self[key]


def _type_name(types: Any) -> str:
    names = {int: "integer", float: "number", str: "string", bool: "true/false", dict: "mapping",
             list: "list", type(None): "null"}
    return " or ".join(dict.fromkeys(names.get(t, t.__name__) for t in types))


def _check(value: Any, spec: Field, key: str, fail: Any) -> Any:
    if spec.types is not ANY:
        ok = isinstance(value, spec.types) and not (isinstance(value, bool) and bool not in spec.types)
        if not ok:
            fail(key, f"must be {_type_name(spec.types)}, got {type(value).__name__} {value!r}")
    if isinstance(value, dict) and spec.fields is not None:
        return _check_mapping(value, spec.fields, key, fail)
    if isinstance(value, dict) and spec.values is not None:
        return {k: _check(v, spec.values, f"{key}.{k}", fail) for k, v in value.items()}
    if isinstance(value, list) and spec.items is not None:
        return [_check(v, spec.items, f"{key}[{i}]", fail) for i, v in enumerate(value)]
    return copy.deepcopy(value)


def _check_mapping(data: dict[str, Any], fields: dict[str, Field], prefix: str, fail: Any) -> dict[str, Any]:
    out = {}
    for key in data:
        if key not in fields:
            dotted = f"{prefix}.{key}" if prefix else str(key)
            fail(dotted, f"unknown key (allowed here: {', '.join(fields)})")
    for key, spec in fields.items():
        dotted = f"{prefix}.{key}" if prefix else key
        if key in data:
            out[key] = _check(data[key], spec, dotted, fail)
        elif spec.fields is not None and spec.default is None:
            out[key] = _check_mapping({}, spec.fields, dotted, fail)
        elif spec.default is None and spec.types is not ANY and type(None) not in spec.types and spec.fields is None:
            fail(dotted, "is required")
        else:
            out[key] = copy.deepcopy(spec.default)
    return out


def validate(data: Any, path: str | Path | None = None, text: str | None = None) -> Recipe:
    """Check ``data`` against the schema and fill in defaults."""
    lines = _lines(text) if text else {}

    def fail(key: str, message: str) -> None:
        line = lines.get(key)
        where = None if path is None else (f"{path}:{line}" if line else str(path))
        raise RecipeError(where, key, message)

    if data is None:
        data = {}
    if not isinstance(data, dict):
        fail("<top>", f"a recipe is a mapping of sections, got {type(data).__name__}")
    recipe = Recipe(_check_mapping(data, SCHEMA, "", fail))
    if recipe["models"].get("teacher") is None or recipe["models"].get("student") is None:
        fail("models", "needs both 'teacher' and 'student'")
    selection = recipe["selection"]
    if selection["min_level"] > selection["max_level"]:
        fail("selection.min_level", "is greater than selection.max_level")
    if selection["mix_mode"] not in ("ratio", "cap"):
        fail("selection.mix_mode", f"must be ratio or cap, got {selection['mix_mode']!r}")
    for domain, rule in selection["domains"].items():
        low = selection["min_level"] if rule["min_level"] is None else rule["min_level"]
        high = selection["max_level"] if rule["max_level"] is None else rule["max_level"]
        if low > high:
            fail(f"selection.domains.{domain}.min_level", f"the band {low}-{high} is empty")
        for key in ("max_prompts", "n"):
            if rule[key] is not None and rule[key] < 1:
                fail(f"selection.domains.{domain}.{key}", f"must be at least 1, got {rule[key]!r}")
        for level, n in (rule["n_by_level"] or {}).items():
            if n < 1:
                fail(f"selection.domains.{domain}.n_by_level.{level}", f"must be at least 1, got {n!r}")
    if recipe["preference"]["negatives"] not in ("wrong_first", "wrong_only", "any"):
        fail("preference.negatives", "must be one of wrong_first, wrong_only, any")
    for key in ("sampling.n", "sampling.chunk_size", "sampling.max_new_tokens", "evaluation.n",
                "evaluation.max_new_tokens", "decontamination.ngram"):
        section, name = key.split(".")
        if recipe[section][name] < 1:
            fail(key, f"must be at least 1, got {recipe[section][name]!r}")
    for level, n in recipe["sampling"]["n_by_level"].items():
        if n < 1:
            fail(f"sampling.n_by_level.{level}", f"must be at least 1, got {n!r}")
    for section in ("sampling", "evaluation"):
        if recipe[section]["temperature"] < 0:
            fail(f"{section}.temperature", f"must be 0 (greedy) or more, got {recipe[section]['temperature']!r}")
        if not 0 < recipe[section]["top_p"] <= 1:
            fail(f"{section}.top_p", f"must be in (0, 1], got {recipe[section]['top_p']!r}")
    if recipe["selection"]["total"] is not None and recipe["selection"]["total"] < 1:
        fail("selection.total", f"must be at least 1 (or null for no total), got {recipe['selection']['total']!r}")
    for domain, share in recipe["selection"]["mix"].items():
        if share < 0:
            fail(f"selection.mix.{domain}", f"a share cannot be negative, got {share!r}")
    for source, cap in recipe["selection"]["per_source"].items():
        if cap < 0:
            fail(f"selection.per_source.{source}", f"cannot be negative, got {cap!r}")
    if recipe["preference"]["pairs_per_prompt"] < 0:
        fail("preference.pairs_per_prompt", "cannot be negative")
    recipe.path = None if path is None else Path(path)
    recipe.lines = lines
    return recipe


def load_recipe(path: str | Path) -> Recipe:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecipeError(path, "<file>", "recipe file not found") from None
    try:
        data = parse_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise RecipeError(where, "<yaml>", f"invalid YAML: {getattr(exc, 'problem', exc)}") from None
    return validate(data, path, text)


def merge_parts(base: dict[str, Any], parts: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Merge plugin parts over ``base``: lists concatenate, mappings merge, and two plugins that
    set the same scalar differently is an error naming both."""
    merged = copy.deepcopy(base)
    owners: dict[str, str] = {}

    def merge(dst: dict[str, Any], src: dict[str, Any], prefix: str, plugin: str) -> None:
        for key, value in src.items():
            dotted = f"{prefix}.{key}" if prefix else key
            if isinstance(value, list):
                dst[key] = list(dst.get(key) or []) + copy.deepcopy(value)
            elif isinstance(value, dict):
                target = dst.get(key)
                if not isinstance(target, dict):
                    target = dst[key] = {}
                merge(target, value, dotted, plugin)
            else:
                if dotted in owners and dst.get(key) != value:
                    raise RecipeError(None, dotted, f"plugins {owners[dotted]!r} and {plugin!r} set different values "
                                      f"({dst.get(key)!r} vs {value!r}); run them separately or pass --recipe")
                dst[key] = value
                owners[dotted] = plugin

    for plugin, part in parts:
        if part:
            merge(merged, part, "", plugin)
    return merged


#: The RL step of the embedded default, used when a ``dpo`` trainer is installed (redstar-rl).
DEFAULT_RL = [{"trainer": "dpo", "options": {"epochs": 1, "learning_rate": 5e-5, "beta": 0.3, "batch_size": 16,
                                            "grad_accum": 1}}]


def default_recipe(host: Any, selected: list[str] | None = None) -> Recipe:
    """The embedded default (``redstar run`` with no ``--recipe``): core's base, DPO when a
    ``dpo`` trainer is installed and no selected part sets ``rl`` itself, and the parts of the
    ``selected`` plugins (default: all)."""
    from redstar.errors import RedStarError

    parts = [(name, part) for name, part in host.call_each("redstar_default_recipe")
             if part and (selected is None or name in selected)]
    if not parts:
        raise RedStarError(
            "no selected plugin provides a default recipe; select some with --plugins (e.g. "
            "--plugins math,code) or pass --recipe FILE"
        )
    base = copy.deepcopy(BASE_RECIPE)
    # A part that says what RL it wants (``"rl": []`` for none, e.g. a domain whose prompts carry
    # images that the text DPO trainer cannot take) replaces the default DPO step.
    if "dpo" in host.names("trainers") and not any("rl" in part for _, part in parts):
        base["rl"] = copy.deepcopy(DEFAULT_RL)
    merged = merge_parts(base, parts)
    merged["name"] = "default-" + "-".join(sorted(n for n, _ in parts))
    return validate(merged)


def plugin_references(recipe: dict[str, Any]) -> list[tuple[str, str, str, dict[str, Any]]]:
    """Every plugin a recipe names: (recipe key, kind, registered name, options)."""
    refs = [(f"sources[{i}]", "sources", s["name"], s["options"]) for i, s in enumerate(recipe["sources"])]
    refs.append(("scoring", "scorers", recipe["scoring"]["scorer"], recipe["scoring"]["options"]))
    refs.append(("sampling", "samplers", recipe["sampling"]["backend"], {**recipe["sampling"]["options"], "model": ""}))
    refs += [(f"cleaning.filters[{i}]", "filters", f["name"], f["options"]) for i, f in enumerate(recipe["cleaning"]["filters"])]
    if recipe["sft"]:
        refs.append(("sft", "trainers", recipe["sft"]["trainer"], recipe["sft"]["options"]))
    refs += [(f"rl[{i}]", "trainers", r["trainer"], r["options"]) for i, r in enumerate(recipe["rl"])]
    ev = recipe["evaluation"]
    refs += [(f"evaluation.evaluators[{i}]", "evaluators", e["name"], e["options"]) for i, e in enumerate(ev["evaluators"])]
    if ev["evaluators"]:
        refs.append(("evaluation", "samplers", ev["backend"], {**ev["options"], "model": ""}))
    refs += [(f"verifiers.{d}", "verifiers", d, o) for d, o in recipe["verifiers"].items()]
    return refs


def check_plugins(recipe: Recipe, host: Any) -> None:
    """Check that every plugin the recipe names is registered and takes the options given,
    without constructing anything (no model is loaded, no file is read)."""
    import inspect

    from redstar.errors import PluginError
    from redstar.interfaces import options_of

    for key, kind, name, options in plugin_references(recipe):
        try:
            cls = host.get(kind, name)
        except PluginError as exc:
            raise RecipeError(recipe.where(key), key, str(exc)) from None
        accepted = options_of(cls)
        takes_any = any(p.kind is p.VAR_KEYWORD for p in inspect.signature(cls.__init__).parameters.values())
        # A verifier's options sit right under its domain (``verifiers.code.timeout``).
        options_key = key if kind == "verifiers" else f"{key}.options"
        for option in options:
            if option not in accepted and not takes_any:
                raise RecipeError(recipe.where(f"{options_key}.{option}"), f"{options_key}.{option}",
                                  f"unknown option for {name!r}; it takes: {', '.join(accepted) or 'no options'}")


def dump(recipe: dict[str, Any]) -> str:
    return yaml.safe_dump(dict(recipe), sort_keys=False, allow_unicode=True)
