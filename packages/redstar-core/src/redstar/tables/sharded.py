"""Run tables that grow without bound and are read in bounded memory: a folder of shards.

A :class:`ShardedTable` is a folder holding, in name order::

    part-000000.parquet   sealed shards: immutable, written whole and atomically
    part-000001.parquet
    part-000002.jsonl     the open shard: an append-only journal, fsynced per batch

``append`` writes to the journal (a :class:`~redstar.tables.JsonlAppender`, so a ``kill -9``
mid-append loses at most the torn last line, which is cut on reopening, and a damaged line is an
error naming file and line). When the journal passes ``shard_rows`` rows or ``shard_bytes``
bytes it is *sealed*: its rows are written as a Parquet file next to it (temporary name, fsync,
``os.replace``), then the journal is deleted. A kill between those two steps leaves both; on
reopening, the journal whose Parquet twin exists is the one already sealed, and is removed. So
at every moment each row is in exactly one place, and a reader streams shard after shard,
holding one record batch at a time.

Parquet keeps each field as a typed column where Arrow can hold it (strings, numbers, booleans).
A value it cannot hold as such (a mapping, a list, a string with a lone surrogate, an integer
beyond 64 bits, a column whose rows disagree on type) is stored as JSON text and named in the
row's ``_json`` column, so every row reads back exactly as it was appended. Users can open the
shards with ``datasets``, pandas or polars; ``redstar export --format jsonl`` writes JSON Lines.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from redstar.errors import InputError
from redstar.tables.writing import JsonlAppender, _atomically, _to_jsonable, dumps_line, read_journal

SHARD = re.compile(r"^part-(\d{6})\.(parquet|jsonl)$")
JSON_COLUMN = "_json"  # per row: the fields stored as JSON text
ABSENT_COLUMN = "_absent"  # per row: the fields the row did not have (other rows of the shard did)
_META = (JSON_COLUMN, ABSENT_COLUMN)
_INT64 = (-(2 ** 63), 2 ** 63 - 1)


def _plain(value: Any) -> bool:
    """Whether Arrow holds ``value`` as itself (else it is stored as JSON text)."""
    if value is None or isinstance(value, (bool, float)):
        return True
    if isinstance(value, int):
        return _INT64[0] <= value <= _INT64[1]
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: Arrow strings are UTF-8
            return False
        return True
    return False


def _as_json(value: Any) -> str:
    return dumps_line(value)[:-1]


def encode_rows(rows: Sequence[dict[str, Any]]) -> Any:
    """An Arrow table holding ``rows`` exactly (see the module docstring)."""
    import pyarrow as pa

    keys = list(dict.fromkeys(k for row in rows for k in row))
    marks: list[set[str]] = [set() for _ in rows]
    absent: list[list[str]] = [[k for k in keys if k not in row] for row in rows]
    columns = {}
    for key in keys:
        values = []
        for i, row in enumerate(rows):
            value = row.get(key)
            if not _plain(value):
                value = _as_json(value)
                marks[i].add(key)
            values.append(value)
        try:
            columns[key] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            # The rows disagree on this field's type (7 in one, "7" in another): all as JSON.
            for i, row in enumerate(rows):
                if key in row and row[key] is not None:
                    values[i] = _as_json(row[key])
                    marks[i].add(key)
            columns[key] = pa.array(values, type=pa.string())
    if any(marks):
        columns[JSON_COLUMN] = pa.array([sorted(m) or None for m in marks], type=pa.list_(pa.string()))
    if any(absent):
        columns[ABSENT_COLUMN] = pa.array([a or None for a in absent], type=pa.list_(pa.string()))
    return pa.table(columns)


def decode_row(row: dict[str, Any]) -> dict[str, Any]:
    """The appended row back from a decoded Parquet row (see :func:`encode_rows`)."""
    for key in row.pop(JSON_COLUMN, None) or ():
        if key in row:
            row[key] = json.loads(row[key])
    for key in row.pop(ABSENT_COLUMN, None) or ():
        row.pop(key, None)
    return row


class ShardedTable:
    """An append-only table in the folder ``root`` (see the module docstring). Opening it
    recovers from any interruption; use it as a context manager, or call :meth:`close`."""

    def __init__(self, root: str | Path, shard_rows: int = 20_000, shard_bytes: int = 64 << 20) -> None:
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise InputError(self.root, "expected a table folder (of part-*.parquet shards), found a file")
        self.root.mkdir(parents=True, exist_ok=True)
        self.shard_rows, self.shard_bytes = shard_rows, shard_bytes
        self._journal: JsonlAppender | None = None
        self._recover()

    # -- recovery ---------------------------------------------------------------------------
    def _recover(self) -> None:
        for leftover in self.root.glob(".part-*.tmp"):  # a seal killed before its rename
            leftover.unlink()
        sealed = {m.group(1) for m in map(SHARD.match, os.listdir(self.root)) if m and m.group(2) == "parquet"}
        for journal in sorted(self.root.glob("part-*.jsonl")):
            number = SHARD.match(journal.name)
            if number and number.group(1) in sealed:
                journal.unlink()  # sealed, then killed before the journal was removed

    def shards(self) -> list[Path]:
        """The shard files, in order (sealed Parquet shards, then the open journal)."""
        found = [(int(m.group(1)), self.root / name) for name in os.listdir(self.root) if (m := SHARD.match(name))]
        return [path for _, path in sorted(found)]

    # -- writing ----------------------------------------------------------------------------
    def _open_journal(self) -> JsonlAppender:
        if self._journal is None:
            shards = self.shards()
            last = shards[-1] if shards else None
            if last is not None and last.suffix == ".jsonl":
                path = last
            else:
                number = int(SHARD.match(last.name).group(1)) + 1 if last is not None else 0  # type: ignore[union-attr]
                path = self.root / f"part-{number:06d}.jsonl"
            self._journal = JsonlAppender(path)
        return self._journal

    def open_shard(self) -> str:
        """The name (``part-NNNNNN``) of the shard the next :meth:`append` writes to (its rows
        keep that name when the journal is sealed)."""
        return self._open_journal().path.stem

    def append(self, rows: Iterable[Any]) -> None:
        """Append ``rows`` durably (flushed and fsynced before this returns)."""
        batch = [_to_jsonable(r) for r in rows]
        if not batch:
            return
        journal = self._open_journal()
        journal.append(batch)
        if len(journal.rows) >= self.shard_rows or journal.path.stat().st_size >= self.shard_bytes:
            self.seal()

    def seal(self) -> None:
        """Seal the open journal into a Parquet shard (nothing to do when there is none)."""
        if self._journal is None:
            shards = self.shards()
            if not shards or shards[-1].suffix != ".jsonl":
                return
            self._journal = JsonlAppender(shards[-1])
        journal, self._journal = self._journal, None
        journal.close()
        if journal.rows:
            import pyarrow.parquet as pq

            target = journal.path.with_suffix(".parquet")
            with _atomically(target) as (fd, tmp):
                os.close(fd)
                # Page checksums: a flipped byte in a shard is an error on reading, not a changed row.
                pq.write_table(encode_rows(journal.rows), tmp, compression="zstd", write_page_checksum=True)
                with open(tmp, "rb") as handle:
                    os.fsync(handle.fileno())
            _fsync_dir(self.root)
        journal.path.unlink()
        _fsync_dir(self.root)

    def close(self) -> None:
        """Close the journal, leaving it open for more appends on the next opening."""
        if self._journal is not None:
            self._journal.close()
            self._journal = None

    def __enter__(self) -> ShardedTable:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading ----------------------------------------------------------------------------
    def __len__(self) -> int:
        return sum(_count(shard) for shard in self.shards())

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self.rows()

    def rows(self, columns: Sequence[str] | None = None) -> Iterator[dict[str, Any]]:
        """Every row, shard after shard (``columns``: only those fields)."""
        for shard in self.shards():
            yield from read_shard(shard, columns)


def read_shard(shard: Path, columns: Sequence[str] | None = None) -> Iterator[dict[str, Any]]:
    """The rows of one shard, a record batch at a time; a damaged shard is an
    :class:`~redstar.errors.InputError` naming it."""
    if shard.suffix == ".jsonl":
        # Read-only: a torn tail is skipped here and cut only by the writer that reopens it.
        rows, _ = read_journal(shard)
        for row in rows:
            yield row if columns is None else {k: row.get(k) for k in columns}
        return
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        handle = pq.ParquetFile(shard, page_checksum_verification=True)
        names = handle.schema_arrow.names
        wanted = None if columns is None else [c for c in (*columns, *_META) if c in names]
        for batch in handle.iter_batches(batch_size=1024, columns=wanted):
            for row in batch.to_pylist():
                row = decode_row(row)
                yield row if columns is None else {k: row.get(k) for k in columns}
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise InputError(shard, f"damaged table shard ({exc}); delete this file and run again: the stage "
                         "redoes exactly its rows") from None


def _count(shard: Path) -> int:
    if shard.suffix == ".jsonl":
        return sum(1 for _ in read_shard(shard))
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return int(pq.ParquetFile(shard).metadata.num_rows)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(shard, f"damaged table shard ({exc}); delete this file and run again") from None


def _fsync_dir(path: Path) -> None:
    # The rename (or unlink) is durable only once the folder's entry is: without this a power
    # loss could bring back a journal whose rows are also in the new shard.
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
