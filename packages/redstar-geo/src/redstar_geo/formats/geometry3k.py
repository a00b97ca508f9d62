"""Geometry3K in InterGPS's layout: ``<root>/<split>/<id>/data.json`` + ``img_diagram.png``.

``data.json`` carries ``problem_text``, ``choices`` (four strings such as ``"3 \\sqrt { 2 }"``),
``answer`` (the letter) and ``problem_type_graph`` (``["Triangle"]``...), among others. Splits:
train ids 0-2100, val 2101-2400, test 2401-3001 (601 problems). VLM papers feed the clean
``img_diagram.png``; ``img_diagram_point.png`` (points marked) can be chosen with ``diagram``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from redstar.errors import InputError
from redstar.records import Prompt
from redstar_geo.choices import letter_choices
from redstar_geo.formats.common import GeoItem, ImageLookup, Loaded, copy_image

DATA_FILE = "data.json"
CLEAN_DIAGRAM = "img_diagram.png"


def split_dir(root: str | Path, split: str) -> Path:
    """``root/split`` when it exists, else ``root`` itself if it directly holds problem folders."""
    root = Path(root)
    if (root / split).is_dir():
        return root / split
    if root.is_dir() and any((child / DATA_FILE).is_file() for child in root.iterdir()):
        return root
    raise InputError(root, f"no {split!r} folder and no <id>/{DATA_FILE} problem folders here")


def _problem_folders(folder: Path) -> list[Path]:
    folders = [child for child in folder.iterdir() if (child / DATA_FILE).is_file()]
    return sorted(folders, key=lambda p: (not p.name.isdigit(), int(p.name) if p.name.isdigit() else 0, p.name))


def read_geometry3k(root: str | Path, split: str = "test", diagram: str = CLEAN_DIAGRAM,
                    missing_image: str = "error", source: str = "geometry3k") -> Loaded:
    """Read every ``<id>/data.json`` of a split, in id order. ``id`` is ``"<source>-<id>"``;
    ``metadata["group"]`` is the first ``problem_type_graph`` entry (Triangle, Circle, ...)."""
    folder = split_dir(root, split)
    loaded = Loaded([])
    for problem in _problem_folders(folder):
        path = problem / DATA_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise InputError(path, f"invalid JSON ({exc.msg})", line=exc.lineno) from None
        if not isinstance(data, dict):
            raise InputError(path, "expected a JSON object")
        text = data.get("problem_text")
        if not isinstance(text, str) or not text.strip():
            raise InputError(path, "must be a non-empty string", field="problem_text")
        options = data.get("choices")
        if not isinstance(options, list) or len(options) < 2 or not all(isinstance(o, (str, int, float)) for o in options):
            raise InputError(path, f"must be a list of at least 2 options, got {options!r}", field="choices")
        choices = letter_choices([str(o) for o in options])
        answer = data.get("answer")
        if answer not in choices:
            raise InputError(path, f"must be one of {list(choices)}, got {answer!r}", field="answer")
        images = ImageLookup(problem, missing_image)
        image = images.resolve(diagram, path, None, "image")
        if image is ImageLookup.SKIP:
            loaded.skipped.append(problem.name)
            continue
        graph = data.get("problem_type_graph") or []
        loaded.prompts.append(Prompt(
            domain="geo", source=source, question=text.strip(), reference=answer, id=f"{source}-{problem.name}",
            image=image,
            metadata={"choices": choices, "group": str(graph[0]) if graph else "unknown",
                      "geometry3k_id": data.get("id", problem.name)},
        ))
    return loaded


def write_geometry3k(root: str | Path, items: Iterable[GeoItem], split: str = "test") -> Path:
    """Write items as ``<root>/<split>/<id>/data.json`` + ``img_diagram.png``. ``item.extra``
    may carry ``problem_type_graph`` / ``problem_type_goal`` / ``precise_value``."""
    folder = Path(root) / split
    for item in items:
        problem = folder / str(item.id)
        problem.mkdir(parents=True, exist_ok=True)
        copy_image(item.image, problem / CLEAN_DIAGRAM)
        data = {
            "problem_text": item.question,
            "choices": list(item.choices.values()),
            "answer": item.answer,
            "problem_type_graph": item.extra.get("problem_type_graph", []),
            "problem_type_goal": item.extra.get("problem_type_goal", []),
            "precise_value": item.extra.get("precise_value", []),
            "id": item.id,
            "data_type": split,
        }
        (problem / DATA_FILE).write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    return Path(root)
