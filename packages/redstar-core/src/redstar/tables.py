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

Parquet, Arrow, ``save_to_disk`` folders, hub-style folders and hub datasets go through
``datasets`` (:func:`iter_rows`); JSONL (in ``.jsonl`` or ``.json``) is parsed here, line by line,
because that is how a line number can be reported in a file users edit by hand.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from redstar.errors import InputError, RedStarError
from redstar.records import RecordError

T = TypeVar("T")

#: Suffixes that always mean a local file (a missing one is "file not found", never a hub id).
LOCAL_SUFFIXES = (".jsonl", ".json", ".parquet", ".arrow")

#: Files ``Dataset.save_to_disk`` writes beside its ``data-*.arrow`` shards.
SAVED_DATASET_FILES = ("dataset_info.json", "state.json")
#: The file ``DatasetDict.save_to_disk`` writes at the top (one sub-folder per split).
SAVED_DICT_FILE = "dataset_dict.json"

Rows = Iterator[tuple[int | None, dict[str, Any]]]


def is_local_table(spec: str | Path) -> bool:
    p = Path(spec)
    return p.exists() or p.suffix in LOCAL_SUFFIXES


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, object)`` for each non-blank line."""
    path = Path(path)
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except IsADirectoryError:
        raise InputError(path, "is a folder, not a JSON Lines file") from None
    with handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                # A binary file (an .arrow shard, a pickle) given where JSON Lines was expected.
                raise InputError(path, f"bytes that are not UTF-8 at column {exc.start + 1}: not a JSON Lines "
                                 "file (RedStar reads .jsonl, .json, .parquet, .arrow and save_to_disk folders)",
                                 line=number) from None
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(path, f"invalid JSON ({exc.msg} at column {exc.colno})", line=number) from None
            if not isinstance(obj, dict):
                raise InputError(path, f"expected a JSON object, got {type(obj).__name__}", line=number)
            yield number, obj


def _is_json_lines(path: Path) -> bool:
    """Whether a ``.json`` file holds JSON Lines (what ``to_json`` and many exports write): its
    first non-blank line is a whole JSON object and more content follows it. A JSON document
    (a list, or an object spread over lines) is read whole instead."""
    with path.open("rb") as handle:
        first = b""
        for raw in handle:
            if raw.strip():
                first = raw
                break
        if not first.lstrip().startswith(b"{"):
            return False
        try:
            obj = json.loads(first)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return False  # "{" alone on its line: a pretty-printed document
        if not isinstance(obj, dict):
            return False
        more = any(raw.strip() for raw in handle)
    # One line holding one object: a mapping of rows ({"id": row}) is a document; a single row of
    # fields is a one-line JSON Lines file.
    return more or not (obj and all(isinstance(v, dict) for v in obj.values()))


def _iter_json_document(path: Path) -> Rows:
    """A JSON list of rows, or an object ``{"id": row}`` (MathVista's ``testmini.json``). Read
    here, not by ``datasets``: rows keep the fields their writer gave them (LLaVA conversations
    differ from row to row), and an error names the row."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(path, f"invalid JSON ({exc.msg})", line=exc.lineno) from None
    except UnicodeDecodeError as exc:
        raise InputError(path, f"bytes that are not UTF-8 at offset {exc.start}: not a JSON file") from None
    if isinstance(data, dict):
        data = [dict(row, _key=key) if isinstance(row, dict) else row for key, row in data.items()]
    if not isinstance(data, list):
        raise InputError(path, "expected a JSON list or object of rows")
    for number, row in enumerate(data, start=1):
        if not isinstance(row, dict):
            raise InputError(path, f"row {number} is not an object", line=number)
        yield number, row


def _dataset_error(spec: str | Path, action: str, exc: BaseException, row: int | None = None) -> InputError:
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return InputError(spec, f"{action}: {type(exc).__name__}: {message}", line=row)


def _numbered(spec: str | Path, rows: Iterable[Any]) -> Rows:
    """Rows of a ``datasets`` table with 1-based row numbers; a failure mid-way (a corrupt shard,
    a lost connection while streaming) names the row it stopped at."""
    iterator = iter(rows)
    number = 0
    while True:
        try:
            row = next(iterator)
        except StopIteration:
            return
        except Exception as exc:  # datasets/pyarrow/fsspec raise many types; the user needs the place
            raise _dataset_error(spec, "reading failed", exc, row=number + 1) from None
        number += 1
        yield number, dict(row)


def _pick_split(spec: str | Path, tables: Any, split: str) -> Any:
    """One split of a DatasetDict (or IterableDatasetDict); an unknown one lists those there are."""
    if split not in tables:
        raise InputError(spec, f"no split {split!r}; it has: {', '.join(tables) or 'none'} (set the source's split)")
    return tables[split]


def _read_saved(path: Path, split: str) -> Any:
    """A ``save_to_disk`` folder: a Dataset, or a DatasetDict whose ``split`` is taken."""
    import datasets

    try:
        saved = datasets.load_from_disk(str(path))
    except Exception as exc:
        raise _dataset_error(path, "cannot read this save_to_disk folder", exc) from None
    return _pick_split(path, saved, split) if isinstance(saved, datasets.DatasetDict) else saved


def _load(where: str | Path, what: str, spec: str, **kwargs: Any) -> Any:
    """``datasets.load_dataset(spec, **kwargs)``, its failures an InputError naming ``where``."""
    import datasets

    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    try:
        return datasets.load_dataset(spec, **kwargs)
    except Exception as exc:
        raise _dataset_error(where, f"cannot load {what}", exc) from None


def iter_rows(spec: str | Path, split: str = "train", *, name: str | None = None, data_files: Any = None,
              revision: str | None = None, streaming: bool = False, **load_kwargs: Any) -> Rows:
    """Rows of a table, as ``(number, row)``; ``number`` is the 1-based line of a JSON Lines file
    and the 1-based row elsewhere, so every error can point at a row. ``spec`` is one of:

    - a ``.jsonl`` file, or a ``.json`` file holding JSON Lines (parsed here, line by line, so a
      hand-edited file's errors name the line), or a ``.json`` list/object of rows;
    - a ``.parquet`` or ``.arrow`` file;
    - a ``Dataset.save_to_disk`` folder, or a ``DatasetDict`` one (``split`` picks the split);
    - a hub-style local folder (data files, optionally a README whose ``configs`` ``name`` picks);
    - a hub dataset id, with ``name`` (the config), ``data_files``, ``revision`` and ``streaming``
      (rows arrive as they download instead of after the whole split is cached).

    Local files and folders are read in place, never copied into the ``datasets`` cache. Every
    failure is an :class:`~redstar.errors.InputError` naming ``spec`` (and the row if there is one).
    """
    path = Path(spec)
    local = path.exists() or path.suffix in LOCAL_SUFFIXES
    if local and revision is not None:
        raise InputError(path, "revision applies to hub datasets; this is a local path")
    if path.is_dir():
        if (path / SAVED_DICT_FILE).is_file() or any((path / f).is_file() for f in SAVED_DATASET_FILES):
            yield from _numbered(path, _read_saved(path, split))
            return
        # Streaming reads the folder's files where they are (no Arrow copy in the cache).
        table = _load(path, "this data folder (a hub-style folder of data files)", str(path), name=name,
                      data_files=data_files, split=split, streaming=True, **load_kwargs)
        yield from _numbered(path, table)
        return
    if local:
        if not path.exists():
            raise InputError(path, "file not found")
        if path.suffix in (".parquet", ".arrow"):
            # Streamed from the file itself. The Arrow reader takes both IPC layouts: the streaming
            # one of save_to_disk shards and the random-access one (Feather v2) other tools write.
            kind = path.suffix[1:]
            table = _load(path, f"this {kind.title()} file", kind, data_files=str(path), split="train", streaming=True)
            yield from _numbered(path, table)
        elif path.suffix == ".json" and not _is_json_lines(path):
            yield from _iter_json_document(path)
        else:
            yield from iter_jsonl(path)
        return
    table = _load(spec, "the hub dataset", str(spec), name=name, data_files=data_files, revision=revision,
                  split=split, streaming=streaming, **load_kwargs)
    yield from _numbered(spec, table)


def read_options(owner: str, name: Any = None, data_files: Any = None, revision: Any = None,
                 streaming: Any = False) -> dict[str, Any]:
    """Check the table options a source passes to :func:`iter_rows` (``name``: the hub config;
    ``data_files``: a file, a list or a ``{split: files}`` mapping; ``revision``: a hub branch, tag
    or commit; ``streaming``) and return them as keyword arguments. ``owner`` names the source in
    the error, which is raised when the recipe is checked, not mid-run."""
    def fail(option: str, expected: str, value: Any) -> RedStarError:
        return RedStarError(f"{owner}: option {option!r} must be {expected}, got {value!r:.60}")

    if name is not None and not (isinstance(name, str) and name):
        raise fail("name", "a dataset config name", name)
    if revision is not None and not (isinstance(revision, str) and revision):
        raise fail("revision", "a branch, tag or commit", revision)
    files_ok = (data_files is None or isinstance(data_files, str)
                or (isinstance(data_files, (list, tuple)) and all(isinstance(f, str) for f in data_files))
                or (isinstance(data_files, dict) and all(isinstance(k, str) for k in data_files)))
    if not files_ok:
        raise fail("data_files", "a path or pattern, a list of them, or a {split: files} mapping", data_files)
    if not isinstance(streaming, bool):
        raise fail("streaming", "true or false", streaming)
    options = {"name": name, "data_files": data_files, "revision": revision, "streaming": streaming}
    return {key: value for key, value in options.items() if value not in (None, False)}


def parse_records(path: str | Path, parse: Callable[[dict[str, Any]], T], **read: Any) -> list[T]:
    """Parse every row of a table with ``parse`` (e.g. ``Prompt.from_dict``), turning a
    :class:`RecordError` into an :class:`InputError` that names file, line and field. ``read``
    goes to :func:`iter_rows` (``split``, ``name``...)."""
    out = []
    for number, row in iter_rows(path, **read):
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
