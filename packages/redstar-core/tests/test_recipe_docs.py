"""docs/recipes.md documents every recipe key: adding a field to a recipe section without a line
in the reference fails here."""

import typing
from pathlib import Path

from pydantic import BaseModel

from redstar.recipe import Recipe

DOC = Path(__file__).resolve().parents[3] / "docs" / "recipes.md"


def _section(annotation):
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, ""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is list and args:
        inner, _ = _section(args[0])
        return inner, "[]"
    for arg in args:
        inner, suffix = _section(arg)
        if inner is not None and origin is not dict:
            return inner, suffix
    return None, ""


def leaf_keys(model, prefix=""):
    for key, field in model.model_fields.items():
        dotted = f"{prefix}.{key}" if prefix else key
        inner, suffix = _section(field.annotation)
        if inner is not None and suffix == "[]":
            yield from leaf_keys(inner, dotted + "[]")
        elif inner is not None:
            yield from leaf_keys(inner, dotted)
        else:
            yield dotted


def test_every_recipe_key_is_in_the_reference():
    text = DOC.read_text(encoding="utf-8")
    keys = list(leaf_keys(Recipe))
    assert "sampling.temperature" in keys and "sources[].name" in keys and "selection.domains" in keys
    missing = [key for key in keys if f"| `{key}` |" not in text]
    assert not missing, f"docs/recipes.md lacks: {missing}"
