"""PPO end to end on the tiny model: during the critic warm-up only the critic moves, then the
mean rule reward climbs from about -0.8 to near 1."""

from __future__ import annotations

from statistics import mean

import pytest

from redstar.interfaces import TrainContext
from redstar_rl.ppo import PPOTrainer

CPU_OPTIONS = dict(episodes=10, learning_rate=1e-2, critic_learning_rate=1e-2, critic_warmup_steps=2, batch_size=8,
                   samples_per_prompt=4, mini_batch_size=16, micro_batch_size=16, max_new_tokens=8, kl_coef=0.01,
                   device="cpu", seed=0)


def test_ppo_warms_up_the_critic_then_raises_the_reward(tmp_path, tiny_lm, online_file, digit_reward):
    steps = []
    ctx = TrainContext(model=str(tiny_lm), output_dir=tmp_path / "out", data_file=online_file, reward=digit_reward,
                       on_step=lambda step, total, metrics: steps.append((step, total, dict(metrics))))
    result = PPOTrainer(**CPU_OPTIONS).train(ctx)

    assert [(s, t) for s, t, _ in steps] == [(i, 40) for i in range(1, 41)]
    metrics = [m for _, _, m in steps]
    # Two warm-up rollouts of two steps each: critic steps only, and the policy has not moved,
    # so the second rollout still samples from the reference (KL exactly 0).
    assert all("policy_loss" not in m and "value_loss" in m for m in metrics[:4])
    assert all("policy_loss" in m and "value_loss" in m for m in metrics[4:])
    assert metrics[2]["kl"] == 0.0 and metrics[-1]["kl"] > 0.1
    # The critic learns: its loss on the second warm-up rollout is below the first's.
    assert mean(m["value_loss"] for m in metrics[2:4]) < mean(m["value_loss"] for m in metrics[:2])

    rewards = [m["reward"] for m in metrics]
    assert mean(rewards[:6]) < -0.4
    assert mean(rewards[-6:]) > mean(rewards[:6]) + 0.8, rewards
    assert result.model_path.joinpath("config.json").is_file()
    # Linear decay per optimizer: the critic over all 40 steps, the actor over its 36.
    assert [m["critic_learning_rate"] for m in metrics] == pytest.approx([1e-2 * (41 - k) / 40 for k in range(1, 41)])
    assert [m["learning_rate"] for m in metrics[4:]] == pytest.approx([1e-2 * (37 - k) / 36 for k in range(1, 37)])
