"""Writing tables: whole files atomically, append-only tables that survive ``kill -9``, one file
mode, every row encodable. See :mod:`redstar.tables` for the promises."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from redstar.tables.reading import parse_json_line


def _to_jsonable(row: Any) -> dict[str, Any]:
    return row.to_dict() if hasattr(row, "to_dict") else row


def _json_text(obj: Any, **options: Any) -> str:
    """JSON as readable UTF-8 where possible. A string UTF-8 cannot encode (a lone surrogate)
    falls back to ``\\u`` escapes, which JSON readers decode to the same string, instead of
    failing the write of the whole table."""
    text = json.dumps(obj, ensure_ascii=False, **options)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(obj, ensure_ascii=True, **options)
    return text


def dumps_line(obj: Any) -> str:
    """One JSON line (see :func:`_json_text` for rows UTF-8 cannot carry)."""
    return _json_text(obj) + "\n"


def _umask() -> int:
    """The process's umask, read without changing it (``os.umask`` can only be read by setting
    it, which would race with other threads creating files)."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode of every file RedStar writes: what ``open(path, "w")`` would give."""
    return 0o666 & ~_umask()


@contextlib.contextmanager
def _atomically(path: Path) -> Iterator[tuple[int, str]]:
    """``(fd, tmp)``: a temporary file next to ``path`` (same filesystem, so ``os.replace`` is
    atomic) with the mode the final file should have (``mkstemp`` alone would leave it 0600). The
    body writes it (closing ``fd``); it then replaces ``path``, or is removed if the body fails."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, file_mode())
        yield fd, tmp
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _write_text(fd: int, text: str) -> None:
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def write_table(path: str | Path, rows: Iterable[Any]) -> Path:
    """Write rows (dicts or records) atomically as JSONL or Parquet, chosen by suffix."""
    path = Path(path)
    rows = [_to_jsonable(r) for r in rows]
    with _atomically(path) as (fd, tmp):
        if path.suffix == ".parquet":
            os.close(fd)
            import datasets

            # Nested free-form dicts (metadata, params) vary in keys from row to row; Arrow needs
            # one schema, so they are stored as JSON text in Parquet.
            flat = [{k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in r.items()} for r in rows]
            datasets.Dataset.from_list(flat).to_parquet(tmp)
        else:
            _write_text(fd, "".join(dumps_line(row) for row in rows))
    return path


@contextlib.contextmanager
def streamed_table(path: str | Path) -> Iterator[Callable[[Iterable[Any]], None]]:
    """Write a JSONL table a batch at a time, atomically: ``with streamed_table(p) as write:
    write(rows)``. Readers see the old file, or the whole new one once the block ends; if it
    fails, nothing changes."""
    path = Path(path)
    with _atomically(path) as (fd, _), os.fdopen(fd, "w", encoding="utf-8") as handle:

        def write(rows: Iterable[Any]) -> None:
            handle.write("".join(dumps_line(_to_jsonable(r)) for r in rows))

        yield write
        handle.flush()
        os.fsync(handle.fileno())


def write_text(path: str | Path, text: str) -> Path:
    """Write a text file (UTF-8) atomically: readers see the old file or the whole new one."""
    path = Path(path)
    with _atomically(path) as (fd, _):
        _write_text(fd, text)
    return path


def write_json(path: str | Path, obj: Any) -> Path:
    """Write a JSON document atomically."""
    path = Path(path)
    text = _json_text(obj, indent=2, default=str) + "\n"
    with _atomically(path) as (fd, _):
        _write_text(fd, text)
    return path


class JsonlAppender:
    """An append-only JSONL table that survives being killed mid-write.

    On open, every line is read back. A torn tail (bytes after the last newline, which is what a
    ``kill -9`` or a full disk leaves mid-append) is cut off, so a resumed stage sees exactly the
    rows that were durably written. A complete line (one that ends in a newline) that is not a JSON
    object is not a torn write but damage: it is an :class:`~redstar.errors.InputError` naming the
    file and line, and the file is left untouched, so no row after it is lost. ``append`` writes a batch,
    then flushes and fsyncs before returning.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.rows: list[dict[str, Any]] = []
        self.torn_bytes = 0
        if self.path.exists():
            self._recover()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, file_mode())
        self._handle = os.fdopen(fd, "a", encoding="utf-8")

    def _recover(self) -> None:
        self.rows, self.torn_bytes = read_journal(self.path)
        if self.torn_bytes:
            with self.path.open("r+b") as handle:
                handle.truncate(self.path.stat().st_size - self.torn_bytes)

    def append(self, rows: Iterable[Any]) -> None:
        batch = [_to_jsonable(r) for r in rows]
        if not batch:
            return
        self._handle.write("".join(dumps_line(r) for r in batch))
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self.rows.extend(batch)

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> JsonlAppender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_journal(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The rows of an append-only JSONL table and the size of its torn tail (bytes after the last
    newline), without changing the file: a reader may look at a table another process appends to.
    A damaged complete line is an :class:`~redstar.errors.InputError` naming file and line."""
    data = path.read_bytes()
    complete = data.rfind(b"\n") + 1  # bytes up to and including the last newline
    rows = [row for number, line in enumerate(data[:complete].splitlines(), start=1)
            if (row := parse_json_line(path, line, number, advice=_DAMAGED)) is not None]
    return rows, len(data) - complete


_DAMAGED = ("the table is damaged (a crash only ever tears the last, unterminated line); fix or delete this line "
            "and run again: only the rows missing then are redone")
