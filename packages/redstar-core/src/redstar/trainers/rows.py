"""Reading a trainer's data file: JSONL rows checked field by field.

Every trainer kind (``sft``, ``preference``, ``online``; see :class:`redstar.interfaces.TrainContext`)
reads its file with :func:`read_rows` and a row parser built from the checks here, so that a bad
row is reported as ``file:line: field 'messages': ...`` and no row is silently skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from redstar.errors import InputError
from redstar.media import resolve_media
from redstar.records import RecordError
from redstar.tables import iter_jsonl

ROLES = ("system", "user", "assistant")


def iter_rows(path: str | Path, parse: Callable[[dict[str, Any]], dict[str, Any]]
              ) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line, row)`` for every row of a JSONL file, parsed by ``parse``, one at a time (a file
    larger than memory streams through); a :class:`RecordError` becomes an :class:`InputError`
    naming the file, line and field. An empty file is an error too, raised once the file is
    read: training on nothing would only fail later, less clearly."""
    base = Path(path).resolve().parent
    empty = True
    for number, obj in iter_jsonl(path):
        try:
            # Image paths written relative to the table (a run directory's images/) are found
            # wherever the run directory now lives.
            row = parse(resolve_media(obj, base))
        except RecordError as exc:
            raise InputError(path, str(exc), line=number, field=exc.field) from None
        empty = False
        yield number, row
    if empty:
        raise InputError(path, "the file has no rows")


def read_numbered_rows(path: str | Path, parse: Callable[[dict[str, Any]], dict[str, Any]]
                       ) -> list[tuple[int, dict[str, Any]]]:
    """Every ``(line, row)`` of :func:`iter_rows`, in memory."""
    return list(iter_rows(path, parse))


def read_rows(path: str | Path, parse: Callable[[dict[str, Any]], dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of :func:`read_numbered_rows` without their line numbers."""
    return [row for _, row in read_numbered_rows(path, parse)]


def require_str(obj: dict[str, Any], key: str) -> str:
    if key not in obj:
        raise RecordError(f"missing required field {key!r}", field=key)
    value = obj[key]
    if not isinstance(value, str):
        raise RecordError(f"field {key!r} must be a string, got {type(value).__name__}", field=key)
    return value


def check_messages(obj: dict[str, Any], key: str, *, last_role: str | None = None) -> list[dict[str, str]]:
    """The chat messages under ``key``: a non-empty list of ``{"role", "content"}`` with a known
    role and text content, ending with ``last_role`` when given. Only ``role`` and ``content`` are
    kept, so that every row has the same shape in an Arrow table."""
    if key not in obj:
        raise RecordError(f"missing required field {key!r}", field=key)
    value = obj[key]
    if not isinstance(value, list) or not value:
        raise RecordError(f"field {key!r} must be a non-empty list of messages", field=key)
    messages = []
    for index, message in enumerate(value):
        where = f"{key}[{index}]"
        if not isinstance(message, dict):
            raise RecordError(f"{where} must be an object with 'role' and 'content'", field=key)
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            raise RecordError(f"{where}.role must be one of {', '.join(ROLES)}, got {role!r}", field=key)
        if isinstance(content, list):
            raise RecordError(f"{where}.content is a list of parts (images); this trainer takes text only",
                              field=key)
        if not isinstance(content, str):
            raise RecordError(f"{where}.content must be a string, got {type(content).__name__}", field=key)
        if role == "assistant" and not content.strip():
            raise RecordError(f"{where} is an empty assistant message", field=key)
        messages.append({"role": role, "content": content})
    if last_role is not None and messages[-1]["role"] != last_role:
        raise RecordError(f"the last message of {key!r} must be the {last_role}'s, got {messages[-1]['role']!r}",
                          field=key)
    return messages
