import json

import pytest

from redstar_code.testspec import CALL, STDIN, TestSpecError, parse_tests


def test_standard_input_tests_join_line_lists():
    spec = parse_tests(json.dumps({"inputs": ["1 2\n", ["3", "4"]], "outputs": ["3\n", ["7"]]}))
    assert spec.kind == STDIN and not spec.call_based and spec.fn_name is None
    assert spec.inputs == ("1 2\n", "3\n4") and spec.outputs == ("3\n", "7")


def test_call_based_tests_keep_arguments_and_values():
    spec = parse_tests(json.dumps({"fn_name": "add", "inputs": [[1, 2], [[1], {"a": 1}]], "outputs": [[3], [1, 2]]}))
    assert spec.kind == CALL and spec.fn_name == "add"
    assert spec.inputs == ([1, 2], [[1], {"a": 1}]) and spec.outputs == ([3], [1, 2])


def test_run_order_is_smallest_input_first_and_stable():
    spec = parse_tests(json.dumps({"inputs": ["long input\n", "x\n", "yy\n", "z\n"], "outputs": ["", "", "", ""]}))
    assert spec.run_order() == [1, 3, 2, 0]


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        ("{not json", "input_output", "not valid JSON"),
        ("[1, 2]", "input_output", "JSON object"),
        (json.dumps({"outputs": []}), "input_output.inputs", "missing"),
        (json.dumps({"inputs": "1", "outputs": ["1"]}), "input_output.inputs", "must be a list"),
        (json.dumps({"inputs": ["1", "2"], "outputs": ["1"]}), "input_output.outputs", "2 inputs but 1 outputs"),
        (json.dumps({"inputs": [], "outputs": []}), "input_output.inputs", "no tests"),
        (json.dumps({"fn_name": "no good", "inputs": [[1]], "outputs": [1]}), "input_output.fn_name", "identifier"),
        (json.dumps({"fn_name": "f", "inputs": [[1], 2], "outputs": [1, 2]}), "input_output.inputs[1]", "list of arguments"),
        (json.dumps({"inputs": ["1", 5], "outputs": ["1", "5"]}), "input_output.inputs[1]", "string or a list"),
        (json.dumps({"inputs": ["1"], "outputs": [{"a": 1}]}), "input_output.outputs[0]", "string or a list"),
    ],
)
def test_malformed_tests_name_the_field(text, field, words):
    with pytest.raises(TestSpecError) as info:
        parse_tests(text)
    assert info.value.field == field
    assert words in str(info.value)
