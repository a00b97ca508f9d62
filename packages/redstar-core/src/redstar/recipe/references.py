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
    """Check that every plugin the recipe names is registered, takes the options given, with
    values of the types its constructor declares (and that its defaults match them), and that the
    domains ``selection`` names are domains the recipe's sources yield."""
    from redstar.interfaces import constructor, options_of
    from redstar.plugin_options import option_problems

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
        for option, message, plugin_fault in option_problems(cls, ref.options):
            key = ref.key if plugin_fault else f"{ref.options_key}.{option}"
            raise RecipeError(recipe.where(key), key, message if plugin_fault else f"{message} ({ref.name!r} option)")
    check_domains(recipe, host)


def check_domains(recipe: Recipe, host: Any) -> None:
    """Every domain ``selection.mix`` names is one that a source of the recipe yields: a
    misspelt domain would otherwise take its share of the quota and leave it empty, without a
    word. (Skipped when a source does not declare its domain on its class. A rule under
    ``selection.domains`` for a domain without sources is allowed: it changes nothing.)"""
    yielded: set[str] = set()
    for spec in recipe.sources:
        domain = getattr(host.get("sources", spec.name), "domain", None)
        if not isinstance(domain, str):
            return
        yielded.add(domain)
    if not yielded:
        return  # no sources: the load stage says so
    for domain in recipe.selection.mix:
        if domain not in yielded:
            key = f"selection.mix.{domain}"
            raise RecipeError(recipe.where(key), key, f"no source of this recipe yields the domain {domain!r} "
                              f"(its sources yield: {', '.join(sorted(yielded))})")
