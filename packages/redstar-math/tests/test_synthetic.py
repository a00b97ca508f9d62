"""Synthetic math problems: determinism, what levels measure, exact answers recomputed from the
question text alone, both solution styles, the held-out split, the source/evaluator records and
the shipped tiny models' output format."""

from __future__ import annotations

import hashlib
import json
import re

import pytest

from redstar.errors import RedStarError
from redstar_math.synthetic import (
    MATH_LEVELS,
    ORDINALS,
    SyntheticMathEvaluator,
    SyntheticMathSource,
    generate_heldout_math_problems,
    generate_math_problems,
    is_heldout,
)

ADD = re.compile(r"(?:buys|finds|gets) (\d+) more")
SUB = re.compile(r"(?:gives away|loses|sells) (\d+)")
EQUATION = re.compile(r"(\d+) ([-+*/]) (\d+) = (\d+)")


def solve_from_text(question: str) -> tuple[int, list[int], int]:
    """Recompute a question's answer from its words alone: (answer, stated numbers, steps)."""
    sentences = question.split(". ")
    start = int(re.search(r"has (\d+) ", sentences[0]).group(1))
    assert [s.split(",")[0] for s in sentences[1:-1]] == list(ORDINALS[: len(sentences) - 2]), question
    value, numbers, steps = start, [start], 0
    for sentence in sentences[1:]:
        if m := ADD.search(sentence):
            value += int(m.group(1))
            numbers.append(int(m.group(1)))
        elif m := SUB.search(sentence):
            value -= int(m.group(1))
            numbers.append(int(m.group(1)))
        elif "doubles them" in sentence:
            value *= 2
        else:
            assert sentence.startswith("How many"), sentence
            continue
        steps += 1
        assert value >= 0, question
    return value, numbers, steps


@pytest.fixture(scope="module")
def problems():
    return generate_math_problems(400, seed=7)


def test_same_seed_same_problems_and_longer_lists_extend_shorter_ones():
    first = generate_math_problems(50, seed=3)
    assert first == generate_math_problems(50, seed=3)
    assert generate_math_problems(80, seed=3)[:50] == first
    assert [p.question for p in generate_math_problems(50, seed=4)] != [p.question for p in first]


def test_answers_recomputed_from_the_question_text(problems):
    for problem in problems:
        answer, _, steps = solve_from_text(problem.question)
        assert str(answer) == problem.answer, problem.question
        assert steps == problem.steps


def test_levels_measure_steps_and_operand_size(problems):
    table = [MATH_LEVELS[level] for level in sorted(MATH_LEVELS)]
    for lower, higher in zip(table, table[1:]):
        assert higher.steps >= lower.steps and higher.operand_digits >= lower.operand_digits
        assert (higher.steps, higher.operand_digits) != (lower.steps, lower.operand_digits)
    observed = {}
    for problem in problems:
        _, numbers, steps = solve_from_text(problem.question)
        spec = MATH_LEVELS[problem.level]
        assert steps == spec.steps
        assert max(len(str(n)) for n in numbers) <= spec.operand_digits
        observed.setdefault(problem.level, []).append(max(len(str(n)) for n in numbers))
    assert sorted(observed) == list(range(1, 11)), "levels cycle evenly"
    # The digit bound is reached, not only allowed: the widest stated number grows with the level.
    widest = [max(observed[level]) for level in range(1, 11)]
    assert widest == [MATH_LEVELS[level].operand_digits for level in range(1, 11)]


def test_long_cot_works_each_step_checks_itself_and_boxes_the_answer(problems):
    for problem in problems:
        cot = problem.long_cot
        assert cot.startswith("<think>\n")
        assert cot.endswith(f"\n</think>\n\nThe answer is \\boxed{{{problem.answer}}}.")
        assert "Wait, let me verify" in cot
        lines = cot.splitlines()
        # one line per step, introduced by the step's ordinal as in the question
        assert [line.split(",")[0] for line in lines if line.split(",")[0] in ORDINALS] == list(ORDINALS[:problem.steps])
        equations = EQUATION.findall(cot)
        # each step worked once, then the last one checked by its inverse
        assert len(equations) == problem.steps + 1
        for a, op, b, c in equations:
            a, b, c = int(a), int(b), int(c)
            assert {"+": a + b, "-": a - b, "*": a * b, "/": a / b}[op] == c, (a, op, b, c)
        last, check = equations[-2], equations[-1]
        assert check[0] == last[3] and check[3] == last[0] and check[2] == last[2]
        assert problem.short_answer == f"The answer is \\boxed{{{problem.answer}}}."


def test_heldout_problems_are_disjoint_from_training_ones_for_any_seed():
    heldout = generate_heldout_math_problems(10, seed=0)
    assert len(heldout) == 100 and all(is_heldout(p.arithmetic) for p in heldout)
    assert [p.level for p in heldout] == [level for level in range(1, 11) for _ in range(10)]
    training = [p for seed in (0, 1, 1000, 2000) for p in generate_math_problems(500, seed=seed)]
    assert not any(is_heldout(p.arithmetic) for p in training)
    assert not {p.arithmetic for p in heldout} & {p.arithmetic for p in training}
    assert not {p.question for p in heldout} & {p.question for p in training}
    # The split is by arithmetic: roughly one in eight computations is held out.
    assert 0.05 < sum(is_heldout(f"{a}+{b}") for a in range(100) for b in range(100)) / 10_000 < 0.2


