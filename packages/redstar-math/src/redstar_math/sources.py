r"""Sources of math prompts: MetaMath-style, NuminaMath-CoT, MATH, GSM8K and plain tables.

Every source takes ``path``: a local table (``.jsonl``, ``.json``, ``.parquet``, ``.arrow``, a
``save_to_disk`` folder or a hub-style folder of data files) or a hub dataset id loaded through
``datasets``; ``split``; ``limit`` (the first N prompts); and, passed to ``datasets``, ``name``
(the hub config, e.g. ``algebra`` of ``EleutherAI/hendrycks_math``), ``data_files``, ``revision``
and ``streaming`` (read rows as they download: with ``limit``, only what is needed). Gold answers are
taken the way each dataset defines them; a row without one raises
:class:`~redstar.errors.InputError` naming the file, the line and the field, and no row is ever
dropped silently. Prompts have domain ``"math"`` and ``reference`` = the gold answer string.

MATH levels map to RedStar difficulty as ``difficulty = level + 2`` (:data:`MATH_LEVEL_OFFSET`):
Level 1 -> 3, Level 5 -> 7, matching the rubric of the ``llm-judge`` scorer (3: routine exercise;
7: the hardest MATH problems and mid-AMC 12), so RedStar's default selection of levels 7-9 keeps
MATH Level 5 and anything harder.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from redstar.errors import InputError, RedStarError
from redstar.interfaces import Source
from redstar.records import Prompt
from redstar.tables import read_options
from redstar_math.extract import gsm8k_gold, last_boxed, metamath_gold
from redstar_math.rows import answer_field, check_limit, rows_of, text_field

log = logging.getLogger(__name__)

#: RedStar difficulty = MATH level + this offset.
MATH_LEVEL_OFFSET = 2
MATH_LEVEL = re.compile(r"^\s*Level\s+(\d+|\?)\s*$")


class _TableSource(Source):
    """Shared loading loop: rows in, prompts out, ``limit`` counted in prompts.

    Args:
        path: A local table (``.jsonl``, ``.json``, ``.parquet``, ``.arrow``, a ``save_to_disk``
            folder or a hub-style folder of data files) or a hub dataset id loaded through
            ``datasets``.
        split: The split to read (``train``, ``test``...).
        limit: Read at most this many prompts (null reads them all).
        name: The hub config passed to ``datasets`` (e.g. ``algebra`` of
            ``EleutherAI/hendrycks_math``).
        data_files: The data files passed to ``datasets``: a path, a pattern, a list or a
            ``{split: files}`` mapping.
        revision: The hub branch, tag or commit to read.
        streaming: Whether rows are read as they download (with ``limit``, only what is needed
            is fetched).
    """

    domain = "math"

    def __init__(self, path: str, split: str = "train", limit: int | None = None, *, name: str | None = None,
                 data_files: Any = None, revision: str | None = None, streaming: bool = False) -> None:
        if not isinstance(path, (str, Path)) or not str(path):
            raise RedStarError(f"{self.name}: option 'path' must be a file path or a hub dataset id")
        self.path = str(path)
        self.split = split
        self.limit = check_limit(limit)
        # ``name`` is the hub config; ``self.name`` stays the source's registered name.
        self.read = read_options(self.name, name, data_files, revision, streaming)

    def load(self) -> Iterator[Prompt]:
        produced = 0
        for line, row in rows_of(self.path, self.split, **self.read):
            if self.limit is not None and produced >= self.limit:
                return
            prompt = self.to_prompt(row, line)
            if prompt is None:
                continue
            produced += 1
            yield prompt

    def to_prompt(self, row: dict[str, Any], line: int | None) -> Prompt | None:
        """The prompt for one row; None for a row this source's options filter out."""
        raise NotImplementedError


class MetaMathSource(_TableSource):
    """MetaMathQA / MetaMath-Qwen2-Math style rows: ``query`` (the problem) and ``response``
    (a worked solution). The gold answer is the last ``\\boxed{}`` of the response, or what
    follows "The answer is:" (MetaMath's own format). ``type`` (e.g. ``MATH_AnsAug``) is kept in
    ``metadata["type"]``.

    Args:
        keep_solution: Whether the worked response is also kept, in ``metadata["solution"]``.
    """

    name = "metamath"

    def __init__(self, path: str, split: str = "train", limit: int | None = None, keep_solution: bool = False,
                 *, name: str | None = None, data_files: Any = None, revision: str | None = None,
                 streaming: bool = False) -> None:
        super().__init__(path, split, limit, name=name, data_files=data_files, revision=revision,
                         streaming=streaming)
        self.keep_solution = keep_solution

    def to_prompt(self, row: dict[str, Any], line: int | None) -> Prompt:
        question = text_field(self.path, line, row, "query")
        response = text_field(self.path, line, row, "response")
        gold = metamath_gold(response)
        if gold is None:
            raise InputError(self.path, "no final answer (no \\boxed{} and no 'The answer is:')", line=line,
                             field="response")
        metadata: dict[str, Any] = {}
        if isinstance(row.get("type"), str):
            metadata["type"] = row["type"]
        if self.keep_solution:
            metadata["solution"] = response
        return Prompt(domain="math", source=self.name, question=question, reference=gold, metadata=metadata)


