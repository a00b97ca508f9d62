"""``redstar new-plugin NAME``: write a plugin package that works before anyone edits it.

The skeleton has a source, a verifier, an evaluator, a default-recipe part that blends with math,
tests that use the fixtures of :mod:`redstar.testing`, and a README. Its templates live in
``scaffold_templates/`` (shipped in the wheel with the rest of ``src/redstar``); they end in
``.tmpl`` so that neither ruff nor pytest nor the packaging tests take them for RedStar's own
code. Placeholders are :class:`string.Template` ones (``${module}``), substituted strictly so a
misspelt one fails here, not in the user's package.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from string import Template

import click

#: Template file -> path in the generated package ({name} and {module} are filled in).
FILES = {
    "pyproject.toml.tmpl": "pyproject.toml",
    "README.md.tmpl": "README.md",
    "__init__.py.tmpl": "src/{module}/__init__.py",
    "plugin.py.tmpl": "src/{module}/plugin.py",
    "source.py.tmpl": "src/{module}/source.py",
    "verifier.py.tmpl": "src/{module}/verifier.py",
    "evaluator.py.tmpl": "src/{module}/evaluator.py",
    "test_plugin.py.tmpl": "tests/test_{name}.py",
}
#: Data files copied as they are.
DATA = {
    "examples.jsonl": "src/{module}/data/examples.jsonl",
    "heldout.jsonl": "src/{module}/data/heldout.jsonl",
}

#: Plugin names RedStar's own packages use: a second ``math`` entry point would shadow one of them.
RESERVED_NAMES = ("core", "math", "code", "geo", "rl")
#: Domains that already have a verifier: registering a second one for a domain is an error.
RESERVED_DOMAINS = ("math", "code", "geo")

# The name becomes the entry-point name, the ``redstar_NAME`` module and the ``redstar-NAME``
# distribution, so it must be a lowercase identifier (no hyphen: it would not be importable).
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]*")
# A domain is a key in recipes (``selection.mix.<domain>``) and in prompt ids.
DOMAIN_PATTERN = re.compile(r"[a-z][a-z0-9_-]*")
MAX_LENGTH = 40


def check_name(name: str) -> str:
    """Return ``name`` if it can name a plugin, else raise ValueError saying why."""
    for prefix in ("redstar-", "redstar_"):
        if name.startswith(prefix) and len(name) > len(prefix):
            raise ValueError(f"give the short name: {name.removeprefix(prefix)!r} "
                             f"makes the package redstar-{name.removeprefix(prefix)}")
    if not NAME_PATTERN.fullmatch(name) or len(name) > MAX_LENGTH:
        raise ValueError(f"{name!r} is not a valid plugin name: use a lowercase letter, then lowercase letters, "
                         f"digits or '_' (at most {MAX_LENGTH} characters), e.g. 'dice' or 'word_games'")
    if name in RESERVED_NAMES:
        raise ValueError(f"{name!r} is the name of a plugin RedStar ships ({', '.join(RESERVED_NAMES)}); pick another")
    return name


def check_domain(domain: str) -> str:
    """Return ``domain`` if a new plugin can own it, else raise ValueError saying why."""
    if not DOMAIN_PATTERN.fullmatch(domain) or len(domain) > MAX_LENGTH:
        raise ValueError(f"{domain!r} is not a valid domain: use a lowercase letter, then lowercase letters, "
                         f"digits, '_' or '-' (at most {MAX_LENGTH} characters)")
    if domain in RESERVED_DOMAINS:
        raise ValueError(f"domain {domain!r} already has its verifier in a RedStar plugin; pick another")
    return domain


def class_prefix(name: str) -> str:
    """``word_games`` -> ``WordGames``, the prefix of the generated classes."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("_") if part)


def _template(filename: str) -> str:
    return (resources.files("redstar") / "scaffold_templates" / filename).read_text(encoding="utf-8")


def render(name: str, domain: str | None = None) -> dict[str, str]:
    """Every file of the package ``redstar-NAME``: relative path -> text."""
    check_name(name)
    domain = check_domain(domain if domain is not None else name)
    module = f"redstar_{name}"
    values = {"name": name, "domain": domain, "module": module, "dist": f"redstar-{name}",
              "classname": class_prefix(name)}
    out = {}
    for template, target in FILES.items():
        out[target.format(name=name, module=module)] = Template(_template(template)).substitute(values)
    for data, target in DATA.items():
        out[target.format(name=name, module=module)] = _template(data)
    return out


def write_plugin(name: str, dest: Path, *, domain: str | None = None, force: bool = False) -> Path:
    """Write the package ``redstar-NAME/`` under ``dest`` and return its folder.

    Raises ValueError for a bad name or domain, and FileExistsError when the folder exists and is
    not empty, unless ``force`` (which overwrites the skeleton's files and leaves others alone).
    Everything is checked before the first file is written.
    """
    files = render(name, domain)
    root = Path(dest) / f"redstar-{name}"
    if root.exists() and not root.is_dir():
        raise FileExistsError(f"{root} exists and is not a folder")
    if root.is_dir() and any(root.iterdir()) and not force:
        raise FileExistsError(f"{root} exists and is not empty (--force overwrites the skeleton's files in it)")
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@click.command(name="new-plugin")
@click.argument("name")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Folder to create redstar-NAME/ in.")
@click.option("--domain", help="Domain of the plugin's prompts, verifier and evaluator (default: NAME).")
@click.option("--force", is_flag=True, help="Write into an existing, non-empty redstar-NAME/ (overwrites the "
              "skeleton's files, keeps the others).")
def new_plugin(name: str, directory: Path, domain: str | None, force: bool) -> None:
    """Write a working plugin package redstar-NAME/: a source, a verifier, an evaluator, a
    default recipe that blends with math, tests and a README.

    \b
    Examples:
      redstar new-plugin dice
      redstar new-plugin word_games --domain words --dir plugins/
    """
    try:
        check_name(name)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="NAME") from None
    if domain is not None:
        try:
            check_domain(domain)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--domain") from None
    try:
        root = write_plugin(name, directory, domain=domain, force=force)
    except FileExistsError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:  # a folder that cannot be written, a full disk: the user's to fix
        raise click.ClickException(f"cannot write {exc.filename or directory}: {exc.strerror or exc}") from None
    click.echo(f"wrote {root}\n\nNext:\n  cd {root}\n  pip install -e \".[test]\"\n  python -m pytest\n"
               f"  redstar run --plugins math,{name}")
