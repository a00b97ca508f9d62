"""Large references kept out of the run's prompt lists.

A code prompt's reference is TACO's whole ``input_output`` JSON: tens of kilobytes for a problem
with many tests (21.8 KB a prompt measured with 20 KB of tests, 4.5 GiB at 220k prompts), and a
run holds its prompt list in the driver from loading to building. So when a run loads its
prompts, every reference longer than :data:`INLINE_LIMIT` characters is written once to the run's
content-addressed store, ``references/<2 hex>/<sha256>.txt``, and the prompt keeps a pointer in
its place: ``redstar-reference:sha256:<hex>`` (a prompt's id was computed from the whole
reference first, so ids do not change). The tables of prompts (``prompts.jsonl``,
``scored.jsonl``, ``selected.jsonl``) hold the pointers too.

The text is fetched where it is used: a verification batch carries the references of its
prompts (:func:`resolved`), so a verifier, in this process or a Ray worker on another node, gets
the whole reference and the driver holds a batch's worth at a time; the online-RL prompt set
(``online.jsonl``) is written with whole references. A plugin that reads ``Prompt.reference``
elsewhere in a run (a scorer, a filter) calls :func:`fetch` for the text.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from dataclasses import replace
from pathlib import Path

from redstar.errors import InputError
from redstar.records import Prompt

#: References longer than this many characters are stored out of line (math answers and geo
#: letters stay inline; code tests go to the store).
INLINE_LIMIT = 4096
POINTER = "redstar-reference:sha256:"
#: The store's folder in a run directory.
STORE = "references"


def is_pointer(reference: str) -> bool:
    return reference.startswith(POINTER) and len(reference) == len(POINTER) + 64


def _path(run_root: Path, digest: str) -> Path:
    return run_root / STORE / digest[:2] / f"{digest}.txt"


def stow(prompt: Prompt, run_root: Path) -> Prompt:
    """``prompt`` with a long reference written to the store and replaced by its pointer (the
    prompt itself when its reference is short or already a pointer). Writing is atomic and
    happens once per distinct reference."""
    if len(prompt.reference) <= INLINE_LIMIT or is_pointer(prompt.reference):
        return prompt
    data = prompt.reference.encode("utf-8", "surrogatepass")
    digest = hashlib.sha256(data).hexdigest()
    path = _path(run_root, digest)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return replace(prompt, reference=POINTER + digest)


def fetch(reference: str, run_root: Path) -> str:
    """The text of ``reference``: itself, or for a pointer the stored text (an
    :class:`~redstar.errors.InputError` naming the file when it is missing or was altered)."""
    if not is_pointer(reference):
        return reference
    return _read(str(_path(run_root, reference[len(POINTER):])))


@functools.lru_cache(maxsize=256)
def _read(where: str) -> str:
    """One stored reference's text, cached: the samples of a prompt arrive together, and their
    batch then carries one string, not one copy per sample."""
    path = Path(where)
    digest = path.stem
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"the stored reference is missing ({exc.strerror or exc}); the run directory's "
                               f"{STORE}/ folder was removed: run again to reload the prompts", field="reference") from None
    if hashlib.sha256(data).hexdigest() != digest:
        raise InputError(path, "the stored reference does not match its digest (the file was altered)",
                         field="reference")
    return data.decode("utf-8", "surrogatepass")


def resolved(prompt: Prompt, run_root: Path) -> Prompt:
    """``prompt`` with its whole reference (a copy when it held a pointer)."""
    if not is_pointer(prompt.reference):
        return prompt
    return replace(prompt, reference=fetch(prompt.reference, run_root))
