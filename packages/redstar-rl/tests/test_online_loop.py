"""The online loop's wiring, pinned: the estimators the trainers actually apply to a rollout, and
how processes split the prompts. (The estimators themselves are tested on hand-computed values in
``test_advantages.py``; the end-to-end tests only see the reward climb, which a loop that dropped
REINFORCE++'s whitening or PPO's critic would still manage.)"""

from __future__ import annotations

import pytest
import torch
from accelerate import Accelerator

from redstar.interfaces import TrainContext
from redstar_rl.advantages import (
    discounted_returns,
    gae,
    kl_estimate,
    masked_whiten,
    reinforce_advantages,
    token_rewards,
)
from redstar_rl.ppo import PPOTrainer
from redstar_rl.reinforce_pp import ReinforcePPTrainer
from redstar_rl.rollout import collate

SMALL = dict(learning_rate=1e-2, batch_size=4, samples_per_prompt=4, micro_batch_size=16, max_new_tokens=8,
             kl_coef=0.05, device="cpu", seed=0)


class Stop(Exception):
    """Ends a run once the rollout under test has been captured."""


def capture_rollout(trainer_class, wanted: int, on_capture, **options):
    """A trainer subclass that hands rollout number ``wanted`` (0-based) to ``on_capture(self,
    samples)`` right after it is built, before any update uses it, then stops the run."""

    class Capturing(trainer_class):
        seen = 0

        def _rollout(self, ctx, rows):
            samples, stats = super()._rollout(ctx, rows)
            if self.seen == wanted:
                on_capture(self, samples)
                raise Stop
            self.seen += 1
            return samples, stats

    return Capturing(**options)


def shaped_rewards(trainer, samples):
    batch = collate(samples, trainer.tokenizer.pad_token_id, names=("old_logprobs", "ref_logprobs"))
    kl = kl_estimate(batch.tokens["old_logprobs"], batch.tokens["ref_logprobs"], trainer.options.kl_estimator)
    return token_rewards(torch.tensor([s.score for s in samples]), kl, batch.response_mask,
                         trainer.options.kl_coef), batch.response_mask, kl


def run_until_stop(trainer, tmp_path, tiny_lm, online_file, digit_reward):
    with pytest.raises(Stop):
        trainer.train(TrainContext(model=str(tiny_lm), output_dir=tmp_path / "out", data_file=online_file,
                                   reward=digit_reward))


def test_reinforce_pp_advantages_are_whitened_returns_to_go(tmp_path, tiny_lm, online_file, digit_reward):
    got = {}

    def check(trainer, samples):
        rewards, mask, kl = shaped_rewards(trainer, samples)
        advantages = collate(samples, 0, names=("advantages",)).tokens["advantages"]
        returns = discounted_returns(rewards, mask, trainer.options.gamma)
        got.update(kl=kl, mask=mask, advantages=advantages, returns=returns)

    # The second rollout: the policy has moved, so the KL term is in the rewards too.
    trainer = capture_rollout(ReinforcePPTrainer, 1, check, episodes=1, **SMALL)
    run_until_stop(trainer, tmp_path, tiny_lm, online_file, digit_reward)
    mask, advantages, returns = got["mask"], got["advantages"], got["returns"]
    assert float((got["kl"] * mask).abs().sum()) > 0
    # Whitened over the whole rollout: mean 0, standard deviation 1 over the response tokens...
    real = advantages[mask.bool()]
    assert abs(float(real.mean())) < 1e-5 and float(real.std(unbiased=False)) == pytest.approx(1.0, abs=1e-4)
    # ...and exactly the whitened discounted returns of the KL-shaped rewards.
    torch.testing.assert_close(advantages, masked_whiten(returns, mask) * mask, atol=1e-5, rtol=1e-5)


