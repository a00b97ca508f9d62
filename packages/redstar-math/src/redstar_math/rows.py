"""Reading fields of table rows with errors that name the file, the line and the field."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from redstar.errors import InputError, RedStarError
from redstar.tables import iter_rows


def rows_of(spec: str | Path, split: str, **read: Any) -> Iterator[tuple[int | None, dict[str, Any]]]:
    """Rows of a local table (``.jsonl``, ``.json``, ``.parquet``, ``.arrow``, a ``save_to_disk``
    or hub-style folder) or of a hub dataset id; ``read`` (``name``, ``data_files``, ``revision``,
    ``streaming``) goes to :func:`redstar.tables.iter_rows`."""
    return iter_rows(spec, split=split, **read)


def text_field(spec: str | Path, line: int | None, row: dict[str, Any], name: str) -> str:
    """A required, non-empty string field."""
    if name not in row or row[name] is None:
        raise InputError(spec, f"missing field {name!r}", line=line, field=name)
    value = row[name]
    if not isinstance(value, str):
        raise InputError(spec, f"field {name!r} must be a string, got {type(value).__name__}", line=line, field=name)
    if not value.strip():
        raise InputError(spec, f"field {name!r} is empty", line=line, field=name)
    return value


def answer_field(spec: str | Path, line: int | None, row: dict[str, Any], name: str) -> str:
    """A gold answer: a string, or a JSON number (``27.0`` becomes ``"27"``)."""
    if name not in row or row[name] is None:
        raise InputError(spec, f"missing field {name!r}", line=line, field=name)
    value = row[name]
    if isinstance(value, bool):
        raise InputError(spec, f"field {name!r} must be a string or number, got a boolean", line=line, field=name)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise InputError(spec, f"field {name!r} must be a non-empty string or a number, got {value!r:.40}",
                     line=line, field=name)


def check_limit(limit: int | None) -> int | None:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise RedStarError(f"limit must be a positive integer or None, got {limit!r}")
    return limit
