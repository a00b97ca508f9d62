r"""Reading final answers out of text: model responses, MATH solutions and GSM8K solutions.

A response *commits* to a final answer in one of these ways, tried in order:

1. ``\boxed{...}`` (also ``\fbox{...}``, ``\framebox{...}``, ``\boxed 7``): the last one, with any
   nesting of braces. Boxes that sit together on the final line, joined only by a comma, "and"
   or "or" (``$\boxed{2}$ and $\boxed{3}$``), are read together as the list ``2, 3``.
2. A marker sentence: "The final answer is X", "The answer is: X" (MetaMath), "Final Answer: X",
   "**Answer:** X", "#### X" (GSM8K) - the last one in the response.

Anything else - a number somewhere in the reasoning - is not a commitment, and the response has
no valid answer. For reasoning models, only the text after the last ``</think>`` counts; a
``<think>`` that never closes means the model was still thinking (truncated), so there is no
answer.

Every scan here is linear in the length of the text, and only the last :data:`WINDOW` characters
of the answer region are examined for boxes and marker sentences, so a 1 MB response is read in
milliseconds. No pattern here can backtrack super-linearly: none has two adjacent quantifiers over
the same characters, and the tail of a marker line is trimmed with string methods, not patterns
(``tests/test_patterns_linear.py`` runs every pattern of the package on 100 000-character runs of
each character class). :func:`final_answer_parts` also takes a deadline, checked between stages.
"""

from __future__ import annotations

import re
import time

# Box commands and braces; an escaped brace (\{ \}, a set's or a cases' delimiter) and a line
# break (\\) are tokens of their own, so that they never count as a group's braces.
BOX_TOKENS = re.compile(r"\\(?:boxed|fbox|framebox)(?![a-zA-Z])(?:\[[^\]]{0,40}\])?|\\\\|\\[{}]|[{}]")
# "\boxed 7". The lookbehind lets an attempt start only where a run of blanks starts, so a
# search over a long run of blanks is one pass, not one per blank.
BARE_BOX_ARGUMENT = re.compile(r"(?<![ \t])[ \t]+([^\s${}.,;]+)")
#: Boxes and marker sentences are searched for in this many final characters of the answer region.
WINDOW = 65536
BOX_WINDOW = WINDOW
#: Characters kept before a run of whitespace that the window's start falls into.
WINDOW_MARGIN = 256
#: Boxes on the final line joined by at most this connecting text are read as one list.
BOX_JOINER = re.compile(r"^[\s$,;.]*(?:(?:and|or|\\text\{\s*(?:and|or|,)\s*\}|\\quad|\\qquad|&)[\s$,;.]*)?$")

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"

# Marker sentences. Each captures the rest of its line; the caller trims it. Between words only
# one whitespace quantifier at a time, so a failed attempt costs one pass over a whitespace run.
MARKERS = [
    re.compile(r"the\s+final\s+answer\s+is\s*[:：]?", re.IGNORECASE),
    re.compile(r"final\s+answer\s*(?:\*\*\s*)?[:：]", re.IGNORECASE),
    re.compile(r"the\s+answer\s+is\s*[:：]?", re.IGNORECASE),
    re.compile(r"^[ \t]*(?:\*\*)?answer[ \t]*[:：][ \t]*(?:\*\*)?", re.IGNORECASE | re.MULTILINE),
    re.compile(r"####"),
]
#: Minerva's sign-off after the answer ("... is $5$. I hope it is correct."), removed from the line.
HOPE = "i hope it is correct"
TRAILING_SPACE = " \t\r\f\v\u00a0\u2009\u202f\u3000"


class ExtractionTimeout(TimeoutError):
    """Reading the final answer ran past the caller's deadline."""


def _check(deadline: float | None) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise ExtractionTimeout("final-answer extraction ran out of time")


def _without_sign_off(line: str) -> str:
    """``line`` without a trailing "I hope it is correct." (and the period before it); string
    methods only, linear in the line's length."""
    stripped = line.rstrip()
    if stripped.endswith("."):
        stripped = stripped[:-1]
    if not stripped.lower().endswith(HOPE):
        return line
    head = stripped[:-len(HOPE)].rstrip()
    if head.endswith("."):
        head = head[:-1].rstrip()
    return head


def _strip_bold(line: str) -> str:
    """Remove pairs of asterisks (markdown bold) at both ends, as ``^(?:[*]{2})+|(?:[*]{2})+$`` would."""
    lead = len(line) - len(line.lstrip("*"))
    line = line[lead - lead % 2:]
    trail = len(line) - len(line.rstrip("*"))
    return line[:len(line) - (trail - trail % 2)] if trail else line


def _window_start(text: str) -> int:
    """Where the last :data:`WINDOW` characters of ``text`` begin - moved back over a run of
    whitespace that the boundary cuts (whitespace is not content: "The answer is" followed by
    100 000 spaces and "5" is read), with :data:`WINDOW_MARGIN` characters before it, and moved
    so that it never begins with the second backslash of a ``\\\\``. Linear in the text."""
    offset = max(0, len(text) - WINDOW)
    if offset and text[offset - 1].isspace():
        while offset > 0 and text[offset - 1].isspace():
            offset -= 1
        offset = max(0, offset - WINDOW_MARGIN)
    start = offset
    while start > 0 and text[start - 1] == "\\":
        start -= 1
    return offset + (offset - start) % 2


def answer_region(response: str) -> str | None:
    """The part of a response where the final answer must be: after the last ``</think>``.
    None when a ``<think>`` block never closes (the model stopped while still thinking)."""
    close = response.rfind(THINK_CLOSE)
    if close >= 0:
        return response[close + len(THINK_CLOSE):]
    if THINK_OPEN in response:
        return None
    return response