def test_reinforce_baseline_subtracts_each_prompts_mean_score(tmp_path, tiny_lm, online_file, digit_reward):
    """``advantage_estimator: reinforce_baseline``: the loop hands the rollout's scores, grouped by
    prompt (4 consecutive responses), to the estimator that equals OpenRLHF's
    (test_openrlhf_estimators.py)."""
    got = {}

    def check(trainer, samples):
        _, mask, kl = shaped_rewards(trainer, samples)
        scores = torch.tensor([s.score for s in samples])
        assert [s.row["prompt_id"] for s in samples[:4]] == [samples[0].row["prompt_id"]] * 4
        got.update(advantages=collate(samples, 0, names=("advantages",)).tokens["advantages"], mask=mask,
                   expected=reinforce_advantages(scores, kl, mask, kl_coef=trainer.options.kl_coef, gamma=1.0,
                                                 estimator="reinforce_baseline", group_size=4),
                   global_only=reinforce_advantages(scores, kl, mask, kl_coef=trainer.options.kl_coef, gamma=1.0))

    trainer = capture_rollout(ReinforcePPTrainer, 1, check, episodes=1, advantage_estimator="reinforce_baseline",
                              **SMALL)
    run_until_stop(trainer, tmp_path, tiny_lm, online_file, digit_reward)
    torch.testing.assert_close(got["advantages"], got["expected"] * got["mask"], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(got["advantages"], got["global_only"] * got["mask"], atol=1e-3)


def by_prompt(rows, responses):
    """Prompt p0, p3, ...: every response right; p1, p4, ...: every one wrong; the others: the
    first of its 4 responses right, the rest without an answer."""
    out = []
    for k, row in enumerate(rows):
        kind = int(row["prompt_id"][1:]) % 3
        out.append(1.0 if kind == 0 else 0.0 if kind == 1 else 1.0 if k % 4 == 0 else -1.0)
    return out


@pytest.mark.parametrize("band", [(0.0, 1.0), (-0.5, 0.5)])
def test_dynamic_filtering_keeps_only_prompts_whose_pass_rate_is_in_the_band(tmp_path, tiny_lm, online_file, band):
    seen = {}
    trainer = capture_rollout(ReinforcePPTrainer, 0, lambda t, samples: seen.update(samples=samples), episodes=1,
                              dynamic_filtering=True, dynamic_filtering_range=band, **{**SMALL, "batch_size": 16})
    run_until_stop(trainer, tmp_path, tiny_lm, online_file, by_prompt)
    kept = {s.row["prompt_id"] for s in seen["samples"]}
    # Pass rates: 1 (p0, p3...), 0 (p1, p4...), 1/4 (p2, p5...).
    assert len(seen["samples"]) == 4 * len(kept)
    expected = {2} if band == (0.0, 1.0) else {1, 2}  # a pass rate of 0 is inside (-0.5, 0.5)
    assert kept == {f"p{i}" for i in range(16) if i % 3 in expected}


def test_a_rollout_filtered_to_nothing_skips_its_updates_and_keeps_the_schedule(tmp_path, tiny_lm, online_file):
    steps = []
    ReinforcePPTrainer(episodes=1, dynamic_filtering=True, **{**SMALL, "learning_rate": 1e-2}).train(TrainContext(
        model=str(tiny_lm), output_dir=tmp_path / "out", data_file=online_file,
        reward=lambda rows, responses: [1.0] * len(rows),  # every prompt all-right: nothing left to train on
        on_step=lambda step, total, metrics: steps.append(dict(metrics))))
    assert len(steps) == 4 and all(m["skipped_update"] == 1.0 and m["dynamic_filtering_kept"] == 0.0 for m in steps)
    assert [m["learning_rate"] for m in steps] == pytest.approx([1e-2 * (4 - k) / 4 for k in range(4)])


def test_ppo_advantages_come_from_the_critic(tmp_path, tiny_lm, online_file, digit_reward):
    got = {}

    def check(trainer, samples):
        rewards, mask, _ = shaped_rewards(trainer, samples)
        batch = collate(samples, trainer.tokenizer.pad_token_id, names=("values", "advantages", "returns"))
        with torch.no_grad():
            critic_now = trainer.critic.response_values(batch) * mask
        got.update(rewards=rewards, mask=mask, batch=batch, critic_now=critic_now)

    # Rollout 3 comes after two warm-up rollouts, when the critic has trained and its values are
    # no longer the zero-initialised head's zeros.
    trainer = capture_rollout(PPOTrainer, 2, check, episodes=1, critic_learning_rate=1e-2, critic_warmup_steps=2,
                              **SMALL)
    run_until_stop(trainer, tmp_path, tiny_lm, online_file, digit_reward)
    rewards, mask, batch = got["rewards"], got["mask"], got["batch"]
    values = batch.tokens["values"]
    assert float(values.abs().sum()) > 0
    # The values stored with the rollout are the critic's...
    torch.testing.assert_close(values, got["critic_now"], atol=1e-5, rtol=1e-5)
    # ...and the advantages are whitened GAE over them, the returns GAE's returns.
    advantages, returns = gae(rewards, values, mask, 1.0, 1.0)  # lambda 1: OpenRLHF's default
    torch.testing.assert_close(batch.tokens["advantages"], masked_whiten(advantages, mask) * mask, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(batch.tokens["returns"], returns * mask, atol=1e-5, rtol=1e-5)
    without_critic, _ = gae(rewards, torch.zeros_like(values), mask, 1.0, 1.0)
    assert not torch.allclose(batch.tokens["advantages"], masked_whiten(without_critic, mask) * mask, atol=1e-3)


class OneOfTwoProcesses:
    """Stands in for ``accelerate.Accelerator`` as process ``index`` of two: sums over processes
    are the local values (each process's training is then its own, which does not matter here:
    only the prompts each process is handed are compared)."""

    def __init__(self, index):
        self.index = index

    def __call__(self, *args, **kwargs):
        index = self.index

        class Fake(Accelerator):
            process_index = property(lambda self: index)
            num_processes = property(lambda self: 2)
            is_main_process = property(lambda self: index == 0)

            def reduce(self, tensor, reduction="sum"):
                return tensor

            def wait_for_everyone(self):
                pass

        return Fake(*args, **kwargs)


def test_processes_split_every_rollout_in_every_episode(tmp_path, tiny_lm, online_file, digit_reward, monkeypatch):
    """3 prompts per rollout over 2 processes: one process holds twice the other's samples. With one
    generator for both the prompt order and the mini-batch shuffles, the processes' prompt orders
    drift apart from the second episode on, and prompts are trained twice or not at all."""
    import accelerate
    import torch.distributed

    monkeypatch.setattr(torch.distributed, "all_reduce", lambda tensor: tensor)
    seen = {0: [], 1: []}
    for index in (0, 1):
        monkeypatch.setattr(accelerate, "Accelerator", OneOfTwoProcesses(index))

        def reward(rows, responses, index=index):
            seen[index].append([row["prompt_id"] for row in rows[::2]])  # 2 responses per prompt
            return digit_reward(rows, responses)

        ReinforcePPTrainer(episodes=3, learning_rate=1e-3, batch_size=3, samples_per_prompt=2,
                           max_new_tokens=2, device="cpu", seed=0).train(TrainContext(
            model=str(tiny_lm), output_dir=tmp_path / str(index), data_file=online_file, reward=reward))

    per_episode = 6  # 16 prompts in rollouts of 3: five full ones and one of a single prompt
    assert len(seen[0]) == len(seen[1]) == 3 * per_episode
    for episode in range(3):
        rollouts = range(episode * per_episode, (episode + 1) * per_episode)
        covered = [p for r in rollouts for p in seen[0][r] + seen[1][r]]
        assert all(not set(seen[0][r]) & set(seen[1][r]) for r in rollouts), episode
        # Every prompt once; the short last rollout borrows one prompt from the episode's start.
        assert set(covered) == {f"p{i}" for i in range(16)} and len(covered) == 17, (episode, sorted(covered))
