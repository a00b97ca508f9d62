"""The run directory: where every stage writes, and the state that makes runs resumable.

``state.json`` records, per stage, the fingerprint of everything the stage's output depends on
(its recipe section, its inputs' fingerprints, plugin versions) and whether it finished. A stage
whose fingerprint matches and that finished is skipped; one whose fingerprint changed is redone,
and so is everything downstream, because downstream fingerprints include upstream ones.

A run may also *reuse* steps from sibling run directories (``redstar sweep``: the variants of a
sweep): a step that is not done here but is done in a sibling with the same fingerprint has its
outputs brought over and its state entry copied (:meth:`RunDir.adopt`), and is then loaded, or for
an incremental step resumed, as if it had run here.
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
from redstar.faults import shown
from redstar.pipeline.set_aside import restore, set_aside
from redstar.tables import write_json

LOCK_FILE = ".lock"
#: Why rows are set aside when the recipe changed what they depend on.
STALE = ("the recipe changed what these rows depend on (the teacher, sampling settings, the seed, verifier options "
         "or a plugin version)")


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


def appended_in_place(path: Path) -> bool:
    """Whether a run file may grow in place after it is written: JSONL tables (``JsonlAppender``
    appends to them) and journals. Such a file is copied to a sibling, never hard-linked, so that
    a later append in one run cannot change the other's."""
    return path.suffix == ".jsonl" or "journal" in path.name


def _link_or_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.is_symlink():
        os.symlink(os.readlink(src), dst)
    elif appended_in_place(src):
        shutil.copy2(src, dst)
    else:
        # Never modified in place (parquet shards, model weights, files replaced atomically):
        # one inode serves both runs. Another filesystem (or one without links) gets a copy.
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)


def bring_over(src: Path, dst: Path) -> None:
    """Make ``dst`` hold what ``src`` holds (a file or a directory tree): hard links for files
    that are never modified in place, copies for those appended to (:func:`appended_in_place`)."""
    if not src.is_dir() or src.is_symlink():
        _link_or_copy(src, dst)
        return
    dst.mkdir(parents=True, exist_ok=True)
    for folder, dirs, files in os.walk(src):
        here = Path(folder)
        target = dst / here.relative_to(src)
        for name in dirs:
            if (here / name).is_symlink():
                _link_or_copy(here / name, target / name)
            else:
                (target / name).mkdir(exist_ok=True)
        for name in files:
            _link_or_copy(here / name, target / name)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _rebased(value: Any, old: tuple[str, ...], new: str) -> Any:
    """``value`` (a state entry) with paths inside the sibling's directory (``old``: its root as
    written and resolved) pointing into this run's instead (a trained model's ``model_path``)."""
    if isinstance(value, dict):
        return {k: _rebased(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_rebased(v, old, new) for v in value]
    if isinstance(value, str):
        for prefix in old:
            if value == prefix or value.startswith(prefix + os.sep):
                return new + value[len(prefix):]
    return value


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else 0


_ENTRY_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    "fingerprint": ((str, type(None)), "a string"), "rows_key": ((str, type(None)), "a string"),
    "done": ((bool,), "true or false"), "seconds": ((int, float), "a number"), "started": ((int, float), "a number"),
    "counts": ((dict,), "a mapping")}
#: Parts of a stage's counts that the summary and the report read as mappings.
_COUNT_MAPPINGS = ("by_domain", "dropped", "dropped_by_domain", "per_source")


def _state_problem(stages: dict[str, Any]) -> str | None:
    """What is wrong with the shape of ``state.json``'s stages (a hand edit: RedStar writes it
    whole), or None: every entry a mapping, its keys of their types."""
    for name, entry in stages.items():
        if not isinstance(entry, dict):
            return f"stage {name!r}: {shown(entry)}, not a mapping"
        for key, (types, what) in _ENTRY_TYPES.items():
            value = entry.get(key)
            if key in entry and (not isinstance(value, types) or (isinstance(value, bool) and bool not in types)):
                return f"stage {name!r}: {key} is {shown(value)}, not {what}"
        for key in _COUNT_MAPPINGS:
            value = entry.get("counts", {}).get(key, {})
            if not isinstance(value, dict):
                return f"stage {name!r}: counts.{key} is {shown(value)}, not a mapping"
    return None


