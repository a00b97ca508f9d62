"""Conversations on their way into a backend: shape checks, chat-template rendering for local
models, and the OpenAI wire format (images as data URLs) for servers."""

from __future__ import annotations

import base64
import mimetypes
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from redstar.errors import InputError, RedStarError
from redstar.interfaces import Messages, SamplingParams
from redstar.samplers.text import opened_reasoning

IMAGE_PART_TYPES = ("image", "image_url")


def check_conversations(conversations: Sequence[Messages], backend: str, images: bool = False) -> None:
    """Raise :class:`RedStarError` naming the conversation and message that is not a chat turn
    (a mapping with a string ``role`` and a string or list ``content``). With ``images=False``
    an image part is an error too: text-only backends would otherwise feed the part's repr to
    the model."""
    for c, conversation in enumerate(conversations):
        if not isinstance(conversation, (list, tuple)) or not conversation:
            raise RedStarError(f"{backend} sampler: conversation {c} must be a non-empty list of messages")
        for m, message in enumerate(conversation):
            where = f"{backend} sampler: conversation {c}, message {m}"
            if not isinstance(message, dict) or not isinstance(message.get("role"), str):
                raise RedStarError(f"{where}: a message must be a mapping with a string 'role'")
            content = message.get("content")
            if isinstance(content, str):
                continue
            if not isinstance(content, list):
                raise RedStarError(f"{where}: 'content' must be a string or a list of parts, "
                                   f"got {type(content).__name__}")
            if not images and any(isinstance(p, dict) and p.get("type") in IMAGE_PART_TYPES for p in content):
                raise RedStarError(
                    f"{where} has an image part, and the {backend} sampler handles text only; use a "
                    "multimodal sampler (the geo plugin registers one) or an 'openai' server that "
                    "serves a vision-language model"
                )


#: Seeds are what torch generators, vLLM and the OpenAI API all take: non-negative int64.
MAX_SEED = 2**63 - 1


def check_params(params: SamplingParams, backend: str, conversations: int | None = None) -> None:
    """Reject sampling parameters no backend can honour, before any work starts.
    ``conversations`` (how many the call has) lets per-completion ``seeds`` be checked too."""
    problems = []
    if params.seeds is not None and conversations is not None:
        shape_ok = len(params.seeds) == conversations and all(len(row) == params.n for row in params.seeds)
        if not shape_ok:
            problems.append(f"seeds must hold one tuple of n={params.n} seeds per conversation "
                            f"({conversations}), got {[len(row) for row in params.seeds]}")
        elif not all(isinstance(s, int) and 0 <= s <= MAX_SEED for row in params.seeds for s in row):
            problems.append(f"seeds must be integers in [0, 2**63), got {params.seeds!r}")
    if params.n < 1:
        problems.append(f"n must be at least 1, got {params.n}")
    if params.max_new_tokens < 1:
        problems.append(f"max_new_tokens must be at least 1, got {params.max_new_tokens}")
    if params.temperature < 0:
        problems.append(f"temperature must not be negative, got {params.temperature}")
    if not 0 < params.top_p <= 1:
        problems.append(f"top_p must be in (0, 1], got {params.top_p}")
    if problems:
        raise RedStarError(f"{backend} sampler: " + "; ".join(problems))


def render_prompts(tokenizer: Any, conversations: Sequence[Messages], model: str) -> list[list[int]]:
    """Token ids of each conversation rendered with the tokenizer's chat template, ending with
    the assistant's generation prompt."""
    return render_with_openings(tokenizer, conversations, model)[0]


def render_with_openings(tokenizer: Any, conversations: Sequence[Messages],
                         model: str) -> tuple[list[list[int]], list[str]]:
    """:func:`render_prompts`, and for each conversation the reasoning opening its generation
    prompt ends with (:func:`~redstar.samplers.text.opened_reasoning`: ``"<think>\n"`` for
    R1-style templates, else ``""``), which the sampler puts back in front of the response."""
    if not getattr(tokenizer, "chat_template", None):
        raise RedStarError(
            f"the tokenizer of model {model} has no chat template; samplers render conversations "
            "with tokenizer.apply_chat_template, so use a chat/instruct model or add a template"
        )
    texts = [
        tokenizer.apply_chat_template(list(conversation), tokenize=False, add_generation_prompt=True)
        for conversation in conversations
    ]
    # The template already wrote every special token the model expects (BOS included), so the
    # tokenizer must not add another.
    return tokenizer(texts, add_special_tokens=False)["input_ids"], [opened_reasoning(t) for t in texts]


def openai_messages(conversation: Messages) -> list[dict[str, Any]]:
    """A conversation in the OpenAI chat format. RedStar's image parts
    (``{"type": "image", "path": ...}``) become ``image_url`` parts holding a base64 data URL,
    since a remote server cannot read the local file."""
    converted = []
    for message in conversation:
        content = message["content"]
        if isinstance(content, list):
            content = [_openai_part(part) for part in content]
        converted.append({**message, "content": content})
    return converted


def _openai_part(part: Any) -> Any:
    if not isinstance(part, dict) or part.get("type") != "image" or "path" not in part:
        return part
    path = Path(part["path"])
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot read the image: {exc.strerror or exc}", field="image") from exc
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    url = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
    return {"type": "image_url", "image_url": {"url": url}}
