"""The ``taco`` source: TACO problems from the hub or from local tables (JSONL, Parquet, Arrow,
``save_to_disk`` and hub-style folders)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from redstar.errors import InputError
from redstar.interfaces import Source
from redstar.records import Prompt
from redstar.tables import iter_rows, read_options
from redstar_code.taco_rows import TACO_LEVELS, RowError, prompt_from_row

SAMPLE_FILE = Path(__file__).with_name("data") / "taco_sample.jsonl"


def load_taco_prompts(path: str | Path, split: str, limit: int | None, source: str,
                      levels: Mapping[str, float | None] | None = None, skip_malformed: bool = False,
                      **read: Any) -> Iterator[Prompt]:
    """Prompts of a TACO table (a hub id or a local table; ``read`` goes to
    :func:`~redstar.tables.iter_rows`). A malformed row raises :class:`~redstar.errors.InputError`
    (file, line, field) unless ``skip_malformed``, which skips it and warns with the count and the
    first error once the table is read."""
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    table_levels = {**TACO_LEVELS, **{k.upper(): v for k, v in (levels or {}).items()}}
    produced, skipped, first_error = 0, 0, None
    for number, row in iter_rows(path, split=split, **read):
        if limit is not None and produced >= limit:
            break
        try:
            prompt = prompt_from_row(row, source, table_levels)
        except RowError as exc:
            error = InputError(path, str(exc), line=number, field=exc.field)
            if not skip_malformed:
                raise error from None
            skipped += 1
            first_error = first_error or error
            continue
        prompt.metadata["row"] = number
        produced += 1
        yield prompt
    if skipped:
        warnings.warn(f"skipped {skipped} malformed TACO rows of {path} (first: {first_error})", stacklevel=2)


class TacoSource(Source):
    """TACO's problems (``question``, ``input_output`` tests, ``starter_code``, ``difficulty``,
    ``skill_types``, ``tags``) as code prompts whose reference is the ``input_output`` JSON.

    Args:
        path: A hub dataset id (``BAAI/TACO`` is downloaded by ``datasets`` when you run it) or
            a local table in TACO's schema (``.jsonl``, ``.json``, ``.parquet``, ``.arrow``, a
            ``save_to_disk`` folder or a hub-style folder).
        split: The split to read (``train`` or ``test``).
        limit: Read at most this many prompts (null reads them all).
        levels: Overrides of the TACO label to level map (``{"HARD": 8}``; see
            :data:`~redstar_code.taco_rows.TACO_LEVELS`); a label mapped to null gives no level, and
            the scorer decides.
        skip_malformed: Whether malformed rows are skipped with a warning instead of stopping
            the run (by default a bad row is an InputError naming the file, line and field).
        name: The hub config passed to ``datasets``.
        data_files: The data files passed to ``datasets``: a path, a pattern, a list or a
            ``{split: files}`` mapping.
        revision: The hub branch, tag or commit to read.
        streaming: Whether rows are read as they download (with ``limit``, only the rows needed
            are fetched).
    """

    name = "taco"
    domain = "code"

    def __init__(self, path: str = "BAAI/TACO", split: str = "train", limit: int | None = None,
                 levels: dict[str, float | None] | None = None, skip_malformed: bool = False, *,
                 name: str | None = None, data_files: Any = None, revision: str | None = None,
                 streaming: bool = False) -> None:
        self.path, self.split, self.limit = path, split, limit
        self.levels, self.skip_malformed = levels, skip_malformed
        # ``name`` is the hub config; ``self.name`` stays the source's registered name.
        self.read = read_options(self.name, name, data_files, revision, streaming)

    def load(self) -> Iterator[Prompt]:
        yield from load_taco_prompts(self.path, self.split, self.limit, self.name, self.levels, self.skip_malformed,
                                     **self.read)
