"""What a plugin class takes as options, for people: each option's type, default and the
sentence of the class's docstring that explains it. ``redstar plugins --options`` prints these,
so a recipe author need not read the source.

The type is the constructor's annotation as written; the explanation is found by convention: the
option's entry in a Google-style ``Args:`` section of the class (or ``__init__``) docstring, the
style every option is documented in from now on, or else the docstring line that names the
option in double backquotes (``timeout``), with its continuation lines. An option no docstring
mentions is listed without one.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

from redstar.interfaces import constructor, options_of


def _annotation(param: inspect.Parameter) -> str | None:
    if param.annotation is inspect.Parameter.empty:
        return None
    if isinstance(param.annotation, str):  # ``from __future__ import annotations``
        return param.annotation
    return getattr(param.annotation, "__name__", None) or str(param.annotation)


def _docs(cls: type) -> str:
    parts = [inspect.getdoc(cls) or ""]
    init_doc = inspect.getdoc(constructor(cls))
    if init_doc and init_doc != inspect.getdoc(object.__init__):
        parts.append(init_doc)
    return "\n".join(parts)


def _google_arg(lines: list[str], name: str) -> str | None:
    """``name``'s entry in a Google-style ``Args:`` section (``name: text``, continued on lines
    indented further), or None."""
    section: int | None = None  # the indentation of the ``Args:`` line while inside the section
    for i, line in enumerate(lines):
        width = len(line) - len(line.lstrip())
        if re.match(r"\s*Args:\s*$", line):
            section = width
            continue
        if section is None or not line.strip():
            continue
        if width <= section:
            section = None
            continue
        match = re.match(rf"\s*{re.escape(name)}(?:\s*\([^)]*\))?:\s*(.*)", line)
        if match:
            text = [match.group(1)]
            for follow in lines[i + 1:]:
                if not follow.strip() or len(follow) - len(follow.lstrip()) <= width:
                    break
                text.append(follow.strip())
            return " ".join(text).strip() or None
    return None


def _explanation(doc: str, name: str) -> str | None:
    """The docstring text about ``name``: its entry in an ``Args:`` section, or else its line from
    the mention on, plus the lines that continue it (indented further, or not starting a new
    bullet or a new mention)."""
    lines = doc.splitlines()
    google = _google_arg(lines, name)
    if google:
        return google
    marker = f"``{name}``"
    # A line that starts with the option (a bullet, as most docstrings here list options) beats a
    # passing mention earlier in the text.
    leading = [i for i, line in enumerate(lines) if re.match(rf"\s*(?:[-*]\s*)?{re.escape(marker)}", line)]
    mentions = [i for i, line in enumerate(lines) if marker in line]
    for i in leading + mentions:
        line = lines[i]
        text = [line[line.index(marker):]]
        for follow in lines[i + 1:]:
            stripped = follow.strip()
            if not stripped or stripped.startswith(("-", "*")) or re.match(r"``\w+``", stripped):
                break
            text.append(stripped)
        explained = " ".join(text).strip()
        explained = re.sub(rf"^{re.escape(marker)}\s*[:,(-]?\s*", "", explained)
        return explained or None
    return None


def describe_options(cls: type) -> list[dict[str, Any]]:
    """One entry per option: ``name``, ``type`` (as annotated, or None), ``default`` (None and
    ``required: True`` when there is none) and ``doc`` (or None)."""
    params = inspect.signature(constructor(cls)).parameters
    doc = _docs(cls)
    out = []
    for name, default in options_of(cls).items():
        required = default is inspect.Parameter.empty
        out.append({
            "name": name,
            "type": _annotation(params[name]),
            "default": None if required else default,
            "required": required,
            "doc": _explanation(doc, name),
        })
    return out
