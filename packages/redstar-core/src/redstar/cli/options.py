"""What every command shares: the plugin host of the invocation, ``--plugins``, and
``KEY=VALUE`` options parsed the way recipes are (``5e-7`` is a number). Plugins' own commands
use these too (``redstar score-model --option count=400``)."""

from __future__ import annotations

from typing import Any

import click

from redstar.errors import RedStarError
from redstar.plugins import ALLOWLIST_ENV, Host


def host_of(ctx: click.Context) -> Host:
    """The plugin host of this invocation (the test's, or the installed plugins')."""
    from redstar.plugins import get_host

    root = ctx.find_root().obj
    return root["host"] if isinstance(root, dict) and "host" in root else get_host()


def plugins_option(fn: Any) -> Any:
    return click.option(
        "--plugins",
        metavar="NAMES",
        help="Comma-separated plugins whose domains the run covers (e.g. math,code): their parts make "
             "up the embedded default recipe. Other installed plugins (such as rl's trainers) stay "
             f"available; ${ALLOWLIST_ENV} limits which plugins load at all.",
    )(fn)


def selected_plugins(plugins: str | None) -> list[str] | None:
    return None if not plugins else [p.strip() for p in plugins.split(",") if p.strip()]


def check_selected(host: Host, selected: list[str] | None) -> None:
    if not selected:
        return
    _ = host.registry  # registering is what finds a failing registration hook
    loaded = set(host.plugin_names())
    for name in selected:
        if name in host.failures:
            raise RedStarError(f"{host.origin(name).describe()} failed to load: {host.failures[name]}")
        if name not in loaded:
            raise RedStarError(f"plugin {name!r} is not installed (installed: {', '.join(sorted(loaded)) or 'none'})")


def resolve_recipe(host: Host, recipe_file: str | None, selected: list[str] | None) -> Any:
    """The recipe a command runs: the file given, else the selected plugins' embedded default."""
    from redstar.recipe import default_recipe, load_recipe

    if recipe_file:
        return load_recipe(recipe_file)
    try:
        recipe = default_recipe(host, selected)
    except RedStarError:
        _check_default_parts(host, selected)  # the cause, where a plugin's part is
        raise
    _check_default_parts(host, selected)
    return recipe


def _check_default_parts(host: Host, selected: list[str] | None) -> None:
    """A selected plugin (any, when none is selected) whose ``redstar_default_recipe`` raised or
    answered a wrong type is left out of the default: stop, naming it, rather than run a default
    without its part."""
    broken = [name for name, problem in host.failures.items()
              if (selected is None or name in selected) and problem.startswith("redstar_default_recipe")]
    check_selected(host, broken)


def split_key_value(item: str, param_hint: str = "--option") -> tuple[str, str]:
    if "=" not in item:
        raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint=param_hint)
    key, value = item.split("=", 1)
    return key.strip(), value


def parse_options(items: tuple[str, ...] | list[str], param_hint: str = "--option") -> dict[str, Any]:
    """``("lr=5e-7", "mode=lenient")`` -> ``{"lr": 5e-07, "mode": "lenient"}``: each value is read
    as YAML with the recipe loader, so a value means the same on the command line as in a recipe."""
    import yaml

    from redstar.recipe import parse_yaml

    options = {}
    for key, value in (split_key_value(item, param_hint) for item in items):
        try:
            options[key] = parse_yaml(value)
        except yaml.YAMLError as exc:
            raise click.BadParameter(f"{key}: {getattr(exc, 'problem', None) or exc}", param_hint=param_hint) from None
    return options
