"""The math plugin registers everything through the public hooks, as a third party would."""

from importlib import metadata

import redstar_math.plugin
from redstar.plugins import instantiate


def test_registers_sources_scorers_verifier_evaluators_and_commands(redstar_host, register_plugin, invoke_cli):
    register_plugin(redstar_math.plugin, name="math")
    assert redstar_host.failures == {}
    assert {"metamath", "numinamath", "math", "gsm8k", "math-jsonl", "synthetic-math"} <= set(redstar_host.names("sources"))
    assert {"llm-judge", "trained", "given"} <= set(redstar_host.names("scorers"))
    assert redstar_host.names("verifiers") == ["math"]
    assert {"math-hard", "olympiadbench", "college-math", "aime24", "amc23", "gsm8k", "math500",
            "synthetic-math-heldout"} <= set(redstar_host.names("evaluators"))
    verifier = instantiate(redstar_host.get("verifiers", "math"), {})
    assert verifier.verify("\\boxed{27}", "27").correct
    aime = instantiate(redstar_host.get("evaluators", "aime24"), {"limit": 2}).load()
    assert len(aime) == 2
    help_text = invoke_cli(["score-model", "--help"]).output
    assert "train" in help_text and "eval" in help_text


def test_entry_point_points_at_the_plugin_module():
    entry_points = {ep.name: ep.value for ep in metadata.entry_points(group="redstar")}
    assert entry_points.get("math") == "redstar_math.plugin"
