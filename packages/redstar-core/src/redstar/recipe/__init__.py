"""Recipes: the YAML file that drives ``redstar run``.

A recipe is read as untrusted YAML (:mod:`redstar.recipe.safe_yaml`: size, alias and depth
limits, no duplicate keys) and validated into typed sections (:mod:`redstar.recipe.sections`)
before anything runs. An unknown key, a value of the wrong type or out of range
(:mod:`redstar.recipe.values`) is a :class:`~redstar.errors.RecipeError` naming the file, the
line and the dotted key (``sampling.temperature``). Plugin options (``sources[].options`` and
the like) are checked against the plugin's constructor, names and types, once the plugin is
known (:mod:`redstar.recipe.references`, at ``recipe check`` and before a run touches its
directory).

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
    MixCount,
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
    "BASE_RECIPE", "Cleaning", "Decontamination", "DomainSelection", "Evaluation", "Execution", "MixCount", "Models",
    "PluginRef", "PluginReference", "Preference", "RLStep", "Recipe", "Sampling", "Scoring", "Section", "Selection",
    "StudentPrompts", "TrainStep", "check_plugins", "default_recipe", "dump", "key_lines", "load_recipe",
    "merge_parts",
    "parse_yaml", "plugin_references", "validate",
]
