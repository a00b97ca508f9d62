"""GeoQA in G-LLaVA's release: ``test_questions.jsonl`` + ``test_answers.jsonl``.

Questions: ``{"question_id": 0, "image": "test/0.png", "text": "\\n<instruction>\\nQuestion:...
\\nChoices:\\nA:40°\\nB:60°..."}``; answers: ``{"question_id": 0, "text": "D"}``. This is the form
G-LLaVA, Math-LLaVA and later VLM papers report GeoQA on (754 test rows). ``image`` is relative to
an image folder you pass; a flat folder of ``<id>.png`` works too.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from redstar.errors import InputError
from redstar.records import Prompt
from redstar.tables import iter_jsonl
from redstar_geo.choices import gllava_prompt, parse_gllava_prompt
from redstar_geo.formats.common import GeoItem, ImageLookup, Loaded, angle_or_other, copy_image

QUESTIONS_FILE = "test_questions.jsonl"
ANSWERS_FILE = "test_answers.jsonl"


def _question_id(row: dict, path: Path, line: int) -> str:
    qid = row.get("question_id")
    if isinstance(qid, bool) or not isinstance(qid, (int, str)) or qid == "":
        raise InputError(path, "must be an integer or string id", line=line, field="question_id")
    return str(qid)


def _string(row: dict, key: str, path: Path, line: int) -> str:
    value = row.get(key)
    if not isinstance(value, str):
        raise InputError(path, f"must be a string, got {type(value).__name__}", line=line, field=key)
    return value


def read_answers(path: str | Path) -> dict[str, tuple[str, int]]:
    """question_id -> (gold letter, line)."""
    path = Path(path)
    answers: dict[str, tuple[str, int]] = {}
    for line, row in iter_jsonl(path):
        qid = _question_id(row, path, line)
        letter = _string(row, "text", path, line).strip()
        if len(letter) != 1 or not letter.isupper():
            raise InputError(path, f"gold answer must be one capital letter, got {letter!r}", line=line, field="text")
        if qid in answers:
            raise InputError(path, f"question_id {qid} already answered on line {answers[qid][1]}", line=line,
                             field="question_id")
        answers[qid] = (letter, line)
    return answers


def read_gllava(questions: str | Path, answers: str | Path, image_root: str | Path,
                missing_image: str = "error", source: str = "geoqa") -> Loaded:
    """Read the question/answer pair into geo prompts (question text, lettered choices, gold
    letter, diagram path). ``id`` is ``"<source>-<question_id>"``."""
    questions, answers_path = Path(questions), Path(answers)
    gold = read_answers(answers_path)
    images = ImageLookup(image_root, missing_image)
    loaded = Loaded([])
    seen: dict[str, int] = {}
    for line, row in iter_jsonl(questions):
        qid = _question_id(row, questions, line)
        if qid in seen:
            raise InputError(questions, f"question_id {qid} repeats line {seen[qid]}", line=line, field="question_id")
        seen[qid] = line
        try:
            question, choices = parse_gllava_prompt(_string(row, "text", questions, line))
        except ValueError as exc:
            raise InputError(questions, str(exc), line=line, field="text") from None
        if qid not in gold:
            raise InputError(questions, f"no answer for question_id {qid} in {answers_path}", line=line,
                             field="question_id")
        letter, answer_line = gold[qid]
        if letter not in choices:
            raise InputError(answers_path, f"answer {letter!r} is not one of the choices {list(choices)} of "
                             f"{questions.name} line {line}", line=answer_line, field="text")
        image = images.resolve(_string(row, "image", questions, line), questions, line, "image")
        if image is ImageLookup.SKIP:
            loaded.skipped.append(qid)
            continue
        loaded.prompts.append(Prompt(
            domain="geo", source=source, question=question, reference=letter, id=f"{source}-{qid}",
            image=image, metadata={"choices": choices, "group": angle_or_other(choices), "question_id": qid},
        ))
    return loaded


def write_gllava(out_dir: str | Path, items: Iterable[GeoItem], image_dir: str = "images") -> Path:
    """Write items as ``test_questions.jsonl`` + ``test_answers.jsonl`` with diagrams copied to
    ``<out_dir>/<image_dir>/<id><suffix>``. Returns ``out_dir``."""
    out_dir = Path(out_dir)
    (out_dir / image_dir).mkdir(parents=True, exist_ok=True)
    with (out_dir / QUESTIONS_FILE).open("w", encoding="utf-8") as qf, \
            (out_dir / ANSWERS_FILE).open("w", encoding="utf-8") as af:
        for item in items:
            relative = f"{image_dir}/{item.id}{item.image.suffix}"
            copy_image(item.image, out_dir / relative)
            row = {"question_id": item.id, "image": relative, "text": gllava_prompt(item.question, item.choices)}
            qf.write(json.dumps(row, ensure_ascii=False) + "\n")
            af.write(json.dumps({"question_id": item.id, "text": item.answer}) + "\n")
    return out_dir
