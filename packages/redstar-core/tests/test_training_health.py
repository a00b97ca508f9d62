"""Training health: an RL stage whose policy did not move, or whose reward stayed flat, is marked
"did not train" in the summary and the report (its comparisons too), instead of "within noise"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from redstar import hookimpl
from redstar.interfaces import Trainer, TrainResult
from redstar.pipeline.runner import run_pipeline
from redstar.progress import ProgressBoard
from redstar.recipe import validate
from redstar.training_health import MIN_POLICY_KL, training_health


def write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps({"step": i + 1, **row}) + "\n" for i, row in enumerate(rows)))
    return path


def rollouts(rewards: list[float], kl: float, std: float = 0.8, responses: int = 64) -> list[dict]:
    """The local loop's lines: two steps per rollout, the rollout's figures on both."""
    return [{"rollout": r, "reward": m, "reward_std": std, "responses": responses, "kl": kl * r, "policy_kl": kl * r,
             "entropy": 2.0, "frac_reward_zero_std": 0.25, "clipfrac": 0.01}
            for r, m in enumerate(rewards) for _ in range(2)]


def test_a_policy_that_never_moved_did_not_train(tmp_path):
    health = training_health(write(tmp_path / "m.jsonl", rollouts([-0.8, -0.7, -0.9, -0.8], kl=0.0)),
                             "reinforce_pp", "reinforce_pp", "online")
    assert health["trained"] is False and health["kl_max"] == 0.0
    assert health["reasons"][0].startswith("policy did not move")
    assert health["verdict"].startswith("reinforce_pp (reinforce_pp) did not train: policy did not move")


def test_a_policy_that_moved_and_learned_trained(tmp_path):
    health = training_health(write(tmp_path / "m.jsonl", rollouts([-0.8, -0.5, 0.2, 0.6], kl=0.05)),
                             "ppo", "ppo", "online")
    assert health["trained"] is True and health["reasons"] == []
    assert health["reward_change"] == pytest.approx(1.4) and health["reward_flat"] is False
    assert health["rollouts"] == 4 and health["zero_variance_prompts"] == 0.25 and health["entropy_last"] == 2.0


def test_a_flat_reward_did_not_train_even_when_the_policy_moved(tmp_path):
    # +0.02 against a standard error of sqrt(2 * 0.64 / 64) = 0.14.
    health = training_health(write(tmp_path / "m.jsonl", rollouts([0.30, 0.31, 0.29, 0.32], kl=0.01)),
                             "grpo", "grpo", "online")
    assert health["kl_max"] >= MIN_POLICY_KL and health["reward_flat"] is True
    assert health["trained"] is False and health["reasons"][0].startswith("reward flat: +0.020")


def test_openrlhf_and_grpo_lines_and_what_cannot_be_told(tmp_path):
    lines = [{"kl": 0.02, "rollout/reward_mean": m, "rollout/reward_std": 0.5, "rollout/num_samples": 2048}
             for m in (0.1, 0.2, 0.5, 0.7)]
    assert training_health(write(tmp_path / "o.jsonl", lines), "ppo", "ppo", "online")["trained"] is True
    # GRPO with beta 0 logs no KL, and one batch cannot show a trend.
    one = training_health(write(tmp_path / "g.jsonl", [{"reward": 0.1, "reward_std": 0.5}]), "grpo", "grpo", "online")
    assert one["trained"] is None and one["kl_max"] is None and one["reward_flat"] is None


def test_dpo_drift_from_its_implicit_rewards(tmp_path):
    still = [{"rewards/chosen": 0.0, "rewards/rejected": 0.0, "rewards/margins": 0.0, "rewards/accuracies": 0.0}] * 3
    assert training_health(write(tmp_path / "a.jsonl", still), "dpo", "dpo", "preference", {"beta": 0.3})[
        "trained"] is False
    moved = [{"rewards/chosen": 0.2 * i, "rewards/rejected": -0.3 * i, "rewards/margins": 0.5 * i,
              "rewards/accuracies": 0.5 + 0.1 * i} for i in range(3)]
    health = training_health(write(tmp_path / "b.jsonl", moved), "dpo", "dpo", "preference", {"beta": 0.3})
    assert health["trained"] is True and health["drift"] == pytest.approx(2.0)


class Still(Trainer):
    """An online trainer whose policy does not move: KL 0 at every step, the model unchanged."""

    name = "still"
    kind = "online"

    def __init__(self, temperature: float = 1.0) -> None:
        self.temperature = temperature

    def train(self, ctx):
        write(Path(ctx.metrics_file), rollouts([0.1, 0.1, 0.1, 0.1], kl=0.0))
        return TrainResult(model_path=Path(ctx.model))


class Plugin:
    @hookimpl
    def redstar_register_trainers(self, register):
        register(Still)


def test_the_summary_and_the_report_say_did_not_train(tmp_path, arith_host, register_plugin, tiny_lm):
    register_plugin(Plugin(), name="still")
    recipe = validate({
        "name": "health", "models": {"teacher": "scripted", "student": str(tiny_lm)},
        "sources": [{"name": "arith-gen", "options": {"count": 8}}], "selection": {"min_level": 1, "max_level": 10},
        "sampling": {"backend": "scripted", "n": 2}, "sft": None, "rl": [{"trainer": "still"}],
        "evaluation": {"evaluators": [{"name": "arith-heldout", "options": {"count": 6}}], "backend": "scripted"}})
    out = tmp_path / "run"
    summary = run_pipeline(recipe, out, arith_host, ProgressBoard(enabled=False))
    health = summary["training_health"]["still"]
    assert health["trained"] is False
    assert any(w.startswith("still (still) did not train: policy did not move") for w in summary["warnings"])
    compared = summary["comparisons"]["still"]["arith-heldout"]
    assert compared["within_noise"] and compared["did_not_train"].startswith("policy did not move")
    report = (out / "report.md").read_text()
    assert "## Training health" in report and "**did not train**" in report
    row = next(line for line in report.splitlines() if "base -> still" in line)
    assert "did not train (policy did not move" in row and "within noise" not in row
