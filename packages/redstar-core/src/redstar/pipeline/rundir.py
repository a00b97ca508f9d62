"""The run directory: where every stage writes, and the state that makes runs resumable.

``state.json`` records, per stage, the fingerprint of everything the stage's output depends on
(its recipe section, its inputs' fingerprints, plugin versions) and whether it finished. A stage
whose fingerprint matches and that finished is skipped; one whose fingerprint changed is redone,
and so is everything downstream, because downstream fingerprints include upstream ones.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import fcntl
import hashlib
import json
import os
import shutil
import socket
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from redstar.errors import InputError, RedStarError
from redstar.tables import write_json

LOCK_FILE = ".lock"


def _plain(value: Any) -> Any:
    # Recipe sections are pydantic models: fingerprint what they hold, as the mapping it is.
    return value.model_dump(mode="python") if hasattr(value, "model_dump") else str(value)


def fingerprint(*parts: Any) -> str:
    blob = json.dumps(parts, sort_keys=True, default=_plain, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def writable_dir(root: Path) -> None:
    """Create ``root`` if needed, or say in one line why a run cannot write there."""
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RedStarError(f"cannot create the run directory {root}: {exc.strerror}") from None
    if not os.access(root, os.W_OK | os.X_OK):
        raise RedStarError(f"cannot write to the run directory {root}: permission denied")


@contextlib.contextmanager
def run_lock(root: Path) -> Iterator[None]:
    """Hold ``<root>/.lock`` for as long as a run writes to ``root``, so that a second run on the
    same directory fails at once, naming the holder, instead of writing every sample twice.

    ``flock`` is released by the kernel when the holder exits in any way (``kill -9`` included),
    so a stale lock file never blocks a resume; the descriptor is not inherited by child
    processes, so a leftover child cannot keep it either."""
    writable_dir(root)
    path = root / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise RedStarError(f"cannot write to the run directory {root}: {exc.strerror}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            raise RedStarError(f"the run directory {root} is in use by {_holder(fd)}; wait for that run to end "
                               "(or stop it), or pass another --out") from None
        holder = {"pid": os.getpid(), "host": socket.gethostname(),
                  "since": datetime.datetime.now().isoformat(timespec="seconds")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(holder) + "\n").encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def _holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return f"pid {info['pid']} on {info['host']} (since {info['since']})"
    except (ValueError, KeyError, TypeError, OSError):
        return "another process"


class RunDir:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        writable_dir(self.root)
        self.state_file = self.root / "state.json"
        self.state: dict[str, Any] = {"stages": {}}
        self._rechecked: set[str] = set()
        if self.state_file.exists():
            # Written atomically, so only a hand edit or a bad disk can damage it.
            try:
                self.state = json.loads(self.state_file.read_text(encoding="utf-8"))
            except (ValueError, UnicodeDecodeError) as exc:
                raise InputError(self.state_file, f"unreadable run state ({exc}); restore it or delete it "
                                 "to redo every stage") from None
            if not isinstance(self.state, dict) or not isinstance(self.state.get("stages"), dict):
                raise InputError(self.state_file, "not a RedStar run state (no 'stages' mapping); restore it or "
                                 "delete it to redo every stage")

    def path(self, *parts: str) -> Path:
        p = self.root.joinpath(*parts)
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def stage(self, name: str) -> dict[str, Any]:
        return self.state["stages"].get(name, {})

    def is_done(self, name: str, fp: str) -> bool:
        st = self.stage(name)
        return bool(st.get("done")) and st.get("fingerprint") == fp

    def begin(self, name: str, fp: str, outputs: Sequence[Path] = ()) -> bool:
        """Mark ``name`` as running with ``fp``. When the fingerprint differs from the recorded
        one, the stage's old ``outputs`` are removed (they belong to another recipe) and True is
        returned; when it matches, partial outputs are kept for resuming and False is returned."""
        st = self.stage(name)
        changed = st.get("fingerprint") != fp
        if st.get("done") and not changed:
            # A finished stage called again (sampling and verification always look for missing
            # rows): leave its record, time included, as it is; finish() updates only its counts.
            self._rechecked.add(name)
            return False
        if changed:
            for out in outputs:
                if out.is_dir():
                    shutil.rmtree(out)
                elif out.exists():
                    out.unlink()
        self.state["stages"][name] = {
            "fingerprint": fp, "done": False, "counts": st.get("counts", {}) if not changed else {},
            # Time spent on this stage's output across every call that worked on it (a resumed
            # stage adds to it; a redone one starts again from zero).
            "seconds": st.get("seconds", 0.0) if not changed else 0.0,
            "started": time.time(),
        }
        self.save()
        return changed

    def finish(self, name: str, counts: dict[str, Any] | None = None, **extra: Any) -> None:
        st = self.state["stages"].setdefault(name, {})
        if name in self._rechecked:
            self._rechecked.discard(name)
            before = json.dumps(st, sort_keys=True, default=str)
            if counts is not None:
                st["counts"] = counts
            st.update(extra)
            if json.dumps(st, sort_keys=True, default=str) != before:
                self.save()
            return
        started = st.pop("started", None)
        if started is not None:
            st["seconds"] = round(st.get("seconds", 0.0) + max(0.0, time.time() - started), 2)
        st["done"] = True
        if counts is not None:
            st["counts"] = counts
        st.update(extra)
        self.save()

    def save(self) -> None:
        write_json(self.state_file, self.state)
