"""GRPO through TRL end to end on the tiny model: the rule reward, fed through TRL's reward
function with each row's columns, climbs from about -0.8."""

from __future__ import annotations

from statistics import mean

import pytest

from redstar.errors import RedStarError
from redstar.interfaces import TrainContext
from redstar_rl.grpo import GRPOTrainer, rule_reward_function


def test_grpo_raises_the_reward(tmp_path, tiny_lm, online_file, digit_reward):
    seen_rows = []

    def reward(rows, responses):
        seen_rows.extend(rows)
        return digit_reward(rows, responses)

    steps = []
    ctx = TrainContext(model=str(tiny_lm), output_dir=tmp_path / "out", data_file=online_file, reward=reward,
                       on_step=lambda step, total, metrics: steps.append(dict(metrics)))
    result = GRPOTrainer(max_steps=30, learning_rate=1e-2, batch_size=16, num_generations=4, max_new_tokens=8,
                         beta=0.01, device="cpu", seed=0).train(ctx)

    assert len(steps) == 30
    rewards = [m["reward"] for m in steps]
    assert mean(rewards[:5]) < -0.4
    assert mean(rewards[-5:]) > mean(rewards[:5]) + 0.6, rewards
    assert steps[0]["kl"] == 0.0 and steps[-1]["kl"] > 0.0
    # The reward saw whole online rows, metadata decoded from the dataset's JSON column.
    assert {"prompt", "prompt_id", "reference", "domain", "metadata"} == set(seen_rows[0])
    assert seen_rows[0]["metadata"] == {"index": int(seen_rows[0]["prompt_id"][1:])}
    assert result.model_path.joinpath("config.json").is_file()


def test_rule_reward_function_rebuilds_rows_for_trl():
    calls = []

    def reward(rows, responses):
        calls.append((rows, responses))
        return [1, -1]

    fn = rule_reward_function(reward)
    prompt = [{"role": "user", "content": "q"}]
    out = fn(prompts=[prompt, prompt], completions=[[{"role": "assistant", "content": "a 7"}], "plain"],
             prompt_id=["p", "p"], reference=["7", "7"], domain=["math", "math"],
             metadata_json=['{"level": 3}', "{}"], trainer_state=None)
    assert out == [1.0, -1.0]
    rows, responses = calls[0]
    assert responses == ["a 7", "plain"]
    assert rows[0] == {"prompt": prompt, "prompt_id": "p", "reference": "7", "domain": "math", "metadata": {"level": 3}}


def test_grpo_needs_two_generations_and_a_reward(tmp_path, tiny_lm, online_file):
    with pytest.raises(RedStarError, match="num_generations"):
        GRPOTrainer(num_generations=1)
    for options, words in [({"max_new_tokens": 0}, "max_new_tokens"), ({"temperature": 0.0}, "temperature"),
                           ({"learning_rate": 0}, "learning_rate"), ({"batch_size": 0}, "batch_size")]:
        with pytest.raises(RedStarError, match=words):
            GRPOTrainer(**options)
    with pytest.raises(RedStarError, match="reward"):
        GRPOTrainer(device="cpu").build_trainer(
            TrainContext(model=str(tiny_lm), output_dir=tmp_path, data_file=online_file))


def test_grpo_rewards_the_text_with_its_reasoning_tags(tmp_path, tiny_lm, online_file):
    """TRL decodes completions with ``skip_special_tokens=True``, which erases ``<think>`` where it
    is a special token (RedStar's tokenizer); the reward must judge the text RedStar's samplers
    and evaluators judge, decoded from the completion's token ids."""
    from transformers import AutoTokenizer

    seen = []
    trainer = GRPOTrainer(max_steps=1, batch_size=4, num_generations=4, max_new_tokens=4, device="cpu").build_trainer(
        TrainContext(model=str(tiny_lm), output_dir=tmp_path, data_file=online_file,
                     reward=lambda rows, texts: seen.extend(texts) or [0.0] * len(texts)))
    tokenizer = AutoTokenizer.from_pretrained(tiny_lm)
    ids = [tokenizer.convert_tokens_to_ids("<think>"), *tokenizer("12 + 7", add_special_tokens=False)["input_ids"],
           tokenizer.convert_tokens_to_ids("</think>"), tokenizer.eos_token_id]
    prompt = [{"role": "user", "content": "q"}]
    trl_text = tokenizer.decode(ids, skip_special_tokens=True)
    assert "<think>" not in trl_text  # what TRL hands the reward function as `completions`
    trainer.reward_funcs[0](prompts=[prompt], completions=[[{"role": "assistant", "content": trl_text}]],
                            completion_ids=[ids], prompt_id=["p"], reference=["7"], domain=["math"],
                            metadata_json=["{}"], trainer_state=None)
    assert seen[0].startswith("<think>") and "</think>" in seen[0] and "<|endoftext|>" not in seen[0]


