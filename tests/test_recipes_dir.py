"""Every recipe shipped in recipes/ and the embedded default of every domain plugin is valid:
keys, types and values, installed plugins, their option names and the values their cheap
constructors accept: all that a run checks before its first stage, but the model paths, which
belong to the machine the recipe is for (nothing is loaded or downloaded)."""

from pathlib import Path

import pytest

from redstar.pipeline.context import PluginContext
from redstar.pipeline.preflight import preflight
from redstar.plugins import Host
from redstar.recipe import default_recipe, load_recipe

RECIPES = sorted((Path(__file__).resolve().parents[1] / "recipes").glob("*.yaml"))


@pytest.fixture(scope="module")
def host():
    return Host(load_entry_points=True, allow=["math", "code", "geo", "rl"])


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_shipped_recipe_is_valid(path, host):
    ctx = PluginContext(recipe=load_recipe(path), host=host)
    try:
        preflight(ctx, check_paths=False)
    finally:
        ctx.close()


@pytest.mark.parametrize("plugins", [["math"], ["code"], ["math", "code"], ["geo"]], ids=",".join)
def test_embedded_defaults_are_valid(plugins, host):
    recipe = default_recipe(host, plugins)
    ctx = PluginContext(recipe=recipe, host=host)
    try:
        preflight(ctx)  # the embedded models are installed: their paths are checked too
    finally:
        ctx.close()
    assert recipe.sources and recipe.evaluation.evaluators
