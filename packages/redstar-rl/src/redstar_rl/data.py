"""The data files of the RL trainers, checked row by row (``InputError`` names file, line and
field; no row is ever skipped).

- preference (``dpo``): ``{"prompt_id", "prompt": [..., user], "chosen": [assistant],
  "rejected": [assistant]}``, TRL's conversational preference format.
- online (``ppo``, ``reinforce_pp``, ``grpo``): ``{"prompt": [..., user], "prompt_id",
  "reference", "domain", "metadata"}``; the trainer samples responses and hands the row and the
  response to ``TrainContext.reward``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from redstar.errors import InputError
from redstar.records import RecordError
from redstar.trainers.rows import check_messages, read_numbered_rows, read_rows, require_str


def _single_answer(obj: dict[str, Any], key: str) -> list[dict[str, str]]:
    messages = check_messages(obj, key, last_role="assistant")
    if len(messages) != 1:
        raise RecordError(f"{key!r} must hold exactly one assistant message, got {len(messages)}", field=key)
    return messages


def parse_preference_row(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "prompt_id": require_str(obj, "prompt_id"),
        "prompt": check_messages(obj, "prompt", last_role="user"),
        "chosen": _single_answer(obj, "chosen"),
        "rejected": _single_answer(obj, "rejected"),
    }


def parse_online_row(obj: dict[str, Any]) -> dict[str, Any]:
    metadata = obj.get("metadata")
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict):
        raise RecordError(f"field 'metadata' must be an object, got {type(metadata).__name__}", field="metadata")
    return {
        "prompt": check_messages(obj, "prompt", last_role="user"),
        "prompt_id": require_str(obj, "prompt_id"),
        "reference": require_str(obj, "reference"),
        "domain": require_str(obj, "domain"),
        "metadata": metadata,
    }


def read_preference_rows(path: str | Path) -> list[dict[str, Any]]:
    return read_rows(path, parse_preference_row)


def read_online_rows(path: str | Path, tokenizer: Any = None, max_prompt_length: int | None = None
                     ) -> list[dict[str, Any]]:
    """Online rows; with a tokenizer and ``max_prompt_length``, a prompt whose chat-formatted
    tokens exceed it is an error (cutting it would change the problem)."""
    numbered = read_numbered_rows(path, parse_online_row)
    if tokenizer is not None and max_prompt_length is not None:
        for line, row in numbered:
            length = len(prompt_token_ids(tokenizer, row["prompt"]))
            if length > max_prompt_length:
                raise InputError(path, f"the prompt is {length} tokens, over max_prompt_length={max_prompt_length}",
                                 line=line, field="prompt")
    return [row for _, row in numbered]


def prompt_token_ids(tokenizer: Any, messages: list[dict[str, str]]) -> list[int]:
    """The tokens the model is conditioned on: the chat template with the generation prompt."""
    text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    return tokenizer(text, add_special_tokens=False)["input_ids"]
