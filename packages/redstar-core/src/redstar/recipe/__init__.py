"""Recipes: the YAML file that drives ``redstar run``.

A recipe is validated into typed sections (:mod:`redstar.recipe.sections`) before anything
runs. An unknown key or a value of the wrong type is a :class:`~redstar.errors.RecipeError`
naming the file, the line and the dotted key (``sampling.temperature``). Plugin options
(``sources[].options`` and the like) are checked later against the plugin's constructor, once
the plugin is known (:mod:`redstar.recipe.references`).

With no recipe file, :func:`default_recipe` assembles the embedded default from core's
:data:`BASE_RECIPE` and the ``redstar_default_recipe`` parts of the selected plugins.
"""

from redstar.recipe.defaults import BASE_RECIPE, default_recipe, merge_parts
from redstar.recipe.loading import dump, key_lines, load_recipe, parse_yaml, validate
from redstar.recipe.references import PluginReference, check_plugins, plugin_references
from redstar.recipe.sections import (
    Cleaning,
    Decontamination,
    DomainSelection,
    Evaluation,
    Execution,
    Models,
    PluginRef,
    Preference,
    Recipe,
    RLStep,
    Sampling,
    Scoring,
    Section,
    Selection,
    StudentPrompts,
    TrainStep,
)

__all__ = [
    "BASE_RECIPE", "Cleaning", "Decontamination", "DomainSelection", "Evaluation", "Execution", "Models",
    "PluginRef", "PluginReference", "Preference", "RLStep", "Recipe", "Sampling", "Scoring", "Section", "Selection",
    "StudentPrompts", "TrainStep", "check_plugins", "default_recipe", "dump", "key_lines", "load_recipe", "merge_parts",
    "parse_yaml", "plugin_references", "validate",
]
