"""docs/plugins.md is the plugin author's reference: every hook has a section with a runnable
example, every hook spec says what it receives and returns, and every example works: together they
are one plugin that a real `redstar run` uses in full. Adding a hook without documenting it fails
here; so does a built-in cleaning drop that docs/records.md does not name."""

import inspect
import json
import re
import sys
import types
from pathlib import Path

import pytest

from redstar import hookspecs

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "docs" / "plugins.md"
HOOKS = [name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("redstar_")]


def sections():
    text = DOC.read_text(encoding="utf-8")
    parts = re.split(r"^## ", text, flags=re.M)
    return {p.split("\n", 1)[0].strip(): p for p in parts[1:]}


def code_blocks(section):
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_every_hook_spec_says_what_it_receives_and_returns():
    assert HOOKS, "no hook specs found"
    for name in HOOKS:
        doc = inspect.getdoc(getattr(hookspecs, name)) or ""
        params = list(inspect.signature(getattr(hookspecs, name)).parameters)
        assert "\nReturns:\n" in doc, f"{name}'s docstring has no Returns: section"
        if params:
            args = doc.split("\nArgs:\n", 1)
            assert len(args) == 2, f"{name}'s docstring has no Args: section"
            assert all(re.search(rf"^    {p}: \S", args[1], re.M) for p in params), f"{name}: an argument is undocumented"
        else:
            assert "Receives nothing." in doc, f"{name}'s docstring does not say it receives nothing"


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
    module.__file__ = str(DOC.parent / "redstar_dice" / "plugin.py")  # where a module's own file would be
    package = types.ModuleType("redstar_dice")
    package.plugin = module
    monkeypatch.setitem(sys.modules, "redstar_dice", package)
    monkeypatch.setitem(sys.modules, "redstar_dice.plugin", module)
    return module


def test_examples_register_through_every_hook(dice_plugin, register_plugin, redstar_host):
    register_plugin(dice_plugin, name="dice")
    info = redstar_host.infos["dice"]
    assert info.provides == {
        "sources": ["dice"], "scorers": ["length"], "samplers": ["dice-solver"], "verifiers": ["dice"],
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


RUN = """
name: dice
models: {teacher: embedded:tiny-teacher, student: embedded:tiny-student}
sources: [{name: dice, options: {count: 30}}]
scoring: {scorer: length}
selection: {min_level: 1, max_level: 10}
decontamination: {enabled: true}
sampling: {backend: dice-solver, n: 4, temperature: 1.0}
cleaning: {filters: [{name: too-short, options: {min_chars: 60}}]}
sft: {trainer: copy, options: {note: docs}}
evaluation: {backend: dice-solver, evaluators: [{name: dice-bench}]}
"""


def test_the_examples_run_together_as_a_plugin(dice_plugin, register_plugin, invoke_cli, tmp_path):
    # The page's examples as one plugin, every piece of it used by a real run.
    register_plugin(dice_plugin, name="dice")
    recipe = tmp_path / "dice.yaml"
    recipe.write_text(RUN)
    out = tmp_path / "run"
    result = invoke_cli(["run", "--recipe", str(recipe), "--out", str(out), "--no-progress"])
    summary = json.loads((out / "summary.json").read_text())
    funnel = dict(summary["funnel"] + summary["sample_funnel"])
    assert funnel["samples drawn"] == 4 * funnel["prompts selected"] > 0
    assert 0 < funnel["samples correct"] < funnel["samples drawn"]  # the solver slips now and then
    long = summary["stages"]["long-responses"]["long"]
    assert 0 < long <= funnel["samples drawn"] and funnel["samples over 60 characters"] == long
    assert dict(summary["funnel_by_domain"]["dice"])["samples over 60 characters"] == long
    assert summary["drops"]["cleaning"]["too short"] > 0 and funnel["SFT rows (correct and clean)"] > 0
    assert summary["provenance"]["scorer"] == "length" and summary["provenance"]["trainers"] == {"sft": "copy"}
    assert (out / "models" / "sft" / "final" / "config.json").is_file()
    assert set(summary["scores"]) == {"base", "sft"} and summary["scores"]["sft"]["dice-bench"]["problems"] == 6
    assert "dice-bench" in summary["stages"]["select"]["decontaminated_against"]
    assert "sft (copy)" in result.output


def test_every_built_in_cleaning_drop_is_named_in_records_md():
    source = ROOT / "packages" / "redstar-core" / "src" / "redstar"
    reasons = set(re.findall(r'dropped(?:_by_domain\[[^]]+\])?\["([^"]+)"\]', (source / "pipeline" / "datasets.py").read_text()))
    reasons |= set(re.findall(r'return "([a-z ]+)"', (source / "pipeline" / "datasets.py").read_text()))
    # the drop that set building counts (pipeline/set_building.py, where the duplicates are found)
    reasons |= set(re.findall(r'^DUPLICATE = "([a-z ]+)"', (source / "pipeline" / "set_building.py").read_text(), re.M))
    reasons |= {r for pair in re.findall(r'"([a-z ]+)" if |else "([a-z ]+)"', (source / "cleaning.py").read_text())
                for r in pair if r}
    reasons |= set(re.findall(r'return "([a-z ]+)"', (source / "cleaning.py").read_text()))
    assert {"truncated", "no valid answer", "duplicate response", "repetition", "wrong language",
            "language mixing"} <= reasons
    records = (ROOT / "docs" / "records.md").read_text(encoding="utf-8")
    section = records[records.index("### Cleaning: every drop by name"):]
    assert sorted(r for r in reasons if f"`{r}`" not in section.split("\n## ")[0]) == []
