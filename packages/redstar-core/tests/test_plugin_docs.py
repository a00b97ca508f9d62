"""docs/plugins.md is the plugin author's reference: every hook has a section with a runnable
example, and every example works. Adding a hook without documenting it fails here."""

import inspect
import re
import sys
import types
from pathlib import Path

import pytest

from redstar import hookspecs

DOC = Path(__file__).resolve().parents[3] / "docs" / "plugins.md"
HOOKS = [name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("redstar_")]


def sections():
    text = DOC.read_text(encoding="utf-8")
    parts = re.split(r"^## ", text, flags=re.M)
    return {p.split("\n", 1)[0].strip(): p for p in parts[1:]}


def code_blocks(section):
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_every_hook_is_specified_with_a_docstring():
    assert HOOKS, "no hook specs found"
    for name in HOOKS:
        assert (getattr(hookspecs, name).__doc__ or "").strip(), f"{name} has no docstring"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_runnable_example_in_the_docs(hook):
    section = sections().get(hook)
    assert section is not None, f"docs/plugins.md has no '## {hook}' section"
    assert any(f"def {hook}(" in block for block in code_blocks(section)), f"no example implements {hook}"


@pytest.fixture
def dice_plugin(monkeypatch):
    """All examples of the page combined into one module, as a plugin author would ship them."""
    module = types.ModuleType("redstar_dice.plugin")
    for name, section in sections().items():
        if name in HOOKS:
            for block in code_blocks(section):
                exec(compile(block, f"{DOC}#{name}", "exec"), module.__dict__)
    package = types.ModuleType("redstar_dice")
    package.plugin = module
    monkeypatch.setitem(sys.modules, "redstar_dice", package)
    monkeypatch.setitem(sys.modules, "redstar_dice.plugin", module)
    return module


def test_examples_register_through_every_hook(dice_plugin, register_plugin, redstar_host):
    register_plugin(dice_plugin, name="dice")
    info = redstar_host.infos["dice"]
    assert info.provides == {
        "sources": ["dice"], "scorers": ["length"], "samplers": ["echo"], "verifiers": ["dice"],
        "filters": ["too-short"], "trainers": ["copy"], "evaluators": ["dice-bench"],
    }
    assert set(info.hooks) == set(HOOKS)
    prompts = list(redstar_host.get("sources", "dice")(count=3).load())
    verdict = redstar_host.get("verifiers", "dice")().verify("so Sum: " + prompts[0].reference, prompts[0].reference)
    assert verdict.reward == 1


def test_the_plugin_testing_example_passes(dice_plugin, register_plugin, invoke_cli, tmp_path):
    text = DOC.read_text(encoding="utf-8")
    block = code_blocks(text[text.index("## Testing a plugin"):])[0]
    namespace = {}
    exec(block, namespace)
    namespace["test_dice_plugin"](register_plugin, invoke_cli, tmp_path)


def test_command_example_adds_a_command(dice_plugin, register_plugin, invoke_cli):
    register_plugin(dice_plugin, name="dice")
    assert invoke_cli(["dice-roll", "6"]).output.strip() == "12"
