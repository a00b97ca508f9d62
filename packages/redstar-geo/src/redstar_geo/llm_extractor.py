"""An optional LLM pass that names the option a free-text response chose, for responses the
rules of :mod:`redstar_geo.answer` cannot read (MathVista evaluates this way with GPT-4).

It is never required: :class:`~redstar_geo.verifier.GeoVerifier` uses it only when given
``llm_extractor_model``. Any registered sampler runs the model, so a local model, a vLLM engine or
an OpenAI-compatible server all work.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from redstar.interfaces import Sampler, SamplingParams
from redstar_geo.choices import choices_block

#: How much of the response's end the extractor sees: the answer is stated last, and a whole
#: Long-CoT response would not fit a small extractor's context.
TAIL_CHARS = 2000

_EXTRACTION_PROMPT = (
    "Below is the end of a solution to a multiple-choice question. Which option did the solution "
    "choose as its final answer? Reply with the option letter only, or with None if it chose none.\n\n"
    "{choices}\n\nSolution (end):\n{tail}\n\nChosen option:"
)


def parse_reply(reply: str, choices: Mapping[str, str]) -> str | None:
    """The letter an extractor replied with: the first word, when it is one of the choices
    (``"B"``, ``"(B)"``, ``"B."``); None for ``None`` or anything else."""
    match = re.match(r"^\s*[(\[*]*\s*([A-Z])\b", reply)
    if match and match.group(1) in choices:
        return match.group(1)
    return None


class LLMChoiceExtractor:
    """Asks a model, greedily, which option a response chose."""

    def __init__(self, sampler: Sampler, max_new_tokens: int = 8) -> None:
        self.sampler = sampler
        self.max_new_tokens = max_new_tokens

    @classmethod
    def from_registry(cls, model: str, sampler: str = "transformers", **options) -> LLMChoiceExtractor:
        """Build the extractor on the registered sampler ``sampler`` for ``model``."""
        from redstar.models import resolve_model
        from redstar.plugins import get_host

        return cls(get_host().get("samplers", sampler)(model=resolve_model(model), **options))

    def conversation(self, response: str, choices: Mapping[str, str]) -> list[dict]:
        text = _EXTRACTION_PROMPT.format(choices=choices_block(choices), tail=response[-TAIL_CHARS:])
        return [{"role": "user", "content": text}]

    def extract(self, response: str, choices: Mapping[str, str]) -> str | None:
        params = SamplingParams(n=1, temperature=0.0, max_new_tokens=self.max_new_tokens)
        [[completion]] = self.sampler.generate([self.conversation(response, choices)], params)
        return parse_reply(completion.text, choices)
