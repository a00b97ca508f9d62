"""The local trainers' estimators against OpenRLHF 0.11.2's own code, to 1e-5: the same scores,
KL and values go through RedStar's :func:`~redstar_rl.advantages.reinforce_advantages` /
:func:`~redstar_rl.advantages.ppo_advantages` with a trainer's options, and through
``RemoteExperienceMaker.compute_advantages_and_returns`` from the 0.11.2 wheel with the flags
RedStar writes for that trainer (``openrlhf_advantages.py``, parsed by OpenRLHF's own parser).
So a recipe trains the same algorithm with ``engine: local`` as with ``engine: openrlhf``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from redstar_rl.advantages import ppo_advantages, reinforce_advantages
from redstar_rl.openrlhf import openrlhf_args
from redstar_rl.ppo import PPOTrainer
from redstar_rl.reinforce_pp import ReinforcePPTrainer

HARNESS = Path(__file__).with_name("openrlhf_advantages.py")
PROMPTS, SAMPLES = 6, 4


def rollout(seed: int) -> dict[str, torch.Tensor]:
    """24 responses (6 prompts x 4, a prompt's consecutive) of 1 to 9 tokens, scores 1/0/-1, with
    prompts whose responses all agree among them (zero variance: a baseline leaves them nothing)."""
    g = torch.Generator().manual_seed(seed)
    n, width = PROMPTS * SAMPLES, 9
    scores = torch.randint(-1, 2, (n,), generator=g).float()
    scores[:SAMPLES] = 1.0  # an all-correct prompt
    scores[SAMPLES:2 * SAMPLES] = -1.0  # an all-invalid one
    lengths = torch.randint(1, width + 1, (n,), generator=g)
    mask = (torch.arange(width).unsqueeze(0) < lengths.unsqueeze(1)).float()
    kl = torch.randn(n, width, generator=g) * 0.05
    values = torch.randn(n, width, generator=g) * 0.5
    return {"scores": scores, "kl": kl, "values": values, "mask": mask}


def openrlhfs(tmp_path: Path, site: str, trainer, data: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    o = trainer.options
    flags = openrlhf_args(algorithm=trainer.name, options=o, extra=trainer.engine_options(), cluster=o.openrlhf,
                          model_path="Qwen/Qwen2.5-7B-Instruct", dataset="prompts.jsonl",
                          reward_module="reward_func.py", output_dir=tmp_path / "out", seed=0)
    source, target = tmp_path / "in.pt", tmp_path / "out.pt"
    torch.save(data, source)
    done = subprocess.run([sys.executable, str(HARNESS), site, str(source), str(target), *flags],
                          capture_output=True, text=True, timeout=300, cwd=HARNESS.parent)
    assert done.returncode == 0, done.stderr[-3000:]
    return torch.load(target)


def options(openrlhf_python: str, **more) -> dict:
    # 24 responses a rollout, 4-row micro-batches (OpenRLHF's experiences), the KL term on.
    # 6 micro-batches of experiences: OpenRLHF wants at least one per actor process (4 GPUs here).
    return dict(engine="openrlhf", openrlhf={"python": openrlhf_python, "gpus_per_node": 4, "vllm_engines": 4},
                batch_size=PROMPTS,
                samples_per_prompt=SAMPLES, mini_batch_size=12, micro_batch_size=4, kl_coef=0.05, **more)


def close_on_tokens(ours: torch.Tensor, theirs: torch.Tensor, mask: torch.Tensor) -> None:
    # OpenRLHF leaves whitened values on padding too; only real tokens are ever trained on.
    real = mask.bool()
    torch.testing.assert_close(ours[real], theirs[real].float(), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("estimator", ["reinforce", "reinforce_baseline"])
def test_reinforce_pp_advantages_equal_openrlhfs(tmp_path, openrlhf_python, openrlhf_site, estimator):
    trainer = ReinforcePPTrainer(**options(openrlhf_python, advantage_estimator=estimator))
    o = trainer.options
    data = rollout(1)
    ours = reinforce_advantages(data["scores"], data["kl"], data["mask"], kl_coef=o.kl_coef, gamma=o.gamma,
                                estimator=estimator, group_size=o.samples_per_prompt)
    theirs = openrlhfs(tmp_path, openrlhf_site, trainer, data)
    close_on_tokens(ours, theirs["advantages"], data["mask"])
    # The two estimators really differ on this rollout (the per-prompt mean matters).
    other = "reinforce" if estimator == "reinforce_baseline" else "reinforce_baseline"
    different = reinforce_advantages(data["scores"], data["kl"], data["mask"], kl_coef=o.kl_coef, gamma=o.gamma,
                                     estimator=other, group_size=o.samples_per_prompt)
    assert (different - ours)[data["mask"].bool()].abs().max() > 0.1


def test_reinforce_with_a_discount_equals_openrlhfs(tmp_path, openrlhf_python, openrlhf_site):
    trainer = ReinforcePPTrainer(**options(openrlhf_python, gamma=0.9))
    data = rollout(2)
    ours = reinforce_advantages(data["scores"], data["kl"], data["mask"], kl_coef=0.05, gamma=0.9)
    close_on_tokens(ours, openrlhfs(tmp_path, openrlhf_site, trainer, data)["advantages"], data["mask"])


@pytest.mark.parametrize("lam", [1.0, 0.95])
def test_ppo_advantages_and_returns_equal_openrlhfs(tmp_path, openrlhf_python, openrlhf_site, lam):
    trainer = PPOTrainer(**options(openrlhf_python, lam=lam))
    data = rollout(3)
    advantages, returns = ppo_advantages(data["scores"], data["kl"], data["values"], data["mask"], kl_coef=0.05,
                                         gamma=1.0, lam=lam)
    theirs = openrlhfs(tmp_path, openrlhf_site, trainer, data)
    close_on_tokens(advantages, theirs["advantages"], data["mask"])
    close_on_tokens(returns, theirs["returns"], data["mask"])


def test_the_defaults_are_openrlhfs():
    """λ 1 and γ 1 (OpenRLHF's defaults; Table 9 sets neither); 128 responses per optimizer step,
    so the paper's rollout of 1024 prompts x 2 takes 16 steps; REINFORCE++'s estimator is
    ``reinforce``."""
    from redstar_rl.online_options import steps_per_rollout

    ppo = PPOTrainer()
    assert (ppo.lam, ppo.options.gamma) == (1.0, 1.0)
    rpp = ReinforcePPTrainer()
    assert rpp.advantage_estimator == "reinforce" and rpp.options.mini_batch_size == 128
    assert steps_per_rollout(rpp.options, 1024) == 16
    # A rollout smaller than a train batch takes one step; one that does not divide, a short last.
    assert steps_per_rollout(rpp.options, 32) == 1
    assert steps_per_rollout(ReinforcePPTrainer(batch_size=100, mini_batch_size=64).options, 100) == 4
