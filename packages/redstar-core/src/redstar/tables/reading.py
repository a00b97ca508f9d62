"""Reading tables: JSONL line by line (file:line errors), and every other format users hold
(JSON, Parquet, Arrow, ``save_to_disk`` folders, hub-style folders, hub datasets) through
``datasets``. See :mod:`redstar.tables` for the promises."""

from __future__ import annotations

import json
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
            # A binary file (an .arrow shard, a pickle) given where JSON Lines was expected.
            obj = parse_json_line(path, raw, number, not_utf8=": not a JSON Lines file (RedStar reads .jsonl, "
                                  ".json, .parquet, .arrow and save_to_disk folders)")
            if obj is not None:
                yield number, obj


def read_json(path: str | Path) -> dict[str, Any]:
    """A JSON document holding an object (a run's ``summary.json``), or an :class:`InputError`
    naming the file when it is missing, cut short or not an object."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except UnicodeDecodeError as exc:
        raise InputError(path, f"not UTF-8 text ({exc.reason})") from None
    except ValueError as exc:
        raise InputError(path, f"invalid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise InputError(path, f"not a JSON object (a {type(data).__name__})")
    return data


def parse_json_line(path: Path, raw: bytes, number: int, advice: str = "", not_utf8: str = "") -> dict[str, Any] | None:
    """The JSON object on line ``number`` of ``path`` (None for a blank line); anything else is an
    :class:`InputError` naming file, line and column, ending with ``advice`` (``not_utf8`` says
    more about bytes that are not UTF-8)."""
    tail = f"; {advice}" if advice else ""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(path, f"bytes that are not UTF-8 at column {exc.start + 1}{not_utf8}{tail}",
                         line=number) from None
    if not line.strip():
        return None
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(path, f"invalid JSON ({exc.msg} at column {exc.colno}){tail}", line=number) from None
    if not isinstance(obj, dict):
        raise InputError(path, f"expected a JSON object, got {type(obj).__name__}{tail}", line=number)
    return obj


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


