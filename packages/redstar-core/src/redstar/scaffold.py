"""``redstar new-plugin NAME --kind KIND``: write a plugin package that works before anyone edits it.

Every kind of plugin has a skeleton: ``domain`` (a source, a verifier, an evaluator and a
default-recipe part that blends with math), ``sampler``, ``scorer``, ``evaluator``, ``trainer``,
``filter`` and ``stage``. Each package has its tests (on the fixtures of :mod:`redstar.testing`:
the kinds that need a run use its ``toy`` domain) and a README, and uses only the APIs that
docs/plugins.md documents. The templates live in ``scaffold_templates/<kind>/`` and
``scaffold_templates/common/`` (shipped in the wheel with the rest of ``src/redstar``); they end
in ``.tmpl`` so that neither ruff nor pytest nor the packaging tests take them for RedStar's own
code. Placeholders are :class:`string.Template` ones (``${module}``), substituted strictly so a
misspelt one fails here, not in the user's package.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template

import click


@dataclass(frozen=True)
class Kind:
    """A kind of skeleton: what the package provides, its templates (in ``scaffold_templates/
    <kind>/``), the data files it copies, the names core and RedStar's plugins already register
    for that kind, and what to run once it is installed."""

    description: str  # the package's one-line description (placeholders allowed)
    templates: tuple[str, ...]
    data: tuple[str, ...] = ()
    taken: tuple[str, ...] = ()
    try_it: str = ""
    #: ``--domain``: the default (None: NAME), or False where the kind has no domain.
    domain: str | None | bool = False


KINDS: dict[str, Kind] = {
    "domain": Kind("RedStar plugin for the ${domain} domain: a source of prompts, a verifier and an evaluator",
                   ("README.md.tmpl", "plugin.py.tmpl", "source.py.tmpl", "verifier.py.tmpl", "evaluator.py.tmpl",
                    "test_plugin.py.tmpl"), ("examples.jsonl", "heldout.jsonl"),
                   try_it="redstar run --plugins math,${name}", domain=None),
    "sampler": Kind("RedStar sampler ${name}: a generation backend", ("README.md.tmpl", "plugin.py.tmpl",
                    "sampler.py.tmpl", "test_plugin.py.tmpl"), taken=("transformers", "vllm", "openai", "internvl"),
                    try_it="redstar eval --model MODEL --evaluator math500 --limit 5 --backend ${name}"),
    "scorer": Kind("RedStar scorer ${name}: difficulty levels 1-10", ("README.md.tmpl", "plugin.py.tmpl",
                   "scorer.py.tmpl", "test_plugin.py.tmpl"), taken=("given", "trained"),
                   try_it="redstar plugins --options ${name}"),
    "evaluator": Kind("RedStar evaluator ${name}: a ${domain} benchmark", ("README.md.tmpl", "plugin.py.tmpl",
                      "evaluator.py.tmpl", "test_plugin.py.tmpl"), ("problems.jsonl",),
                      taken=("gsm8k", "math500", "aime24", "amc23", "olympiadbench", "taco", "geoqa", "geometry3k"),
                      try_it="redstar eval --model embedded:tiny-student --evaluator ${name}", domain="math"),
    "trainer": Kind("RedStar trainer ${name}: supervised fine-tuning in plain PyTorch", ("README.md.tmpl",
                    "plugin.py.tmpl", "trainer.py.tmpl", "test_plugin.py.tmpl"),
                    taken=("sft", "dpo", "ppo", "reinforce_pp", "grpo"),
                    try_it="redstar train --trainer ${name} --model embedded:tiny-student --data runs/X/sft.jsonl "
                           "--out models/${name}"),
    "filter": Kind("RedStar cleaning filter ${name}", ("README.md.tmpl", "plugin.py.tmpl", "filter.py.tmpl",
                   "test_plugin.py.tmpl"), taken=("repetition", "language"), try_it="redstar plugins --options ${name}"),
    "stage": Kind("RedStar pipeline stage ${name}", ("README.md.tmpl", "plugin.py.tmpl", "stage.py.tmpl",
                  "test_plugin.py.tmpl"),
                  taken=("load", "score", "select", "sample", "verify", "build", "train", "evaluate", "report"),
                  try_it="redstar run --plugins math --until curate"),
}
COMMON = ("pyproject.toml.tmpl", "__init__.py.tmpl")

#: Plugin names RedStar's own packages use (``toy``: the testing fixtures' domain): a second
#: ``math`` entry point would shadow one of them.
RESERVED_NAMES = ("core", "math", "code", "geo", "rl", "toy")
#: Domains that already have a verifier: registering a second one for a domain is an error.
RESERVED_DOMAINS = ("math", "code", "geo", "toy")

# The name becomes the entry-point name, the ``redstar_NAME`` module and the ``redstar-NAME``
# distribution, so it must be a lowercase identifier (no hyphen: it would not be importable).
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]*")
# A domain is a key in recipes (``selection.mix.<domain>``) and in prompt ids.
DOMAIN_PATTERN = re.compile(r"[a-z][a-z0-9_-]*")
MAX_LENGTH = 40


def check_name(name: str, kind: str = "domain") -> str:
    """Return ``name`` if it can name a plugin of ``kind``, else raise ValueError saying why."""
    for prefix in ("redstar-", "redstar_"):
        if name.startswith(prefix) and len(name) > len(prefix):
            raise ValueError(f"give the short name: {name.removeprefix(prefix)!r} "
                             f"makes the package redstar-{name.removeprefix(prefix)}")
    if not NAME_PATTERN.fullmatch(name) or len(name) > MAX_LENGTH:
        raise ValueError(f"{name!r} is not a valid plugin name: use a lowercase letter, then lowercase letters, "
                         f"digits or '_' (at most {MAX_LENGTH} characters), e.g. 'dice' or 'word_games'")
    if name in RESERVED_NAMES:
        raise ValueError(f"{name!r} is the name of a plugin RedStar ships ({', '.join(RESERVED_NAMES)}); pick another")
    if name in KINDS[kind].taken:
        raise ValueError(f"{name!r} is already the name of a {kind} RedStar ships; pick another")
    return name


def check_domain(domain: str, kind: str = "domain") -> str:
    """Return ``domain`` if a new plugin of ``kind`` can use it, else raise ValueError saying why:
    a domain plugin owns a new domain; an evaluator benchmarks one that has a verifier."""
    if KINDS[kind].domain is False:
        raise ValueError(f"a {kind} has no domain: --domain applies to --kind domain and --kind evaluator")
    if not DOMAIN_PATTERN.fullmatch(domain) or len(domain) > MAX_LENGTH:
        raise ValueError(f"{domain!r} is not a valid domain: use a lowercase letter, then lowercase letters, "
                         f"digits, '_' or '-' (at most {MAX_LENGTH} characters)")
    if kind == "domain" and domain in RESERVED_DOMAINS:
        raise ValueError(f"domain {domain!r} already has its verifier in a RedStar plugin; pick another")
    return domain


def class_prefix(name: str) -> str:
    """``word_games`` -> ``WordGames``, the prefix of the generated classes."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("_") if part)


