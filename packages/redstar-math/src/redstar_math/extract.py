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

Every scan here is linear in the length of the text (no backtracking regular expressions over
the whole response), so a 1 MB response is read in milliseconds.
"""

from __future__ import annotations

import re

BOX_TOKENS = re.compile(r"\\(?:boxed|fbox|framebox)(?![a-zA-Z])(?:\[[^\]]{0,40}\])?|[{}]")
BARE_BOX_ARGUMENT = re.compile(r"[ \t]+([^\s${}.,;]+)")
#: Boxes are searched for in this many final characters of the answer region.
BOX_WINDOW = 65536
#: Boxes on the final line joined by at most this connecting text are read as one list.
BOX_JOINER = re.compile(r"^[\s$,;.]*(?:,|and|or|\\text\{\s*(?:and|or|,)\s*\}|\\quad|\\qquad|&)?[\s$,;.]*$")

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"

# Marker sentences. Each captures the rest of its line; the caller trims it.
MARKERS = [
    re.compile(r"the\s+final\s+answer\s+is\s*[:：]?", re.IGNORECASE),
    re.compile(r"final\s+answer\s*(?:\*\*)?\s*[:：]", re.IGNORECASE),
    re.compile(r"the\s+answer\s+is\s*[:：]?", re.IGNORECASE),
    re.compile(r"(?:^|\n)\s*(?:\*\*)?answer\s*[:：]\s*(?:\*\*)?", re.IGNORECASE),
    re.compile(r"####"),
]
MARKER_TAIL = re.compile(r"(?i)\s*(?:\.\s*)?I hope it is correct\.?\s*$")


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

    One pass over the braces of the last :data:`BOX_WINDOW` characters: a final answer sits near
    the end, and the window keeps the scan cheap however long or brace-laden the response is.
    Unclosed (truncated) boxes are not boxes.
    """
    offset = max(0, len(text) - BOX_WINDOW)
    window = text[offset:]
    found: list[tuple[int, int, str]] = []
    stack: list[int | None] = []  # for each open brace: the start of the box it opens, if any
    pending_box: tuple[int, int] | None = None  # (command start, position after the command)
    for match in BOX_TOKENS.finditer(window):
        token = match.group()
        if token == "{":
            opens_box = pending_box is not None and not window[pending_box[1]:match.start()].strip()
            stack.append(pending_box[0] if opens_box else None)
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
        if "\n" in between.strip() or len(between) > 40 or not BOX_JOINER.match(between):
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
    "####"), trimmed to its line, its ``$...$`` span and without a closing period."""
    best: tuple[int, int] | None = None
    for pattern in MARKERS:
        for match in pattern.finditer(text):
            if best is None or match.start() > best[0]:
                best = (match.start(), match.end())
    if best is None:
        return None
    rest = text[best[1]:]
    # A marker followed by nested markers ("Final Answer: The final answer is $5$") is handled
    # because the later, inner marker starts last and wins above.
    line = rest.lstrip().split("\n", 1)[0]
    line = MARKER_TAIL.sub("", line).strip()
    line = _math_span(line).strip()
    line = re.sub(r"^(?:\*\*)+|(?:\*\*)+$", "", line).strip()
    while line and line[-1] in ".。":
        line = line[:-1].rstrip()
    return line or None


def final_answer_parts(response: str) -> list[str] | None:
    """The final answer as the boxes it was written in (one item for a marker sentence), or
    None when the response commits to none (see the module docstring)."""
    region = answer_region(response)
    if region is None:
        return None
    boxes = final_boxes(region)
    if boxes is not None:
        boxes = [b.strip() for b in boxes]
        return boxes if all(boxes) else None
    answer = marker_answer(region)
    return [answer] if answer else None


def extract_final_answer(response: str) -> str | None:
    """The final answer a response commits to, several boxes joined by ", "; or None."""
    parts = final_answer_parts(response)
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
