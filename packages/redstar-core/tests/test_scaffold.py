"""`redstar new-plugin NAME [--kind KIND]` writes a package that passes its own tests, loads through
its entry point, is ruff clean, uses only documented APIs, and (a domain) blends with math
without shrinking math's selection."""

import importlib
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from redstar.scaffold import FILES, KINDS, new_plugin, write_plugin

ROOT = Path(__file__).resolve().parents[3]


def install(package: Path, site: Path) -> str:
    """Make ``package``'s entry point visible to importlib.metadata from ``site``. With hatchling
    in this environment, a real build (``pip install --target``); without it (CI's venv has no
    hatchling), a dist-info written from the package's pyproject.toml, which is what a build
    would record. Either way the shared venv is left alone."""
    if importlib.util.find_spec("hatchling") is not None:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                        "--no-index", "--target", str(site), str(package)], check=True)
        return "pip"
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((package / "pyproject.toml").read_text())["project"]
    info = site / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n")
    points = "".join(f"{key} = {value}\n" for key, value in project["entry-points"]["redstar"].items())
    (info / "entry_points.txt").write_text(f"[redstar]\n{points}")
    return "dist-info"


# The domain skeleton's run stays in the quick loop; the other kinds (15-45 s each) are slow.
@pytest.mark.parametrize("kind", [k if k == "domain" else pytest.param(k, marks=pytest.mark.slow) for k in KINDS])
def test_the_generated_package_passes_its_own_tests_with_its_entry_point_installed(tmp_path, kind):
    package = write_plugin("word_games", tmp_path, domain="words") if kind == "domain" else \
        write_plugin(f"my_{kind}", tmp_path, kind=kind)
    site = tmp_path / "site"
    install(package, site)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}
    env.pop("REDSTAR_PLUGINS", None)
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs"], cwd=package,
                            env=env, capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    summary = output.strip().splitlines()[-1]
    # Every test ran: those that need math (the domain's blend, the evaluator's eval: math is
    # installed here) and the entry-point test included.
    assert re.search(r"\d+ passed", summary) and not re.search(r"skipped|failed|error", summary), output


@pytest.mark.skipif(importlib.util.find_spec("ruff") is None, reason="ruff is not installed")
@pytest.mark.parametrize("kind", list(KINDS))
def test_the_generated_code_is_ruff_clean_under_the_root_config_and_its_own(tmp_path, kind):
    package = write_plugin("word_games", tmp_path, domain="words" if kind == "domain" else None, kind=kind)
    for config in (["--config", str(ROOT / "pyproject.toml")], []):
        result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", *config, "."], cwd=package,
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


def test_the_package_follows_the_plugin_naming_scheme_and_the_domain_defaults_to_the_name(tmp_path):
    tomllib = pytest.importorskip("tomllib")
    package = write_plugin("dice", tmp_path)
    assert package == tmp_path / "redstar-dice"
    written = sorted(str(p.relative_to(package)) for p in package.rglob("*") if p.is_file())
    expected = {t.format(name="dice", module="redstar_dice") for t in FILES.values()}
    assert written == sorted(expected)
    project = tomllib.loads((package / "pyproject.toml").read_text())["project"]
    assert project["name"] == "redstar-dice" and project["dependencies"] == ["redstar-core"]
    assert project["entry-points"]["redstar"] == {"dice": "redstar_dice.plugin"}
    assert "pytest" in project["optional-dependencies"]["test"][0]
    assert 'domain = "dice"' in (package / "src/redstar_dice/verifier.py").read_text()
    assert "class DiceVerifier(Verifier)" in (package / "src/redstar_dice/verifier.py").read_text()
    readme = (package / "README.md").read_text()
    assert "pip install -e" in readme and "redstar run --plugins math,dice" in readme


def test_the_default_recipe_blends_with_math_without_shrinking_maths_selection(tmp_path, monkeypatch,
                                                                             register_plugin, redstar_host):
    math_plugin = pytest.importorskip("redstar_math.plugin")
    from redstar.recipe import default_recipe
    from redstar.selection import DomainRule, select

    write_plugin("blendcheck", tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path / "redstar-blendcheck" / "src"))
    try:
        register_plugin(importlib.import_module("redstar_blendcheck.plugin"), name="blendcheck")
        register_plugin(math_plugin, name="math")
        recipe = default_recipe(redstar_host, ["math", "blendcheck"])
        prompts = [p for spec in recipe.sources
                   for p in redstar_host.get("sources", spec.name)(**spec.options).load()]
    finally:
        for module in [m for m in sys.modules if m.startswith("redstar_blendcheck")]:
            del sys.modules[module]
    cfg = recipe.selection
    rules = {d: DomainRule(r.min_level, r.max_level, r.max_prompts) for d, r in cfg.domains.items()}
    report = select(prompts, min_level=cfg.min_level, max_level=cfg.max_level, per_source=cfg.per_source,
                    mix=cfg.mix, total=cfg.total, domains=rules, mix_mode=cfg.mix_mode)

    def in_band(domain):
        band = cfg.domains[domain]
        return [p for p in prompts if p.domain == domain and band.min_level <= p.difficulty <= band.max_level]

    # In ratio mode the domain with the fewest prompts for its share sets the size: that must be
    # math, not the new domain, so math keeps its prompts (all but at most one, as the ratio
    # mode rounds the total down) and the new domain gets its share on top.
    assert len(in_band("blendcheck")) / cfg.mix["blendcheck"] > len(in_band("math")) / cfg.mix["math"]
    kept = [p.domain for p in report.kept]
    assert kept.count("math") >= len(in_band("math")) - 1
    assert 0 < kept.count("blendcheck") < len(in_band("blendcheck"))


