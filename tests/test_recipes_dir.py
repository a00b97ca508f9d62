"""Every recipe shipped in recipes/ and the embedded default of every domain plugin is valid:
keys, types, installed plugins and their option names (nothing is loaded or downloaded)."""

from pathlib import Path

import pytest

from redstar.plugins import Host
from redstar.recipe import check_plugins, default_recipe, load_recipe

RECIPES = sorted((Path(__file__).resolve().parents[1] / "recipes").glob("*.yaml"))


@pytest.fixture(scope="module")
def host():
    return Host(load_entry_points=True, allow=["math", "code", "geo", "rl"])


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_shipped_recipe_is_valid(path, host):
    check_plugins(load_recipe(path), host)


@pytest.mark.parametrize("plugins", [["math"], ["code"], ["math", "code"], ["geo"]], ids=",".join)
def test_embedded_defaults_are_valid(plugins, host):
    recipe = default_recipe(host, plugins)
    check_plugins(recipe, host)
    assert recipe["sources"] and recipe["evaluation"]["evaluators"]