def boxed_contents(text: str) -> list[tuple[int, int, str]]:
    """The outermost closed boxes of ``text`` as ``(start, end, content)``, in reading order.

    One pass over the braces of the last :data:`WINDOW` characters: a final answer sits near
    the end, and the window keeps the scan cheap however long or brace-laden the response is.
    Unclosed (truncated) boxes are not boxes.
    """
    offset = _window_start(text)
    window = text[offset:]
    found: list[tuple[int, int, str]] = []
    stack: list[int | None] = []  # for each open brace: the start of the box it opens, if any
    pending_box: tuple[int, int] | None = None  # (command start, position after the command)
    for match in BOX_TOKENS.finditer(window):
        token = match.group()
        if token[0] == "\\" and len(token) == 2:
            continue  # \{, \} or \\
        if token == "{":
            opens_box = pending_box is not None and not window[pending_box[1]:match.start()].strip()
            stack.append(pending_box[0] if pending_box is not None and opens_box else None)
            pending_box = None
        elif token == "}":
            pending_box = None
            if stack:
                box_start = stack.pop()
                if box_start is not None:
                    content = window[window.index("{", box_start) + 1:match.start()]
                    found.append((box_start, match.end(), content))
        else:
            pending_box = (match.start(), match.end())
            bare = BARE_BOX_ARGUMENT.match(window, match.end())
            if bare is not None:  # \boxed 7
                found.append((match.start(), bare.end(), bare.group(1)))
                pending_box = None
    found.sort()
    outermost: list[tuple[int, int, str]] = []
    for box in found:
        if outermost and box[0] < outermost[-1][1]:
            continue  # nested inside the previous box
        outermost.append(box)
    return [(start + offset, end + offset, content) for start, end, content in outermost]


def last_boxed(text: str) -> str | None:
    """Content of the last closed box, with nested braces (``\\boxed{\\frac{1}{2}}`` gives
    ``\\frac{1}{2}``); None when there is none. This is how MATH defines its gold answers."""
    boxes = boxed_contents(text)
    return boxes[-1][2] if boxes else None


def final_boxes(text: str) -> list[str] | None:
    """The last box, with the boxes just before it on the same line when only a comma, "and"
    or "or" separates them; None when there is no box."""
    boxes = boxed_contents(text)
    if not boxes:
        return None
    group = [boxes[-1]]
    for box in reversed(boxes[:-1]):
        between = text[box[1]:group[0][0]]
        if len(between) > 40 or "\n" in between.strip() or not BOX_JOINER.match(between):
            break
        group.insert(0, box)
    return [content for _, _, content in group]


def _math_span(text: str) -> str:
    """If ``text`` holds a ``$...$`` span, its content; otherwise ``text`` itself."""
    i = 0
    while True:
        start = text.find("$", i)
        if start < 0:
            return text
        if start > 0 and text[start - 1] == "\\":
            i = start + 1
            continue
        opener = "$$" if text.startswith("$$", start) else "$"
        j = start + len(opener)
        while True:
            end = text.find(opener, j)
            if end < 0:
                return text
            if text[end - 1] == "\\":
                j = end + 1
                continue
            return text[start + len(opener):end]


def marker_answer(text: str) -> str | None:
    """The answer stated after the last marker sentence ("The answer is", "Final Answer:",
    "####") in the last :data:`WINDOW` characters (see :func:`_window_start`), trimmed to its
    line, its ``$...$`` span and without a closing period."""
    offset = _window_start(text)
    best: tuple[int, int] | None = None
    for pattern in MARKERS:
        for match in pattern.finditer(text, offset):
            if best is None or match.start() > best[0]:
                best = (match.start(), match.end())
    if best is None:
        return None
    # A marker followed by nested markers ("Final Answer: The final answer is $5$") is handled
    # because the later, inner marker starts last and wins above.
    rest = text[best[1]:].lstrip()
    end = rest.find("\n")
    line = rest if end < 0 else rest[:end]
    line = _without_sign_off(line).strip()
    line = _math_span(line).strip()
    line = _strip_bold(line).strip()
    line = line.rstrip(".。" + TRAILING_SPACE)  # the line was stripped: only closing periods go
    return line or None


def final_answer_parts(response: str, deadline: float | None = None) -> list[str] | None:
    """The final answer as the boxes it was written in (one item for a marker sentence), or
    None when the response commits to none (see the module docstring). ``deadline`` (a
    ``time.monotonic()`` value) is checked between stages: past it, :class:`ExtractionTimeout`."""
    _check(deadline)
    region = answer_region(response)
    if region is None:
        return None
    region = region.rstrip()  # trailing whitespace must not push the answer out of the window
    boxes = final_boxes(region)
    _check(deadline)
    if boxes is not None:
        boxes = [b.strip() for b in boxes]
        return boxes if all(boxes) else None
    answer = marker_answer(region)
    _check(deadline)
    return [answer] if answer else None


def extract_final_answer(response: str, deadline: float | None = None) -> str | None:
    """The final answer a response commits to, several boxes joined by ", "; or None."""
    parts = final_answer_parts(response, deadline)
    return None if parts is None else ", ".join(parts)


def gsm8k_gold(solution: str) -> str | None:
    """GSM8K's gold answer: the text after the last ``####``, without thousands commas."""
    at = solution.rfind("####")
    if at < 0:
        return None
    answer = solution[at + 4:].strip().replace(",", "")
    return answer or None


def metamath_gold(response: str) -> str | None:
    """MetaMath-style gold: the last box of the worked response, else "The answer is: X"."""
    boxed = last_boxed(response)
    if boxed is not None and boxed.strip():
        return boxed.strip()
    return marker_answer(response)
