"""The ``geo`` verifier: did the response pick the right option?

Answer format (the instruction sent with every prompt): reason, then state the letter of the
chosen option on the last line as ``Answer: X``. That is G-LLaVA's format for GeoQA and what
MathVista's hint asks for ("provide the correct option letter ... at the end"); ``\\boxed{X}`` and
the other forms in :mod:`redstar_geo.answer` are accepted too, and so is a stated value that
matches exactly one option (``Answer: 40°``).

Rewards, as in the other domains:

- ``1``: the chosen option is the reference letter, or an option with the very same text (MathVista
  lists a few duplicates); free-form rows: the stated value equals the reference value;
- ``0``: a final answer was stated but it is another option, or a value that matches no option;
- ``-1``: no final answer could be read (no ``Answer:`` line, box or lone letter; or a ``<think>``
  that never closed).

An LLM extractor (:class:`~redstar_geo.llm_extractor.LLMChoiceExtractor`) can be switched on with
the ``llm_extractor_model`` option; it is asked only when the rules find no option.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from redstar.interfaces import Messages, Verifier
from redstar.records import Prompt, Verdict
from redstar_geo.answer import extract_choice
from redstar_geo.choices import choices_block
from redstar_geo.values import normalize_text, same_value

#: Sent after the question and its choices.
CHOICE_INSTRUCTION = (
    'Think step by step, then give the letter of the correct choice on the last line as "Answer: X".'
)
#: Sent instead for the few free-form rows (no choices).
VALUE_INSTRUCTION = 'Think step by step, then give the final value on the last line as "Answer: <value>".'


def prompt_text(prompt: Prompt) -> str:
    """The user's text for a geo prompt: question, ``Choices:`` block, instruction."""
    choices = prompt.metadata.get("choices") or {}
    if choices:
        return f"{prompt.question}\n{choices_block(choices)}\n{CHOICE_INSTRUCTION}"
    return f"{prompt.question}\n{VALUE_INSTRUCTION}"


class GeoVerifier(Verifier):
    """Scores geometry answers by option letter; see the module docs for the format and rewards.

    Args:
        llm_extractor_model: A model (a path, ``embedded:NAME`` or a hub id) asked to name the
            chosen option when the rules find none; null uses the rules alone.
        llm_extractor_sampler: The registered sampler that runs ``llm_extractor_model``
            (``transformers``, ``vllm``, ``openai``, ``internvl``).
    """

    domain = "geo"
    instruction = CHOICE_INSTRUCTION

    def __init__(self, llm_extractor_model: str | None = None, llm_extractor_sampler: str = "transformers") -> None:
        self.llm_extractor_model = llm_extractor_model
        self.llm_extractor_sampler = llm_extractor_sampler
        self._llm = None

    def messages(self, prompt: Prompt) -> Messages:
        """One user turn: the diagram (``{"type": "image", "path": ...}``) first, as InternVL is
        trained, then the question, the lettered choices and the instruction."""
        text = prompt_text(prompt)
        if prompt.image:
            content: list[dict[str, Any]] = [{"type": "image", "path": prompt.image}, {"type": "text", "text": text}]
            return [{"role": "user", "content": content}]
        return [{"role": "user", "content": text}]

    def extract(self, response: str) -> str | None:
        """The final-answer text the response states (a letter or a value), before it is matched
        to the choices; None when there is none."""
        return extract_choice(response, {}).stated

    def verify(self, response: str, reference: str, metadata: Mapping[str, Any] | None = None) -> Verdict:
        choices = dict((metadata or {}).get("choices") or {})
        found = extract_choice(response, choices)
        if not choices:
            if found.stated is None:
                return Verdict.no_answer('no final answer (expected "Answer: <value>")')
            if same_value(found.stated, reference) or normalize_text(found.stated) == normalize_text(reference):
                return Verdict.right(found.stated, f"value equals the reference ({found.rule})")
            return Verdict.wrong(found.stated, f"value {found.stated!r} is not {reference!r}")
        letter, rule = found.letter, found.rule
        if letter is None and self.llm_extractor_model:
            letter, rule = self._llm_extractor().extract(response, choices), "llm extractor"
        if letter is None:
            if found.stated is None:
                return Verdict.no_answer('no final answer (expected "Answer: X" with X a choice letter)')
            return Verdict.wrong(found.stated, f"stated answer {found.stated!r} matches no choice")
        if letter == reference or choices.get(letter) == choices.get(reference, object()):
            return Verdict.right(letter, f"chose {letter} ({rule})")
        return Verdict.wrong(letter, f"chose {letter}, reference is {reference} ({rule})")

    def _llm_extractor(self):
        if self._llm is None:
            from redstar_geo.llm_extractor import LLMChoiceExtractor

            self._llm = LLMChoiceExtractor.from_registry(self.llm_extractor_model, self.llm_extractor_sampler)
        return self._llm