def test_the_validation_split_is_another_draw_from_the_heldout_bucket():
    test = generate_heldout_math_problems(10, seed=0)
    assert generate_heldout_math_problems(10, seed=0, split="test") == test  # the option leaves the test set as it was
    validation = generate_heldout_math_problems(20, seed=0, split="validation")
    assert len(validation) == 200 and all(is_heldout(p.arithmetic) for p in validation)
    training = [p for seed in (0, 1, 1000, 2000) for p in generate_math_problems(500, seed=seed)]
    assert not {p.arithmetic for p in validation} & {p.arithmetic for p in training}
    # Drawn from its own seed space: from level 3 on (millions of computations) no question is
    # shared; at levels 1-2 (a few hundred) a few are, and a run drops them from validation.
    shared = [p for p in validation if p.question in {q.question for q in test}]
    assert len(shared) <= 5 and all(p.level <= 2 for p in shared)
    prompts = SyntheticMathEvaluator(count=3, levels=[4], split="validation").load()
    assert [p.question for p in prompts] == [p.question for p in validation if p.level == 4][:3]
    with pytest.raises(RedStarError, match="option 'split' must be one of test, validation"):
        SyntheticMathEvaluator(split="dev")


def test_source_yields_prompts_in_the_records_format():
    prompts = list(SyntheticMathSource(count=30, seed=0, min_level=7, max_level=9).load())
    assert len(prompts) == 30 and len({p.id for p in prompts}) == 30
    for prompt in prompts:
        assert (prompt.domain, prompt.source) == ("math", "synthetic-math")
        level = prompt.metadata["level"]
        assert level in (7, 8, 9) and prompt.difficulty == level
        assert prompt.metadata["group"] == f"level {level}"
        assert str(solve_from_text(prompt.question)[0]) == prompt.reference
        assert prompt.to_dict() == type(prompt).from_dict(json.loads(json.dumps(prompt.to_dict()))).to_dict()


def test_evaluator_is_held_out_from_the_source():
    evaluator = SyntheticMathEvaluator(count=5, levels=[1, 9])
    prompts = evaluator.load()
    assert [p.metadata["level"] for p in prompts] == [1] * 5 + [9] * 5
    assert {p.source for p in prompts} == {"synthetic-math-heldout"}
    source = {p.question for p in SyntheticMathSource(count=2000).load()}
    assert not source & {p.question for p in prompts}


@pytest.mark.parametrize("options", [{"count": 0}, {"min_level": 0}, {"max_level": 11}, {"min_level": 5, "max_level": 4},
                                     {"min_level": True}])
def test_source_rejects_bad_options(options):
    with pytest.raises(RedStarError):
        SyntheticMathSource(**options)


def test_evaluator_rejects_unknown_levels():
    with pytest.raises(RedStarError, match="unknown level 12"):
        SyntheticMathEvaluator(levels=[1, 12])



def digest(prompts):
    rows = [[p.question, p.reference, p.difficulty, p.metadata] for p in prompts]
    return hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest()[:16]


def test_the_embedded_defaults_prompts_are_unchanged():
    # The embedded default samples these and evaluates on these, and the tiny models were trained
    # and measured on this generator: a change here must be deliberate (and the models rebuilt).
    # The digests were taken before the options moved to redstar.synthetic.
    assert digest(SyntheticMathSource(count=400, seed=0).load()) == "966d902a142e6692"
    assert digest(SyntheticMathEvaluator(count=10, seed=0).load()) == "78bd5ac351799506"


def test_the_evaluator_takes_the_limit_and_path_redstar_eval_passes(tmp_path):
    from redstar.plugins import instantiate

    full = SyntheticMathEvaluator(count=2, levels=[3, 9]).load()
    assert instantiate(SyntheticMathEvaluator, {"count": 2, "levels": [3, 9], "limit": 3}).load() == full[:3]
    saved = tmp_path / "saved.jsonl"
    saved.write_text("".join(json.dumps(p.to_dict()) + "\n" for p in full))
    assert instantiate(SyntheticMathEvaluator, {"path": str(saved), "limit": 2}).load() == full[:2]


def test_evaluator_rejects_a_bool_level():
    with pytest.raises(RedStarError, match="unknown level True"):
        SyntheticMathEvaluator(levels=[True])

def _embedded(name: str):
    from redstar.models import embedded_model_dir

    try:
        return embedded_model_dir(name)
    except RedStarError:
        pytest.skip(f"embedded:{name} is not built (run `python tools/build_tiny_models.py`)")


@pytest.mark.parametrize("name,slow", [("tiny-teacher", True), ("tiny-student", False)])
def test_shipped_models_answer_math_in_their_style(name, slow):
    folder = _embedded(name)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    instruction = "Please reason step by step, and put your final answer within \\boxed{}."
    for problem in generate_heldout_math_problems(1, seed=0, levels=[2, 5]):
        messages = [{"role": "user", "content": f"{problem.question}\n{instruction}"}]
        ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
        out = model.generate(**ids, max_new_tokens=400, do_sample=False)
        new = out[0, ids["input_ids"].shape[1]:].tolist()
        assert tokenizer.eos_token_id in new, "generation ended at <|im_end|>"
        text = tokenizer.decode(new[: new.index(tokenizer.eos_token_id)])
        answer = r"The answer is \\boxed\{\d+\}\."
        pattern = r"<think>\n.+\n</think>\n\n" + answer if slow else answer
        assert re.fullmatch(pattern, text, re.S), text


def test_shipped_models_were_trained_with_the_verifiers_instruction():
    folder = _embedded("tiny-teacher")
    report = json.loads((folder.parent / "tiny-models.json").read_text())
    verifier = pytest.importorskip("redstar_math.verifier", reason="the math verifier is not installed")
    assert report["instructions"]["math"] == verifier.MathVerifier.instruction
