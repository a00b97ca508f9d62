"""Which ``checkpoint-N`` folder a run can resume from.

transformers picks the highest-numbered folder and fails on it forever when it is incomplete
(``Can't find a valid checkpoint``, or an unreadable ``optimizer.pt``): a ``kill -9`` or a full
disk during a save leaves exactly that. Here a checkpoint counts only when it holds what
``Trainer`` reads on resume, and incomplete ones are moved aside, so that a rerun resumes from
the newest complete checkpoint (or starts over when there is none).

What the Trainer writes (transformers 4.x/5.x ``Trainer._save_checkpoint``), in this order: the
weights (``model.safetensors``, sharded with an index, LoRA ``adapter_model.*``, or FSDP
folders), then the optimizer (``optimizer.pt``; DeepSpeed writes model and optimizer into a
``global_stepN`` folder plus a ``latest`` file instead), ``scheduler.pt``, ``rng_state*.pth``,
and last ``trainer_state.json``. So a readable ``trainer_state.json`` says the save ran to its
end; the other checks catch files the disk left empty or cut short.
"""

from __future__ import annotations

import json
import logging
import re
import struct
import zipfile
from pathlib import Path

log = logging.getLogger(__name__)

CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
#: Where incomplete checkpoints go, inside the output folder (not matched by ``checkpoint-*``).
SET_ASIDE = "incomplete-checkpoints"

_WEIGHTS = ("model.safetensors", "pytorch_model.bin", "adapter_model.safetensors", "adapter_model.bin")
_INDEXES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")


def checkpoint_problem(folder: Path) -> str | None:
    """Why ``folder`` cannot be resumed from, or ``None`` when it holds a complete checkpoint."""
    folder = Path(folder)
    problem = _state_problem(folder / "trainer_state.json")
    if problem:
        return problem
    deepspeed = sorted(p for p in folder.glob("global_step*") if p.is_dir())
    if deepspeed:
        # DeepSpeed keeps weights, optimizer and scheduler together in its own folder.
        files = [p for d in deepspeed for p in d.rglob("*") if p.is_file()]
        return _files_problem(files) if files else "its DeepSpeed folder is empty"
    weights = _weight_files(folder)
    if isinstance(weights, str):
        return weights
    if not weights:
        return "it has no model weights"
    if not any((folder / name).is_file() for name in ("optimizer.pt", "optimizer.bin")) and not any(
            p.is_dir() and p.name.startswith("optimizer") for p in folder.iterdir()):
        return "it has no optimizer state (optimizer.pt)"
    if not (folder / "scheduler.pt").is_file():
        return "it has no scheduler state (scheduler.pt)"
    # Every file the Trainer may load must be whole: weights, optimizer, scheduler, scaler, RNG.
    loaded = [p for p in folder.iterdir() if p.is_file() and p.suffix in (".safetensors", ".bin", ".pt", ".pth")]
    return _files_problem(weights + loaded)


def complete_checkpoints(output_dir: Path) -> tuple[list[Path], dict[Path, str]]:
    """The complete ``checkpoint-N`` folders in ``output_dir``, oldest first, and the incomplete
    ones with what is wrong with each."""
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return [], {}
    found = sorted((int(m.group(1)), p) for p in output_dir.iterdir()
                   if p.is_dir() and (m := CHECKPOINT.match(p.name)))
    complete, incomplete = [], {}
    for _, path in found:
        problem = checkpoint_problem(path)
        if problem:
            incomplete[path] = problem
        else:
            complete.append(path)
    return complete, incomplete


def last_checkpoint(output_dir: Path) -> str | None:
    """The newest *complete* ``checkpoint-N`` folder a previous attempt left in ``output_dir``;
    incomplete ones are skipped, not resumed from."""
    complete, _ = complete_checkpoints(Path(output_dir))
    return str(complete[-1]) if complete else None


def set_aside_incomplete(output_dir: Path) -> list[Path]:
    """Move every incomplete checkpoint into ``output_dir/incomplete-checkpoints/`` with a
    warning, so that neither the resume nor the Trainer's own checkpoint rotation sees it, and a
    new save of the same step does not mix with its leftovers. Returns where they went."""
    _, incomplete = complete_checkpoints(output_dir)
    moved = []
    for path, problem in incomplete.items():
        aside = Path(output_dir) / SET_ASIDE
        aside.mkdir(exist_ok=True)
        target, tries = aside / path.name, 1
        while target.exists():  # the same step may have been cut short before
            tries += 1
            target = aside / f"{path.name}.{tries}"
        path.rename(target)
        log.warning("checkpoint %s is incomplete (%s), probably cut short by a kill or a full disk; "
                    "moved it to %s (delete it once you no longer need it)", path, problem, target)
        moved.append(target)
    return moved


def _state_problem(path: Path) -> str | None:
    if not path.is_file():
        return "it has no trainer_state.json, which the Trainer writes last"
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return f"its trainer_state.json cannot be read ({exc})"
    if not isinstance(state, dict) or not isinstance(state.get("global_step"), int):
        return "its trainer_state.json has no global_step"
    return None


def _weight_files(folder: Path) -> list[Path] | str:
    """The weight files a resume would load, or what is wrong with the index naming them."""
    files = [folder / name for name in _WEIGHTS if (folder / name).is_file()]
    for name in _INDEXES:
        index = folder / name
        if not index.is_file():
            continue
        try:
            shards = set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values())
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
            return f"its {name} cannot be read ({exc})"
        missing = sorted(s for s in shards if not (folder / s).is_file())
        if missing:
            return f"shard {missing[0]} named in {name} is missing"
        files += [folder / s for s in sorted(shards)]
    # FSDP: sharded folders (pytorch_model_fsdp_0/) or one full file.
    files += [p for p in folder.iterdir() if p.name.startswith("pytorch_model_fsdp")]
    # LoRA with several adapters saves each in a subfolder.
    files += [p / name for p in folder.iterdir() if p.is_dir() for name in _WEIGHTS[2:] if (p / name).is_file()]
    return files


def _files_problem(files: list[Path]) -> str | None:
    for path in files:
        if path.is_dir():
            if not any(path.iterdir()):
                return f"{path.name} is empty"
            continue
        problem = _file_problem(path)
        if problem:
            return f"{path.name} {problem}"
    return None


def _file_problem(path: Path) -> str | None:
    """Cheap whole-file checks: neither reads the tensors, so large checkpoints cost nothing."""
    size = path.stat().st_size
    if size == 0:
        return "is empty"
    if path.suffix == ".safetensors":
        # An 8-byte header length, the JSON header, then the tensors up to the last end offset.
        with path.open("rb") as handle:
            head = handle.read(8)
            if len(head) < 8:
                return "is cut short"
            (length,) = struct.unpack("<Q", head)
            if 8 + length > size:
                return "is cut short"
            try:
                header = json.loads(handle.read(length))
            except ValueError:
                return "has an unreadable header"
        ends = [v["data_offsets"][1] for k, v in header.items()
                if k != "__metadata__" and isinstance(v, dict) and "data_offsets" in v]
        if 8 + length + max(ends, default=0) > size:
            return "is cut short"
    elif path.suffix in (".pt", ".pth", ".bin") and not zipfile.is_zipfile(path):
        # torch.save writes a zip archive whose directory sits at the very end of the file.
        return "is cut short (not a whole torch archive)"
    return None
