"""CodeVerifier: rewards, the instruction, parallel verification, bad references, registration."""

from __future__ import annotations

import json

import pytest

from redstar.errors import InputError
from redstar.records import Prompt
from redstar_code.verifier import CodeVerifier

pytestmark = pytest.mark.usefixtures("no_leaks")

REFERENCE = json.dumps({"inputs": ["2 3\n", "10 -4\n"], "outputs": ["5\n", "6\n"]})


@pytest.fixture(scope="module")
def verifier():
    instance = CodeVerifier(timeout=2)
    yield instance
    instance.close()


def answer(code: str) -> str:
    return f"<think>\nAdd the numbers.\n</think>\n```python\n{code}\n```"


def test_instruction_is_exactly_the_papers_format():
    assert CodeVerifier.instruction == (
        "Please reason step by step, then give your complete Python 3 solution in a single ```python code block."
    )
    assert CodeVerifier.domain == "code"


def test_messages_append_the_instruction(verifier):
    prompt = Prompt(domain="code", source="t", question="Add two numbers.", reference=REFERENCE)
    assert verifier.messages(prompt) == [{"role": "user", "content": "Add two numbers.\n" + CodeVerifier.instruction}]


def test_rewards(verifier):
    right = verifier.verify(answer("a, b = map(int, input().split())\nprint(a + b)"), REFERENCE)
    assert (right.correct, right.reward, right.reason) == (True, 1, "passed all 2 tests")
    assert right.extracted == "a, b = map(int, input().split())\nprint(a + b)"
    wrong = verifier.verify(answer("print(5)"), REFERENCE)
    assert (wrong.correct, wrong.reward) == (False, 0) and wrong.reason == "wrong answer on test 2 of 2"
    none = verifier.verify("The answer is a + b.", REFERENCE)
    assert (none.correct, none.reward, none.extracted) == (False, -1, None)
    cut = verifier.verify("```python\na, b = map(int, input().split())\nprint(a + b)", REFERENCE)
    assert cut.reward == -1


def test_extract_is_the_last_python_block(verifier):
    assert verifier.extract("```python\nx = 1\n```\n```python\nx = 2\n```") == "x = 2"


def test_verify_many_runs_in_parallel_and_keeps_order(verifier):
    prompt = Prompt(domain="code", source="t", question="q", reference=REFERENCE)
    responses = [answer("print(5)"), "no code", answer("a, b = map(int, input().split())\nprint(a + b)"),
                 answer("while True: pass"), answer("a, b = map(int, input().split())\nprint(a + b)")]
    verdicts = verifier.verify_many([(r, prompt) for r in responses])
    assert [v.reward for v in verdicts] == [0, -1, 1, 0, 1]
    assert verdicts[3].reason.startswith("time limit exceeded")
    assert verifier.checker.workers >= 1


def test_bad_reference_is_an_input_error_naming_the_field(verifier):
    with pytest.raises(InputError) as info:
        verifier.verify(answer("print(1)"), json.dumps({"inputs": ["1"], "outputs": []}))
    assert info.value.field == "input_output.outputs"
    prompt = Prompt(domain="code", source="t", question="q", reference="not json")
    with pytest.raises(InputError, match="not valid JSON"):
        verifier.verify_many([(answer("print(1)"), prompt)])


def test_plugin_registers_everything(register_plugin, redstar_host):
    from redstar_code import plugin

    register_plugin(plugin, name="code")
    assert redstar_host.get("verifiers", "code") is CodeVerifier
    assert {"taco", "synthetic-code"} <= set(redstar_host.names("sources"))
    assert {"taco", "synthetic-code-heldout"} <= set(redstar_host.names("evaluators"))
    assert "code" not in redstar_host.failures


def test_verifier_options_are_recipe_options(register_plugin, redstar_host):
    from redstar.plugins import instantiate
    from redstar_code import plugin

    register_plugin(plugin, name="code")
    verifier = instantiate(redstar_host.get("verifiers", "code"), {"timeout": 2.5, "mode": "taco", "workers": 1})
    try:
        assert verifier.checker.limits.timeout == 2.5 and verifier.checker.mode == "taco"
    finally:
        verifier.close()
    with pytest.raises(Exception, match="unknown option 'timeout_s'"):
        instantiate(redstar_host.get("verifiers", "code"), {"timeout_s": 2})


def test_redstar_verify_cli_with_taco_references(register_plugin, invoke_cli, tmp_path):
    from redstar_code import plugin

    register_plugin(plugin, name="code")
    rows = [
        {"response": answer("a, b = map(int, input().split())\nprint(a + b)"), "reference": REFERENCE},
        {"response": answer("print(0)"), "reference": REFERENCE},
        {"response": "I could not solve it.", "reference": REFERENCE},
    ]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    invoke_cli(["verify", "--domain", "code", str(source), "-o", str(out)])
    verdicts = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [v["reward"] for v in verdicts] == [1, 0, -1]
    assert verdicts[1]["reason"] == "wrong answer on test 1 of 2"


def test_a_deeply_nested_return_value_costs_only_its_own_verdict(verifier):
    """Issue 23: the host's parser raised RecursionError on a deeply nested return value, which
    ended the whole batch: the next, correct row got no verdict."""
    reference = json.dumps({"fn_name": "f", "inputs": [[1]], "outputs": [2]})
    # returns, then replaces the harness's return file from an atexit handler
    deep = ("import atexit\n"
            "def forge():\n"
            "    with open('/sandbox/.harness/return.json', 'w') as handle:\n"
            "        handle.write('{\"ok\": true, \"value\": ' + '[' * 200000 + ']' * 200000 + '}')\n"
            "atexit.register(forge)\n"
            "def f(x):\n    return 2 * x")
    items = [(answer(deep), Prompt(domain="code", source="t", question="q", reference=reference)),
             (answer("def f(x):\n    return 2 * x"), Prompt(domain="code", source="t", question="q", reference=reference))]
    first, second = verifier.verify_many(items)
    assert first.reward == 0 and "unusable return value" in first.reason
    assert second.reward == 1
