"""``redstar plugins``: what is installed, what each plugin registers, and their options."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from redstar.cli.options import host_of
from redstar.errors import RedStarError


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (always with every option).")
@click.option("--all", "show_all", is_flag=True, help="Include core's built-in plugins.")
@click.option("--options", "show_options", is_flag=True,
              help="Also list each registered class's options: type, default and what it does.")
@click.argument("names", nargs=-1)
@click.pass_context
def plugins(ctx: click.Context, as_json: bool, show_all: bool, show_options: bool, names: tuple[str, ...]) -> None:
    """List installed plugins, their versions and what each registers; with --options (or
    --json), the options each registered class takes, as a recipe would pass them.

    \b
    Examples:
      redstar plugins
      redstar plugins --options code        # the code plugin's classes and their options
      redstar plugins --json | jq '.[].classes'
    """
    from redstar.plugin_options import describe_options

    host_ = host_of(ctx)
    registry = host_.registry  # registering is what fills in `provides` and any failures

    def classes(provides: dict[str, list[str]]) -> dict[str, dict[str, Any]]:
        return {kind: {key: {"class": f"{registry.items[kind][key].__module__}.{registry.items[kind][key].__qualname__}",
                             "options": describe_options(registry.items[kind][key])}
                       for key in keys if key in registry.items.get(kind, {})}
                for kind, keys in provides.items()}

    rows: list[dict[str, Any]] = [
        {"name": i.name, "version": i.version, "module": i.module, "builtin": i.builtin,
         "provides": i.provides, "hooks": i.hooks, "error": host_.failures.get(i.name),
         "classes": classes(i.provides)}
        for i in host_.infos.values()
        if show_all or not i.builtin or i.name in names or set(names) & {k for ks in i.provides.values() for k in ks}
    ]
    known = {r["name"] for r in rows}
    rows += [{"name": n, "version": None, "module": None, "builtin": False, "provides": {}, "hooks": [], "error": e,
              "classes": {}}
             for n, e in host_.failures.items() if n not in known and (show_all or not n.startswith("core:"))]
    if names:
        plugin_names = {r["name"] for r in rows}
        components = {key for r in rows for keys in r["provides"].values() for key in keys}
        unknown = sorted(set(names) - plugin_names - components)
        if unknown:
            raise RedStarError(f"no installed plugin or component named {', '.join(unknown)} "
                               f"(installed: {', '.join(sorted(plugin_names))}; see `redstar plugins --all`)")
        # A component's name (`llm-judge`) shows the plugin that registers it, with that class only.
        picked = set(names) - plugin_names
        rows = [{**r, "classes": {kind: {k: v for k, v in by_key.items() if r["name"] in names or k in picked}
                                  for kind, by_key in r["classes"].items()}}
                for r in rows if r["name"] in names or picked & {k for ks in r["provides"].values() for k in ks}]
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=repr))
        return
    table = Table(title="RedStar plugins")
    for col in ("plugin", "version", "provides", "status"):
        table.add_column(col)
    for r in rows:
        provides = "; ".join(f"{k}: {', '.join(v)}" for k, v in r["provides"].items()) or "-"
        table.add_row(r["name"], r["version"] or "-", provides, f"[red]{r['error']}" if r["error"] else "ok")
    console = Console()
    console.print(table)
    if not show_options:
        console.print("[dim]redstar plugins --options [NAME] lists each class's options[/dim]")
        return
    for r in rows:
        for kind, by_key in r["classes"].items():
            for key, info in by_key.items():
                options = Table(title=f"{r['name']}: {kind[:-1]} {key!r} ({info['class']})", title_justify="left")
                for col in ("option", "type", "default", "what it does"):
                    options.add_column(col, overflow="fold")
                for o in info["options"]:
                    default = "(required)" if o["required"] else repr(o["default"])
                    doc = escape(o["doc"]) if o["doc"] else \
                        "[yellow]not described (the class's docstring has no Args: entry for it)"
                    if o["problem"]:  # the plugin's own fault, e.g. a default of another type than its hint
                        doc = f"{doc} [red]PROBLEM: {escape(o['problem'])}"
                    options.add_row(o["name"], escape(o["type"] or "-"), escape(default), doc)
                if not info["options"]:
                    options.add_row("-", "-", "-", "takes no options")
                console.print(options)

