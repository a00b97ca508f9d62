"""The embedded default recipe (``redstar run`` with no ``--recipe``): core's base under the
``redstar_default_recipe`` parts of the selected plugins."""

from __future__ import annotations

import copy
from typing import Any

from redstar.errors import RecipeError, RedStarError
from redstar.recipe.loading import validate
from redstar.recipe.sections import Recipe

#: Core's defaults under every embedded recipe; plugins add sources, evaluators, mix and models.
BASE_RECIPE: dict[str, Any] = {
    "name": "default",
    "models": {"teacher": "embedded:tiny-teacher", "student": "embedded:tiny-student"},
    "sampling": {"n": 4, "n_by_level": {7: 6}, "max_new_tokens": 384, "options": {"batch_size": 32}},
    # grad_accum 1: the trainers default to the paper-scale 16 (8 for DPO), which leaves a CPU run
    # of a thousand rows a dozen optimizer steps. No group_by_length: it saves a third of SFT's
    # time here but cost code 0.30 of held-out pass@1 (docs/experiments/default-run.md).
    "sft": {"trainer": "sft", "options": {"epochs": 3, "learning_rate": 1e-3, "batch_size": 16, "grad_accum": 1}},
    "evaluation": {"n": 1, "temperature": 0.0, "max_new_tokens": 384, "options": {"batch_size": 64}},
}

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


def default_recipe(host: Any, selected: list[str] | None = None) -> Recipe:
    """The embedded default (``redstar run`` with no ``--recipe``): core's base, the RL steps the
    loaded plugins propose through ``redstar_default_rl`` (the built-in plugins propose none) unless a
    selected part sets ``rl`` itself, and the parts of the ``selected`` plugins (default: all)."""
    parts = [(name, part) for name, part in host.call_each("redstar_default_recipe")
             if part and (selected is None or name in selected)]
    if not parts:
        raise RedStarError(
            "no selected plugin provides a default recipe; select some with --plugins (e.g. "
            "--plugins math,code) or pass --recipe FILE"
        )
    base = copy.deepcopy(BASE_RECIPE)
    # A part that says what RL it wants (``"rl": []`` for none, e.g. a domain whose prompts carry
    # images that the text RL trainers cannot take) replaces the RL steps plugins propose.
    if not any("rl" in part for _, part in parts):
        base["rl"] = host.default_rl()
    merged = merge_parts(base, parts)
    merged["name"] = "default-" + "-".join(sorted(n for n, _ in parts))
    recipe = validate(merged)
    recipe._warnings = band_warnings(parts)
    return recipe


def band_warnings(parts: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """A plugin's default part that sets the global band (``selection.min_level`` or
    ``max_level``) sets it for every other domain too: legal, and nearly always a mistake for
    ``selection.domains.<its domain>``. One warning per such plugin, naming it."""
    out = []
    for plugin, part in parts:
        selection = part.get("selection") if isinstance(part, dict) else None
        keys = [k for k in ("min_level", "max_level") if isinstance(selection, dict) and k in selection]
        if keys:
            out.append(f"plugin {plugin!r} sets the global difficulty band ({', '.join(f'selection.{k}' for k in keys)})"
                       " in its default recipe, which applies to every domain without a band of its own; a plugin "
                       "should set selection.domains.<its domain>.min_level/max_level instead")
    return out