def test_the_command_writes_the_package_and_says_what_to_do_next(tmp_path, redstar_host):
    from redstar.cli import build_cli

    cli = build_cli(redstar_host)
    cli.add_command(new_plugin)
    result = CliRunner().invoke(cli, ["new-plugin", "dice", "--dir", str(tmp_path / "plugins")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "plugins" / "redstar-dice" / "src" / "redstar_dice" / "plugin.py").is_file()
    assert "python -m pytest" in result.output and "redstar run --plugins math,dice" in result.output


@pytest.mark.parametrize(("args", "message"), [
    (["1bad"], "'1bad' is not a valid plugin name"),
    (["Dice"], "'Dice' is not a valid plugin name"),
    (["my-plugin"], "'my-plugin' is not a valid plugin name"),
    (["redstar-dice"], "give the short name: 'dice'"),
    (["math"], "'math' is the name of a plugin RedStar ships"),
    (["rl"], "'rl' is the name of a plugin RedStar ships"),
    (["core"], "'core' is the name of a plugin RedStar ships"),
    (["dice", "--domain", "code"], "domain 'code' already has its verifier"),
    (["dice", "--domain", "Dice!"], "'Dice!' is not a valid domain"),
])
def test_bad_names_and_domains_are_clear_errors_that_write_nothing(tmp_path, args, message):
    result = CliRunner().invoke(new_plugin, [*args, "--dir", str(tmp_path)])
    assert result.exit_code == 2
    assert message in result.output
    assert not any(tmp_path.iterdir())


def test_an_existing_folder_needs_force_which_keeps_the_other_files(tmp_path):
    target = tmp_path / "redstar-dice"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    (target / "README.md").write_text("old")
    refused = CliRunner().invoke(new_plugin, ["dice", "--dir", str(tmp_path)])
    assert refused.exit_code == 1 and "not empty" in refused.output and "--force" in refused.output
    assert (target / "README.md").read_text() == "old"
    forced = CliRunner().invoke(new_plugin, ["dice", "--dir", str(tmp_path), "--force"])
    assert forced.exit_code == 0, forced.output
    assert (target / "notes.txt").read_text() == "mine"
    assert "redstar-dice" in (target / "README.md").read_text()


def test_an_empty_existing_folder_is_used_without_force(tmp_path):
    (tmp_path / "redstar-dice").mkdir()
    assert write_plugin("dice", tmp_path) == tmp_path / "redstar-dice"
    assert (tmp_path / "redstar-dice" / "pyproject.toml").is_file()


@pytest.mark.parametrize(("args", "message"), [
    (["given", "--kind", "scorer"], "'given' is already the name of a scorer RedStar ships"),
    (["sft", "--kind", "trainer"], "'sft' is already the name of a trainer RedStar ships"),
    (["verify", "--kind", "stage"], "'verify' is already the name of a stage RedStar ships"),
    (["toy"], "'toy' is the name of a plugin RedStar ships"),
    (["keywords", "--kind", "scorer", "--domain", "math"], "a scorer has no domain"),
    (["keywords", "--kind", "ranker"], "'ranker' is not one of"),
])
def test_kinds_refuse_names_that_are_taken_and_a_domain_they_do_not_have(tmp_path, args, message):
    result = CliRunner().invoke(new_plugin, [*args, "--dir", str(tmp_path)])
    assert result.exit_code == 2 and message in result.output, result.output
    assert not any(tmp_path.iterdir())


def test_each_kind_registers_one_component_under_the_plugins_name(tmp_path, monkeypatch, redstar_host,
                                                                   register_plugin):
    from redstar.pipeline.stages import pipeline_stages

    kinds = {"sampler": "samplers", "scorer": "scorers", "evaluator": "evaluators", "trainer": "trainers",
             "filter": "filters"}
    for kind, registry_kind in kinds.items():
        write_plugin(f"k_{kind}", tmp_path, kind=kind)
        monkeypatch.syspath_prepend(str(tmp_path / f"redstar-k_{kind}" / "src"))
        register_plugin(importlib.import_module(f"redstar_k_{kind}.plugin"), name=f"k_{kind}")
        assert redstar_host.infos[f"k_{kind}"].provides == {registry_kind: [f"k_{kind}"]}
    assert redstar_host.get("evaluators", "k_evaluator").domain == "math"
    write_plugin("k_stage", tmp_path, kind="stage")
    monkeypatch.syspath_prepend(str(tmp_path / "redstar-k_stage" / "src"))
    register_plugin(importlib.import_module("redstar_k_stage.plugin"), name="k_stage")
    assert [s.name for s in pipeline_stages(redstar_host)][4:6] == ["verify", "k_stage"]
    assert not redstar_host.failures
    for module in [m for m in sys.modules if m.startswith("redstar_k_")]:
        del sys.modules[module]


@pytest.mark.parametrize("kind", list(KINDS))
def test_the_skeletons_use_only_the_apis_docs_plugins_md_documents(tmp_path, kind):
    docs = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    documented = docs[docs.index("## The APIs a plugin uses"):]
    package = write_plugin(f"api_{kind}", tmp_path, kind=kind)
    used = set()
    for path in package.rglob("*.py"):
        for module, names in re.findall(r"^\s*from (redstar(?:\.[\w.]+)?) import ([\w, ]+)$", path.read_text(), re.M):
            used |= {f"{module}.{name.strip()}" for name in names.split(",") if name.strip()}
    assert used, "no redstar import found"
    assert sorted(api for api in used if f"`{api}`" not in documented) == []
