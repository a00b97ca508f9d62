"""The run directory: where every stage writes, and the state that makes runs resumable.

``state.json`` records, per stage, the fingerprint of everything the stage's output depends on
(its recipe section, its inputs' fingerprints, plugin versions) and whether it finished. A stage
whose fingerprint matches and that finished is skipped; one whose fingerprint changed is redone,
and so is everything downstream, because downstream fingerprints include upstream ones.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from redstar.tables import write_json


def fingerprint(*parts: Any) -> str:
    blob = json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


class RunDir:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.state_file = self.root / "state.json"
        self.state: dict[str, Any] = {"stages": {}}
        if self.state_file.exists():
            self.state = json.loads(self.state_file.read_text(encoding="utf-8"))

    def path(self, *parts: str) -> Path:
        p = self.root.joinpath(*parts)
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def stage(self, name: str) -> dict[str, Any]:
        return self.state["stages"].get(name, {})

    def is_done(self, name: str, fp: str) -> bool:
        st = self.stage(name)
        return bool(st.get("done")) and st.get("fingerprint") == fp

    def begin(self, name: str, fp: str, outputs: list[Path] = ()) -> bool:
        """Mark ``name`` as running with ``fp``. When the fingerprint differs from the recorded
        one, the stage's old ``outputs`` are removed (they belong to another recipe) and True is
        returned; when it matches, partial outputs are kept for resuming and False is returned."""
        st = self.stage(name)
        changed = st.get("fingerprint") != fp
        if changed:
            for out in outputs:
                if out.is_dir():
                    shutil.rmtree(out)
                elif out.exists():
                    out.unlink()
        self.state["stages"][name] = {"fingerprint": fp, "done": False, "counts": st.get("counts", {}) if not changed else {}}
        self.save()
        return changed

    def finish(self, name: str, counts: dict[str, Any] | None = None, **extra: Any) -> None:
        st = self.state["stages"].setdefault(name, {})
        st["done"] = True
        if counts is not None:
            st["counts"] = counts
        st.update(extra)
        self.save()

    def save(self) -> None:
        write_json(self.state_file, self.state)
