"""Shared pieces of redstar-rl's tests: a learnable rule reward and the files it scores.

The task: a response is "correct" (1) when the first digit it contains is the reference digit,
"wrong" (0) for another digit, and has "no valid answer" (-1) without any digit - the shape of
RedStar's verifier rewards. A random tiny model writes a digit in about one response in five, so
the mean reward starts near -0.8 and can only climb far by learning.
"""

from __future__ import annotations

import fcntl
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from redstar_rl.openrlhf import OPENRLHF_VERSION


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models gain nothing from threads, and on a shared 2-core machine OpenMP's spinning
    threads make them far slower (the PPO test: 73 s with 2 threads, 3 s with 1, under load)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def first_digit_reward(rows, responses):
    rewards = []
    for row, response in zip(rows, responses):
        digit = re.search(r"\d", response)
        rewards.append(-1.0 if digit is None else 1.0 if digit.group() == row["reference"] else 0.0)
    return rewards


@pytest.fixture
def digit_reward():
    """``reward(rows, responses)`` for the task above, as ``TrainContext.reward``."""
    return first_digit_reward


@pytest.fixture
def online_file(tmp_path: Path) -> Path:
    path = tmp_path / "online.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for i in range(16):
            handle.write(json.dumps({
                "prompt": [{"role": "user", "content": f"Say a number {i}"}], "prompt_id": f"p{i}",
                "reference": "7", "domain": "test", "metadata": {"index": i},
            }) + "\n")
    return path


ROOT = Path(__file__).resolve().parents[3]
VENV = ROOT / "build" / "venvs" / "openrlhf"


@pytest.fixture(scope="session")
def openrlhf_python() -> str:
    """The interpreter of a venv with ``openrlhf==0.11.2`` installed ``--no-deps`` (under the
    git-ignored ``build/venvs/openrlhf``, built once from PyPI when missing)."""
    python = VENV / "bin" / "python"
    probe = [str(python), "-c", "import importlib.metadata as m; print(m.version('openrlhf'))"]
    VENV.parent.mkdir(parents=True, exist_ok=True)
    # One builder at a time: test processes running side by side (pytest -n) share the venv.
    with open(VENV.parent / "openrlhf.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if python.exists() and subprocess.run(probe, capture_output=True, text=True).stdout.strip() == OPENRLHF_VERSION:
            return str(python)
        try:
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True, capture_output=True,
                           timeout=300)
            subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", f"openrlhf=={OPENRLHF_VERSION}"],
                           check=True, capture_output=True, timeout=600)
        except (OSError, subprocess.SubprocessError) as exc:
            pytest.skip(f"cannot build a venv with openrlhf=={OPENRLHF_VERSION} in {VENV} (PyPI unreachable?): {exc}")
    return str(python)


@pytest.fixture(scope="session")
def openrlhf_site(openrlhf_python: str) -> str:
    """The folder that venv installed the ``openrlhf`` package into."""
    done = subprocess.run([openrlhf_python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True)
    return done.stdout.strip()
