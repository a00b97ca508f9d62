"""MathVista's ``testmini.json``: a JSON object ``pid -> row``; the "MathVista-GEO" benchmark is
its 208 rows with ``metadata.task == "geometry problem solving"``.

Row fields used: ``question``, ``image`` (``images/<pid>.jpg``), ``choices`` (list of option
texts, or null), ``answer`` (the option TEXT for ``multi_choice``, e.g. ``"145°"``, not a
letter), ``question_type`` (``multi_choice`` | ``free_form``), ``answer_type``, ``unit``,
``precision``, ``metadata.source``. Multi-choice rows get the letter of their answer as
``reference``; the 5 free-form rows keep the value and no choices. MathVista's terms allow it as
a test set only, so RedStar reads it as an evaluator, never as a training source.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from redstar.errors import InputError
from redstar.records import Prompt
from redstar_geo.choices import letter_choices
from redstar_geo.formats.common import GeoItem, ImageLookup, Loaded, copy_image
from redstar_geo.values import normalize_text

TESTMINI_FILE = "testmini.json"
GEOMETRY_TASK = "geometry problem solving"


def testmini_path(path: str | Path) -> Path:
    """``path`` itself for a file, ``path/testmini.json`` for a folder."""
    path = Path(path)
    return path / TESTMINI_FILE if path.is_dir() else path


def _answer_letter(answer: str, choices: dict[str, str]) -> str | None:
    exact = [letter for letter, text in choices.items() if text == answer]
    if exact:
        # A few rows list the same text twice (pid 781: 9, 12, 18, 18); MathVista scores by text,
        # so either letter is right - the verifier accepts any option with the reference's text.
        return exact[0]
    loose = [letter for letter, text in choices.items() if normalize_text(text) == normalize_text(answer)]
    return loose[0] if len(loose) == 1 else None


def read_mathvista(path: str | Path, image_root: str | Path | None = None, task: str = GEOMETRY_TASK,
                   missing_image: str = "error", source: str = "mathvista-geo") -> Loaded:
    """Read the rows of ``task`` (all rows when ``task`` is empty). ``image_root`` defaults to
    the folder of the JSON file. Errors name the field as ``<pid>.<field>``."""
    path = testmini_path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except json.JSONDecodeError as exc:
        raise InputError(path, f"invalid JSON ({exc.msg})", line=exc.lineno) from None
    if not isinstance(data, dict):
        raise InputError(path, "expected an object mapping pid -> row")
    images = ImageLookup(image_root if image_root is not None else path.parent, missing_image)
    loaded = Loaded([])
    for pid, row in data.items():
        if not isinstance(row, dict):
            raise InputError(path, "row is not an object", field=pid)
        meta = row.get("metadata")
        if not isinstance(meta, dict):
            raise InputError(path, "must be an object", field=f"{pid}.metadata")
        if task and meta.get("task") != task:
            continue
        question = row.get("question")
        if not isinstance(question, str) or not question.strip():
            raise InputError(path, "must be a non-empty string", field=f"{pid}.question")
        answer = row.get("answer")
        if not isinstance(answer, (str, int, float)) or isinstance(answer, bool):
            raise InputError(path, f"must be a string or number, got {answer!r}", field=f"{pid}.answer")
        answer = str(answer)
        kind = row.get("question_type")
        if kind == "multi_choice":
            options = row.get("choices")
            if not isinstance(options, list) or len(options) < 2:
                raise InputError(path, f"multi_choice row needs a list of choices, got {options!r}", field=f"{pid}.choices")
            choices = letter_choices([str(o) for o in options])
            reference = _answer_letter(answer, choices)
            if reference is None:
                raise InputError(path, f"answer {answer!r} is not exactly one of the choices {options}",
                                 field=f"{pid}.answer")
        elif kind == "free_form":
            choices, reference = {}, answer
        else:
            raise InputError(path, f"must be multi_choice or free_form, got {kind!r}", field=f"{pid}.question_type")
        image_name = row.get("image")
        if not isinstance(image_name, str):
            raise InputError(path, "must be a string", field=f"{pid}.image")
        image = images.resolve(image_name, path, None, f"{pid}.image")
        if image is ImageLookup.SKIP:
            loaded.skipped.append(str(pid))
            continue
        loaded.prompts.append(Prompt(
            domain="geo", source=source, question=question.strip(), reference=reference, id=f"{source}-{pid}",
            image=image,
            metadata={"choices": choices, "group": str(meta.get("source", "unknown")), "pid": str(pid),
                      "question_type": kind, "answer_type": row.get("answer_type"), "unit": row.get("unit"),
                      "precision": row.get("precision"), "language": meta.get("language")},
        ))
    return loaded


def write_mathvista(path: str | Path, items: Iterable[GeoItem], image_dir: str = "images") -> Path:
    """Write items as a ``testmini.json``-format file (all multi-choice, task "geometry problem
    solving") with diagrams under ``<folder>/<image_dir>/``. Returns the JSON path."""
    path = testmini_path(path)
    folder = path.parent
    rows = {}
    for item in items:
        relative = f"{image_dir}/{item.id}{item.image.suffix}"
        copy_image(item.image, folder / relative)
        rows[str(item.id)] = {
            "question": item.question,
            "image": relative,
            "choices": list(item.choices.values()),
            "unit": None,
            "precision": None,
            "answer": item.choices[item.answer],
            "question_type": "multi_choice",
            "answer_type": "text",
            "pid": str(item.id),
            "metadata": {
                "split": "testmini", "language": "english", "source": item.extra.get("source", "synthetic-geo"),
                "category": "math-targeted-vqa", "task": GEOMETRY_TASK, "context": "geometry diagram",
                "grade": "high school", "skills": ["geometry reasoning", "algebraic reasoning"],
            },
        }
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rows, ensure_ascii=False, indent=2), encoding="utf-8")
    return path
