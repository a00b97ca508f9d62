"""Reading a recipe: YAML with line numbers, validated into :class:`~redstar.recipe.Recipe`.

Every error is a :class:`~redstar.errors.RecipeError` naming the file, the line and the dotted
key (``my.yaml:14: sampling.temprature: unknown key (allowed here: backend, options, ...)``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from redstar.errors import RecipeError
from redstar.recipe.sections import Recipe


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


def key_lines(text: str) -> dict[str, int]:
    """Map dotted keys to 1-based line numbers, for error messages."""
    node = yaml.compose(text, Loader=yaml.SafeLoader)
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


_TYPE_NAMES = {"int": "integer", "float": "number", "str": "string", "bool": "true/false", "dict": "mapping",
               "list": "list", "model": "mapping", "model_attributes": "mapping", "none": "null",
               "dataclass": "mapping"}


def _dotted(data: Any, loc: tuple[Any, ...]) -> tuple[str, Any, Any]:
    """The dotted key of a pydantic error location, the value there and its container. Parts of
    ``loc`` that are pydantic's union member tags (``int``, ``function-after[...]``) are skipped."""
    key: str = ""
    value: Any = data
    parent: Any = None
    for part in loc:
        if isinstance(value, list) and isinstance(part, int) and part < len(value):
            key, parent, value = f"{key}[{part}]", value, value[part]
        elif isinstance(value, dict) and part in value:
            key, parent, value = (f"{key}.{part}" if key else str(part)), value, value[part]
        elif isinstance(part, str) and (part in _TYPE_NAMES or "[" in part):
            continue
        else:  # a key the data lacks (a required one): name it; there is no value
            key, parent, value = (f"{key}.{part}" if key else str(part)), value, None
    return key or "<top>", value, parent


