"""The recipe's train stage under `accelerate launch` with two CPU processes (gloo), end to end on
the tiny student: rank 0 alone takes the lock and keeps the state and the summary, both ranks
train the same model, a crash of rank 0 mid-training leaves a checkpoint both ranks resume from,
a finished run is skipped, and a rank 0 that fails before training does not leave rank 1 waiting.

The run is curated in the test process (the arith plugin's scripted teacher); each launch runs
`launch_probe.py` (the real `redstar` command line with probes that log what each rank did) or
`-m redstar` itself. What this cannot show: GPUs, NCCL, DeepSpeed across processes, more than
one machine."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from redstar.pipeline.rundir import run_lock
from redstar.pipeline.runner import run_pipeline
from redstar.progress import ProgressBoard
from redstar.recipe import validate

#: Each launch starts two Python processes that import torch and transformers: minutes on 2 cores.
pytestmark = pytest.mark.slow

pytest.importorskip("accelerate")

HERE = Path(__file__).resolve().parent
SFT = {"max_steps": 4, "save_steps": 2, "batch_size": 4, "grad_accum": 1, "learning_rate": 1e-3,
       "max_length": 128, "warmup_ratio": 0.0, "device": "cpu"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def curated(tmp_path, arith_host, tiny_lm):
    """A run directory whose curation is done: only the train stage is left."""
    recipe = validate({
        "name": "arith-launch", "models": {"teacher": "scripted", "student": str(tiny_lm)},
        "sources": [{"name": "arith-gen", "options": {"count": 24}}],
        "selection": {"min_level": 1, "max_level": 10},
        "sampling": {"backend": "scripted", "n": 2},
        "sft": {"trainer": "sft", "options": SFT},
        "evaluation": {"evaluators": [{"name": "arith-heldout", "options": {"count": 4}}]},
    })
    out = tmp_path / "run"
    run_pipeline(recipe, out, arith_host, ProgressBoard(enabled=False), until="curate")
    assert (out / "sft.jsonl").read_text().count("\n") >= 8
    return out


def launch(args: list[str], tmp_path: Path, timeout: float = 420, **env: str) -> subprocess.CompletedProcess:
    """`accelerate launch` of two CPU processes on 127.0.0.1 (torchrun underneath, gloo)."""
    home = tmp_path / "hf-home"  # no accelerate config file of the machine's, and a private datasets cache
    environ = {**os.environ, "HF_HOME": str(home), "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false",
               "PYTHONUNBUFFERED": "1", **env}
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
               "--main_process_ip", "127.0.0.1", "--main_process_port", str(free_port()), *args]
    return subprocess.run(command, env=environ, capture_output=True, text=True, timeout=timeout, cwd=tmp_path)


def events(probes: Path, rank: int) -> list[dict]:
    path = probes / f"rank-{rank}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def probe_launch(run: Path, tmp_path: Path, name: str, **env: str) -> tuple[subprocess.CompletedProcess, list, list]:
    probes = tmp_path / name
    probes.mkdir()
    done = launch([str(HERE / "launch_probe.py"), str(probes), "train", "--run", str(run)], tmp_path, **env)
    return done, events(probes, 0), events(probes, 1)


def kinds(log: list[dict], kind: str) -> list[dict]:
    return [e for e in log if e["event"] == kind]


def trained_stages(log: list[dict], kind: str) -> list[str]:
    """The training steps begun or finished (sampling and verification, incremental, are looked
    at again on every call, and find nothing missing)."""
    return [e["stage"] for e in kinds(log, kind) if e["stage"].startswith("train")]


def test_train_stage_under_accelerate_launch_trains_once_resumes_and_skips(curated, tmp_path):
    from launch_probe import weights_digest
    from transformers import AutoModelForCausalLM

    # 1. Rank 0 crashes after step 3; checkpoint-2 is on disk. Rank 1 does not wait forever: the
    #    launcher ends it, and the launch returns within the timeout.
    done, zero, one = probe_launch(curated, tmp_path, "crash", PROBE_FAIL_AT_STEP="3")
    output = done.stdout + done.stderr
    assert done.returncode != 0, output[-4000:]
    assert "probe: rank 0 crashes after step 3" in output
    assert (curated / "models" / "sft" / "checkpoint-2").is_dir()
    state = json.loads((curated / "state.json").read_text())["stages"]
    assert not state["train:sft"]["done"]
    assert [e["step"] for e in kinds(zero, "step")] == [1, 2, 3]
    assert [e["step"] for e in kinds(one, "step")][:3] == [1, 2, 3]
    # The bookkeeping is rank 0's alone.
    assert len(kinds(zero, "lock")) == 1 and trained_stages(zero, "begin") == ["train:sft"]
    assert not kinds(one, "lock") and not kinds(one, "begin") and not kinds(one, "finish") and not kinds(one, "write")

    # 2. The same command again resumes from checkpoint-2 in both ranks and finishes the stage once.
    done, zero, one = probe_launch(curated, tmp_path, "resume")
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    for log in (zero, one):
        assert [e["step"] for e in kinds(log, "step")] == [3, 4]  # steps 1-2 came from checkpoint-2
        assert [e["steps"] for e in kinds(log, "trained")] == [4]
    assert kinds(zero, "trained")[0]["digest"] == kinds(one, "trained")[0]["digest"]  # one model, two ranks
    # Both ranks map the same tokenized Arrow files, which rank 0 wrote under the model's folder.
    data = kinds(zero, "trained")[0]["data"]
    assert data and data == kinds(one, "trained")[0]["data"]
    assert all(name.startswith(str(curated / "models" / "sft" / "sft-data")) for name in data)
    assert len(kinds(zero, "lock")) == 1
    assert trained_stages(zero, "begin") == trained_stages(zero, "finish") == ["train:sft"]
    assert [e["file"] for e in kinds(zero, "write")].count("summary.json") == 1
    assert not kinds(one, "lock") and not kinds(one, "begin") and not kinds(one, "finish") and not kinds(one, "write")
    state = json.loads((curated / "state.json").read_text())["stages"]
    assert state["train:sft"]["done"] and state["train:sft"]["model_path"].endswith("models/sft/final")
    final = curated / "models" / "sft" / "final"
    assert weights_digest(AutoModelForCausalLM.from_pretrained(final)) == kinds(zero, "trained")[0]["digest"]
    metrics = [json.loads(line) for line in (curated / "metrics" / "sft.jsonl").read_text().splitlines()]
    # Written by rank 0 alone, once per step: the crash came before step 3 was logged.
    assert [m["step"] for m in metrics] == [1, 2, 3, 4]
    summary = json.loads((curated / "summary.json").read_text())
    assert summary["models"]["sft"].endswith("models/sft/final")

    # 3. Once more: the stage is done, so nothing trains in either rank and both exit cleanly.
    done, zero, one = probe_launch(curated, tmp_path, "skip")
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    assert not kinds(zero, "trained") and not kinds(one, "trained") and not trained_stages(zero, "begin")
    assert len(kinds(zero, "lock")) == 1 and not kinds(one, "lock")


def test_rank_0_failing_before_training_does_not_leave_rank_1_waiting(curated, tmp_path):
    """Rank 0 fails before any training step, and rank 1 stops with rank 0's error instead of
    waiting for orders: with the run directory locked by another run (the issue's case), and with
    a recipe this environment cannot run (`-m redstar` itself, whose plugins are the installed
    ones: the test's arith plugin is not among them)."""
    shutil.rmtree(curated / "models", ignore_errors=True)
    probes = tmp_path / "locked"
    probes.mkdir()
    with run_lock(curated):
        done = launch([str(HERE / "launch_probe.py"), str(probes), "train", "--run", str(curated)], tmp_path,
                      timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode != 0, output[-4000:]
    assert "rank 0 stopped the run, so rank 1 stops too: the run directory" in output, output[-4000:]
    assert "is in use by pid" in output
    assert not events(probes, 1)  # rank 1 never trained, locked or wrote anything

    done = launch(["-m", "redstar", "train", "--run", str(curated)], tmp_path, timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode != 0, output[-4000:]
    assert "rank 0 stopped the run, so rank 1 stops too: " in output and "no source named 'arith-gen'" in output, \
        output[-4000:]