class RunDir:
    def __init__(self, root: str | Path, siblings: Sequence[str | Path] = ()) -> None:
        self.root = Path(root)
        writable_dir(self.root)
        mine = self.root.resolve()
        #: Run directories whose finished steps this run reuses when the fingerprints match.
        self.siblings = tuple(p for p in map(Path, siblings) if p.resolve() != mine)
        self.state_file = self.root / "state.json"
        self.state: dict[str, Any] = {"stages": {}}
        self._rechecked: set[str] = set()
        #: ``(stage, folder)`` for each folder this run set stale rows aside in (``set-aside/...``),
        #: for the summary to name.
        self.set_aside_now: list[tuple[str, Path]] = []
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
            problem = _state_problem(self.state["stages"])
            if problem:
                raise InputError(self.state_file, f"not a RedStar run state: {problem}; restore it or delete it to "
                                 "redo every stage")

    def path(self, *parts: str) -> Path:
        p = self.root.joinpath(*parts)
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def stage(self, name: str) -> dict[str, Any]:
        return self.state["stages"].get(name, {})

    def is_done(self, name: str, fp: str) -> bool:
        st = self.stage(name)
        return bool(st.get("done")) and st.get("fingerprint") == fp

    def begin(self, name: str, fp: str, outputs: Sequence[Path] = (), rows_key: str | None = None) -> bool:
        """Mark ``name`` as running with ``fp``. When the fingerprint differs from the recorded
        one, the stage's old ``outputs`` belong to another recipe: they are removed and True is
        returned; when it matches, partial outputs are kept for resuming and False is returned.

        ``rows_key`` (an incremental stage's :attr:`~redstar.pipeline.stage.Stage.rows_depend_on`
        digest) refines that: rows recorded under the same key are still valid (only how many
        are wanted changed) and are kept; rows under another key are set aside
        (:mod:`redstar.pipeline.set_aside`), never deleted, and rows set aside earlier under
        this key come back."""
        st = self.stage(name)
        changed = st.get("fingerprint") != fp
        if st.get("done") and not changed:
            # A finished stage called again (sampling and verification always look for missing
            # rows): leave its record, time included, as it is; finish() updates only its counts.
            self._rechecked.add(name)
            return False
        keeps_rows = changed and rows_key is not None and st.get("rows_key") == rows_key
        if changed and rows_key is not None and not keeps_rows:
            folder = set_aside(self.root, name, st, outputs, why=STALE)
            if folder is not None:
                self.set_aside_now.append((name, folder))
            # The run now holds no rows; it says so before rows come back, so that a run killed
            # while they move never takes them for another key's.
            self.state["stages"][name] = {"fingerprint": None, "done": False, "rows_key": rows_key}
            self.save()
        if rows_key is not None:
            # Rows set aside under this key come back when the run has none (here, or after a
            # run killed between the lines above and this one).
            restore(self.root, name, rows_key, outputs)
        elif changed and not keeps_rows:
            for out in outputs:
                if out.is_dir():
                    shutil.rmtree(out)
                elif out.exists():
                    out.unlink()
        fresh = changed and not keeps_rows
        self.state["stages"][name] = {
            "fingerprint": fp, "done": False, "counts": st.get("counts", {}) if not changed else {},
            # Time spent on this stage's output across every call that worked on it (a resumed
            # stage adds to it; a redone one starts again from zero).
            "seconds": st.get("seconds", 0.0) if not fresh else 0.0,
            "started": time.time(),
            **({"rows_key": rows_key} if rows_key is not None else {}),
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

    def adopt(self, name: str, fp: str, outputs: Sequence[Path], rows_key: str | None = None) -> Path | None:
        """Reuse step ``name`` from a sibling run when it is not done here with ``fp`` but is done
        there: the step's ``outputs`` (paths inside this run) are replaced by the sibling's
        (:func:`bring_over`) and its state entry is copied, with paths into the sibling rebased
        here. Of several siblings, the one whose outputs are largest (for an incremental step:
        the most work done) is taken. Returns the sibling used, or None.

        With ``rows_key`` (see :meth:`begin`), rows here under another key are set aside rather
        than replaced, and rows here under the same key but another fingerprint are kept (they
        are valid, and may be more than the sibling's): nothing is adopted then."""
        if not self.siblings or self.is_done(name, fp):
            return None
        try:
            relative = [Path(out).relative_to(self.root) for out in outputs]
        except ValueError:
            return None  # an output outside the run directory: nothing to bring over safely
        found: list[tuple[int, Path, dict[str, Any]]] = []
        for sibling in self.siblings:
            try:
                entry = json.loads((sibling / "state.json").read_text(encoding="utf-8"))["stages"][name]
            except (OSError, ValueError, KeyError, TypeError):
                continue  # not started, or not this step: nothing to reuse
            if isinstance(entry, dict) and entry.get("done") and entry.get("fingerprint") == fp:
                found.append((sum(_size(sibling / rel) for rel in relative), sibling, entry))
        if not found:
            return None
        _, sibling, entry = max(found, key=lambda item: item[0])  # max keeps the first of equals
        mine = self.stage(name)
        if rows_key is not None and mine.get("fingerprint") != fp:
            if mine.get("rows_key") == rows_key and any((self.root / rel).exists() for rel in relative):
                return None
            folder = set_aside(self.root, name, mine, [self.root / rel for rel in relative], why=STALE)
            if folder is not None:
                self.set_aside_now.append((name, folder))
            # The rows about to arrive are under ``rows_key``: a run killed while they are copied
            # resumes from them rather than setting them aside as the old key's.
            self.state["stages"][name] = {"fingerprint": None, "done": False, "rows_key": rows_key}
            self.save()
        for rel in relative:
            _remove(self.root / rel)
            if (sibling / rel).exists() or (sibling / rel).is_symlink():
                bring_over(sibling / rel, self.root / rel)
        roots = tuple(dict.fromkeys((str(sibling), str(sibling.resolve()))))
        copied = _rebased(entry, roots, str(self.root))
        copied["shared_from"] = str(sibling)
        self.state["stages"][name] = copied
        self.save()
        return sibling
