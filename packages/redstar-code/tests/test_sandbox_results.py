"""What comes back from the sandbox is read on the host without trusting it (issue 23): a return
value nested too deep, too large or not JSON at all is that candidate's failed test, never an
exception that ends the batch (the next candidate's verdict was lost, and a resumed run met the
same row again)."""

from __future__ import annotations

import json

import pytest
from code_test_helpers import TEST_TIMEOUT

from redstar_code.sandbox import Limits, Run
from redstar_code.sandbox.session import MAX_RETURN_DEPTH, read_envelope

META = {"exit": 0, "signal": None, "timeout": False, "lost": None, "seconds": 0.01,
        "output_missing": False, "output_limit": False}
ROOMY = Limits(timeout=10)
#: The function of every call-based test here; the tests call it with 3 and expect 6.
TESTS = {"fn_name": "double", "inputs": [[3]], "outputs": [6]}
CORRECT = "def double(x):\n    return 2 * x\n"


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("returned", [
    '{"ok": true, "value": ' + nested(100_000) + "}",       # a RecursionError in json.loads
    '{"ok": true, "value": ' + nested(MAX_RETURN_DEPTH + 1) + "}",
    nested(100_000),
    '{"ok": true, "value": ' + "7" * 50_000 + "}",          # more digits than int() converts
    '{"ok": true, "value": [1, 2',                           # cut short
    '{"ok": true}',                                          # no value
    '{"ok": false}',                                         # no type
    '[true, 1]',
    '"ok"',
    "\udcff",                                                # not UTF-8 once encoded below
    '\x00{\x00"\x00o\x00k\x00"',                             # what json.loads would read as UTF-16
])
def test_a_return_envelope_that_cannot_be_read_is_an_error_not_an_exception(returned):
    data = returned.encode("utf-8", "surrogateescape")
    envelope = read_envelope(data)
    assert envelope is not None and envelope["ok"] is False and envelope["error"]
    run = Run.from_harness(dict(META), [b"", b"", data])
    assert run.returned == envelope and run.exit_code == 0


def test_a_readable_envelope_is_read_as_it_is():
    deep = json.loads(nested(MAX_RETURN_DEPTH))
    assert read_envelope(json.dumps({"ok": True, "value": deep}).encode()) == {"ok": True, "value": deep}
    assert read_envelope(b'{"ok": true, "value": "[[[[\\" {{{"}') == {"ok": True, "value": '[[[[" {{{'}
    assert read_envelope(b'{"ok": false, "type": "set"}') == {"ok": False, "type": "set"}
    assert read_envelope(b"") is None


#: Returns a list nested 900 deep: the sandbox's json.dumps writes it, the host's json.loads, deep
#: in RedStar's stack, raised RecursionError.
DEEP_RETURN = "def double(x):\n    value = []\n    for _ in range(900):\n        value = [value]\n    return value\n"
#: Returns a correct value, then writes the harness's return file itself from an atexit handler,
#: which runs after the harness wrote the envelope.
FORGED_RETURN = (
    "import atexit\n"
    "def forge():\n"
    "    with open('/sandbox/.harness/return.json', 'w') as handle:\n"
    "        handle.write('{\"ok\": true, \"value\": ' + '[' * 200000 + ']' * 200000 + '}')\n"
    "atexit.register(forge)\n"
    + CORRECT
)


@pytest.mark.usefixtures("no_leaks")
@pytest.mark.parametrize("program", [DEEP_RETURN, FORGED_RETURN], ids=["deep", "forged"])
def test_a_return_value_too_deep_is_the_candidates_failed_test(as_user, program):
    result = as_user.check(program, TESTS, ROOMY)
    assert not result.passed
    assert result.reason.startswith("unusable return value on test 1 of 1 (")
    assert as_user.check(CORRECT, TESTS, Limits(timeout=TEST_TIMEOUT)).passed


@pytest.mark.usefixtures("no_leaks")
def test_a_return_value_larger_than_the_output_limit_exceeds_the_output_limit(as_user):
    """The return value is output too: its file has the output's size limit, and a value that
    does not fit is reported as such (it was a harness set-up failure, exit code 253)."""
    tests = {"fn_name": "double", "inputs": [[3]], "outputs": ["x"]}
    result = as_user.check("def double(x):\n    return 'x' * 3_000_000\n", tests, Limits(timeout=10, max_output_mb=1))
    assert result.reason == "output limit exceeded on test 1 of 1"
