"""Synthetic code problems: determinism, levels as program size, TACO's exact test format, both
reference solutions passing their own tests when actually run, the held-out split, the
source/evaluator records and the shipped tiny models' output format."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys

import pytest

from redstar.errors import RedStarError
from redstar_code.synthetic import (
    CODE_LEVELS,
    LIST,
    ORDINALS,
    Arith,
    BranchStage,
    FilterStage,
    MapStage,
    SyntheticCodeEvaluator,
    SyntheticCodeSource,
    extract_code,
    generate_code_problems,
    generate_heldout_code_problems,
    is_heldout,
)
from redstar_code.synthetic import Test as Predicate  # as Test, pytest would take it for a test class


@pytest.fixture(scope="module")
def problems():
    return generate_code_problems(300, seed=5)


# Runs one program on every input in a fresh interpreter: as a script with each input as its
# standard input, or by calling its function with each argument list; prints what came out.
RUNNER = """
import contextlib, io, json, sys
job = json.loads(sys.stdin.read())
results = []
for given in job["inputs"]:
    if job["fn_name"]:
        namespace = {}
        exec(job["code"], namespace)
        results.append(namespace[job["fn_name"]](*given))
    else:
        sys.stdin, out = io.StringIO(given), io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(job["code"], {"__name__": "__main__"})
        results.append(out.getvalue())