class NuminaMathSource(_TableSource):
    """NuminaMath-CoT rows: ``problem``, ``solution`` (gold = its last ``\\boxed{}``), optional
    ``messages``, and ``source`` (``amc_aime``, ``aops_forum``, ``cn_k12``, ``olympiads``, ...),
    kept in ``metadata["source"]``.

    Args:
        sources: Keep only rows from these sources (null keeps every source).
        skip_unanswered: Whether rows whose solution boxes no answer (NuminaMath includes
            proofs) are skipped, counted in :attr:`skipped` and reported in the log; by default
            such a row is an error. Either way no row is dropped silently.
        keep_solution: Whether the worked solution is also kept, in ``metadata["solution"]``.
    """

    name = "numinamath"

    def __init__(self, path: str, split: str = "train", limit: int | None = None,
                 sources: Sequence[str] | None = None, skip_unanswered: bool = False,
                 keep_solution: bool = False, *, name: str | None = None,
                 data_files: Any = None, revision: str | None = None, streaming: bool = False) -> None:
        super().__init__(path, split, limit, name=name, data_files=data_files, revision=revision,
                         streaming=streaming)
        self.sources = None if sources is None else set(sources)
        self.skip_unanswered = skip_unanswered
        self.keep_solution = keep_solution
        self.skipped = 0

    def load(self) -> Iterator[Prompt]:
        self.skipped = 0
        yield from super().load()
        if self.skipped:
            log.warning("%s: skipped %d rows of %s whose solution has no \\boxed{} answer",
                        self.name, self.skipped, self.path)

    def to_prompt(self, row: dict[str, Any], line: int | None) -> Prompt | None:
        origin = row.get("source")
        if origin is not None and not isinstance(origin, str):
            raise InputError(self.path, f"field 'source' must be a string, got {type(origin).__name__}",
                             line=line, field="source")
        if self.sources is not None and origin not in self.sources:
            return None
        question = text_field(self.path, line, row, "problem")
        solution = text_field(self.path, line, row, "solution")
        messages = row.get("messages")
        if messages is not None and not isinstance(messages, list):
            raise InputError(self.path, "field 'messages' must be a list of chat messages", line=line,
                             field="messages")
        gold = last_boxed(solution)
        if gold is None or not gold.strip():
            if self.skip_unanswered:
                self.skipped += 1
                return None
            raise InputError(self.path, "the solution has no \\boxed{} answer (a proof?); set "
                             "skip_unanswered to skip such rows", line=line, field="solution")
        metadata: dict[str, Any] = {"source": origin} if origin else {}
        if self.keep_solution:
            metadata["solution"] = solution
        return Prompt(domain="math", source=self.name, question=question, reference=gold.strip(), metadata=metadata)


def math_level(spec: str, line: int | None, row: dict[str, Any]) -> int | None:
    """MATH's ``level`` ("Level 3", or an integer as in MATH-500) as a number; None for the
    "Level ?" of a few MATH training rows."""
    if "level" not in row or row["level"] is None:
        raise InputError(spec, "missing field 'level'", line=line, field="level")
    value = row["level"]
    if isinstance(value, int) and not isinstance(value, bool):
        level = value
    elif isinstance(value, str) and (match := MATH_LEVEL.match(value)):
        if match.group(1) == "?":
            return None
        level = int(match.group(1))
    else:
        raise InputError(spec, f"field 'level' must look like 'Level 3', got {value!r:.40}", line=line, field="level")
    if not 1 <= level <= 5:
        raise InputError(spec, f"MATH levels run from 1 to 5, got {level}", line=line, field="level")
    return level


