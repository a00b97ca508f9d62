"""Every plugin a recipe names, and checking them against the installed ones without building
anything (no model is loaded, no file is read)."""

from __future__ import annotations

import inspect
from typing import Any, NamedTuple

from redstar.errors import PluginError, RecipeError
from redstar.recipe.sections import Recipe


class PluginReference(NamedTuple):
    key: str  # where the recipe names it: ``sources[0]``, ``verifiers.code``
    kind: str  # registry kind: ``sources``, ``verifiers``...
    name: str
    options: dict[str, Any]

    @property
    def options_key(self) -> str:
        """Where its options sit: a verifier's right under its domain (``verifiers.code.timeout``),
        every other plugin's under ``options``."""
        return self.key if self.kind == "verifiers" else f"{self.key}.options"


def plugin_references(recipe: Recipe) -> list[PluginReference]:
    refs = [PluginReference(f"sources[{i}]", "sources", s.name, s.options) for i, s in enumerate(recipe.sources)]
    refs.append(PluginReference("scoring", "scorers", recipe.scoring.scorer, recipe.scoring.options))
    refs.append(PluginReference("sampling", "samplers", recipe.sampling.backend, {**recipe.sampling.options, "model": ""}))
    refs += [PluginReference(f"cleaning.filters[{i}]", "filters", f.name, f.options)
             for i, f in enumerate(recipe.cleaning.filters)]
    if recipe.sft:
        refs.append(PluginReference("sft", "trainers", recipe.sft.trainer, recipe.sft.options))
    refs += [PluginReference(f"rl[{i}]", "trainers", r.trainer, r.options) for i, r in enumerate(recipe.rl)]
    ev = recipe.evaluation
    refs += [PluginReference(f"evaluation.evaluators[{i}]", "evaluators", e.name, e.options)
             for i, e in enumerate(ev.evaluators)]
    refs += [PluginReference(f"evaluation.validation[{i}]", "evaluators", e.name, e.options)
             for i, e in enumerate(ev.validation)]
    if ev.evaluators or ev.validation:
        refs.append(PluginReference("evaluation", "samplers", ev.backend, {**ev.options, "model": ""}))
    refs += [PluginReference(f"verifiers.{d}", "verifiers", d, o) for d, o in recipe.verifiers.items()]
    return refs


def check_plugins(recipe: Recipe, host: Any) -> None:
    """Check that every plugin the recipe names is registered and takes the options given."""
    from redstar.interfaces import constructor, options_of

    for ref in plugin_references(recipe):
        try:
            cls = host.get(ref.kind, ref.name)
        except PluginError as exc:
            raise RecipeError(recipe.where(ref.key), ref.key, str(exc)) from None
        accepted = options_of(cls)
        takes_any = any(p.kind is p.VAR_KEYWORD for p in inspect.signature(constructor(cls)).parameters.values())
        for option in ref.options:
            if option not in accepted and not takes_any:
                key = f"{ref.options_key}.{option}"
                raise RecipeError(recipe.where(key), key,
                                  f"unknown option for {ref.name!r}; it takes: {', '.join(accepted) or 'no options'}")