def test_grpo_passes_vllm_generation_to_trl(tmp_path, tiny_lm, online_file, monkeypatch):
    import trl

    import redstar_rl.grpo as grpo

    ctx = TrainContext(model=str(tiny_lm), output_dir=tmp_path, data_file=online_file, reward=lambda r, t: [0.0])
    with pytest.raises(RedStarError, match="use_vllm needs vLLM"):
        GRPOTrainer(use_vllm=True, device="cpu").build_trainer(ctx)
    with pytest.raises(RedStarError, match="vllm_mode"):
        GRPOTrainer(use_vllm=True, vllm_mode="remote")

    built = {}
    monkeypatch.setattr(grpo, "_require_vllm", lambda: None)
    monkeypatch.setattr(trl, "GRPOTrainer", lambda **kwargs: built.update(kwargs))
    GRPOTrainer(use_vllm=True, vllm_mode="server", vllm_server_base_url="http://gen:8000", device="cpu",
                num_generations=4, batch_size=4).build_trainer(ctx)
    args = built["args"]
    assert (args.use_vllm, args.vllm_mode, args.vllm_server_base_url) == (True, "server", "http://gen:8000")
    GRPOTrainer(use_vllm=True, vllm_gpu_memory_utilization=0.5, vllm_tensor_parallel_size=2, device="cpu",
                num_generations=4, batch_size=4).build_trainer(ctx)
    args = built["args"]
    assert (args.vllm_mode, args.vllm_gpu_memory_utilization, args.vllm_tensor_parallel_size) == ("colocate", 0.5, 2)


def test_grpo_dynamic_filtering_drops_the_completions_without_advantage(tmp_path, tiny_lm, online_file):
    """Prompts whose completions all score alike leave the loss (their completion mask is zeroed
    and the dapo loss's token count taken again); the kept share is logged."""
    import torch

    from redstar_rl.grpo import filtering_grpo_trainer

    def reward(rows, responses):  # p0, p2...: all four right; p1, p3...: one right of four
        return [1.0 if int(row["prompt_id"][1:]) % 2 == 0 or k % 4 == 0 else 0.0 for k, row in enumerate(rows)]

    steps = []
    ctx = TrainContext(model=str(tiny_lm), output_dir=tmp_path / "out", data_file=online_file, reward=reward,
                       on_step=lambda step, total, metrics: steps.append(dict(metrics)))
    trainer = GRPOTrainer(max_steps=2, learning_rate=1e-3, batch_size=16, num_generations=4, max_new_tokens=4,
                          device="cpu", seed=0, dynamic_filtering=True).build_trainer(ctx)
    seen = []
    original = trainer._generate_and_score_completions

    def spy(inputs):
        output = original(inputs)
        seen.append(output)
        return output

    trainer._generate_and_score_completions = spy
    trainer.train()
    assert type(trainer).__name__ == filtering_grpo_trainer(type(trainer)).__name__
    for output in seen:
        zero = output["advantages"] == 0
        assert zero.any() and (~zero).any()
        assert output["completion_mask"][zero].sum() == 0 and output["completion_mask"][~zero].sum() > 0
        assert output["num_items_in_batch"] == output["completion_mask"].sum()
    # The all-right prompts carry no signal; in the others no completion scores the group's mean
    # (one right, three wrong), so what is kept is exactly the share of prompts with mixed scores.
    assert all(m["dynamic_filtering_kept"] == 1 - m["frac_reward_zero_std"] for m in steps)
    assert {m["dynamic_filtering_kept"] for m in steps} - {0.0, 1.0}
    assert torch.isfinite(torch.tensor([m["loss"] for m in steps])).all()


def test_common_trl_arguments_and_extra_args_reach_grpos_config(tmp_path, tiny_lm, online_file):
    """``max_grad_norm`` and ``optim`` as options, any other ``trl.GRPOConfig`` field through
    ``extra_args``, which may not set a field an option sets."""
    from redstar.testing import undeclared_config_fields

    ctx = TrainContext(model=str(tiny_lm), output_dir=tmp_path / "out", data_file=online_file,
                       reward=lambda rows, responses: [0.0] * len(responses))
    options = {"device": "cpu", "batch_size": 4, "num_generations": 4}
    args = GRPOTrainer(**options, max_grad_norm=0.5, optim="adamw_torch",
                       extra_args={"adam_beta2": 0.95, "mask_truncated_completions": True}).build_trainer(ctx).args
    assert (args.max_grad_norm, args.optim, args.adam_beta2, args.mask_truncated_completions) == (
        0.5, "adamw_torch", 0.95, True)
    assert undeclared_config_fields(GRPOTrainer(**options), ctx) == []
    for extra, words in [({"max_completion_length": 9}, "set it with the max_new_tokens option"),
                         ({"vllm_mode": "server"}, "set it with the vllm_mode option"),
                         ({"num_generatons": 2}, r"GRPOConfig \(trl [0-9.]+\) has no field 'num_generatons'; "
                                                 r"did you mean 'num_generations'")]:
        with pytest.raises(RedStarError, match=words):
            GRPOTrainer(extra_args=extra)
