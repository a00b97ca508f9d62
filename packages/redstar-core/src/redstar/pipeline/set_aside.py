"""Setting stale rows aside instead of deleting them.

Samples cost hours of a teacher's time. When a recipe change makes the rows of an incremental
stage (samples, verdicts) stale, for instance another teacher, another temperature or another
seed, they are moved into ``<run>/set-aside/<stage>-<key>/`` (the same paths inside it as in the
run, and a ``set-aside.json`` that says what they are), never deleted. ``<key>`` is the digest of
what the rows depend on (:attr:`~redstar.pipeline.stage.Stage.rows_depend_on`), so when the recipe
changes back, the rows come back (:func:`restore`) instead of being drawn again. The summary lists
every folder here (:func:`set_aside_folders`); deleting one frees its space.

A move is a rename inside the run directory: instant, whatever the size, and nothing is copied.
``set-aside.json`` is written before anything moves, so a run killed half-way leaves a folder that
still says what it holds. A folder that holds no rows (a run killed before its rows moved in, or
after they moved back out) is taken over by the next move of rows under its key, and removed when
rows of its key are back in the run, so rows are never set aside where :func:`restore` would not
look for them.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from redstar.tables import write_json

FOLDER = "set-aside"
NOTE = "set-aside.json"


def _present(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def _holds_rows(folder: Path) -> bool:
    """Whether ``folder`` holds anything but its note and empty folders."""
    return any(p.name != NOTE or p.parent != folder for p in folder.rglob("*") if not p.is_dir() or p.is_symlink())


def set_aside(root: Path, name: str, entry: dict[str, Any], outputs: Sequence[Path], why: str) -> Path | None:
    """Move the outputs of stage ``name`` (its state ``entry`` says what made them) out of the
    way, into a new folder under ``<root>/set-aside/``; returns the folder, or None when there was
    nothing to move."""
    present = [Path(out) for out in outputs if _present(Path(out))]
    if not present:
        return None
    label = entry.get("rows_key") or entry.get("fingerprint") or "unrecorded"
    if not isinstance(label, str) or not re.fullmatch(r"[\w-]{1,64}", label):  # a hand-edited state: never a path
        label = "unrecorded"
    folder = root / FOLDER / f"{name}-{label}"
    suffix = 1
    while _present(folder) and (folder.is_symlink() or not folder.is_dir() or _holds_rows(folder)):
        suffix += 1
        folder = root / FOLDER / f"{name}-{label}-{suffix}"
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / NOTE, {
        "stage": name, "rows_key": entry.get("rows_key"), "fingerprint": entry.get("fingerprint"),
        "done": bool(entry.get("done")), "counts": entry.get("counts", {}), "why": why,
        "set_aside_at": datetime.datetime.now().isoformat(timespec="seconds"),
        "paths": [str(p.relative_to(root)) for p in present],
    })
    for path in present:
        target = folder / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
    return folder


def restore(root: Path, name: str, rows_key: str, outputs: Sequence[Path]) -> Path | None:
    """Bring back the rows of stage ``name`` set aside under ``rows_key`` (they are valid again:
    the recipe changed back), when none of ``outputs`` exists now; returns the folder they came
    from, or None."""
    folder = root / FOLDER / f"{name}-{rows_key}"
    try:
        note = json.loads((folder / NOTE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(note, dict) or note.get("rows_key") != rows_key:
        return None
    if any(_present(Path(o)) for o in outputs):
        if not _holds_rows(folder):  # a run killed after the rows came back: they are in the run
            shutil.rmtree(folder)
        return None
    for out in outputs:
        source = folder / Path(out).relative_to(root)
        if _present(source):
            Path(out).parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, out)
    shutil.rmtree(folder)
    return folder


def set_aside_folders(root: Path) -> list[dict[str, Any]]:
    """Every folder under ``<root>/set-aside/`` with what its note says: ``path`` (relative to
    ``root``), ``stage``, ``counts``, ``why`` and ``set_aside_at``."""
    out = []
    base = root / FOLDER
    for folder in sorted(base.iterdir()) if base.is_dir() else []:
        try:
            note = json.loads((folder / NOTE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            note = {}
        note = note if isinstance(note, dict) else {}
        out.append({"path": str(folder.relative_to(root)), "stage": note.get("stage"), "counts": note.get("counts", {}),
                    "why": note.get("why"), "set_aside_at": note.get("set_aside_at")})
    return out
