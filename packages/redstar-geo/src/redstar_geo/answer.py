"""Reading the chosen option out of a model's response, by rules, the way geometry VLM
evaluations do (G-LLaVA's ``Answer: X``, MathVista's rule pass before its LLM extractor).

Where to look: a Long-CoT response states its answer after the reasoning, so when it has a
``</think>`` only the text after the last one is read; a response that opened ``<think>`` and
never closed it stopped mid-reasoning and has no answer. Otherwise the whole response is read.

What counts as the stated answer, in priority order (within a rule the last occurrence wins):

1. ``answer``: an ``Answer: ...`` line (also ``Final answer:``, ``**Answer:**``).
2. ``boxed``: the content of the last ``\\boxed{...}``.
3. ``phrase``: "the correct answer is (option) X", "the answer is X", "the correct option is X".
4. ``paren``: the last ``(X)`` on the last line ("... so the answer is (D)").
5. ``letter``: a last line that is a lone letter (``B``, ``B.``, ``**B**``).

The stated text then becomes a choice: a letter (``B``, ``(B)``, ``B: 40°``, ``option B``,
``\\text{B}``) is taken as is; anything else is matched by value against the choices
(``\\boxed{40°}`` picks the choice ``40°``; see :func:`redstar_geo.values.same_value`). Rules 4
and 5 only accept letters that are among the choices, since a stray capital is otherwise common.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from redstar_geo.values import normalize_text, same_value


@dataclass(frozen=True)
class Extraction:
    """What a response states. ``letter`` is the choice it picks (None when the stated text
    matches no choice, or there are no choices); ``stated`` is the raw final-answer text (None
    when the response states nothing); ``rule`` names the rule that found it."""

    stated: str | None
    letter: str | None = None
    rule: str | None = None


_ANSWER_LINE = re.compile(r"(?i)(?:final\s+)?answer\s*(?:\*\*)?\s*[:：]\s*(?:\*\*)?[ \t]*(?P<text>[^\n]*)")
_PHRASE = re.compile(
    r"(?i)(?:the\s+)?(?:correct|right|final)?\s*(?:answer|option|choice)\s+(?:is|should\s+be|would\s+be|must\s+be)"
    r"\s*[:：]?\s*(?:option|choice)?\s*(?P<text>\(?[A-Z]\)?(?![a-z])|[^\s,;]+)"
)
_LEADING_LETTER = re.compile(
    r"^(?:option|choice)?\s*[(\[]?\s*(?:\\text\{|\\mathrm\{|\*\*)?\s*(?P<letter>[A-Z])\s*(?:\}|\*\*)?\s*[)\]]?"
    r"(?P<rest>.*)$",
    re.IGNORECASE,
)


def final_segment(response: str) -> str | None:
    """The part of the response that carries the final answer (see the module docs)."""
    if "</think>" in response:
        return response.rsplit("</think>", 1)[1]
    if "<think>" in response:
        return None
    return response


def last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` (or ``\\fbox{...}``), braces balanced."""
    start = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if start < 0:
        return None
    brace = text.find("{", start)
    if brace < 0:
        return None
    depth = 0
    for i in range(brace, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[brace + 1 : i].strip()
    return None


def _clean(text: str) -> str:
    text = text.strip().strip("*").strip()
    if text.startswith("$") and text.endswith("$"):
        text = text.strip("$").strip()
    return text.rstrip(".").strip()


def _stated_candidates(segment: str) -> list[tuple[str, str]]:
    """(rule, stated text) pairs in priority order; the first that yields a choice wins."""
    found: list[tuple[str, str]] = []
    answers = [m.group("text") for m in _ANSWER_LINE.finditer(segment) if m.group("text").strip()]
    if answers:
        found.append(("answer", _clean(answers[-1])))
    boxed = last_boxed(segment)
    if boxed:
        found.append(("boxed", _clean(boxed)))
    phrases = list(_PHRASE.finditer(segment))
    if phrases:
        found.append(("phrase", _clean(phrases[-1].group("text"))))
    lines = [line.strip() for line in segment.strip().splitlines() if line.strip()]
    if lines:
        last = lines[-1]
        parens = re.findall(r"\(([A-Z])\)", last)
        if parens:
            found.append(("paren", parens[-1]))
        lone = re.fullmatch(r"[*_\s]*([A-Z])[*_\s.]*", last)
        if lone:
            found.append(("letter", lone.group(1)))
    return found


def as_letter(stated: str, choices: Mapping[str, str]) -> str | None:
    """The choice a stated answer names: by letter (``B``, ``(B)``, ``B: 40°``, ``option B``),
    else by value or normalized text. None when it names none of them, or several."""
    match = _LEADING_LETTER.match(stated.strip())
    if match and match.group("letter").upper() in choices:
        letter = match.group("letter").upper()
        rest = match.group("rest").strip()
        # "B", "B.", "B: 40°", "B) 40°" and "B 40°" name option B; "A triangle" does not.
        if not rest or rest[0] in ".:：)]，,;" or _mentions_choice(rest, choices[letter]):
            return letter
    by_value = [letter for letter, text in choices.items() if same_value(stated, text)]
    if len(by_value) == 1:
        return by_value[0]
    key = normalize_text(stated)
    by_text = [letter for letter, text in choices.items() if key and normalize_text(text) == key]
    if len(by_text) == 1:
        return by_text[0]
    return None


def _mentions_choice(rest: str, choice_text: str) -> bool:
    """"B 40°" names B only when what follows the letter is B's own value."""
    return same_value(rest, choice_text) or normalize_text(rest) == normalize_text(choice_text)


def extract_choice(response: str, choices: Mapping[str, str]) -> Extraction:
    """Apply the rules of this module. With no choices (free-form rows) the stated text is
    returned with ``letter=None`` for a value comparison."""
    segment = final_segment(response)
    if segment is None:
        return Extraction(None)
    candidates = _stated_candidates(segment)
    if not candidates:
        return Extraction(None)
    if not choices:
        rule, stated = candidates[0]
        return Extraction(stated, None, rule)
    for rule, stated in candidates:
        if rule in ("paren", "letter") and stated not in choices:
            continue
        letter = as_letter(stated, choices)
        if letter is not None:
            return Extraction(stated, letter, rule)
    first = [(rule, stated) for rule, stated in candidates if rule not in ("paren", "letter")]
    if first:
        rule, stated = first[0]
        return Extraction(stated, None, rule)
    return Extraction(None)