def _template(path: str) -> str:
    return (resources.files("redstar") / "scaffold_templates" / path).read_text(encoding="utf-8")


def files_of(kind: str) -> dict[str, str]:
    """Template (``<kind>/source.py.tmpl``, ``common/...``) -> path in the package, with ``{name}``
    and ``{module}`` to fill in; data files (no ``.tmpl``) are copied as they are."""
    spec = KINDS[kind]
    out = {"common/pyproject.toml.tmpl": "pyproject.toml", "common/__init__.py.tmpl": "src/{module}/__init__.py"}
    for template in spec.templates:
        target = {"README.md.tmpl": "README.md", "test_plugin.py.tmpl": "tests/test_{name}.py"}.get(template)
        out[f"{kind}/{template}"] = target or f"src/{{module}}/{template.removesuffix('.tmpl')}"
    for data in spec.data:
        out[f"{kind}/{data}"] = f"src/{{module}}/data/{data}"
    return out


#: The domain skeleton's files (what ``redstar new-plugin NAME`` writes).
FILES = files_of("domain")


def render(name: str, domain: str | None = None, kind: str = "domain") -> dict[str, str]:
    """Every file of the package ``redstar-NAME`` of ``kind``: relative path -> text."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; the kinds are {', '.join(KINDS)}")
    spec = KINDS[kind]
    check_name(name, kind)
    if domain is not None:
        check_domain(domain, kind)
    elif spec.domain is not False:
        domain = check_domain(name if spec.domain is None else str(spec.domain), kind)
    module = f"redstar_{name}"
    values = {"name": name, "domain": domain or "", "module": module, "dist": f"redstar-{name}",
              "classname": class_prefix(name), "kind": kind}
    values["description"] = Template(spec.description).substitute(values)
    out = {}
    for template, target in files_of(kind).items():
        text = _template(template)
        out[target.format(name=name, module=module)] = \
            Template(text).substitute(values) if template.endswith(".tmpl") else text
    return out


def write_plugin(name: str, dest: Path, *, domain: str | None = None, force: bool = False,
                 kind: str = "domain") -> Path:
    """Write the package ``redstar-NAME/`` of ``kind`` under ``dest`` and return its folder.

    Raises ValueError for a bad name, kind or domain, and FileExistsError when the folder exists
    and is not empty, unless ``force`` (which overwrites the skeleton's files and leaves others
    alone). Everything is checked before the first file is written.
    """
    files = render(name, domain, kind)
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
@click.option("--kind", type=click.Choice(list(KINDS)), default="domain", show_default=True,
              help="What the plugin provides: a whole domain, or one sampler, scorer, evaluator, trainer, "
                   "cleaning filter or pipeline stage.")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Folder to create redstar-NAME/ in.")
@click.option("--domain", help="--kind domain: the domain of its prompts, verifier and evaluator (default: NAME); "
                               "--kind evaluator: the domain it benchmarks (default: math).")
@click.option("--force", is_flag=True, help="Write into an existing, non-empty redstar-NAME/ (overwrites the "
              "skeleton's files, keeps the others).")
def new_plugin(name: str, kind: str, directory: Path, domain: str | None, force: bool) -> None:
    """Write a working plugin package redstar-NAME/ with its tests and a README: a domain (a
    source, a verifier, an evaluator and a default recipe that blends with math), or one
    sampler, scorer, evaluator, trainer, cleaning filter or pipeline stage (--kind).

    \b
    Examples:
      redstar new-plugin dice
      redstar new-plugin word_games --domain words --dir plugins/
      redstar new-plugin keywords --kind scorer
      redstar new-plugin my_bench --kind evaluator --domain math
    """
    try:
        check_name(name, kind)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="NAME") from None
    if domain is not None:
        try:
            check_domain(domain, kind)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--domain") from None
    try:
        root = write_plugin(name, directory, domain=domain, force=force, kind=kind)
    except FileExistsError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:  # a folder that cannot be written, a full disk: the user's to fix
        raise click.ClickException(f"cannot write {exc.filename or directory}: {exc.strerror or exc}") from None
    try_it = Template(KINDS[kind].try_it).substitute(name=name)
    click.echo(f"wrote {root}\n\nNext:\n  cd {root}\n  pip install -e \".[test]\"\n  python -m pytest\n  {try_it}")
