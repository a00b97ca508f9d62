"""CHANGELOG.md and the packages' versions cannot drift apart: the newest released version in the
changelog is the version of every package (its pyproject.toml and its module's ``__version__``)
and of the workspace, as the version policy at the end of CHANGELOG.md requires; and the file
keeps the Keep a Changelog shape the lead and the release steps rely on (an ``[Unreleased]``
section first, then released versions, newest first, each with a date)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHANGELOG = ROOT / "CHANGELOG.md"
PACKAGES = sorted(p for p in (ROOT / "packages").iterdir() if (p / "pyproject.toml").exists())

VERSION_HEADING = re.compile(r"^## \[(?P<name>[^\]]+)\](?: - (?P<date>\d{4}-\d{2}-\d{2}))?\s*$")
SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
MODULE_VERSION = re.compile(r"^__version__\s*=\s*[\"']([^\"']+)[\"']", re.MULTILINE)


def sections(text: str) -> list[tuple[str, str | None]]:
    """The changelog's version headings in order: (name, date or None)."""
    found = []
    for line in text.splitlines():
        heading = VERSION_HEADING.match(line)
        if heading:
            found.append((heading["name"], heading["date"]))
    return found


def released_versions(text: str) -> list[str]:
    return [name for name, _ in sections(text) if name != "Unreleased"]


def version_line(text: str, where: str = "pyproject.toml") -> str:
    """``[project] version`` read from its line, for Python 3.10, which has no tomllib."""
    table = re.search(r"^\[project\]\s*$(.*?)(?=^\[|\Z)", text, re.MULTILINE | re.DOTALL)
    assert table, f"{where}: no [project] table"
    line = re.search(r"^version\s*=\s*[\"']([^\"']+)[\"']", table.group(1), re.MULTILINE)
    assert line, f"{where}: [project] has no version"
    return line.group(1)


def project_version(pyproject: Path) -> str:
    text = pyproject.read_text(encoding="utf-8")
    try:
        import tomllib
    except ModuleNotFoundError:
        return version_line(text, str(pyproject))
    return tomllib.loads(text)["project"]["version"]


def newest_release() -> str:
    versions = released_versions(CHANGELOG.read_text(encoding="utf-8"))
    assert versions, "CHANGELOG.md has no released version ('## [X.Y.Z] - YYYY-MM-DD')"
    return versions[0]


@pytest.mark.parametrize("pyproject", [ROOT / "pyproject.toml", *(p / "pyproject.toml" for p in PACKAGES)],
                         ids=lambda p: str(p.parent.relative_to(ROOT)) or "workspace")
def test_every_package_is_at_the_newest_released_version(pyproject):
    assert project_version(pyproject) == newest_release(), (
        f"{pyproject.relative_to(ROOT)} is at {project_version(pyproject)}, the newest release in CHANGELOG.md "
        f"is {newest_release()}: release both together (CHANGELOG.md, 'Version policy')")


@pytest.mark.parametrize("pkg", PACKAGES, ids=lambda p: p.name)
def test_module_versions_agree(pkg):
    for init in sorted((pkg / "src").glob("*/__init__.py")):
        declared = MODULE_VERSION.search(init.read_text(encoding="utf-8"))
        if declared:
            assert declared.group(1) == newest_release(), (
                f"{init.relative_to(ROOT)} says __version__ = {declared.group(1)!r}, "
                f"CHANGELOG.md's newest release is {newest_release()}")


def test_core_declares_its_version():
    # `redstar --version` and every run's provenance read redstar.__version__
    init = ROOT / "packages/redstar-core/src/redstar/__init__.py"
    assert MODULE_VERSION.search(init.read_text(encoding="utf-8"))


def test_the_changelog_keeps_its_shape():
    text = CHANGELOG.read_text(encoding="utf-8")
    found = sections(text)
    assert found and found[0] == ("Unreleased", None), "CHANGELOG.md must start with '## [Unreleased]'"
    unreleased = text.split("## [Unreleased]", 1)[1].split("\n## ", 1)[0]
    for kind in ("Added", "Changed", "Fixed", "Security"):
        assert f"### {kind}" in unreleased, f"'## [Unreleased]' lacks its '### {kind}' heading"
    released = found[1:]
    assert released, "CHANGELOG.md has no released version"
    parsed = []
    for name, day in released:
        assert SEMVER.match(name), f"'## [{name}]' is not a MAJOR.MINOR.PATCH version"
        assert day is not None, f"'## [{name}]' has no date ('## [{name}] - YYYY-MM-DD')"
        date.fromisoformat(day)
        parsed.append((tuple(int(part) for part in name.split(".")), date.fromisoformat(day)))
    assert parsed == sorted(parsed, reverse=True), "released versions must go newest first, dates too"
    assert len({v for v, _ in parsed}) == len(parsed), "a version is listed twice"
    assert "## Version policy" in text


def test_the_check_sees_a_drift(tmp_path):
    text = "# Changelog\n\n## [Unreleased]\n\n### Added\n\n## [0.2.0] - 2027-01-02\n\n## [0.1.0] - 2026-12-03\n"
    assert released_versions(text) == ["0.2.0", "0.1.0"]
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[build-system]\nrequires = []\n\n[project]\nname = "x"\nversion = "0.1.0"\n')
    assert project_version(pyproject) == "0.1.0" != released_versions(text)[0]


def test_the_fallback_reads_what_tomllib_reads():
    tomllib = pytest.importorskip("tomllib")
    for pyproject in [ROOT / "pyproject.toml", *(p / "pyproject.toml" for p in PACKAGES)]:
        text = pyproject.read_text(encoding="utf-8")
        assert version_line(text) == tomllib.loads(text)["project"]["version"]
