"""redstar-rl registers its trainers through the public hook, with the kinds the pipeline needs
and the paper's defaults as documented."""

from __future__ import annotations

from dataclasses import fields

import redstar_rl.plugin
from redstar.interfaces import options_of
from redstar_rl.online import OnlineOptions


def test_the_plugin_registers_four_trainers(redstar_host, register_plugin):
    register_plugin(redstar_rl.plugin, name="rl")
    kinds = {name: redstar_host.get("trainers", name).kind for name in ("dpo", "ppo", "reinforce_pp", "grpo")}
    assert kinds == {"dpo": "preference", "ppo": "online", "reinforce_pp": "online", "grpo": "online"}
    assert redstar_host.get("trainers", "sft").kind == "sft"  # core's stays


def test_the_entry_point_is_declared():
    from importlib import metadata

    points = {ep.name: ep.value for ep in metadata.entry_points(group="redstar")}
    assert points.get("rl") == "redstar_rl.plugin"


def test_online_trainers_take_every_common_option_with_the_papers_defaults():
    from redstar_rl.ppo import PPOTrainer
    from redstar_rl.reinforce_pp import ReinforcePPTrainer

    common = {f.name: f.default for f in fields(OnlineOptions)}
    assert (common["episodes"], common["learning_rate"], common["batch_size"], common["samples_per_prompt"],
            common["temperature"]) == (5, 5e-7, 1024, 2, 1.0)
    for cls in (PPOTrainer, ReinforcePPTrainer):
        options = options_of(cls)
        assert {name: options[name] for name in common} == common, cls.name
    ppo = options_of(PPOTrainer)
    assert (ppo["critic_learning_rate"], ppo["critic_warmup_steps"]) == (5e-6, 2)


def test_dpo_defaults_are_the_papers():
    from redstar_rl.dpo import DPOTrainer

    options = options_of(DPOTrainer)
    assert (options["beta"], options["learning_rate"], options["epochs"]) == (0.3, 5e-7, 2.0)
    assert options["batch_size"] * options["grad_accum"] == 64


def test_the_embedded_default_ends_at_sft(redstar_host, register_plugin):
    """DPO after SFT left the tiny student worse in math (docs/benchmarks.md), so redstar-rl
    proposes no RL step: with its trainers registered, the default recipe has none."""
    from redstar import hookimpl
    from redstar.recipe import default_recipe

    class Domain:  # a domain's part of the default, as redstar-math's is (without needing it)
        @hookimpl
        def redstar_default_recipe(self):
            return {"sources": [{"name": "synthetic-math", "options": {"count": 10}}]}

    register_plugin(redstar_rl.plugin, name="rl")
    register_plugin(Domain(), name="domain")
    assert "dpo" in redstar_host.names("trainers")
    assert redstar_host.default_rl() == []
    recipe = default_recipe(redstar_host, ["domain"])
    assert recipe.rl == [] and recipe.sft is not None
