"""Each package installs alone: it declares every distribution its code imports (extras count for
optional imports), depends on no sibling but redstar-core, and follows the plugin naming scheme
(distribution `redstar-x`, module `redstar_x`, entry point `x = "redstar_x.plugin"`); its wheel
ships its licence and its PEP 561 `py.typed` marker."""

import ast
import re
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = sorted(p for p in (ROOT / "packages").iterdir() if (p / "pyproject.toml").exists())


def project(pkg):
    return tomllib.loads((pkg / "pyproject.toml").read_text())["project"]


def requirement_name(req):
    return re.split(r"[\s<>=!~;\[]", req, maxsplit=1)[0].lower().replace("_", "-")


def imported_modules(src):
    found = set()
    for path in src.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found


def module_distributions():
    # Editable installs of the workspace's own packages are not always in packages_distributions.
    mapping = {p.name.replace("-", "_") if p.name != "redstar-core" else "redstar": {p.name} for p in PACKAGES}
    for module, dists in metadata.packages_distributions().items():
        mapping.setdefault(module, set()).update({d.lower().replace("_", "-") for d in dists})
    return mapping


@pytest.mark.parametrize("pkg", PACKAGES, ids=lambda p: p.name)
def test_package_declares_what_it_imports(pkg):
    proj = project(pkg)
    declared = {requirement_name(r) for r in proj.get("dependencies", [])}
    for extra in proj.get("optional-dependencies", {}).values():
        declared |= {requirement_name(r) for r in extra}
    own_modules = {p.name for p in (pkg / "src").iterdir() if p.is_dir()}
    dists = module_distributions()
    missing = []
    for module in sorted(imported_modules(pkg / "src") - own_modules - set(sys.stdlib_module_names)):
        owners = dists.get(module)
        if owners is None:
            # not installed here (a GPU-only extra such as vllm): it must still be declared
            if module.replace("_", "-") not in declared:
                missing.append(module)
        elif not owners & declared:
            missing.append(f"{module} (from {', '.join(sorted(owners))})")
    assert not missing, f"{pkg.name} imports undeclared distributions: {missing}"


@pytest.mark.parametrize("pkg", [p for p in PACKAGES if p.name != "redstar-core"], ids=lambda p: p.name)
def test_plugin_package_depends_only_on_core_and_follows_the_naming_scheme(pkg):
    proj = project(pkg)
    siblings = {p.name for p in PACKAGES} - {"redstar-core"}
    deps = {requirement_name(r) for r in proj.get("dependencies", [])}
    assert "redstar-core" in deps
    assert not deps & siblings, f"{pkg.name} must not require {deps & siblings}"
    short = pkg.name.removeprefix("redstar-")
    assert proj["name"] == pkg.name
    assert proj["entry-points"]["redstar"] == {short: f"redstar_{short}.plugin"}
    assert (pkg / "src" / f"redstar_{short}" / "plugin.py").exists()


def test_core_requires_no_plugin():
    deps = {requirement_name(r) for r in project(ROOT / "packages" / "redstar-core").get("dependencies", [])}
    assert not any(d.startswith("redstar-") for d in deps)


@pytest.mark.parametrize("pkg", PACKAGES, ids=lambda p: p.name)
def test_torch_range_admits_the_cpu_build(pkg):
    for req in project(pkg).get("dependencies", []):
        if requirement_name(req) == "torch":
            spec = req[len("torch"):].strip()
            from packaging.specifiers import SpecifierSet

            assert SpecifierSet(spec).contains("2.13.0"), f"{pkg.name}: torch{spec} excludes 2.13.0"


def apache_license_text(path):
    text = path.read_text(encoding="utf-8")
    assert "Apache License\n                           Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text and "APPENDIX: How to apply the Apache License" in text
    return text


@pytest.mark.parametrize("pkg", PACKAGES, ids=lambda p: p.name)
def test_every_package_ships_the_licence_it_declares(pkg):
    """Each package declares Apache-2.0 and carries the full text beside its pyproject.toml, where
    hatchling's default ``license-files`` (``LICEN[CS]E*``) puts it into the wheel."""
    assert project(pkg)["license"] == "Apache-2.0"
    assert apache_license_text(pkg / "LICENSE") == apache_license_text(ROOT / "LICENSE")


@pytest.fixture(scope="module")
def wheel_of(tmp_path_factory):
    """Builds a package's wheel (hatchling, as pip would), once for all the tests that look inside."""
    pytest.importorskip("hatchling")
    from hatchling.builders.wheel import WheelBuilder

    built: dict[Path, Path] = {}

    def build(pkg: Path) -> Path:
        if pkg not in built:
            folder = tmp_path_factory.mktemp(pkg.name)
            built[pkg] = Path(next(iter(WheelBuilder(str(pkg)).build(directory=str(folder), versions=["standard"]))))
        return built[pkg]

    return build


@pytest.mark.parametrize("pkg", PACKAGES, ids=lambda p: p.name)
def test_every_wheel_contains_the_licence_text(pkg, wheel_of):
    """Find the licence in the wheel's ``.dist-info``."""
    wheel = wheel_of(pkg)
    with zipfile.ZipFile(wheel) as archive:
        licences = [n for n in archive.namelist() if ".dist-info/" in n and n.endswith("/LICENSE")]
        assert licences, f"{wheel.name} has no LICENSE in its .dist-info"
        assert archive.read(licences[0]).decode("utf-8") == (ROOT / "LICENSE").read_text(encoding="utf-8")
        metadata_text = archive.read(next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA")))
    assert b"License-Expression: Apache-2.0" in metadata_text or b"License: Apache-2.0" in metadata_text


@pytest.mark.parametrize("pkg", PACKAGES, ids=lambda p: p.name)
def test_every_package_and_its_wheel_carry_the_py_typed_marker(pkg, wheel_of):
    """PEP 561: with ``py.typed`` in the installed package, a type checker reads the package's own
    annotations (a third-party plugin is checked against core's real types instead of Any)."""
    modules = [p for p in (pkg / "src").iterdir() if p.is_dir() and (p / "__init__.py").exists()]
    assert len(modules) == 1, f"{pkg.name}: expected one module under src/, found {modules}"
    module = modules[0].name
    assert (pkg / "src" / module / "py.typed").is_file(), f"{pkg.name}: src/{module}/py.typed is missing"
    with zipfile.ZipFile(wheel_of(pkg)) as archive:
        assert f"{module}/py.typed" in archive.namelist(), f"{pkg.name}'s wheel does not ship {module}/py.typed"
