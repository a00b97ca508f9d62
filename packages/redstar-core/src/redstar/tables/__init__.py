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

from redstar.tables.reading import (
    LOCAL_SUFFIXES,
    is_local_table,
    iter_jsonl,
    iter_rows,
    parse_records,
    read_json,
    read_options,
)
from redstar.tables.sharded import ShardedTable, read_shard
from redstar.tables.writing import (
    JsonlAppender,
    dumps_line,
    file_mode,
    streamed_table,
    write_json,
    write_table,
    write_text,
)

__all__ = ["LOCAL_SUFFIXES", "JsonlAppender", "ShardedTable", "read_shard", "dumps_line", "file_mode", "is_local_table", "iter_jsonl", "iter_rows",
           "parse_records", "read_json", "read_options", "streamed_table", "write_json", "write_table", "write_text"]
