"""Images (and any other file a chat message points at) travel with the run directory.

A message part ``{"type": "image", "path": ...}`` in the SFT, preference or online-RL rows names
a file that may live anywhere (a dataset's image folder, ``~/.cache/redstar``). When the build
stage writes those rows it copies each file into ``<run>/images/`` (named by its content's hash,
so a file used by many rows is stored once) and writes the path relative to the run directory.
A trainer reading the rows resolves a relative path against the folder of the file it reads, so
the run directory can be moved, or copied to a training cluster, whole.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from redstar.errors import InputError

MEDIA_DIR = "images"


def media_parts(value: Any) -> Iterator[dict[str, Any]]:
    """Every ``{"type": "image", "path": ...}`` part inside a row (messages, prompt, chosen...)."""
    if isinstance(value, dict):
        if value.get("type") == "image" and isinstance(value.get("path"), str):
            yield value
        for item in value.values():
            yield from media_parts(item)
    elif isinstance(value, list):
        for item in value:
            yield from media_parts(item)


def localize_media(rows: list[dict[str, Any]], run_root: Path) -> int:
    """Copy the files ``rows`` point at into ``run_root/images/`` and point the rows there
    (relative to ``run_root``). Returns how many files were copied (ones already there are not)."""
    copied = 0
    known: dict[str, str] = {}
    for row in rows:
        for part in media_parts(row):
            source = part["path"]
            if source not in known:
                target, new = _store(Path(source), run_root)
                known[source] = target
                copied += new
            part["path"] = known[source]
    return copied


def _store(source: Path, run_root: Path) -> tuple[str, int]:
    try:
        digest = hashlib.sha256(source.read_bytes()).hexdigest()[:20]
    except FileNotFoundError:
        if not source.is_absolute() and (run_root / source).exists():
            return str(source), 0  # already inside the run directory (a rerun of the build)
        raise InputError(source, "image not found (a prompt points at it)") from None
    relative = f"{MEDIA_DIR}/{digest}{source.suffix.lower()}"
    target = run_root / relative
    if target.exists():
        return relative, 0
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    shutil.copyfile(source, tmp)
    os.replace(tmp, target)  # whole or not at all, if the build is killed mid-copy
    return relative, 1


def resolve_media(row: dict[str, Any], base: Path) -> dict[str, Any]:
    """Make the relative media paths of ``row`` absolute against ``base`` (the folder of the table
    the row was read from); absolute paths are left as they are."""
    for part in media_parts(row):
        path = Path(part["path"]).expanduser()
        if not path.is_absolute():
            part["path"] = str(base / path)
    return row
