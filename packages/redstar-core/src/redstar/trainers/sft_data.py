"""SFT rows and where the loss falls.

An SFT row is ``{"prompt_id": str, "messages": [..., {"role": "assistant", "content": ...}]}``: the
assistant's content carries the reasoning (``<think>...</think>``) and the final answer, and the
chat template renders both.

The loss is computed on the assistant's tokens only, never on the prompt. :func:`loss_masking`
picks how:

- ``"assistant"``: the chat template marks assistant turns with ``{% generation %}`` (RedStar's
  tiny models do), or TRL knows a marked training version of it (Qwen2.5, Qwen3, Llama 3, ...,
  see ``trl.chat_template_utils.get_training_chat_template``); TRL's ``assistant_only_loss`` masks
  everything else.
- ``"completion"``: any other template. Each row becomes ``{"prompt": messages[:-1],
  "completion": [last assistant message]}`` and TRL's ``completion_only_loss`` trains on the
  completion only. Earlier assistant turns of a multi-turn row are then context, not targets;
  RedStar's SFT sets are single-turn, and the trainer logs how many rows were affected.
- ``"all"``: only when asked for (``assistant_only_loss: false``): the whole conversation.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from redstar.errors import RedStarError
from redstar.records import RecordError
from redstar.trainers.rows import check_messages, read_rows, require_str

log = logging.getLogger(__name__)

MASKINGS = ("assistant", "completion", "all")


def parse_sft_row(obj: dict[str, Any]) -> dict[str, Any]:
    require_str(obj, "prompt_id")
    messages = check_messages(obj, "messages", last_role="assistant")
    if len(messages) < 2:
        raise RecordError("'messages' needs the prompt (a user message) before the assistant's answer",
                          field="messages")
    return {"messages": messages}


def read_sft_rows(path: str | Path) -> list[dict[str, Any]]:
    """The conversations of an SFT file, checked (``InputError`` names file, line and field)."""
    return read_rows(path, parse_sft_row)


def loss_masking(tokenizer: Any, assistant_only_loss: bool = True) -> str:
    """``"assistant"``, ``"completion"`` or ``"all"`` for this tokenizer's chat template (see the
    module docstring)."""
    from trl.chat_template_utils import get_training_chat_template, has_generation_markers

    template = getattr(tokenizer, "chat_template", None)
    if not template:
        raise RedStarError(
            "the model's tokenizer has no chat template; SFT renders conversations with it. Give the "
            "tokenizer one (tokenizer.chat_template = ...; save it beside the model)"
        )
    if not assistant_only_loss:
        return "all"
    if has_generation_markers(template):
        return "assistant"
    try:
        get_training_chat_template(tokenizer)
    except ValueError:  # TRL has no marked version of this template
        return "completion"
    return "assistant"


def as_training_rows(rows: list[dict[str, Any]], masking: str) -> list[dict[str, Any]]:
    """Rows in the dataset format TRL needs for ``masking``."""
    if masking not in MASKINGS:
        raise ValueError(f"masking must be one of {MASKINGS}, got {masking!r}")
    if masking != "completion":
        return rows
    multi_turn = sum(1 for row in rows if sum(m["role"] == "assistant" for m in row["messages"]) > 1)
    if multi_turn:
        log.warning("%d of %d SFT rows have several assistant turns; with this chat template only the last "
                    "one is trained (the others are context)", multi_turn, len(rows))
    return [{"prompt": row["messages"][:-1], "completion": row["messages"][-1:]} for row in rows]
