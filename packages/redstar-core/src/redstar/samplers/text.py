"""Turning what a backend produced into a :class:`~redstar.interfaces.Completion`'s text and
``finish_reason``: which special tokens to drop when decoding, where stop strings cut, and how
each backend's finish reasons map onto RedStar's ``"stop"``/``"length"``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from redstar.interfaces import Completion

#: Tags that delimit a Long-CoT response's reasoning. Tokenizers often register them as *special*
#: added tokens (RedStar's tiny tokenizer does), and ``skip_special_tokens=True`` would then erase
#: them - leaving verifiers and cleaning filters unable to tell the reasoning from the answer.
REASONING_TAGS = ("<think>", "</think>")

FINISH_STOP = "stop"
FINISH_LENGTH = "length"

#: Finish reasons that servers and engines report, by what they mean for RedStar. Anything else
#: (``"content_filter"``, ``"abort"``) is passed through unchanged so that it stays visible.
_STOPPED = {"stop", "eos", "eos_token", "end_turn", "stop_sequence", "tool_calls", "function_call"}
_TRUNCATED = {"length", "max_tokens", "model_length"}


def normalize_finish_reason(reason: str | None) -> str | None:
    """Map a backend's finish reason onto ``"stop"`` / ``"length"``; unknown reasons pass through
    and ``None`` (the backend did not say) stays ``None``."""
    if reason is None:
        return None
    if reason in _STOPPED:
        return FINISH_STOP
    if reason in _TRUNCATED:
        return FINISH_LENGTH
    return reason


def cut_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """The text before the earliest stop string, and whether one was found. Like vLLM and the
    OpenAI API, the stop string itself is not part of the result."""
    cut = -1
    for marker in stop:
        if not marker:
            continue
        position = text.find(marker)
        if position != -1 and (cut == -1 or position < cut):
            cut = position
    if cut == -1:
        return text, False
    return text[:cut], True


def special_ids_to_drop(tokenizer: Any, keep: Iterable[str] = REASONING_TAGS) -> set[int]:
    """Ids of the tokenizer's special tokens (end of text, padding, chat markers, and added
    tokens flagged ``special``) except those whose text is in ``keep``."""
    keep = set(keep)
    drop = set(getattr(tokenizer, "all_special_ids", []) or [])
    for token_id, added in (getattr(tokenizer, "added_tokens_decoder", None) or {}).items():
        if getattr(added, "special", False):
            drop.add(int(token_id))
    kept_ids = set()
    for tag in keep:
        token_id = tokenizer.convert_tokens_to_ids(tag)
        # A tag missing from the vocabulary maps to the unknown token, which must still go.
        if token_id is not None and tokenizer.convert_ids_to_tokens(token_id) == tag:
            kept_ids.add(token_id)
    return drop - kept_ids


class TokenDecoder:
    """Decodes generated token ids into a completion: ends at the first end-of-sequence id,
    drops special tokens except the reasoning tags, and cuts at stop strings."""

    def __init__(self, tokenizer: Any, eos_ids: Iterable[int], keep: Iterable[str] = REASONING_TAGS) -> None:
        self.tokenizer = tokenizer
        self.eos_ids = {int(i) for i in eos_ids}
        self.drop_ids = special_ids_to_drop(tokenizer, keep)

    def decode(self, token_ids: Sequence[int], stop: Sequence[str] = ()) -> tuple[str, str]:
        """``(text, finish_reason)`` for one generated sequence (new tokens only).
        ``"stop"`` when an end-of-sequence token or a stop string ended it, else ``"length"``."""
        ids = [int(i) for i in token_ids]
        ended = False
        for position, token_id in enumerate(ids):
            if token_id in self.eos_ids:
                ids, ended = ids[:position], True
                break
        kept = [i for i in ids if i not in self.drop_ids]
        # Specials were filtered above, so decoding without skipping keeps the reasoning tags;
        # no clean-up of spaces, because code responses must come out byte for byte.
        text = self.tokenizer.decode(kept, skip_special_tokens=False, clean_up_tokenization_spaces=False)
        text, stopped = cut_at_stop(text, stop)
        return text, FINISH_STOP if (ended or stopped) else FINISH_LENGTH


def join_reasoning(reasoning: str, answer: str) -> str:
    """A server's separate reasoning and answer put back together the way reasoning models
    write them and the local backends return them: ``<think>\nREASONING\n</think>\n\nANSWER``.

    Servers trim differently around the split (vLLM keeps the newlines, ``transformers serve``
    strips them), so the newlines next to the tags are normalised and every server gives the
    same text. Without an answer there is no ``</think>``: a reply cut at the token limit while
    still reasoning, or one that ended inside its reasoning, never wrote it (servers put all of
    an unclosed reply in the reasoning), and cleaning and verification must see it unfinished.
    """
    opening, closing = REASONING_TAGS
    reasoning = reasoning.lstrip("\n")
    answer = answer.lstrip("\n")
    if not answer.strip():
        return f"{opening}\n{reasoning}"
    reasoning = reasoning.rstrip("\n")
    return f"{opening}\n{reasoning}\n{closing}\n\n{answer}"


def opened_reasoning(prompt_text: str) -> str:
    """The reasoning opening a rendered generation prompt ends with: R1-style chat templates
    (DeepSeek-R1, QwQ) end it with ``<think>\n``, so the model starts inside its reasoning and
    never writes the opening tag itself. Returns that ending (the tag and the whitespace after
    it) or ``""``."""
    opening = REASONING_TAGS[0]
    stripped = prompt_text.rstrip()
    if not stripped.endswith(opening):
        return ""
    return prompt_text[len(stripped) - len(opening):]


def restore_openings(rows: list[list[Any]], openings: Sequence[str]) -> list[list[Any]]:
    """Each conversation's completions with the reasoning opening its prompt ended with put
    back in front (:func:`opened_reasoning`; a None slot, a completion that never arrived, stays
    None): the response is then what the model wrote after ``<think>``, as for models that
    write the tag themselves. Without it, a response cut off inside its reasoning carries no
    tag at all and a verifier would grade a ``\\boxed{}`` of unfinished reasoning as the final
    answer."""
    return [row if not opening else [None if c is None else Completion(opening + c.text, c.finish_reason)
                                     for c in row]
            for row, opening in zip(rows, openings)]


def reopen_reasoning(text: str, opened: bool | None) -> str:
    """A server's response with the reasoning opening put back in front where the server's
    template wrote it (the server renders the prompt, so RedStar cannot see it): ``opened``
    true puts ``<think>\n`` in front of every response that does not start with it; None
    (auto) only of a response that closes a ``</think>`` it never opened; false never."""
    opening, closing = REASONING_TAGS
    if opened is False or text.lstrip().startswith(opening):
        return text
    close = text.find(closing)
    if opened or (close >= 0 and opening not in text[:close]):
        return f"{opening}\n{text}"
    return text