def _allowed(model: type[BaseModel], data: Any, loc: tuple[Any, ...]) -> list[str]:
    """The keys allowed where an unknown key was found: the fields of the section at ``loc``."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int) or current is None:
            continue
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            # a free mapping of sections (``selection.domains.<domain>``): keep the value type
            continue
        current = _section_of(field.annotation)
    return list(getattr(current, "model_fields", {}))


def _section_of(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _section_of(arg)
        if found is not None:
            return found
    return None


def _message(error: Any, value: Any, allowed: list[str]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"unknown key (allowed here: {', '.join(allowed)})"
    if kind == "missing":
        return "is required"
    expected = kind.removesuffix("_type").removesuffix("_parsing")
    if kind.endswith("_type") and expected in _TYPE_NAMES:
        return f"must be {_TYPE_NAMES[expected]}, got {type(value).__name__} {value!r}"
    if kind == "literal_error":
        choices = error.get("ctx", {}).get("expected", "")
        return f"must be one of {choices}, got {value!r}"
    return f"{error['msg']}, got {value!r}"


def validate(data: Any, path: str | Path | None = None, text: str | None = None) -> Recipe:
    """Check ``data`` (a parsed recipe) and fill in defaults; ``text`` (the YAML source) lets
    errors name their line."""
    lines = key_lines(text) if text else {}

    def fail(key: str, message: str) -> None:
        line = lines.get(key)
        where = None if path is None else (f"{path}:{line}" if line else str(path))
        raise RecipeError(where, key, message)

    if data is None:
        data = {}
    if not isinstance(data, dict):
        fail("<top>", f"a recipe is a mapping of sections, got {type(data).__name__}")
    if data.get("models", {}) == {}:
        data = {**data, "models": {}}  # so that the error names what is missing: models.teacher
    try:
        recipe = Recipe.model_validate(data)
    except ValidationError as exc:
        # Report the error nearest the top of the file, as one would read it.
        errors = sorted(exc.errors(), key=lambda e: (lines.get(_dotted(data, e["loc"])[0], 10**9),
                                                     e["type"] != "extra_forbidden"))
        first = errors[0]
        key, value, _ = _dotted(data, first["loc"])
        fail(key, _message(first, value, _allowed(Recipe, data, first["loc"])))
    _check_values(recipe, fail)
    recipe._path = None if path is None else Path(path)
    recipe._lines = lines
    return recipe


def _check_values(recipe: Recipe, fail: Any) -> None:
    """What types cannot say: ranges and relations between keys."""
    selection = recipe.selection
    if selection.min_level > selection.max_level:
        fail("selection.min_level", "is greater than selection.max_level")
    for domain, rule in selection.domains.items():
        low, high = selection.band(domain)
        if low > high:
            fail(f"selection.domains.{domain}.min_level", f"the band {low}-{high} is empty")
        for key in ("max_prompts", "n"):
            value = getattr(rule, key)
            if value is not None and value < 1:
                fail(f"selection.domains.{domain}.{key}", f"must be at least 1, got {value!r}")
        for level, n in (rule.n_by_level or {}).items():
            if n < 1:
                fail(f"selection.domains.{domain}.n_by_level.{level}", f"must be at least 1, got {n!r}")
    for key, value in (("sampling.n", recipe.sampling.n), ("sampling.chunk_size", recipe.sampling.chunk_size),
                       ("sampling.max_new_tokens", recipe.sampling.max_new_tokens), ("evaluation.n", recipe.evaluation.n),
                       ("evaluation.max_new_tokens", recipe.evaluation.max_new_tokens),
                       ("decontamination.ngram", recipe.decontamination.ngram)):
        if value < 1:
            fail(key, f"must be at least 1, got {value!r}")
    for level, n in recipe.sampling.n_by_level.items():
        if n < 1:
            fail(f"sampling.n_by_level.{level}", f"must be at least 1, got {n!r}")
    for name, section in (("sampling", recipe.sampling), ("evaluation", recipe.evaluation)):
        if section.temperature < 0:
            fail(f"{name}.temperature", f"must be 0 (greedy) or more, got {section.temperature!r}")
        if not 0 < section.top_p <= 1:
            fail(f"{name}.top_p", f"must be in (0, 1], got {section.top_p!r}")
    sampled = recipe.evaluation.sampled
    if sampled is not None:
        if sampled.n < 1:
            fail("evaluation.sampled.n", f"must be at least 1, got {sampled.n!r}")
        if sampled.temperature <= 0:
            fail("evaluation.sampled.temperature", f"must be more than 0 (it samples), got {sampled.temperature!r}")
        if not 0 < sampled.top_p <= 1:
            fail("evaluation.sampled.top_p", f"must be in (0, 1], got {sampled.top_p!r}")
    if selection.total is not None and selection.total < 1:
        fail("selection.total", f"must be at least 1 (or null for no total), got {selection.total!r}")
    for domain, share in selection.mix.items():
        if share < 0:
            fail(f"selection.mix.{domain}", f"a share cannot be negative, got {share!r}")
    for source, cap in selection.per_source.items():
        if cap < 0:
            fail(f"selection.per_source.{source}", f"cannot be negative, got {cap!r}")
    if recipe.preference.pairs_per_prompt < 0:
        fail("preference.pairs_per_prompt", "cannot be negative")
    execution = recipe.execution
    for key, value, least in (("replicas", execution.replicas, 1), ("verify_batch", execution.verify_batch, 1),
                              ("max_retries", execution.max_retries, 0), ("num_gpus", execution.num_gpus, 0)):
        if value < least:
            fail(f"execution.{key}", f"must be at least {least}, got {value!r}")
    if execution.num_cpus <= 0:
        fail("execution.num_cpus", f"must be more than 0, got {execution.num_cpus!r}")


def read_yaml_file(path: Path, what: str = "recipe") -> tuple[Any, str]:
    """``(data, text)`` of a YAML file (a recipe, a sweep file); a missing or unreadable file and
    invalid YAML are :class:`RecipeError` s naming the file (and the line)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecipeError(path, "<file>", f"{what} file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RecipeError(path, "<file>", f"cannot read the {what} file: {exc}") from None
    try:
        return parse_yaml(text), text
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise RecipeError(where, "<yaml>", f"invalid YAML: {getattr(exc, 'problem', exc)}") from None


def load_recipe(path: str | Path) -> Recipe:
    path = Path(path)
    data, text = read_yaml_file(path)
    return validate(data, path, text)


def dump(recipe: Recipe | dict[str, Any]) -> str:
    data = recipe.to_dict() if isinstance(recipe, Recipe) else dict(recipe)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
