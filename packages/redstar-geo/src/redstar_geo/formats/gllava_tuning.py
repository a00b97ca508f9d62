"""GeoQA in G-LLaVA's training file: Geo170K's ``qa_tuning.json``, in LLaVA's conversations format.

Each row: ``{"id": ..., "image": "geoqa_plus/1.png", "conversations": [{"from": "human", "value":
"<image>\\n<instruction>\\nQuestion:...\\nChoices:\\nA:40°\\nB:60°..."}, {"from": "gpt", "value":
"<worked solution> ... Answer:B"}]}``. The question and its choices come from the first human
turn (the same layout as G-LLaVA's test prompts, :func:`~redstar_geo.choices.parse_gllava_prompt`),
the gold letter from the last ``Answer: X`` of the last gpt turn; ``image`` is relative to an image
folder (Geo170K's ``images/``).

The table is read through :func:`redstar.tables.iter_rows`, so the file can also be a Parquet or
``save_to_disk`` copy, or a hub dataset (``name``, ``data_files``, ``revision``, ``streaming``).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from redstar.errors import InputError
from redstar.records import Prompt
from redstar.tables import iter_rows
from redstar_geo.choices import GLLAVA_INSTRUCTION, parse_gllava_prompt
from redstar_geo.formats.common import ImageLookup, Loaded, angle_or_other
from redstar_geo.formats.gllava import ANSWERS_FILE, QUESTIONS_FILE

log = logging.getLogger(__name__)

QA_TUNING_FILE = "qa_tuning.json"
IMAGE_TOKEN = "<image>"
_ANSWER = re.compile(r"Answer\s*:\s*\(?([A-Z])\)?")


def is_conversations_table(path: str | Path | None, answers: str | Path | None) -> bool:
    """Whether a GeoQA ``path`` is read as a conversations table: not the bundled sample, not a
    pickle, not a G-LLaVA test questions/answers pair."""
    if path is None or answers is not None:
        return False
    path = Path(path)
    return path.suffix not in (".pk", ".pkl") and not (path / QUESTIONS_FILE).is_file()


def _turns(row: dict[str, Any], path: str | Path, line: int | None) -> tuple[str, str]:
    """The first human turn and the last gpt turn."""
    turns = row.get("conversations")
    if turns is None and "question_id" in row:
        raise InputError(path, f"a G-LLaVA test questions file needs its answers file: pass answers= "
                         f"({ANSWERS_FILE})", line=line)
    if not isinstance(turns, list) or not all(isinstance(t, dict) for t in turns):
        raise InputError(path, "must be a list of {from, value} turns (LLaVA's conversations format)",
                         line=line, field="conversations")
    human = [t.get("value") for t in turns if t.get("from") == "human"]
    gpt = [t.get("value") for t in turns if t.get("from") == "gpt"]
    if not human or not gpt or not isinstance(human[0], str) or not isinstance(gpt[-1], str):
        raise InputError(path, "needs a human turn and a gpt turn with string values", line=line,
                         field="conversations")
    return human[0], gpt[-1]


def parse_tuning_row(row: dict[str, Any], path: str | Path, line: int | None) -> tuple[str, dict[str, str], str]:
    """``(question, choices, gold letter)`` of one row."""
    asked, answered = _turns(row, path, line)
    text = asked.replace(IMAGE_TOKEN, "").strip()
    text = text.removeprefix(GLLAVA_INSTRUCTION).strip()
    if "Question:" not in text:  # some rows put the problem straight after the instruction
        text = "Question:" + text
    try:
        question, choices = parse_gllava_prompt(text)
    except ValueError as exc:
        raise InputError(path, f"human turn: {exc}", line=line, field="conversations") from None
    letters = _ANSWER.findall(answered)
    if not letters:
        raise InputError(path, "gpt turn has no final 'Answer: X'", line=line, field="conversations")
    if letters[-1] not in choices:
        raise InputError(path, f"answer {letters[-1]!r} is not one of the choices {list(choices)}", line=line,
                         field="conversations")
    return question, choices, letters[-1]


def _table_and_root(path: str | Path, image_root: str | Path | None) -> tuple[str | Path, str | Path]:
    """The table to read (a folder holding ``qa_tuning.json`` means that file) and where images
    start (default: the folder of a local table; a hub table needs ``image_root``)."""
    local = Path(path)
    if (local / QA_TUNING_FILE).is_file():
        local = local / QA_TUNING_FILE
    if image_root is not None:
        return (local if local.exists() else path), image_root
    if not local.exists():
        raise InputError(path, "a hub table's rows name images on your disk: pass image_root= (the folder "
                         "holding Geo170K's images)")
    return local, local if local.is_dir() else local.parent


def read_gllava_tuning(path: str | Path, image_root: str | Path | None = None, split: str = "train",
                       missing_image: str = "error", source: str = "geoqa", limit: int | None = None,
                       skip_malformed: bool = False, **read: Any) -> Loaded:
    """Read a conversations table into geo prompts (``id`` = ``"<source>-<row id>"``, or the row
    number when the row has no ``id``). ``skip_malformed`` skips rows that are not
    multiple-choice with a final letter (counted in the log) instead of stopping at the first;
    ``limit`` stops reading once that many prompts are made (with ``streaming``, nothing more is
    downloaded). ``read`` goes to :func:`redstar.tables.iter_rows`."""
    table, root = _table_and_root(path, image_root)
    images = ImageLookup(root, missing_image)
    loaded = Loaded([])
    malformed: list[str] = []
    for number, row in iter_rows(table, split=split, **read):
        if limit is not None and len(loaded.prompts) >= limit:
            break
        try:
            question, choices, letter = parse_tuning_row(row, table, number)
        except InputError as exc:
            if not skip_malformed or exc.field != "conversations":
                raise
            malformed.append(str(exc))
            continue
        key = str(number if row.get("id") in (None, "") else row["id"])
        relative = row.get("image")
        if not isinstance(relative, str) or not relative:
            raise InputError(table, "must name the diagram file", line=number, field="image")
        image = images.resolve(relative, table, number, "image")
        if image is ImageLookup.SKIP:
            loaded.skipped.append(key)
            continue
        loaded.prompts.append(Prompt(
            domain="geo", source=source, question=question, reference=letter, id=f"{source}-{key}", image=image,
            metadata={"choices": choices, "group": angle_or_other(choices), "gllava_id": key},
        ))
    if malformed:
        log.warning("%s: skipped %d rows of %s that are not multiple-choice with a final 'Answer: X' "
                    "(skip_malformed); first: %s", source, len(malformed), table, malformed[0])
    return loaded
