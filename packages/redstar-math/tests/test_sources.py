"""Math sources on local files: gold answers, levels, options, and named errors for bad rows."""

import json

import pytest

from redstar.errors import InputError, RedStarError
from redstar_math.sources import GSM8KSource, MATHSource, MathTableSource, MetaMathSource, NuminaMathSource


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def test_metamath_gold_from_box_or_answer_line(tmp_path):
    path = write_jsonl(tmp_path / "metamath.jsonl", [
        {"query": "What is 2+3?", "response": "2 + 3 = 5.\nThe answer is: 5", "type": "GSM_AnsAug"},
        {"query": "Simplify 2/4.", "response": "We get $\\boxed{\\frac{1}{2}}$.\nThe answer is: \\frac{1}{2}"},
    ])
    prompts = list(MetaMathSource(path=path, keep_solution=True).load())
    assert [p.reference for p in prompts] == ["5", "\\frac{1}{2}"]
    assert prompts[0].domain == "math" and prompts[0].source == "metamath"
    assert prompts[0].metadata["type"] == "GSM_AnsAug"
    assert prompts[0].metadata["solution"].startswith("2 + 3")


def test_metamath_row_without_answer_names_file_line_field(tmp_path):
    path = write_jsonl(tmp_path / "m.jsonl", [
        {"query": "q1", "response": "The answer is: 1"},
        {"query": "q2", "response": "I do not know."},
    ])
    with pytest.raises(InputError) as info:
        list(MetaMathSource(path=path).load())
    assert (info.value.path, info.value.line, info.value.field) == (path, 2, "response")
    assert f"{path}:2: field 'response':" in str(info.value)


def test_numinamath_keeps_source_filters_and_counts_skipped(tmp_path):
    path = write_jsonl(tmp_path / "numina.jsonl", [
        {"problem": "p1", "solution": "so \\boxed{3}", "source": "amc_aime", "messages": []},
        {"problem": "p2", "solution": "Proof: trivially true.", "source": "olympiads", "messages": []},
        {"problem": "p3", "solution": "x = \\boxed{\\{1, 2\\}}", "source": "cn_k12", "messages": []},
    ])
    with pytest.raises(InputError) as info:
        list(NuminaMathSource(path=path).load())
    assert (info.value.line, info.value.field) == (2, "solution")

    source = NuminaMathSource(path=path, skip_unanswered=True)
    prompts = list(source.load())
    assert [(p.reference, p.metadata["source"]) for p in prompts] == [("3", "amc_aime"), ("\\{1, 2\\}", "cn_k12")]
    assert source.skipped == 1
    only_amc = list(NuminaMathSource(path=path, sources=["amc_aime"]).load())
    assert [p.question for p in only_amc] == ["p1"]


def test_numinamath_bad_messages_field(tmp_path):
    path = write_jsonl(tmp_path / "n.jsonl", [{"problem": "p", "solution": "\\boxed{1}", "messages": "hi"}])
    with pytest.raises(InputError, match="messages") as info:
        list(NuminaMathSource(path=path).load())
    assert info.value.line == 1


MATH_ROWS = [
    {"problem": "Level one problem", "solution": "Easy: $\\boxed{2}$.", "level": "Level 1", "type": "Algebra"},
    {"problem": "Hard one", "solution": "So $\\boxed{\\frac{\\sqrt{3}}{2}}$.", "level": "Level 5", "type": "Geometry"},
    {"problem": "With answer field", "solution": "\\boxed{7}", "answer": "7", "level": 3, "subject": "Prealgebra"},
    {"problem": "Unknown level", "solution": "\\boxed{1}", "level": "Level ?", "type": "Algebra"},
]


def test_math_levels_map_to_difficulty_and_gold_is_last_box(tmp_path):
    path = write_jsonl(tmp_path / "math.jsonl", MATH_ROWS)
    prompts = list(MATHSource(path=path).load())
    assert [p.reference for p in prompts] == ["2", "\\frac{\\sqrt{3}}{2}", "7", "1"]
    assert [p.difficulty for p in prompts] == [3.0, 7.0, 5.0, None]  # Level k -> k + 2; "Level ?" unknown
    assert prompts[1].metadata == {"level": 5, "subject": "Geometry", "group": "Geometry"}
    assert [p.question for p in MATHSource(path=path, levels=[5]).load()] == ["Hard one"]
    assert len(list(MATHSource(path=path, limit=2).load())) == 2


