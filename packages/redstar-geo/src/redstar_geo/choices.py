"""Multiple-choice options: lettering, the ``Choices:`` block of a prompt, and G-LLaVA's prompt.

Every geo prompt carries its options in ``metadata["choices"]`` as an ordered mapping
``{"A": "40°", "B": "60°", ...}`` and its gold letter in ``reference``. A free-form problem (five
MathVista-GEO rows) has ``{}`` and the gold value as ``reference``.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence

LETTERS = string.ascii_uppercase

#: G-LLaVA's instruction line, which opens every prompt of its GeoQA test_questions.jsonl.
GLLAVA_INSTRUCTION = (
    "First perform reasoning, then finally select the answer from the choices in the following "
    "format: Answer: xxx."
)
_GLLAVA_PROMPT = re.compile(r"Question:(?P<question>.*?)\nChoices:\n(?P<choices>.*)\Z", re.DOTALL)
_GLLAVA_CHOICE = re.compile(r"^(?P<letter>[A-Z]):(?P<text>.*)$")


def letter_choices(options: Sequence[str]) -> dict[str, str]:
    """``["40°", "60°"]`` -> ``{"A": "40°", "B": "60°"}``."""
    if len(options) > len(LETTERS):
        raise ValueError(f"{len(options)} choices; at most {len(LETTERS)} can be lettered")
    return {LETTERS[i]: str(option).strip() for i, option in enumerate(options)}


def choices_block(choices: Mapping[str, str]) -> str:
    """The ``Choices:`` block shown to a model, one ``X: value`` per line."""
    return "Choices:\n" + "\n".join(f"{letter}: {text}" for letter, text in choices.items())


def gllava_prompt(question: str, choices: Mapping[str, str]) -> str:
    """The ``text`` of a G-LLaVA test_questions.jsonl row for this problem, byte for byte in the
    published layout (``"\\n<instruction>\\nQuestion:<q>\\nChoices:\\nA:<c1>\\n..."``)."""
    lines = "\n".join(f"{letter}:{text}" for letter, text in choices.items())
    return f"\n{GLLAVA_INSTRUCTION}\nQuestion:{question}\nChoices:\n{lines}"


def parse_gllava_prompt(text: str) -> tuple[str, dict[str, str]]:
    """Split a G-LLaVA prompt into the question and its lettered choices.

    Raises ValueError (with what is missing) when the text does not have the published layout.
    """
    match = _GLLAVA_PROMPT.search(text)
    if match is None:
        raise ValueError("no 'Question:' followed by a 'Choices:' block")
    choices: dict[str, str] = {}
    for line in match.group("choices").split("\n"):
        if not line.strip():
            continue
        item = _GLLAVA_CHOICE.match(line.strip())
        if item is None:
            raise ValueError(f"choice line {line!r} is not 'X:<text>'")
        choices[item.group("letter")] = item.group("text").strip()
    if len(choices) < 2:
        raise ValueError(f"expected at least 2 choices, found {len(choices)}")
    expected = list(LETTERS[: len(choices)])
    if list(choices) != expected:
        raise ValueError(f"choices are lettered {list(choices)}, expected {expected}")
    return match.group("question").strip(), choices
