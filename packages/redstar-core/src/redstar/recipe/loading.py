"""Reading a recipe: YAML with line numbers, validated into :class:`~redstar.recipe.Recipe`.

Every error is a :class:`~redstar.errors.RecipeError` naming the file, the line and the dotted
key (``my.yaml:14: sampling.temprature: unknown key (allowed here: backend, options, ...)``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from redstar.errors import RecipeError
from redstar.recipe import safe_yaml
from redstar.recipe.sections import Recipe
from redstar.recipe.values import check_data, check_values


def parse_yaml(text: str) -> Any:
    """``text`` as Python values, read by :mod:`redstar.recipe.safe_yaml` (size, alias and depth
    limits, no duplicate keys); raises :class:`yaml.YAMLError`."""
    return safe_yaml.load(text)


def key_lines(text: str) -> dict[str, int]:
    """Map dotted keys to 1-based line numbers, for error messages."""
    return safe_yaml.lines_of(safe_yaml.compose(text))


_TYPE_NAMES = {"int": "integer", "float": "number", "str": "string", "bool": "true/false", "dict": "mapping",
               "list": "list", "model": "mapping", "model_attributes": "mapping", "none": "null",
               "dataclass": "mapping"}


def _dotted(data: Any, loc: tuple[Any, ...]) -> tuple[str, Any, Any]:
    """The dotted key of a pydantic error location, the value there and its container. Parts of
    ``loc`` that are pydantic's union member tags (``int``, ``function-after[...]``) are skipped;
    for an error in a mapping's key (``[key]``), the value is that key."""
    key: str = ""
    value: Any = data
    parent: Any = None
    for part in loc:
        if part == "[key]":
            return key or "<top>", key.rsplit(".", 1)[-1] if parent is None else _original_key(parent, value), parent
        if isinstance(value, list) and isinstance(part, int) and part < len(value):
            key, parent, value = f"{key}[{part}]", value, value[part]
        elif isinstance(value, dict) and part in value:
            key, parent, value = (f"{key}.{part}" if key else str(part)), value, value[part]
        elif isinstance(part, str) and (part in _TYPE_NAMES or "[" in part):
            continue
        else:  # a key the data lacks (a required one): name it; there is no value
            key, parent, value = (f"{key}.{part}" if key else str(part)), value, None
    return key or "<top>", value, parent


def _original_key(mapping: Any, value: Any) -> Any:
    """The key of ``mapping`` whose value is ``value`` (an error in a key names the key as written,
    ``eleven`` rather than ``'eleven'``'s value)."""
    if isinstance(mapping, dict):
        for k, v in mapping.items():
            if v is value:
                return k
    return value


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
    if "[key]" in error["loc"] and "n_by_level" in error["loc"]:
        return f"{value!r} is not a difficulty level (the keys are levels: numbers from 1 to 10)"
    if "[key]" in error["loc"]:
        expected = kind.removesuffix("_type").removesuffix("_parsing")
        return f"the key {value!r} must be {_TYPE_NAMES.get(expected, expected)}"
    if kind == "value_error":
        return f"{error['msg'].removeprefix('Value error, ')}, got {value!r}"
    if kind == "finite_number":
        return f"must be a finite number, got {value!r}"
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
    check_data(data, fail)  # before the sections, so that a NaN in plugin options is named too
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
    check_values(recipe, fail)
    recipe._path = None if path is None else Path(path)
    recipe._lines = lines
    return recipe


def read_yaml_file(path: Path, what: str = "recipe") -> tuple[Any, str]:
    """``(data, text)`` of a YAML file (a recipe, a sweep file); a missing or unreadable file and
    invalid YAML are :class:`RecipeError` s naming the file (and the line)."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(safe_yaml.MAX_BYTES + 1)  # never more: a file may be any size
        if len(raw) > safe_yaml.MAX_BYTES:
            raise RecipeError(path, "<file>", f"the {what} file is larger than {safe_yaml.MAX_BYTES:,} bytes; "
                              "a recipe is a few kilobytes")
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise RecipeError(path, "<file>", f"{what} file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RecipeError(path, "<file>", f"cannot read the {what} file: {exc}") from None
    return parse_text(text, path), text


def parse_text(text: str, path: str | Path | None) -> Any:
    """``text`` parsed as :func:`parse_yaml` does, its YAML errors turned into one
    :class:`RecipeError` naming ``path`` and the line."""
    try:
        return parse_yaml(text)
    except yaml.YAMLError as exc:
        raise yaml_error(exc, path, text) from None


def yaml_error(exc: yaml.YAMLError, path: str | Path | None, text: str | None = None) -> RecipeError:
    """A YAML error as one line: ``file:line: <yaml>: invalid YAML: problem``."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if isinstance(exc, yaml.reader.ReaderError) and text is not None:  # a NUL byte: a position, no mark
        mark = yaml.Mark(str(path), exc.position, text.count("\n", 0, exc.position), 0, "", 0)
    where: str | None = None if path is None else f"{path}:{mark.line + 1}" if mark else str(path)
    problem = getattr(exc, "problem", None) or str(exc)
    if isinstance(exc, yaml.reader.ReaderError):
        problem = str(exc).split("\n", 1)[0]
    if path is None and mark:
        problem = f"{problem} (line {mark.line + 1})"
    if isinstance(exc, safe_yaml.UnsafeYAMLError):
        return RecipeError(where, "<yaml>", f"refused: {problem}")
    return RecipeError(where, "<yaml>", f"invalid YAML: {problem}")


def load_recipe(path: str | Path) -> Recipe:
    path = Path(path)
    data, text = read_yaml_file(path)
    return validate(data, path, text)


def dump(recipe: Recipe | dict[str, Any]) -> str:
    data = recipe.to_dict() if isinstance(recipe, Recipe) else dict(recipe)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
