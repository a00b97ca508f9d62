"""REINFORCE++ end to end on the tiny model: the mean rule reward climbs from about -0.8 to
near 1, and metrics, the saved model and the options behave."""

from __future__ import annotations

import json
from statistics import mean

import pytest

from redstar.errors import RedStarError
from redstar.interfaces import TrainContext
from redstar.training_health import training_health
from redstar_rl.reinforce_pp import ReinforcePPTrainer

#: CPU-sized overrides of the paper's defaults: 8 prompts x 4 = 32 responses per rollout, two
#: optimizer steps per rollout, 8 new tokens, a learning rate a tiny random model can move with.
CPU_OPTIONS = dict(episodes=10, learning_rate=1e-2, batch_size=8, samples_per_prompt=4, mini_batch_size=16,
                   micro_batch_size=16, max_new_tokens=8, kl_coef=0.01, device="cpu", seed=0)


def test_reinforce_pp_raises_the_reward(tmp_path, tiny_lm, online_file, digit_reward):
    steps = []
    ctx = TrainContext(model=str(tiny_lm), output_dir=tmp_path / "out", data_file=online_file, reward=digit_reward,
                       metrics_file=tmp_path / "out" / "metrics.jsonl",
                       on_step=lambda step, total, metrics: steps.append((step, total, dict(metrics))))
    result = ReinforcePPTrainer(**CPU_OPTIONS).train(ctx)

    # 16 prompts / 8 per rollout = 2 rollouts per episode, 2 steps each, 10 episodes.
    assert [(s, t) for s, t, _ in steps] == [(i, 40) for i in range(1, 41)]
    rewards = [m["reward"] for _, _, m in steps]
    assert mean(rewards[:6]) < -0.4
    assert mean(rewards[-6:]) > mean(rewards[:6]) + 0.8, rewards
    # The first rollout samples from the reference itself; then the policy moves away from it.
    assert steps[0][2]["kl"] == 0.0 and steps[-1][2]["kl"] > 0.1
    assert {"policy_loss", "clipfrac", "grad_norm", "response_length", "learning_rate"} <= set(steps[-1][2])
    lines = [json.loads(line) for line in ctx.metrics_file.read_text().splitlines()]
    assert [line["step"] for line in lines] == list(range(1, 41))
    # Table 9's linear decay, seen in the run's own metrics: step k of 40 trains at 1e-2 * (41 - k) / 40.
    assert [line["learning_rate"] for line in lines] == pytest.approx([1e-2 * (41 - k) / 40 for k in range(1, 41)])
    assert result.metrics["reward_last_rollout"] > result.metrics["reward_first_rollout"]
    # Its training health: the policy moved, the reward did not stay flat.
    health = training_health(ctx.metrics_file, "reinforce_pp", "reinforce_pp", "online")
    assert health["trained"] is True and health["reward_flat"] is False and health["kl_max"] > 0.1
    assert {"reward_std", "entropy", "frac_reward_zero_std", "policy_kl", "responses"} <= set(lines[-1])

    from transformers import AutoModelForCausalLM, AutoTokenizer

    assert result.model_path == tmp_path / "out" / "final"
    AutoModelForCausalLM.from_pretrained(result.model_path)
    assert AutoTokenizer.from_pretrained(result.model_path).chat_template


def test_online_options_are_checked(tmp_path, tiny_lm, online_file):
    with pytest.raises(RedStarError, match="samples_per_prompt"):
        ReinforcePPTrainer(samples_per_prompt=0)
    with pytest.raises(RedStarError, match=r"openrlhf: mini_batch_size \(12 responses\) must divide the 32 responses"):
        ReinforcePPTrainer(batch_size=8, samples_per_prompt=4, mini_batch_size=12, engine="openrlhf")
    with pytest.raises(RedStarError, match="lr_scheduler"):
        ReinforcePPTrainer(lr_scheduler="cosine")
    # batch_size counts prompts (OpenRLHF's --rollout.batch_size), mini_batch_size responses
    # (--train.batch_size, 128 by default as there: 16 optimizer steps per default rollout).
    assert ReinforcePPTrainer().options.mini_batch_size == 128
    with pytest.raises(RedStarError, match="kl_estimator"):
        ReinforcePPTrainer(kl_estimator="k9")
    with pytest.raises(RedStarError, match="learning_rate must be a number of at least 0"):
        ReinforcePPTrainer(learning_rate=-1e-6)
    ReinforcePPTrainer(learning_rate=0.0)  # a control run: trains nothing, and says so
    with pytest.raises(RedStarError, match="advantage_estimator must be one of reinforce, reinforce_baseline"):
        ReinforcePPTrainer(advantage_estimator="rloo")
    with pytest.raises(RedStarError, match="reinforce_baseline needs gamma 1"):
        ReinforcePPTrainer(advantage_estimator="reinforce_baseline", gamma=0.9)
    with pytest.raises(RedStarError, match="dynamic_filtering .* needs samples_per_prompt >= 2"):
        ReinforcePPTrainer(dynamic_filtering=True, samples_per_prompt=1)
    with pytest.raises(RedStarError, match="dynamic_filtering_range must be"):
        ReinforcePPTrainer(dynamic_filtering_range=[1, 0])
    with pytest.raises(ValueError, match="device must be one of"):  # a recipe check names the key
        ReinforcePPTrainer(device="gpu")
    with pytest.raises(RedStarError, match="reward"):
        ReinforcePPTrainer(**CPU_OPTIONS).train(
            TrainContext(model=str(tiny_lm), output_dir=tmp_path, data_file=online_file))


def test_a_reward_function_returning_the_wrong_count_is_named(tmp_path, tiny_lm, online_file):
    with pytest.raises(RedStarError, match="returned 1 rewards for 32 responses"):
        ReinforcePPTrainer(**{**CPU_OPTIONS, "episodes": 1}).train(TrainContext(
            model=str(tiny_lm), output_dir=tmp_path, data_file=online_file, reward=lambda rows, texts: [1.0]))


def test_a_run_at_learning_rate_0_is_flagged_did_not_train(tmp_path, tiny_lm, online_file, digit_reward):
    """The control: every step runs (sampling, losses, optimizer), nothing moves, and the health
    check says so; the run above, at 1e-2, is not flagged."""
    ctx = TrainContext(model=str(tiny_lm), output_dir=tmp_path / "out", data_file=online_file, reward=digit_reward,
                       metrics_file=tmp_path / "out" / "metrics.jsonl")
    ReinforcePPTrainer(**{**CPU_OPTIONS, "episodes": 2, "learning_rate": 0.0}).train(ctx)
    health = training_health(ctx.metrics_file, "reinforce_pp", "reinforce_pp", "online")
    assert health["kl_max"] < 1e-6 and health["trained"] is False  # float noise of differently padded batches
    assert health["reasons"][0].startswith("policy did not move")
