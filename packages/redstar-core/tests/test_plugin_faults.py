"""A plugin author is never left with a traceback: every fault of a plugin installed for real (an
entry point of an installed distribution, see broken_plugins.install) is one line naming the
plugin (distribution and entry point), the class and method or hook, the stage and the problem,
with exit status 1; ``--debug`` or ``REDSTAR_DEBUG=1`` shows the traceback."""

import os
import subprocess
import sys

import pytest
from broken_plugins import ADD_DOMAIN, ADD_RECIPE, install
from click.testing import CliRunner

from redstar.cli import build_cli
from redstar.plugins import Host

PLUGIN = "plugin 'brk' (redstar-brk 1.2.3, entry point brk = rs_brk)"


def redstar(args, host=None, env=None):
    """``redstar ARGS`` in this process, against ``host`` (default: the installed ``brk``)."""
    host = host or Host(allow=["brk"])
    return CliRunner().invoke(build_cli(host), args, env=env)


def error_line(result):
    """The one line a clean error prints; anything else (a traceback) fails the test."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), f"not handled: {result.exception!r}"
    lines = [line for line in result.output.splitlines() if line.startswith("Error: ")]
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output
    return lines[0]


def run_add(site, tmp_path, fault, until="curate", host=None):
    install(site, "brk", ADD_DOMAIN + fault)
    recipe = tmp_path / "add.yaml"
    recipe.write_text(ADD_RECIPE)
    return redstar(["run", "--recipe", str(recipe), "--out", str(tmp_path / "run"), "--until", until,
                    "--no-progress"], host)


def test_the_add_domain_runs_when_nothing_is_wrong(site, tmp_path):
    result = run_add(site, tmp_path, "", until="report")
    assert result.exit_code == 0, result.output


# -- a method raises, or returns what its contract does not allow -----------------------------
@pytest.mark.parametrize(("fault", "expected"), [
    ("HalfScorer.score = lambda self, prompts: 'many'",
     "scorer 'half' (HalfScorer.score) in stage 'score': returned a str ('many'); expected a list of 6 levels"),
    ("HalfScorer.score = lambda self, prompts: ['hard' for _ in prompts]",
     "scorer 'half' (HalfScorer.score) in stage 'score': returned a str ('hard') as the level of prompt 0"),
    ("HalfScorer.score = lambda self, prompts: [5.0]",
     "scorer 'half' (HalfScorer.score) in stage 'score': returned 1 levels for 6 prompts"),
    ("def score(self, prompts):\n    return [1 / 0 for _ in prompts]\nHalfScorer.score = score",
     "scorer 'half' (HalfScorer.score) in stage 'score': raised ZeroDivisionError: division by zero (at rs_brk.py:"),
    ("AddSource.load = lambda self: ['What is 1 + 1?']",
     "source 'add' (AddSource.load) in stage 'load': gave a str ('What is 1 + 1?') as item 0; "
     "expected a redstar.records.Prompt"),
    ("AddSource.load = lambda self: None",
     "source 'add' (AddSource.load) in stage 'load': returned None; expected an iterable of redstar.records.Prompt"),
    ("def load(self):\n    yield prompt(1)\n    raise KeyError('question')\nAddSource.load = load",
     "in stage 'load': raised KeyError: 'question' (at rs_brk.py:"),
    ("Adder.generate = lambda self, conversations, params: 'Answer: 2'",
     "sampler 'adder' (Adder.generate) in stage 'sample': returned a str ('Answer: 2'); expected a list of"),
    ("Adder.generate = lambda self, conversations, params: [['Answer: 2'] * params.n for _ in conversations]",
     "sampler 'adder' (Adder.generate) in stage 'sample': returned a str ('Answer: 2') for conversation 0"),
    ("from redstar.interfaces import Completion\n"
     "Adder.generate = lambda self, conversations, params: [[Completion('Answer: 2')] for _ in conversations]",
     "sampler 'adder' (Adder.generate) in stage 'sample': returned 1 completions for conversation 0 with "
     "params.n = 2"),
    ("def generate(self, conversations, params):\n    raise ConnectionError('server gone')\nAdder.generate = generate",
     "sampler 'adder' (Adder.generate) in stage 'sample': raised ConnectionError: server gone"),
    ("AddVerifier.verify = lambda self, response, reference, metadata=None: True",
     "verifier 'add' (AddVerifier.verify) in stage 'verify': returned a bool (True); expected a redstar.records.Verdict"),
    ("Quiet.check = lambda self, response, prompt: 1",
     "filter 'quiet' (Quiet.check) in stage 'build': returned an int (1); expected a drop reason (a str) or None"),
])
def test_a_method_that_raises_or_returns_the_wrong_type_is_one_line(site, tmp_path, fault, expected):
    line = error_line(run_add(site, tmp_path, fault))
    assert line.startswith(f"Error: {PLUGIN}: "), line
    assert expected in line, line


@pytest.mark.parametrize(("fault", "expected"), [
    ("CopyTrainer.train = lambda self, ctx: str(ctx.output_dir)",
     "trainer 'copy' (CopyTrainer.train) in stage 'train:sft': returned a str ("),
    ("from redstar.interfaces import TrainResult\n"
     "CopyTrainer.train = lambda self, ctx: TrainResult(model_path=ctx.output_dir / 'nowhere')",
     "trainer 'copy' (CopyTrainer.train) in stage 'train:sft': returned model_path"),
    ("AddBench.load = lambda self: 'add.jsonl'",
     "evaluator 'add-bench' (AddBench.load) in stage 'eval:base:add-bench': returned a str ('add.jsonl')"),
    ("def __init__(self):\n    raise RuntimeError('no GPU')\nAddBench.__init__ = __init__",
     "evaluator 'add-bench' (AddBench.__init__): raised RuntimeError: no GPU"),
])
def test_a_trainer_or_evaluator_fault_is_one_line(site, tmp_path, fault, expected):
    line = error_line(run_add(site, tmp_path, fault, until="report"))
    assert line.startswith(f"Error: {PLUGIN}: ") and expected in line, line


def test_debug_and_REDSTAR_DEBUG_show_the_traceback(site, tmp_path):
    fault = "def score(self, prompts):\n    return [1 / 0 for _ in prompts]\nHalfScorer.score = score"
    install(site, "brk", ADD_DOMAIN + fault)
    recipe = tmp_path / "add.yaml"
    recipe.write_text(ADD_RECIPE)
    args = ["run", "--recipe", str(recipe), "--until", "curate", "--no-progress"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
           "REDSTAR_PLUGINS": "brk"}
    env.pop("REDSTAR_DEBUG", None)
    code = "from redstar.cli import main; main()"
    plain = subprocess.run([sys.executable, "-c", code, *args, "--out", str(tmp_path / "a")], env=env,
                           capture_output=True, text=True, timeout=300)
    assert plain.returncode == 1
    assert plain.stderr.strip().splitlines()[-1].startswith(
        f"Error: {PLUGIN}: scorer 'half' (HalfScorer.score) in stage 'score': raised ZeroDivisionError")
    assert "Traceback" not in plain.stderr
    for extra_env, extra_args in (({"REDSTAR_DEBUG": "1"}, []), ({}, ["--debug"])):
        shown = subprocess.run([sys.executable, "-c", code, *extra_args, *args, "--out", str(tmp_path / "b")],
                               env={**env, **extra_env}, capture_output=True, text=True, timeout=300)
        assert shown.returncode == 1
        assert "Traceback" in shown.stderr and "ZeroDivisionError" in shown.stderr and "rs_brk.py" in shown.stderr


# -- registration ----------------------------------------------------------------------------
@pytest.mark.parametrize(("fault", "expected"), [
    ("class NotAScorer:\n    name = 'plain'\n    def score(self, prompts):\n        return [5.0] * len(prompts)\n"
     "@hookimpl\ndef redstar_register_scorers(register):\n    register(NotAScorer)",
     "redstar_register_scorers: registered NotAScorer, which does not subclass redstar.interfaces.Scorer"),
    ("@hookimpl\ndef redstar_register_scorers(register):\n    register(HalfScorer())",
     "redstar_register_scorers: registered a HalfScorer; expected a class that subclasses redstar.interfaces.Scorer"),
    ("class Lazy(Scorer):\n    name = 'lazy'\n@hookimpl\ndef redstar_register_scorers(register):\n    register(Lazy)",
     "registered Lazy, which does not implement score"),
    ("CopyTrainer.kind = 'pairs'",
     "registered CopyTrainer, whose kind is 'pairs'; expected one of sft, preference, online"),
    ("@hookimpl\ndef redstar_register_scorers(register):\n    raise RuntimeError('licence file missing')",
     "redstar_register_scorers raised RuntimeError: licence file missing (at rs_brk.py:"),
    ("@hookimpl\ndef redstar_register_filter(register):\n    register(Quiet)",
     "redstar_register_filter is not a RedStar hook (did you mean redstar_register_filters?)"),
    ("def redstar_default_rl():\n    return []",
     "redstar_default_rl is not marked @redstar.hookimpl, so RedStar never calls it"),
    ("@hookimpl\ndef redstar_register_scorers(reg):\n    reg(HalfScorer)",
     "registration failed: PluginValidationError"),
])
def test_a_broken_registration_stops_the_run_and_recipe_check_that_ask_for_it(site, tmp_path, fault, expected):
    # REDSTAR_PLUGINS names brk (the host's allowlist): a run without it is not the run asked for.
    line = error_line(run_add(site, tmp_path, fault))
    assert line.startswith(f"Error: {PLUGIN} failed: ") and expected in line, line
    recipe = tmp_path / "add.yaml"
    line = error_line(redstar(["recipe", "check", str(recipe)]))
    assert line.startswith(f"Error: {PLUGIN} failed: ") and expected in line, line
    listing = redstar(["plugins"])
    assert listing.exit_code == 0 and "failed" in listing.output
    assert redstar(["plugins", "--check"]).exit_code == 1


def test_a_failed_plugin_the_run_does_not_use_is_a_warning_and_one_it_uses_an_error(site, tmp_path):
    install(site, "brk", "from redstar import hookimpl\n@hookimpl\ndef redstar_register_scorers(register):\n"
                         "    raise RuntimeError('licence file missing')\n")
    install(site, "good", ADD_DOMAIN)
    recipe = tmp_path / "add.yaml"
    recipe.write_text(ADD_RECIPE)
    both = Host(allow=None)  # every installed plugin, as with no REDSTAR_PLUGINS
    result = redstar(["recipe", "check", str(recipe)], host=both)
    assert result.exit_code == 0, result.output
    assert f"warning: {PLUGIN} failed: redstar_register_scorers raised RuntimeError: licence file missing" \
        in result.output and "the run goes on without it" in result.output
    run = redstar(["run", "--recipe", str(recipe), "--out", str(tmp_path / "run"), "--until", "curate",
                   "--no-progress"], host=both)
    assert run.exit_code == 0 and "the run goes on without it" in run.output
    # A recipe that names a scorer no working plugin registers: the error says which plugin failed.
    recipe.write_text(ADD_RECIPE.replace("scorer: half", "scorer: licensed"))
    line = error_line(redstar(["recipe", "check", str(recipe)], host=both))
    assert "scoring: no scorer named 'licensed'" in line and f"may be the one: {PLUGIN} (redstar_register_scorers" \
        in line


def test_a_failed_plugin_that_adds_stages_stops_the_run(site, tmp_path):
    install(site, "brk", "from redstar import hookimpl\n@hookimpl\ndef redstar_pipeline_stages():\n    return []\n"
                         "@hookimpl\ndef redstar_register_scorers(register):\n    raise RuntimeError('boom')\n")
    install(site, "good", ADD_DOMAIN)
    recipe = tmp_path / "add.yaml"
    recipe.write_text(ADD_RECIPE)
    line = error_line(redstar(["recipe", "check", str(recipe)], host=Host(allow=None)))
    assert f"{PLUGIN} failed: redstar_register_scorers raised RuntimeError: boom" in line
    assert "it adds pipeline stages, which the run would silently lack" in line


def test_a_default_recipe_that_is_a_list_is_one_line(site, tmp_path):
    install(site, "brk", ADD_DOMAIN + "@hookimpl\ndef redstar_default_recipe():\n    return [{'name': 'add'}]\n")
    for command in (["run", "--plugins", "brk", "--out", str(tmp_path / "run")], ["recipe", "show", "--plugins", "brk"]):
        line = error_line(redstar(command))
        assert line == (f"Error: {PLUGIN} failed to load: redstar_default_recipe: returned a list of 1; expected a "
                        f"dict (a partial recipe) or None"), line


def test_a_stage_hook_that_returns_no_stage_and_a_stage_that_returns_no_outcome(site, tmp_path):
    install(site, "brk", ADD_DOMAIN + "@hookimpl\ndef redstar_pipeline_stages():\n    return ['count']\n")
    recipe = tmp_path / "add.yaml"
    recipe.write_text(ADD_RECIPE)
    line = error_line(redstar(["recipe", "check", str(recipe)]))
    assert line == (f"Error: {PLUGIN}: hook redstar_pipeline_stages: returned a str ('count') among its stages; "
                    f"expected redstar.pipeline.stage.Stage"), line
    for module in [m for m in sys.modules if m.startswith("rs_")]:
        del sys.modules[module]
    (site / "rs_brk.py").write_text(ADD_DOMAIN + (
        "from redstar.pipeline.stage import FunnelRow, Stage\n"
        "def count(ctx, inputs):\n    return len(inputs['verify'])\n"
        "@hookimpl\ndef redstar_pipeline_stages():\n"
        "    return [Stage('count', 'curate', count, reads=('verify',), after='verify',\n"
        "                  funnel=(FunnelRow('counted', 'n', 'samples'),))]\n"))
    line = error_line(redstar(["run", "--recipe", str(recipe), "--out", str(tmp_path / "run"), "--until", "curate",
                               "--no-progress"]))
    assert line.startswith(f"Error: {PLUGIN}: work function count in stage 'count': returned an int (12); expected "
                           f"redstar.pipeline.stage.Outcome(value, counts)"), line


# -- duplicates ------------------------------------------------------------------------------
def test_plugins_lists_duplicates_and_exits_0_check_exits_1_and_a_run_that_uses_the_name_stops(site, tmp_path):
    install(site, "brk", ADD_DOMAIN)
    install(site, "twin", ADD_DOMAIN.replace("register_verifiers(register):\n    register(AddVerifier)",
                                             "register_verifiers(register):\n    pass"))
    host = Host(allow=["brk", "twin"])
    listing = redstar(["plugins"], host=host)
    assert listing.exit_code == 0, listing.output
    assert "duplicate" in listing.output and "scorer 'half' is registered by both 'brk' and 'twin'" in listing.output
    checked = redstar(["plugins", "--check"], host=host)
    assert checked.exit_code == 1 and "scorer 'half' is registered by both 'brk' and 'twin'" in checked.output
    recipe = tmp_path / "add.yaml"
    recipe.write_text(ADD_RECIPE)
    line = error_line(redstar(["recipe", "check", str(recipe)], host=host))
    assert "sources[0]: source 'add' is registered by both 'brk' and 'twin'" in line, line


def test_a_fault_outside_a_run_is_one_line_too(site, tmp_path):
    # `redstar verify` (no stage) and a plugin's own command: the same one line, without a stage.
    install(site, "brk", ADD_DOMAIN + (
        "import click\n"
        "def verify(self, response, reference, metadata=None):\n    return {'reward': 1}[response]\n"
        "AddVerifier.verify = verify\n"
        "@hookimpl\ndef redstar_register_commands(cli):\n"
        "    @cli.command(name='add-table')\n"
        "    def add_table():\n        '''Print the table.'''\n        click.echo(1 // 0)\n"))
    given = tmp_path / "in.jsonl"
    given.write_text('{"response": "Answer: 2", "reference": "2"}\n')
    line = error_line(redstar(["verify", "--domain", "add", str(given)]))
    assert line.startswith(f"Error: {PLUGIN}: verifier 'add' (AddVerifier.verify): raised KeyError: 'Answer: 2' "
                           f"(at rs_brk.py:"), line
    line = error_line(redstar(["add-table"]))
    assert line.startswith(f"Error: {PLUGIN}: redstar_register_commands.<locals>.add_table: raised ZeroDivisionError: integer division or modulo by "
                           f"zero (at rs_brk.py:"), line
