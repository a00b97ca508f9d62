"""A checkpoint cut short (``kill -9`` or a full disk during the save) must not make a run
unresumable: the rerun sets it aside and resumes from the newest complete checkpoint, or starts
over when none is complete. Real tiny SFT runs, with the kill simulated on the files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from test_trainer_sft import CPU_OPTIONS, context, one_torch_thread  # noqa: F401 - a fixture

from redstar.trainers.checkpoints import SET_ASIDE, checkpoint_problem, complete_checkpoints
from redstar.trainers.sft import SFTTrainer


def train(tmp_path: Path, tiny_lm: Path, max_steps: int) -> list[int]:
    steps: list = []
    SFTTrainer(max_steps=max_steps, save_steps=2, **CPU_OPTIONS).train(context(tmp_path, tiny_lm, steps=steps))
    return [step for step, _, _ in steps]


def keep_only(folder: Path, *names: str) -> None:
    for path in folder.iterdir():
        if path.name not in names:
            shutil.rmtree(path) if path.is_dir() else path.unlink()


def test_a_run_resumes_past_checkpoints_cut_short(tmp_path, tiny_lm):
    out = tmp_path / "out"
    assert train(tmp_path, tiny_lm, 4) == [1, 2, 3, 4]
    assert [p.name for p in complete_checkpoints(out)[0]] == ["checkpoint-2", "checkpoint-4"]

    # Killed while checkpoint-4 was being written: only its config made it to disk.
    keep_only(out / "checkpoint-4", "config.json")
    assert train(tmp_path, tiny_lm, 6) == [3, 4, 5, 6]  # from checkpoint-2
    assert (out / SET_ASIDE / "checkpoint-4" / "config.json").is_file()
    assert [p.name for p in complete_checkpoints(out)[0]] == ["checkpoint-4", "checkpoint-6"]

    # A full disk: every file is there, but the weights came out empty.
    (out / "checkpoint-6" / "model.safetensors").write_bytes(b"")
    assert train(tmp_path, tiny_lm, 8) == [5, 6, 7, 8]  # from checkpoint-4
    assert (out / SET_ASIDE / "checkpoint-6" / "model.safetensors").stat().st_size == 0

    # No complete checkpoint left: the run starts over rather than failing.
    for folder in complete_checkpoints(out)[0]:
        (folder / "trainer_state.json").unlink()
    assert train(tmp_path, tiny_lm, 2) == [1, 2]
    assert (out / "final" / "model.safetensors").is_file()


@pytest.fixture(scope="module")
def saved_checkpoint(tiny_lm, tmp_path_factory) -> Path:
    """A checkpoint as the Trainer writes it, trained once for all the damage below."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        root = tmp_path_factory.mktemp("saved")
        train(root, tiny_lm, 2)
    finally:
        torch.set_num_threads(before)
    return root / "out" / "checkpoint-2"


@pytest.mark.parametrize("damage", ["none", "no_state", "half_state", "short_weights", "no_optimizer",
                                    "short_optimizer", "empty_scheduler", "short_rng"])
def test_checkpoint_problem_names_what_is_missing(tmp_path, saved_checkpoint, damage):
    folder = shutil.copytree(saved_checkpoint, tmp_path / "checkpoint-2")
    assert checkpoint_problem(folder) is None  # what the Trainer wrote is complete

    def cut(name: str, keep: float = 0.5) -> None:
        data = (folder / name).read_bytes()
        (folder / name).write_bytes(data[: int(len(data) * keep)])

    if damage == "none":
        return
    expected = {
        "no_state": "trainer_state.json", "half_state": "trainer_state.json", "short_weights": "model.safetensors",
        "no_optimizer": "optimizer", "short_optimizer": "optimizer.pt", "empty_scheduler": "scheduler.pt",
        "short_rng": "rng_state.pth",
    }[damage]
    if damage == "no_state":
        (folder / "trainer_state.json").unlink()
    elif damage == "half_state":
        cut("trainer_state.json")
    elif damage == "short_weights":
        cut("model.safetensors", 0.9)
    elif damage == "no_optimizer":
        (folder / "optimizer.pt").unlink()
    elif damage == "short_optimizer":
        cut("optimizer.pt", 0.99)
    elif damage == "empty_scheduler":
        cut("scheduler.pt", 0)
    else:
        cut("rng_state.pth", 0.9)
    problem = checkpoint_problem(folder)
    assert problem is not None and expected in problem
