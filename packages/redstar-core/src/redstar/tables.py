"""Reading and writing tables of records: JSONL, JSON and Parquet files, and hub datasets.

Two promises hold everywhere:

- **Bad input is named.** A malformed line raises :class:`~redstar.errors.InputError` with the
  file, the 1-based line and the field; nothing before it is half-written.
- **Nothing is lost or duplicated.** Whole tables are written atomically (a temporary file, then
  ``os.replace``). Append-only tables (:class:`JsonlAppender`) flush and fsync each batch, and on
  reopening drop a torn last line left by a crash (``kill -9``) instead of failing on it.

Parquet and hub datasets go through ``datasets``; JSONL is parsed here, line by line, because
that is how a line number can be reported.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from redstar.errors import InputError
from redstar.records import RecordError

T = TypeVar("T")

LOCAL_SUFFIXES = (".jsonl", ".json", ".parquet")


def is_local_table(spec: str | Path) -> bool:
    p = Path(spec)
    return p.exists() or p.suffix in LOCAL_SUFFIXES


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, object)`` for each non-blank line."""
    path = Path(path)
    try:
        handle = path.open("r", encoding="utf-8")
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(path, f"invalid JSON ({exc.msg} at column {exc.colno})", line=number) from None
            if not isinstance(obj, dict):
                raise InputError(path, f"expected a JSON object, got {type(obj).__name__}", line=number)
            yield number, obj


def iter_rows(spec: str | Path, split: str = "train", **load_kwargs: Any) -> Iterator[tuple[int | None, dict[str, Any]]]:
    """Rows of a local ``.jsonl``/``.json``/``.parquet`` file or of a hub dataset id.

    Local JSONL yields line numbers; other formats yield row numbers (1-based) so errors can
    still point at a row. A hub id goes through ``datasets.load_dataset`` (network at the
    caller's request only; RedStar's tests and default run use local files).
    """
    path = Path(spec)
    if path.suffix == ".jsonl" or (path.exists() and path.suffix not in (".json", ".parquet") and path.is_file()):
        yield from iter_jsonl(path)
        return
    if path.suffix == ".json":
        if not path.exists():
            raise InputError(path, "file not found")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise InputError(path, f"invalid JSON ({exc.msg})", line=exc.lineno) from None
        if isinstance(data, dict):  # {"id": row, ...} as MathVista's testmini.json
            data = [dict(row, _key=key) if isinstance(row, dict) else row for key, row in data.items()]
        if not isinstance(data, list):
            raise InputError(path, "expected a JSON list or object of rows")
        for number, row in enumerate(data, start=1):
            if not isinstance(row, dict):
                raise InputError(path, f"row {number} is not an object")
            yield number, row
        return
    import datasets

    if path.suffix == ".parquet":
        if not path.exists():
            raise InputError(path, "file not found")
        ds = datasets.Dataset.from_parquet(str(path))
    else:
        ds = datasets.load_dataset(str(spec), split=split, **load_kwargs)
    for number, row in enumerate(ds, start=1):
        yield number, dict(row)


def parse_records(path: str | Path, parse: Callable[[dict[str, Any]], T]) -> list[T]:
    """Parse every row of a table with ``parse`` (e.g. ``Prompt.from_dict``), turning a
    :class:`RecordError` into an :class:`InputError` that names file, line and field."""
    out = []
    for number, row in iter_rows(path):
        try:
            out.append(parse(row))
        except RecordError as exc:
            raise InputError(path, str(exc), line=number, field=exc.field) from None
    return out


def _to_jsonable(row: Any) -> dict[str, Any]:
    return row.to_dict() if hasattr(row, "to_dict") else row


def write_table(path: str | Path, rows: Iterable[Any]) -> Path:
    """Write rows (dicts or records) atomically as JSONL or Parquet, chosen by suffix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [_to_jsonable(r) for r in rows]
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if path.suffix == ".parquet":
            os.close(fd)
            import datasets

            # Nested free-form dicts (metadata, params) vary in keys from row to row; Arrow needs
            # one schema, so they are stored as JSON text in Parquet.
            flat = [{k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in r.items()} for r in rows]
            datasets.Dataset.from_list(flat).to_parquet(tmp)
        else:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                for row in rows:
                    handle.write(json.dumps(row, ensure_ascii=False) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def write_json(path: str | Path, obj: Any) -> Path:
    """Write a JSON document atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(obj, handle, indent=2, ensure_ascii=False, default=str)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    return path


class JsonlAppender:
    """An append-only JSONL table that survives being killed mid-write.

    On open, complete lines are kept and a torn trailing line (no newline, or not valid JSON) is
    cut off, so a resumed stage sees exactly the rows that were durably written. ``append``
    writes a batch, then flushes and fsyncs before returning.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.rows: list[dict[str, Any]] = []
        if self.path.exists():
            self._recover()
        self._handle = self.path.open("a", encoding="utf-8")

    def _recover(self) -> None:
        data = self.path.read_bytes()
        good = 0
        for line in data.splitlines(keepends=True):
            if not line.endswith(b"\n"):
                break
            try:
                self.rows.append(json.loads(line))
            except json.JSONDecodeError:
                break
            good += len(line)
        if good != len(data):
            with self.path.open("r+b") as handle:
                handle.truncate(good)

    def append(self, rows: Iterable[Any]) -> None:
        batch = [_to_jsonable(r) for r in rows]
        if not batch:
            return
        self._handle.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in batch))
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self.rows.extend(batch)

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> JsonlAppender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