class MATHSource(_TableSource):
    """The MATH dataset (hendrycks/math): ``problem``, ``solution``, ``level`` ("Level 1".."Level
    5"), ``type`` (subject). The gold answer is ``answer`` when the row has one, else the last
    ``\\boxed{}`` of ``solution``. ``difficulty`` = level + 2 (see the module docstring);
    ``metadata`` keeps ``level``, ``subject`` and ``group`` (the subject).

    Args:
        levels: Keep only these MATH levels (1 to 5); null keeps every level.
    """

    name = "math"

    def __init__(self, path: str, split: str = "train", limit: int | None = None,
                 levels: Sequence[int] | None = None, *, name: str | None = None,
                 data_files: Any = None, revision: str | None = None, streaming: bool = False) -> None:
        super().__init__(path, split, limit, name=name, data_files=data_files, revision=revision,
                         streaming=streaming)
        if levels is not None and not all(isinstance(v, int) and 1 <= v <= 5 for v in levels):
            raise RedStarError(f"math: option 'levels' must list MATH levels 1-5, got {levels!r}")
        self.levels = None if levels is None else set(levels)

    def to_prompt(self, row: dict[str, Any], line: int | None) -> Prompt | None:
        level = math_level(self.path, line, row)
        if self.levels is not None and level not in self.levels:
            return None
        question = text_field(self.path, line, row, "problem")
        solution = text_field(self.path, line, row, "solution")
        if row.get("answer") is not None:
            gold = answer_field(self.path, line, row, "answer")
        else:
            boxed = last_boxed(solution)
            if boxed is None or not boxed.strip():
                raise InputError(self.path, "the solution has no \\boxed{} answer", line=line, field="solution")
            gold = boxed
        subject = row.get("type", row.get("subject"))
        metadata: dict[str, Any] = {"level": level, "subject": subject, "group": subject}
        if isinstance(row.get("unique_id"), str):
            metadata["unique_id"] = row["unique_id"]
        return Prompt(domain="math", source=self.name, question=question, reference=gold.strip(),
                      difficulty=None if level is None else float(level + MATH_LEVEL_OFFSET), metadata=metadata)


class GSM8KSource(_TableSource):
    """GSM8K rows: ``question`` and ``answer`` (a worked solution ending in ``#### N``; the gold
    answer is N, without thousands commas)."""

    name = "gsm8k"

    def to_prompt(self, row: dict[str, Any], line: int | None) -> Prompt:
        question = text_field(self.path, line, row, "question")
        solution = text_field(self.path, line, row, "answer")
        gold = gsm8k_gold(solution)
        if gold is None:
            raise InputError(self.path, "no '#### answer' at the end of the solution", line=line, field="answer")
        return Prompt(domain="math", source=self.name, question=question, reference=gold)


ANSWER_FORMATS = ("plain", "boxed", "gsm8k")


class MathTableSource(_TableSource):
    """Any table of math problems, with configurable field names.

    Args:
        question_field: The field that holds the problem.
        answer_field: The field that holds the answer (or, per ``answer_format``, a solution
            that contains it).
        answer_format: How the answer is read from ``answer_field``: ``plain`` (the field is
            the answer; JSON numbers are accepted), ``boxed`` (the field is a solution and the
            answer is its last ``\\boxed{}``) or ``gsm8k`` (the answer follows ``####``).
        difficulty_field: A field holding a numeric level from 1 to 10, carried as the
            prompt's ``difficulty``; null leaves difficulty to the scorer.
        metadata_fields: The fields copied into the prompt's ``metadata``.
        group_field: A field copied into ``metadata["group"]``, which reports break scores
            down by.
    """

    name = "math-jsonl"

    def __init__(self, path: str, split: str = "train", limit: int | None = None,
                 question_field: str = "question", answer_field: str = "answer", answer_format: str = "plain",
                 difficulty_field: str | None = None, metadata_fields: Sequence[str] = (),
                 group_field: str | None = None, *, name: str | None = None,
                 data_files: Any = None, revision: str | None = None, streaming: bool = False) -> None:
        super().__init__(path, split, limit, name=name, data_files=data_files, revision=revision,
                         streaming=streaming)
        if answer_format not in ANSWER_FORMATS:
            raise RedStarError(f"math-jsonl: answer_format must be one of {', '.join(ANSWER_FORMATS)}, "
                               f"got {answer_format!r}")
        self.question_field = question_field
        self.answer_field = answer_field
        self.answer_format = answer_format
        self.difficulty_field = difficulty_field
        self.metadata_fields = list(metadata_fields)
        self.group_field = group_field

    def to_prompt(self, row: dict[str, Any], line: int | None) -> Prompt:
        question = text_field(self.path, line, row, self.question_field)
        if self.answer_format == "plain":
            gold = answer_field(self.path, line, row, self.answer_field)
        else:
            text = text_field(self.path, line, row, self.answer_field)
            found = last_boxed(text) if self.answer_format == "boxed" else gsm8k_gold(text)
            if found is None or not found.strip():
                marker = "\\boxed{}" if self.answer_format == "boxed" else "'####'"
                raise InputError(self.path, f"no {marker} answer in the field", line=line, field=self.answer_field)
            gold = found
        difficulty = None
        if self.difficulty_field is not None:
            value = row.get(self.difficulty_field)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 1 <= value <= 10:
                raise InputError(self.path, f"difficulty must be a number from 1 to 10, got {value!r:.40}",
                                 line=line, field=self.difficulty_field)
            difficulty = float(value)
        metadata = {name: row.get(name) for name in self.metadata_fields}
        if self.group_field is not None:
            metadata["group"] = row.get(self.group_field)
        return Prompt(domain="math", source=self.name, question=question, reference=gold.strip(),
                      difficulty=difficulty, metadata=metadata)
