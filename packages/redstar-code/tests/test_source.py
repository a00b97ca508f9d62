"""The taco source and evaluator on local files: schema, levels, question format, named errors,
and the shipped sample (whose reference solutions must pass their own tests in the sandbox)."""

from __future__ import annotations

import json
import warnings

import pytest

from redstar.errors import InputError
from redstar.tables import iter_rows
from redstar_code.evaluator import TacoEvaluator
from redstar_code.source import SAMPLE_FILE, TacoSource
from redstar_code.taco_rows import TACO_LEVELS
from redstar_code.testspec import parse_tests


def taco_row(**overrides):
    row = {
        "question": "Print the sum of two integers.",
        "solutions": json.dumps(["a, b = map(int, input().split())\nprint(a + b)"]),
        "starter_code": "",
        "input_output": json.dumps({"inputs": ["1 2\n"], "outputs": ["3\n"]}),
        "difficulty": "HARD",
        "skill_types": "['Sorting', 'Greedy algorithms']",
        "tags": "[]",
        "name": "sum",
        "url": "https://example.org/sum",
    }
    row.update(overrides)
    return row


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_rows_become_code_prompts(tmp_path):
    call_io = json.dumps({"fn_name": "add", "inputs": [[1, 2]], "outputs": [3]})
    path = write_jsonl(tmp_path / "taco.jsonl", [
        taco_row(),
        taco_row(input_output=call_io, starter_code="def add(a, b):\n\t", difficulty="EASY"),
        taco_row(input_output=call_io, difficulty="UNKNOWN_DIFFICULTY", skill_types=["Math"]),
    ])
    stdin, call, unnamed = TacoSource(path=str(path)).load()
    assert (stdin.domain, stdin.source, stdin.difficulty) == ("code", "taco", 7.0)
    assert stdin.reference == taco_row()["input_output"]
    assert stdin.question == "Print the sum of two integers.\n\nUse Standard Input format"
    assert stdin.metadata["skill_types"] == ["Sorting", "Greedy algorithms"]
    assert stdin.metadata["tags"] == [] and stdin.metadata["solutions"] == 1
    assert stdin.metadata["kind"] == "stdin" and stdin.metadata["fn_name"] is None and stdin.metadata["row"] == 1
    assert stdin.metadata["url"] == "https://example.org/sum" and stdin.metadata["taco_difficulty"] == "HARD"
    assert call.difficulty == 2.0 and call.metadata["fn_name"] == "add"
    assert call.question.endswith("```python\ndef add(a, b):\n```\n\nUse Call-Based format")
    assert unnamed.difficulty is None
    assert unnamed.question.endswith("Use Call-Based format: write a function named `add`; each test calls it and checks its return value.")


def test_level_map_and_override(tmp_path):
    assert TACO_LEVELS == {"EASY": 2.0, "MEDIUM": 4.0, "MEDIUM_HARD": 6.0, "HARD": 7.0, "VERY_HARD": 9.0,
                           "UNKNOWN_DIFFICULTY": None}
    path = write_jsonl(tmp_path / "t.jsonl", [taco_row(difficulty="MEDIUM_HARD")])
    (prompt,) = TacoSource(path=str(path), levels={"medium_hard": 8}).load()
    assert prompt.difficulty == 8


def test_parquet_files_load(tmp_path):
    import datasets

    path = tmp_path / "taco.parquet"
    datasets.Dataset.from_list([taco_row(), taco_row(difficulty="VERY_HARD")]).to_parquet(str(path))
    prompts = list(TacoSource(path=str(path)).load())
    assert [p.difficulty for p in prompts] == [7.0, 9.0]


@pytest.mark.parametrize(
    ("bad", "field", "words"),
    [
        ({"input_output": "{inputs: 1"}, "input_output", "not valid JSON"),
        ({"input_output": json.dumps({"inputs": ["1", "2"], "outputs": ["3"]})}, "input_output.outputs", "2 inputs but 1 outputs"),
        ({"input_output": None}, "input_output", "JSON string"),
        ({"question": ""}, "question", "empty"),
        ({"difficulty": "IMPOSSIBLE"}, "difficulty", "unknown TACO difficulty"),
        ({"tags": 7}, "tags", "list of strings"),
        ({"solutions": "not json"}, "solutions", "JSON list"),
    ],
)
def test_malformed_row_names_file_line_and_field(tmp_path, bad, field, words):
    path = write_jsonl(tmp_path / "taco.jsonl", [taco_row(), taco_row(**bad), taco_row()])
    with pytest.raises(InputError) as info:
        list(TacoSource(path=str(path)).load())
    assert (info.value.path, info.value.line, info.value.field) == (str(path), 2, field)
    assert words in str(info.value) and f"{path}:2:" in str(info.value)


def test_skip_malformed_is_explicit_and_warns(tmp_path):
    path = write_jsonl(tmp_path / "taco.jsonl", [taco_row(), taco_row(difficulty="??"), taco_row(question="second")])
    with pytest.warns(UserWarning, match="skipped 1 malformed TACO rows"):
        prompts = list(TacoSource(path=str(path), skip_malformed=True).load())
    assert [p.metadata["row"] for p in prompts] == [1, 3]


def test_limit(tmp_path):
    path = write_jsonl(tmp_path / "taco.jsonl", [taco_row(question=f"q{i}") for i in range(5)])
    assert len(list(TacoSource(path=str(path), limit=2).load())) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(TacoEvaluator(path=str(path), limit=3).load()) == 3


def test_evaluator_defaults_to_the_shipped_sample_with_difficulty_groups():
    prompts = TacoEvaluator().load()
    assert len(prompts) == 15 and all(p.domain == "code" for p in prompts)
    groups = {p.metadata["group"] for p in prompts}
    assert groups == {"EASY", "MEDIUM", "MEDIUM_HARD", "HARD", "VERY_HARD", "UNKNOWN_DIFFICULTY"}
    assert {p.metadata["kind"] for p in prompts} == {"stdin", "call"}


@pytest.mark.usefixtures("no_leaks")
def test_shipped_sample_solutions_pass_their_tests(checker):
    rows = [row for _, row in iter_rows(SAMPLE_FILE)]
    items = [(json.loads(row["solutions"])[0], parse_tests(row["input_output"])) for row in rows]
    results = checker.check_many(items)
    assert [(row["name"], r.reason) for row, r in zip(rows, results) if not r.passed] == []
