"""``redstar recipe show|check``: the embedded default as a file to edit; a recipe checked as a run
would check it before its first stage. Both can say, as YAML comments under the recipe, what the
selection gives each domain (:func:`redstar.recipe.explain.explain`)."""

from __future__ import annotations

import click

from redstar.cli.options import check_selected, host_of, plugins_option, resolve_recipe, selected_plugins


@click.group()
def recipe() -> None:
    """Show or check recipes."""

def _comments(lines: list[str]) -> str:
    return "\n".join(["# What the selection gives each domain (before any prompt is loaded):",
                      *(f"#   {line}" for line in lines)])


def _warn(warnings: list[str]) -> None:
    for warning in warnings:
        click.secho(f"warning: {warning}", err=True, fg="yellow")


@recipe.command("show")
@plugins_option
@click.option("--explain", is_flag=True,
              help="Also say, as YAML comments, each domain's band, responses per prompt and prompts from the mix.")
@click.pass_context
def recipe_show(ctx: click.Context, plugins: str | None, explain: bool) -> None:
    """Print the embedded default recipe of the selected plugins (a starting point to edit)."""
    from redstar.recipe import dump
    from redstar.recipe.explain import explain as explained

    host_ = host_of(ctx)
    selected = selected_plugins(plugins)
    check_selected(host_, selected)
    shown = resolve_recipe(host_, None, selected)
    _warn(shown.warnings)
    click.echo(dump(shown))
    if explain:
        click.echo(_comments(explained(shown, host_)))

@recipe.command("check")
@click.argument("recipe_file", type=click.Path(dir_okay=False))
@click.option("--skip-paths", is_flag=True,
              help="Do not check that local model paths exist (a recipe for another machine, or whose student "
                   "an earlier run produces).")
@click.pass_context
def recipe_check(ctx: click.Context, recipe_file: str, skip_paths: bool) -> None:
    """Validate a recipe file: its keys, types and values; that every plugin it names is
    installed and accepts the options given; and that its model paths exist: all that a run
    checks before its first stage. Prints the recipe with every default filled in, and under it,
    as YAML comments, what the selection gives each domain."""
    from redstar.pipeline.context import PluginContext
    from redstar.pipeline.preflight import preflight
    from redstar.recipe import dump, load_recipe
    from redstar.recipe.explain import explain

    loaded = load_recipe(recipe_file)
    checking = PluginContext(recipe=loaded, host=host_of(ctx))
    try:
        preflight(checking, check_paths=not skip_paths)
    finally:
        checking.close()
    click.echo(dump(loaded))
    click.echo(_comments(explain(loaded, checking.host)))

