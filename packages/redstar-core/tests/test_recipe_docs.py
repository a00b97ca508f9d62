"""docs/recipes.md documents every recipe key: adding a key to the schema without a line in the
reference fails here."""

from pathlib import Path

from redstar.recipe import SCHEMA

DOC = Path(__file__).resolve().parents[3] / "docs" / "recipes.md"


def leaf_keys(fields, prefix=""):
    for key, spec in fields.items():
        dotted = f"{prefix}.{key}" if prefix else key
        if spec.items is not None and spec.items.fields:
            yield from leaf_keys(spec.items.fields, dotted + "[]")
        elif spec.fields is not None:
            yield from leaf_keys(spec.fields, dotted)
        else:
            yield dotted


def test_every_recipe_key_is_in_the_reference():
    text = DOC.read_text(encoding="utf-8")
    missing = [key for key in leaf_keys(SCHEMA) if f"| `{key}` |" not in text]
    assert not missing, f"docs/recipes.md lacks: {missing}"