def test_math_reads_parquet(tmp_path):
    import datasets

    path = tmp_path / "math.parquet"
    datasets.Dataset.from_list(MATH_ROWS[:2]).to_parquet(str(path))
    assert [p.reference for p in MATHSource(path=str(path)).load()] == ["2", "\\frac{\\sqrt{3}}{2}"]


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ({"problem": "p", "solution": "\\boxed{1}", "level": "Hard", "type": "Algebra"}, "level"),
        ({"problem": "p", "solution": "\\boxed{1}", "level": "Level 9", "type": "Algebra"}, "level"),
        ({"problem": "p", "solution": "no box", "level": "Level 2", "type": "Algebra"}, "solution"),
        ({"solution": "\\boxed{1}", "level": "Level 2", "type": "Algebra"}, "problem"),
        ({"problem": 12, "solution": "\\boxed{1}", "level": "Level 2", "type": "Algebra"}, "problem"),
    ],
)
def test_malformed_math_row_names_line_and_field(tmp_path, row, field):
    path = write_jsonl(tmp_path / "math.jsonl", [MATH_ROWS[0], row])
    source = MATHSource(path=path)
    loaded = source.load()
    assert next(loaded).reference == "2"  # rows before the bad one are not lost
    with pytest.raises(InputError) as info:
        next(loaded)
    assert (info.value.line, info.value.field) == (2, field)


def test_invalid_json_line_is_named(tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_text('{"question": "q", "answer": "x\\n#### 4"}\n{not json\n', encoding="utf-8")
    with pytest.raises(InputError) as info:
        list(GSM8KSource(path=str(path)).load())
    assert info.value.line == 2


def test_gsm8k_gold_after_marker(tmp_path):
    path = write_jsonl(tmp_path / "gsm8k.jsonl", [
        {"question": "How much?", "answer": "80,000 + 50,000 = 130,000\n#### 70,000"},
        {"question": "No marker", "answer": "It is 5."},
    ])
    loaded = GSM8KSource(path=path).load()
    assert next(loaded).reference == "70000"
    with pytest.raises(InputError) as info:
        next(loaded)
    assert (info.value.line, info.value.field) == (2, "answer")


def test_plain_table_with_configurable_fields(tmp_path):
    path = write_jsonl(tmp_path / "mine.jsonl", [
        {"q": "Add 1 and 2.", "a": 3.0, "lvl": 2, "topic": "arith", "extra": "x"},
        {"q": "Half of 1?", "a": "\\frac12", "lvl": 4, "topic": "fractions", "extra": "y"},
    ])
    source = MathTableSource(path=path, question_field="q", answer_field="a", difficulty_field="lvl",
                             metadata_fields=["extra"], group_field="topic")
    prompts = list(source.load())
    assert [p.reference for p in prompts] == ["3", "\\frac12"]  # JSON 3.0 -> "3"
    assert [p.difficulty for p in prompts] == [2.0, 4.0]
    assert prompts[1].metadata == {"extra": "y", "group": "fractions"}
    assert prompts[0].source == "math-jsonl"


def test_plain_table_answer_formats_and_errors(tmp_path):
    path = write_jsonl(tmp_path / "sol.jsonl", [{"question": "q", "solution": "so \\boxed{12}"},
                                                {"question": "q2", "solution": "none"}])
    loaded = MathTableSource(path=path, answer_field="solution", answer_format="boxed").load()
    assert next(loaded).reference == "12"
    with pytest.raises(InputError) as info:
        next(loaded)
    assert (info.value.line, info.value.field) == (2, "solution")

    bad_level = write_jsonl(tmp_path / "lvl.jsonl", [{"question": "q", "answer": "1", "level": 11}])
    with pytest.raises(InputError) as info:
        list(MathTableSource(path=bad_level, difficulty_field="level").load())
    assert info.value.field == "level"
    with pytest.raises(RedStarError, match="answer_format"):
        MathTableSource(path=path, answer_format="latex")


def test_missing_file_and_bad_limit(tmp_path):
    with pytest.raises(InputError, match="not found"):
        list(GSM8KSource(path=str(tmp_path / "nope.jsonl")).load())
    with pytest.raises(RedStarError, match="limit"):
        GSM8KSource(path="x.jsonl", limit=0)
