"""Math benchmarks: the shipped samples always, the full sets when /work/shared is present."""

import json
from pathlib import Path

import pytest

from redstar.errors import InputError
from redstar_math.evaluators import (
    AIME24Evaluator,
    AMC23Evaluator,
    CollegeMathEvaluator,
    GSM8KEvaluator,
    Math500Evaluator,
    MathHardEvaluator,
    OlympiadBenchEvaluator,
)
from redstar_math.verifier import MathVerifier

BENCHMARKS = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "benchmarks"
FULL = [
    (MathHardEvaluator, "math", 1324), (Math500Evaluator, "math500", 500), (OlympiadBenchEvaluator, "olympiadbench", 675),
    (CollegeMathEvaluator, "college_math", 2818), (AIME24Evaluator, "aime24", 30), (AMC23Evaluator, "amc23", 40),
    (GSM8KEvaluator, "gsm8k", 1319),
]


@pytest.mark.parametrize(("cls", "folder", "count"), FULL, ids=[c.name for c, _, _ in FULL])
def test_shipped_sample_loads_as_math_prompts(cls, folder, count):
    prompts = cls().load()
    assert 10 <= len(prompts) <= 20
    for prompt in prompts:
        assert prompt.domain == "math" and prompt.source == cls.name
        assert prompt.question.strip() and prompt.reference.strip()
        assert not (prompt.reference.startswith("$") and prompt.reference.endswith("$"))
    assert len(cls(limit=3).load()) == 3


def test_groups_and_golds_of_samples():
    hard = MathHardEvaluator().load()
    assert {p.metadata["group"] for p in hard} == {"Algebra", "Counting & Probability", "Geometry",
                                                   "Intermediate Algebra", "Number Theory", "Prealgebra", "Precalculus"}
    assert {p.metadata["group"] for p in AIME24Evaluator().load()} <= {"AIME I", "AIME II"}
    assert {p.metadata["group"] for p in AMC23Evaluator().load()} <= {"AMC 12A", "AMC 12B"}
    assert all(p.metadata["group"].startswith("Level ") for p in Math500Evaluator().load())
    assert all(p.reference.isdigit() for p in GSM8KEvaluator().load())
    amc = AMC23Evaluator().load()
    assert all("." not in p.reference for p in amc)  # 27.0 -> "27"
    college = CollegeMathEvaluator().load()
    assert all("CC BY" in p.metadata["license"] for p in college)


def test_sample_golds_verify_against_themselves_and_not_each_other():
    verifier = MathVerifier()
    for cls, _, _ in FULL:
        prompts = cls().load()
        for prompt, other in zip(prompts, prompts[1:] + prompts[:1]):
            assert verifier.verify(f"The answer is $\\boxed{{{prompt.reference}}}$.", prompt.reference).correct
            if other.reference != prompt.reference and cls is not CollegeMathEvaluator:
                assert not verifier.verify(f"\\boxed{{{other.reference}}}", prompt.reference).correct


def test_math_hard_keeps_level_five_rows_only(tmp_path):
    rows = [{"problem": f"p{i}", "solution": f"\\boxed{{{i}}}", "answer": str(i), "level": f"Level {i % 5 + 1}",
             "type": "Algebra"} for i in range(10)]
    path = tmp_path / "math.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert [p.reference for p in MathHardEvaluator(path=str(path)).load()] == ["4", "9"]


def test_olympiadbench_bad_final_answer_is_named(tmp_path):
    path = tmp_path / "ob.jsonl"
    path.write_text(json.dumps({"question": "q", "final_answer": [], "subfield": "Algebra"}) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        OlympiadBenchEvaluator(path=str(path)).load()
    assert (info.value.line, info.value.field) == (1, "final_answer")


@pytest.mark.skipif(not BENCHMARKS.exists(), reason="the shared benchmark files are not on this machine")
@pytest.mark.parametrize(("cls", "folder", "count"), FULL, ids=[c.name for c, _, _ in FULL])
def test_full_sets_have_their_published_sizes(cls, folder, count):
    prompts = cls(path=str(BENCHMARKS / folder / "test.jsonl")).load()
    assert len(prompts) == count
    assert all(p.reference for p in prompts)