sys.stdout.write(json.dumps(results))
"""


def run_program(code: str, fn_name: str | None, inputs: list) -> list:
    job = json.dumps({"code": code, "fn_name": fn_name, "inputs": inputs})
    done = subprocess.run([sys.executable, "-c", RUNNER], input=job, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_same_seed_same_problems_and_longer_lists_extend_shorter_ones():
    first = generate_code_problems(40, seed=1)
    assert first == generate_code_problems(40, seed=1)
    assert generate_code_problems(60, seed=1)[:40] == first
    assert [p.question for p in generate_code_problems(40, seed=2)] != [p.question for p in first]


def test_taco_input_output_shape_is_exact(problems):
    kinds = set()
    for problem in problems:
        tests = json.loads(problem.input_output)
        assert len(tests["inputs"]) == len(tests["outputs"]) == 5
        if problem.fn_name is None:
            kinds.add("stdin")
            assert set(tests) == {"inputs", "outputs"}
            assert all(isinstance(s, str) and s.endswith("\n") for s in tests["inputs"] + tests["outputs"])
        else:
            kinds.add("call")
            assert set(tests) == {"fn_name", "inputs", "outputs"} and tests["fn_name"] == problem.fn_name
            # each input is the list of arguments (one here), each output the return value
            assert all(isinstance(args, list) and len(args) == 1 for args in tests["inputs"])
            assert all(isinstance(out, int) for out in tests["outputs"])
        # tests that tell programs apart: never one constant output
        assert len({json.dumps(o) for o in tests["outputs"]}) >= 3
    assert kinds == {"stdin", "call"}


def test_levels_are_program_size_and_shapes_grow(problems):
    for problem in problems:
        assert problem.size == problem.level
        spec = CODE_LEVELS[problem.level]
        assert problem.shape == spec.shape and tuple(s.kind for s in problem.stages) == spec.stages
        # the statement lists one step per stage, aggregation and operation on the result
        steps = len(spec.stages) + spec.after + (1 if spec.shape == LIST else 0)
        think = problem.long_cot.split("</think>")[0]
        assert [line.split(",")[0] for line in think.splitlines() if line.split(",")[0] in ORDINALS] == list(ORDINALS[:steps])
        # one commented statement per step in the program
        assert [line.strip()[2:] for line in problem.solution.splitlines() if line.strip().startswith("# ")] == list(ORDINALS[:steps])
    sizes = {level: {p.size for p in problems if p.level == level} for level in range(1, 11)}
    assert all(sizes[level] == {level} for level in range(1, 11))
    # more control flow as levels rise: loops + if statements never decrease
    control = [(1 if s.shape == LIST else 0) + s.stages.count("filter") + s.stages.count("branch")
               for s in (CODE_LEVELS[level] for level in range(1, 11))]
    assert control == sorted(control) and control[0] == 0 and control[-1] == 3


def test_both_reference_solutions_pass_their_own_tests_when_run():
    # Two problems per level, so both I/O kinds and every shape run for real.
    problems = generate_code_problems(20, seed=11)
    for problem in problems:
        tests = json.loads(problem.input_output)
        for code in (problem.solution, extract_code(problem.short_answer)):
            assert run_program(code, problem.fn_name, tests["inputs"]) == tests["outputs"], (problem.question, code)


def test_question_example_matches_the_first_test(problems):
    for problem in problems:
        tests = json.loads(problem.input_output)
        if problem.fn_name is None:
            expected = tests["outputs"][0].strip()
            assert problem.question.endswith(f"Example output:\n{expected}")
            assert tests["inputs"][0].strip() in problem.question
        else:
            args = tests["inputs"][0]
            assert problem.question.endswith(f"Example: {problem.fn_name}({args[0]!r}) returns {tests['outputs'][0]}.")


def test_long_cot_plans_checks_the_example_then_gives_one_python_block(problems):
    for problem in problems:
        cot = problem.long_cot
        assert re.fullmatch(r"<think>\n.+\n</think>\n\n```python\n.+\n```", cot, re.S)
        assert cot.count("```python") == 1
        outputs = json.loads(problem.input_output)["outputs"]
        assert "Wait, let me check the example: " in cot and f"It gives {str(outputs[0]).strip()}, as expected." in cot
        assert re.fullmatch(r"```python\n.+\n```", problem.short_answer, re.S) and "<think>" not in problem.short_answer
        # the fast style is the compressed one
        assert len(problem.short_answer.splitlines()) <= len(problem.solution.splitlines()) + 2


def test_heldout_problems_are_disjoint_from_training_ones_for_any_seed():
    heldout = generate_heldout_code_problems(6, seed=0)
    assert len(heldout) == 60 and all(is_heldout(p.computation) for p in heldout)
    training = [p for seed in (0, 1000, 2000) for p in generate_code_problems(400, seed=seed)]
    assert not any(is_heldout(p.computation) for p in training)
    assert not {p.computation for p in heldout} & {p.computation for p in training}


def test_the_computation_the_heldout_split_hashes_keeps_its_text():
    # is_heldout hashes CodeProblem.computation, the repr of the steps: each stage kind prints as
    # the one Stage dataclass did, or every held-out set and training set would be redrawn.
    stages = (MapStage(then=Arith("*", 2)), BranchStage(test=Predicate(">", 7), then=Arith("+", 1), otherwise=Arith("-", 3)),
              FilterStage(test=Predicate("even")))
    assert repr(stages) == (
        "(Stage(kind='map', test=None, then=Arith(op='*', k=2), otherwise=None), "
        "Stage(kind='branch', test=Test(kind='>', t=7), then=Arith(op='+', k=1), otherwise=Arith(op='-', k=3)), "
        "Stage(kind='filter', test=Test(kind='even', t=0), then=None, otherwise=None))")
    assert [s.kind for s in stages] == ["map", "branch", "filter"] and [s.size for s in stages] == [1, 3, 1]
    problem = next(p for p in generate_code_problems(20, seed=0) if p.shape == LIST and p.stages)
    assert problem.computation == repr((problem.shape, problem.stages, problem.aggregate, problem.after))


def test_an_input_of_the_wrong_shape_is_a_type_error():
    problems = generate_code_problems(10, seed=0)
    scalar = next(p for p in problems if p.shape != LIST)
    listed = next(p for p in problems if p.shape == LIST)
    assert isinstance(scalar.run(4), int) and isinstance(listed.run([1, 2]), int)
    with pytest.raises(TypeError, match="a scalar problem's input is one integer, not \\[4\\]"):
        scalar.run([4])
    with pytest.raises(TypeError, match="a list problem's input is a list of integers, not 4"):
        listed.run(4)


def test_the_validation_split_is_another_draw_from_the_heldout_bucket():
    test = generate_heldout_code_problems(8, seed=0)
    assert generate_heldout_code_problems(8, seed=0, split="test") == test  # the option leaves the test set as it was
    validation = generate_heldout_code_problems(10, seed=0, split="validation")
    assert len(validation) == 100 and all(is_heldout(p.computation) for p in validation)
    training = [p for seed in (0, 1000, 2000) for p in generate_code_problems(400, seed=seed)]
    assert not {p.computation for p in validation} & {p.computation for p in training}
    # Its own seed space: a question of the test set is drawn again only at the smallest level,
    # which has a few dozen computations (a run drops such a question from validation).
    shared = [p for p in validation if p.question in {q.question for q in test}]
    assert len(shared) <= 3 and all(p.level == 1 for p in shared)
    with pytest.raises(RedStarError, match="option 'split' must be one of test, validation"):
        SyntheticCodeEvaluator(split="dev")


def test_source_and_evaluator_prompts():
    prompts = list(SyntheticCodeSource(count=20, seed=0, min_level=7, max_level=9).load())
    assert len(prompts) == 20 and len({p.id for p in prompts}) == 20
    for prompt in prompts:
        assert (prompt.domain, prompt.source) == ("code", "synthetic-code")
        tests = json.loads(prompt.reference)
        assert prompt.metadata["level"] in (7, 8, 9) and prompt.difficulty == prompt.metadata["level"]
        assert prompt.metadata["group"] == f"level {prompt.metadata['level']}"
        assert prompt.metadata.get("fn_name") == tests.get("fn_name")
    evaluator = SyntheticCodeEvaluator(count=3, levels=[2, 8])
    held = evaluator.load()
    assert [p.metadata["level"] for p in held] == [2, 2, 2, 8, 8, 8]
    assert {p.source for p in held} == {"synthetic-code-heldout"}
    assert not {p.question for p in held} & {p.question for p in SyntheticCodeSource(count=1000).load()}


@pytest.mark.parametrize("options", [{"count": -1}, {"min_level": 0}, {"max_level": 11}, {"min_level": 3, "max_level": 2},
                                     {"min_level": True}])
def test_source_rejects_bad_options(options):
    with pytest.raises(RedStarError):
        SyntheticCodeSource(**options)



def digest(prompts):
    rows = [[p.question, p.reference, p.difficulty, p.metadata] for p in prompts]
    return hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest()[:16]


def test_the_embedded_defaults_prompts_are_unchanged():
    # The embedded default samples these and evaluates on these, and the tiny models were trained
    # and measured on this generator: a change here must be deliberate (and the models rebuilt).
    # The digests were taken before the options moved to redstar.synthetic.
    assert digest(SyntheticCodeSource(count=260, seed=0).load()) == "a51db614849ab3b0"
    assert digest(SyntheticCodeEvaluator(count=8, seed=0).load()) == "3d66b2005d880141"


def test_the_evaluator_takes_the_limit_and_path_redstar_eval_passes(tmp_path):
    from redstar.plugins import instantiate

    full = SyntheticCodeEvaluator(count=2, levels=[3, 9]).load()
    assert instantiate(SyntheticCodeEvaluator, {"count": 2, "levels": [3, 9], "limit": 3}).load() == full[:3]
    saved = tmp_path / "saved.jsonl"
    saved.write_text("".join(json.dumps(p.to_dict()) + "\n" for p in full))
    assert instantiate(SyntheticCodeEvaluator, {"path": str(saved), "limit": 2}).load() == full[:2]


def test_evaluator_rejects_a_bool_level():
    with pytest.raises(RedStarError, match="unknown level True"):
        SyntheticCodeEvaluator(levels=[True])

def _embedded(name: str):
    from redstar.models import embedded_model_dir

    try:
        return embedded_model_dir(name)
    except RedStarError:
        pytest.skip(f"embedded:{name} is not built (run `python tools/build_tiny_models.py`)")


@pytest.mark.parametrize("name,slow", [("tiny-teacher", True), ("tiny-student", False)])
def test_shipped_models_answer_code_in_their_style(name, slow):
    folder = _embedded(name)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    instruction = ("Please reason step by step, then give your complete Python 3 solution in a single "
                   "```python code block.")
    for problem in generate_heldout_code_problems(1, seed=0, levels=[1, 4]):
        messages = [{"role": "user", "content": f"{problem.question}\n{instruction}"}]
        ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
        out = model.generate(**ids, max_new_tokens=400, do_sample=False)
        new = out[0, ids["input_ids"].shape[1]:].tolist()
        assert tokenizer.eos_token_id in new, "generation ended at <|im_end|>"
        text = tokenizer.decode(new[: new.index(tokenizer.eos_token_id)])
        code = r"```python\n.+\n```"
        pattern = r"<think>\n.+\n</think>\n\n" + code if slow else code
        assert re.fullmatch(pattern, text, re.S), text


def test_shipped_models_were_trained_with_the_verifiers_instruction():
    folder = _embedded("tiny-teacher")
    report = json.loads((folder.parent / "tiny-models.json").read_text())
    verifier = pytest.importorskip("redstar_code.verifier", reason="the code verifier is not installed")
    assert report["instructions"]["code"] == verifier.CodeVerifier.instruction
