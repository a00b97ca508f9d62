"""``redstar plugins``: what is installed, what each plugin registers (its stages included), what is
broken, and the options of each registered class."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from redstar.cli.options import host_of
from redstar.errors import RedStarError
from redstar.plugins import Host


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (always with every option).")
@click.option("--all", "show_all", is_flag=True, help="Include core's built-in plugins.")
@click.option("--options", "show_options", is_flag=True,
              help="Also list each registered class's options: type, default and what it does.")
@click.option("--check", is_flag=True,
              help="Exit with status 1 when a plugin failed to load or two plugins register one name (for CI).")
@click.argument("names", nargs=-1)
@click.pass_context
def plugins(ctx: click.Context, as_json: bool, show_all: bool, show_options: bool, check: bool,
            names: tuple[str, ...]) -> None:
    """List installed plugins, their versions, what each registers (stages included) and what is
    broken; with --options (or --json), the options each registered class takes, as a recipe
    would pass them. NAMES are plugins or registered names (a scorer, a sampler...).

    \b
    Examples:
      redstar plugins
      redstar plugins --options code        # the code plugin's classes and their options
      redstar plugins --options llm-judge   # one registered class's options
      redstar plugins --check               # exit 1 if any plugin is broken (CI)
      redstar plugins --json | jq '.[].classes'
    """
    host_ = host_of(ctx)
    rows = plugin_rows(host_, show_all or bool(names))
    problems = host_.problems()
    if names:
        rows = _only(rows, names)
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=repr))
    else:
        _print(rows, problems if not names else [], show_options)
    if check and problems:
        raise click.ClickException(f"{len(problems)} plugin problem(s): " + "; ".join(problems))


def plugin_rows(host_: Host, with_builtin: bool) -> list[dict[str, Any]]:
    """One row per plugin: what it provides (its pipeline stages under ``stages``), its error, the
    names it shares with another plugin, and each registered class's options."""
    from redstar.plugin_options import describe_options

    registry = host_.registry  # registering is what fills in `provides` and any failures
    stages: dict[str, list[str]] = {}
    for plugin, added in host_.call_each("redstar_pipeline_stages"):
        stages[plugin] = [s.name for s in added or () if isinstance(getattr(s, "name", None), str)]
    duplicates: dict[str, list[str]] = {}
    for (kind, key), owners in registry.duplicates.items():
        for owner in owners:
            others = ", ".join(repr(o) for o in owners if o != owner)
            duplicates.setdefault(owner, []).append(f"{kind[:-1]} {key!r} is also registered by {others}")

    def classes(name: str, provides: dict[str, list[str]]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for kind, keys in provides.items():
            for key in keys:
                cls = registry.items.get(kind, {}).get(key)
                if cls is not None and registry.owners.get((kind, key)) == name:
                    out.setdefault(kind, {})[key] = {"class": f"{cls.__module__}.{cls.__qualname__}",
                                                     "options": describe_options(cls)}
        return out

    rows: list[dict[str, Any]] = []
    for info in host_.infos.values():
        if info.builtin and not with_builtin:
            continue
        provides = dict(info.provides)
        if stages.get(info.name):
            provides["stages"] = stages[info.name]
        rows.append({"name": info.name, "version": info.version, "module": info.module, "builtin": info.builtin,
                     "distribution": info.dist, "entry_point": info.entry_point, "provides": provides,
                     "hooks": info.hooks, "error": host_.failures.get(info.name),
                     "duplicates": duplicates.get(info.name, []), "classes": classes(info.name, info.provides)})
    known = {r["name"] for r in rows}
    for name, error in host_.failures.items():
        if name in known or (name.startswith("core:") and not with_builtin):
            continue
        origin = host_.origin(name)
        rows.append({"name": name, "version": origin.version, "module": origin.module or None, "builtin": False,
                     "distribution": origin.dist, "entry_point": origin.entry_point, "provides": {}, "hooks": [],
                     "error": error, "duplicates": [], "classes": {}})
    return rows


def _only(rows: list[dict[str, Any]], names: tuple[str, ...]) -> list[dict[str, Any]]:
    """The rows of the plugins named, and of the plugins that register a name given, showing
    only that class."""
    wanted = set(names)
    out, found = [], set()
    for row in rows:
        if row["name"] in wanted:
            out.append(row)
            found.add(row["name"])
            continue
        picked = {kind: {key: info for key, info in by_key.items() if key in wanted}
                  for kind, by_key in row["classes"].items()}
        picked = {kind: by_key for kind, by_key in picked.items() if by_key}
        stages = [s for s in row["provides"].get("stages", []) if s in wanted]
        if picked or stages:
            found.update(key for by_key in picked.values() for key in by_key)
            found.update(stages)
            out.append({**row, "classes": picked})
    unknown = sorted(wanted - found)
    if unknown:
        registered = sorted({key for row in rows for keys in row["provides"].values() for key in keys})
        raise RedStarError(f"no installed plugin named {', '.join(unknown)}, and no registered class of that name "
                           f"(plugins: {', '.join(sorted(r['name'] for r in rows))}; names: {', '.join(registered)})")
    return out


def _print(rows: list[dict[str, Any]], problems: list[str], show_options: bool) -> None:
    table = Table(title="RedStar plugins")
    for col in ("plugin", "version", "provides", "status"):
        table.add_column(col, overflow="fold")
    for r in rows:
        provides = "; ".join(f"{k}: {', '.join(v)}" for k, v in r["provides"].items()) or "-"
        status = [f"[red]failed: {escape(r['error'])}[/red]"] if r["error"] else []
        status += [f"[yellow]duplicate: {escape(d)}[/yellow]" for d in r["duplicates"]]
        table.add_row(r["name"], r["version"] or "-", escape(provides), "\n".join(status) or "ok")
    console = Console()
    console.print(table)
    for problem in problems:
        console.print(f"[red]problem:[/red] {escape(problem)}", soft_wrap=True)
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
