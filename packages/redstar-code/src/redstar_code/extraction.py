"""Finding the program in a model's response: the last complete fenced Python code block.

A block opens with a line of three or more backticks followed by ``python``, ``py``, ``python3``
(any case) or nothing, and closes with a line of at least as many backticks and nothing else
(the opening may be indented by up to three spaces, as in Markdown). Blocks in other languages
are skipped. A block that is never closed does not count: a response cut off mid-program has no
valid answer.
"""

from __future__ import annotations

import re

PYTHON_LANGUAGES = frozenset({"", "python", "py", "python3"})

_OPEN = re.compile(r"^ {0,3}(?P<fence>`{3,})[ \t]*(?P<info>[^`]*?)[ \t]*$")
_CLOSE = re.compile(r"^ {0,3}(?P<fence>`{3,})[ \t]*$")


def extract_code(response: str) -> str | None:
    """The body of the last closed Python block (without a trailing newline), or None."""
    found: str | None = None
    fence: str | None = None
    language = ""
    body: list[str] = []
    for line in response.splitlines():
        if fence is None:
            opening = _OPEN.match(line)
            if opening:
                fence = opening["fence"]
                info = opening["info"].split()
                language = info[0].lower() if info else ""
                body = []
            continue
        closing = _CLOSE.match(line)
        if closing and len(closing["fence"]) >= len(fence):
            if language in PYTHON_LANGUAGES:
                found = "\n".join(body)
            fence = None
            continue
        body.append(line)
    if found is not None and not found.strip():
        return None
    return found
