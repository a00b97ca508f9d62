"""More faults of a plugin installed for real (see test_plugin_faults.py): a plugin that calls
``sys.exit`` or raises another ``BaseException`` in a hook or method, and records whose fields
break their contract (a Prompt whose metadata JSON cannot hold, a Completion whose finish_reason is
a number, a Verdict whose answer is not text, a drop reason that is not text). Each is one line
naming the plugin, the class and method, the stage and the problem, with exit status 1 and no
traceback, and the run directory keeps what it had."""


import pytest
from broken_plugins import ADD_DOMAIN, ADD_RECIPE, install
from test_plugin_faults import PLUGIN, error_line, redstar, run_add

from redstar.plugins import Host


@pytest.mark.parametrize(("fault", "expected"), [
    # SystemExit(0) ended the run with exit status 0 and no word; SystemExit('bye') printed "bye".
    ("def score(self, prompts):\n    raise SystemExit(0)\nHalfScorer.score = score",
     "scorer 'half' (HalfScorer.score) in stage 'score': raised SystemExit: 0 (at rs_brk.py:"),
    ("def score(self, prompts):\n    import sys\n    sys.exit('bye')\nHalfScorer.score = score",
     "scorer 'half' (HalfScorer.score) in stage 'score': raised SystemExit: bye (at rs_brk.py:"),
    ("def __init__(self):\n    raise SystemExit(0)\nHalfScorer.__init__ = __init__",
     "scorer 'half' (HalfScorer.__init__) in stage 'score': raised SystemExit: 0"),
    ("def load(self):\n    yield prompt(1)\n    raise SystemExit(0)\nAddSource.load = load",
     "in stage 'load': raised SystemExit: 0 (at rs_brk.py:"),
    ("def verify_many(self, pairs):\n    raise SystemExit(3)\nAddVerifier.verify_many = verify_many",
     "verifier 'add' (AddVerifier.verify_many) in stage 'verify': raised SystemExit: 3"),
    # GeneratorExit escaped even the test runner.
    ("def score(self, prompts):\n    raise GeneratorExit('closed')\nHalfScorer.score = score",
     "scorer 'half' (HalfScorer.score) in stage 'score': raised GeneratorExit: closed"),
])
def test_a_plugin_that_exits_is_a_fault_not_the_end_of_the_run(site, tmp_path, fault, expected):
    line = error_line(run_add(site, tmp_path, fault))
    assert line.startswith(f"Error: {PLUGIN}: ") and expected in line, line


@pytest.mark.parametrize("hook", ["@hookimpl\ndef redstar_register_scorers(register):\n    raise SystemExit(0)",
                                  "import sys\nsys.exit(0)"])
def test_a_plugin_that_exits_while_it_loads_is_a_failed_plugin(site, tmp_path, hook):
    # Every redstar command exited 0 here, `redstar plugins` included, printing nothing.
    install(site, "brk", ADD_DOMAIN + hook + "\n")
    listing = redstar(["plugins"])
    assert listing.exit_code == 0 and "failed" in listing.output, listing.output
    assert "SystemExit" in listing.output
    recipe = tmp_path / "add.yaml"
    recipe.write_text(ADD_RECIPE)
    line = error_line(redstar(["recipe", "check", str(recipe)]))
    assert line.startswith(f"Error: {PLUGIN} failed: ") and "SystemExit" in line, line


def test_a_default_recipe_hook_that_exits_is_one_line(site, tmp_path):
    install(site, "brk", ADD_DOMAIN + "@hookimpl\ndef redstar_default_recipe():\n    raise SystemExit(0)\n")
    line = error_line(redstar(["recipe", "show", "--plugins", "brk"]))
    assert line.startswith(f"Error: {PLUGIN} failed to load: redstar_default_recipe raised SystemExit: 0"), line


@pytest.mark.parametrize(("fault", "expected"), [
    # each was a TypeError or RecordError traceback from RedStar's own code, naming no plugin
    ("def load(self):\n    yield Prompt(domain='add', source='add', question='What is 1 + 1?', reference='2', "
     "metadata={'tags': {'a', 'b'}})\nAddSource.load = load",
     "source 'add' (AddSource.load) in stage 'load': gave a Prompt whose metadata cannot be written as JSON "
     "(Object of type set is not JSON serializable) as item 0"),
    ("def load(self):\n    import numpy\n    yield Prompt(domain='add', source='add', question='What is 1 + 1?', "
     "reference='2', difficulty=numpy.float32(5))\nAddSource.load = load",
     "source 'add' (AddSource.load) in stage 'load': gave a Prompt whose field 'difficulty' must be int/float, "
     "got float32 as item 0"),
    ("def load(self):\n    yield Prompt(domain='add', source='add', question=None, reference='2')\nAddSource.load = load",
     "source 'add' (AddSource.load) in stage 'load': gave a Prompt whose field 'question' must be str, got NoneType"),
    ("def load(self):\n    yield Prompt(domain='add', source='add', question='What is 1 + 1?', reference='2', "
     "difficulty=float('nan'))\nAddSource.load = load",
     "source 'add' (AddSource.load) in stage 'load': gave a Prompt whose difficulty is a float (nan), not a level"),
    ("Adder.generate = lambda self, conversations, params: [[Completion('Answer: 2', finish_reason=7)] * params.n "
     "for _ in conversations]",
     "sampler 'adder' (Adder.generate) in stage 'sample': returned a Completion whose finish_reason is an int (7) "
     "for conversation 0; expected redstar.interfaces.Completion(text: str, finish_reason)"),
    ("AddVerifier.verify = lambda self, response, reference, metadata=None: Verdict.right(2)",
     "verifier 'add' (AddVerifier.verify) in stage 'verify': returned a Verdict whose field 'extracted' must be str, "
     "got int"),
    ("AddVerifier.verify_many = lambda self, pairs: [Verdict(True, 1.0, 'ok') for _ in pairs]",
     "verifier 'add' (AddVerifier.verify_many) in stage 'verify': returned a Verdict whose field 'reward' must be "
     "int, got float"),
    ("Quiet.check = lambda self, response, prompt: 'bad \\udc80 byte'",
     "filter 'quiet' (Quiet.check) in stage 'build': returned a str ('bad \\udc80 byte') that is not text"),
])
def test_a_record_that_breaks_its_contract_is_one_line(site, tmp_path, fault, expected):
    line = error_line(run_add(site, tmp_path, fault))
    assert line.startswith(f"Error: {PLUGIN}: ") and expected in line, line


def test_two_classes_one_plugin_registers_under_one_name_fail_the_plugin(site, tmp_path):
    # The second was silently ignored: the recipe's `scorer: half` got whichever came first.
    install(site, "brk", ADD_DOMAIN + "class Other(HalfScorer):\n    pass\n"
                                      "@hookimpl\ndef redstar_register_scorers(register):\n"
                                      "    register(HalfScorer)\n    register(Other)\n")
    host = Host(allow=["brk"])
    assert "half" not in host.names("scorers")  # registering is what finds it: a failed plugin gives nothing
    assert "registers two classes under the scorer name 'half' (HalfScorer, Other)" in host.failures["brk"]

