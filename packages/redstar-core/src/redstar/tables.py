"""Reading and writing tables of records: JSONL, JSON and Parquet files, and hub datasets.

Two promises hold everywhere:

- **Bad input is named.** A malformed line raises :class:`~redstar.errors.InputError` with the
  file, the 1-based line and the field; nothing before it is half-written.
- **Nothing is lost or duplicated.** Whole tables are written atomically (a temporary file, then
  ``os.replace``). Append-only tables (:class:`JsonlAppender`) flush and fsync each batch, and on
  reopening drop a torn last line left by a crash (``kill -9``) instead of failing on it. Damage
  anywhere else (an invalid complete line, bytes that are not UTF-8) is an
  :class:`~redstar.errors.InputError` naming the file and line: a table is never silently cut.
- **Every row can be written.** A string that JSON can carry but UTF-8 cannot (a lone surrogate,
  which a server's JSON may contain) is written as a JSON escape, so one odd row never loses a
  batch, and reading it back gives the same string.
- **One file mode.** Every file written here gets ``0666`` less the process's umask (``0644``
  under the usual umask), whether written whole or appended, as any other tool's output would.

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


def dumps_line(obj: Any) -> str:
    """One JSON line, readable UTF-8 where possible. A string UTF-8 cannot encode (a lone
    surrogate) makes this one line fall back to ``\\u`` escapes, which JSON readers decode to the
    same string, instead of failing the write of the whole table."""
    text = json.dumps(obj, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(obj, ensure_ascii=True)
    return text + "\n"


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


def _temp_beside(path: Path) -> tuple[int, str]:
    """A temporary file next to ``path`` (same filesystem, so ``os.replace`` is atomic), with the
    mode the final file should have: ``mkstemp`` alone would leave it 0600."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.fchmod(fd, file_mode())
    return fd, tmp


def write_table(path: str | Path, rows: Iterable[Any]) -> Path:
    """Write rows (dicts or records) atomically as JSONL or Parquet, chosen by suffix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [_to_jsonable(r) for r in rows]
    fd, tmp = _temp_beside(path)
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
                    handle.write(dumps_line(row))
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
    text = json.dumps(obj, indent=2, ensure_ascii=False, default=str)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(obj, indent=2, ensure_ascii=True, default=str)
    fd, tmp = _temp_beside(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
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
        data = self.path.read_bytes()
        complete = data.rfind(b"\n") + 1  # bytes up to and including the last newline
        for number, line in enumerate(data[:complete].splitlines(), start=1):
            if not line.strip():
                continue
            self.rows.append(self._parse(line, number))
        self.torn_bytes = len(data) - complete
        if self.torn_bytes:
            with self.path.open("r+b") as handle:
                handle.truncate(complete)

    def _parse(self, line: bytes, number: int) -> dict[str, Any]:
        advice = ("the table is damaged (a crash only ever tears the last, unterminated line); fix or delete "
                  "this line and run again: only the rows missing then are redone")
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(self.path, f"bytes that are not UTF-8 at column {exc.start + 1}; {advice}",
                             line=number) from None
        try:
            row = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(self.path, f"invalid JSON ({exc.msg} at column {exc.colno}); {advice}",
                             line=number) from None
        if not isinstance(row, dict):
            raise InputError(self.path, f"expected a JSON object, got {type(row).__name__}; {advice}", line=number)
        return row

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
