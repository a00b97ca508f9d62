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

:func:`sft_dataset` turns the file into what the trainer trains on: a memory-mapped Arrow
dataset, built once by streaming the file row by row (each row checked, as :func:`read_sft_rows`
does) and reused while the file is unchanged, so that no process holds the whole file in memory
and the other processes of a multi-process launch only map what the main process wrote.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from redstar.errors import InputError, RedStarError
from redstar.records import RecordError
from redstar.trainers.rows import check_messages, iter_rows, read_rows, require_str

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


def training_row(row: dict[str, Any], masking: str) -> dict[str, Any]:
    """An SFT row in the dataset format TRL needs for ``masking``."""
    if masking not in MASKINGS:
        raise ValueError(f"masking must be one of {MASKINGS}, got {masking!r}")
    if masking != "completion":
        return row
    return {"prompt": row["messages"][:-1], "completion": row["messages"][-1:]}


#: Raised with the version of the cached rows' shape, so that an older cache is never reused.
_CACHE_VERSION = 1


def _features(masking: str) -> Any:
    from datasets import Features, Value

    message = [{"role": Value("string"), "content": Value("string")}]
    columns = ("prompt", "completion") if masking == "completion" else ("messages",)
    return Features({column: message for column in columns})


def _generate(path: str, masking: str) -> Iterator[dict[str, Any]]:
    multi_turn = rows = 0
    for _, row in iter_rows(path, parse_sft_row):
        rows += 1
        multi_turn += sum(m["role"] == "assistant" for m in row["messages"]) > 1
        yield training_row(row, masking)
    if masking == "completion" and multi_turn:
        log.warning("%d of %d SFT rows have several assistant turns; with this chat template only the last "
                    "one is trained (the others are context)", multi_turn, rows)


def sft_dataset(path: str | Path, masking: str, cache_dir: str | Path) -> Any:
    """The rows of the SFT file ``path`` in TRL's format for ``masking``, as a ``datasets.Dataset``
    memory-mapped from Arrow files under ``cache_dir``.

    The first call streams the file into the cache (a bad row is the same ``InputError``, naming
    file, line and field, as :func:`read_sft_rows` raises); later calls, from other processes
    or a resumed run, map the cache as long as the file (path, size, modification time) is
    unchanged. TRL's tokenizing ``map`` writes its result beside it, so it is tokenized once
    too. Under a multi-process launch call it on the main process first
    (``TrainingArguments.main_process_first``)."""
    import datasets

    path = Path(path)
    try:
        stat = path.stat()
    except OSError as exc:
        raise InputError(path, "file not found" if isinstance(exc, FileNotFoundError) else str(exc)) from None
    key = json.dumps([str(path.resolve()), stat.st_size, stat.st_mtime_ns, masking, _CACHE_VERSION])
    try:
        return datasets.Dataset.from_generator(
            _generate, features=_features(masking), cache_dir=str(cache_dir),
            gen_kwargs={"path": str(path), "masking": masking},
            fingerprint=hashlib.sha256(key.encode()).hexdigest()[:16])
    except datasets.exceptions.DatasetGenerationError as exc:
        # datasets wraps what the generator raised; a bad row is the user's to fix, in one line.
        if isinstance(exc.__cause__, RedStarError):
            raise exc.__cause__ from None
        raise
