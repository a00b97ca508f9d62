"""MathVerifier: rewards, the labelled accuracy bar, parallel verification, hostile responses."""

import json
import re
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from redstar.errors import RedStarError
from redstar.records import REWARD_CORRECT, REWARD_NO_ANSWER, REWARD_WRONG, Prompt
from redstar_math.verifier import MathVerifier

LABELLED = Path(__file__).parent / "data" / "verifier_labelled.jsonl"


def labelled_rows():
    return [json.loads(line) for line in LABELLED.open(encoding="utf-8")]


def test_instruction_is_the_qwen_math_one():
    assert MathVerifier.instruction == "Please reason step by step, and put your final answer within \\boxed{}."
    assert MathVerifier.domain == "math"


def test_messages_put_the_instruction_in_the_user_turn_and_optionally_a_system_prompt():
    prompt = Prompt(domain="math", source="t", question="What is 1+1?", reference="2")
    assert MathVerifier().messages(prompt) == [
        {"role": "user", "content": "What is 1+1?\nPlease reason step by step, and put your final answer within \\boxed{}."}
    ]
    with_system = MathVerifier(system_prompt="You are a careful mathematician.").messages(prompt)
    assert with_system[0] == {"role": "system", "content": "You are a careful mathematician."}
    assert with_system[1]["role"] == "user"


def test_rewards_are_one_zero_and_minus_one():
    verifier = MathVerifier()
    right = verifier.verify("2 + 2 = 4, so \\boxed{4}.", "4")
    wrong = verifier.verify("2 + 2 = 5, so \\boxed{5}.", "4")
    none = verifier.verify("2 + 2 = 4, I believe, and 4 is even.", "4")
    assert (right.reward, right.correct, right.extracted) == (REWARD_CORRECT, True, "4")
    assert (wrong.reward, wrong.correct, wrong.extracted) == (REWARD_WRONG, False, "5")
    assert (none.reward, none.correct, none.extracted) == (REWARD_NO_ANSWER, False, None)


def test_extracted_answers_are_canonical_for_majority_voting():
    verifier = MathVerifier()
    answers = {verifier.verify(f"\\boxed{{{a}}}", "0.5").extracted for a in ("0.5", r"\frac12", r"\dfrac{1}{2}", "1/2")}
    assert answers == {"1/2"}


def test_labelled_set_accuracy_bar():
    """Several hundred labelled pairs across every category (see tests/data/build_labelled_set.py):
    at least 0.98 overall and 0.9 in every category."""
    rows = labelled_rows()
    assert len(rows) >= 600
    verifier = MathVerifier()
    misses = []
    by_category = Counter()
    for row in rows:
        verdict = verifier.verify(row["response"], row["gold"])
        by_category[row["category"]] += 1
        if verdict.reward != row["expected_reward"]:
            misses.append((row["category"], row["gold"], row["answer_as_written"], verdict.reason))
    accuracy = 1 - len(misses) / len(rows)
    assert len(by_category) >= 25
    assert accuracy >= 0.98, misses
    missed = Counter(category for category, *_ in misses)
    weak = {c: 1 - missed[c] / n for c, n in by_category.items() if 1 - missed[c] / n < 0.9}
    assert not weak, (weak, misses)


def test_verify_many_in_worker_processes_matches_one_by_one():
    rows = labelled_rows()[:300]
    items = [(r["response"], Prompt(domain="math", source="t", question=f"q{i}", reference=r["gold"]))
             for i, r in enumerate(rows)]
    serial = MathVerifier().verify_many(items)
    parallel = MathVerifier(workers=2).verify_many(items)
    assert [v.to_dict() for v in parallel] == [v.to_dict() for v in serial]


@pytest.mark.parametrize(
    ("response", "gold", "reward"),
    [
        (r"\boxed{9^{9^{9^{9}}}}", "5", REWARD_WRONG),
        (r"\boxed{100000!}", "120", REWARD_WRONG),
        ("Let x = 3. " * 100_000, "5", REWARD_NO_ANSWER),
        ("<think>" + "Let x = 3. " * 100_000 + "</think> The answer is \\boxed{5}", "5", REWARD_CORRECT),
        ("\\boxed{" * 150_000, "5", REWARD_NO_ANSWER),
        ("\\boxed{" + "(" * 5000 + "5" + ")" * 5000 + "}", "5", REWARD_WRONG),
        ("\\boxed{" + "\\frac{1}{" * 3000 + "2" + "}" * 3000 + "}", "5", REWARD_WRONG),
        ("\\boxed{" + "}" * 100_000, "5", REWARD_NO_ANSWER),
        ("$" * 500_000 + " the answer is 5", "5", REWARD_CORRECT),
        ("\\boxed{" + "+".join(["1"] * 300) + "}", "300", REWARD_CORRECT),
    ],
    ids=["tower", "factorial", "1MB-no-answer", "1MB-think", "unclosed-boxes", "deep-parens", "deep-fractions",
         "stray-braces", "dollars", "long-sum"],
)
def test_hostile_responses_are_decided(response, gold, reward):
    assert MathVerifier().verify(response, gold).reward == reward


def test_bad_options_are_refused():
    with pytest.raises(RedStarError, match="timeout"):
        MathVerifier(timeout=0)
    with pytest.raises(RedStarError, match="workers"):
        MathVerifier(workers=0)
    with pytest.raises(RedStarError, match="strict_decimals must be true or false"):
        MathVerifier(strict_decimals="yes")


def test_strict_decimals_is_a_recipe_option(tmp_path, redstar_host, register_plugin):
    import redstar_math.plugin
    from redstar.recipe.loading import load_recipe
    from redstar.services import VerifierPool

    register_plugin(redstar_math.plugin, name="math")
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("name: strict\nmodels: {teacher: t, student: s}\nverifiers:\n  math:\n    strict_decimals: true\n",
                      encoding="utf-8")
    pool = VerifierPool.from_options(redstar_host, load_recipe(recipe).verifiers)
    strict, default = pool.verifier("math"), MathVerifier()
    for response, gold in [(r"\boxed{0.333}", r"\frac13"), (r"\boxed{3.14}", r"\pi")]:
        assert default.verify(response, gold).correct
        verdict = strict.verify(response, gold)
        assert (verdict.correct, verdict.reward) == (False, REWARD_WRONG)
    assert strict.verify(r"\boxed{0.5}", r"\frac12").correct
    # verify_many's worker processes read it the same way
    items = [(r"\boxed{0.333}", Prompt(domain="math", source="t", question=f"q{i}", reference=r"\frac13"))
             for i in range(300)]
    assert not any(v.correct for v in MathVerifier(workers=2, strict_decimals=True).verify_many(items))


def test_several_boxes_are_one_answer_spelt_twice_or_a_list_never_a_pick():
    verifier = MathVerifier()
    assert verifier.verify(r"So $\boxed{x+11}$, or $\boxed{11+x}$.", "11+x").correct
    assert verifier.verify(r"The answers are $\boxed{-2}$ and $\boxed{1}$.", "-2, 1").correct
    # Listing candidates must not earn the reward for one of them.
    assert not verifier.verify(r"The answers are $\boxed{-2}$ and $\boxed{1}$.", "1").correct


def test_close_stops_the_sympy_worker_and_checks_still_work_after():
    from redstar_math.cas import shared_cas

    verifier = MathVerifier()
    assert verifier.verify(r"\boxed{\int_0^1 x dx}", r"\frac{1}{2}").reason == "equal (cas)"
    worker = shared_cas()._process
    assert worker is not None and worker.poll() is None
    verifier.close()
    assert worker.poll() is not None and shared_cas()._process is None
    assert verifier.verify(r"\boxed{\int_0^2 x dx}", "2").correct
    verifier.close()


budget_needs_alarm = pytest.mark.skipif(
    not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread()
    or signal.getitimer(signal.ITIMER_REAL)[0] > 0,
    reason="the budget's alarm works in the main thread only, with no other timer running")


@budget_needs_alarm
def test_a_check_that_runs_away_is_stopped_by_its_budget(monkeypatch):
    import redstar_math.verifier as verifier_module

    def forever(*args, **kwargs):
        while True:
            pass

    handler = signal.getsignal(signal.SIGALRM)
    monkeypatch.setattr(verifier_module, "compare", forever)
    verdict = MathVerifier(timeout=0.3).verify(r"\boxed{5}", "5")
    assert (verdict.correct, verdict.reward, verdict.reason) == (False, REWARD_WRONG, "timeout")
    assert signal.getsignal(signal.SIGALRM) is handler and signal.getitimer(signal.ITIMER_REAL)[0] == 0


@budget_needs_alarm
def test_the_budget_stops_even_a_runaway_regular_expression(monkeypatch):
    from redstar_math import extract

    monkeypatch.setattr(extract, "MARKERS", [re.compile(r"(a+)+b")])  # exponential on a run of "a"
    verdict = MathVerifier(timeout=0.3).verify("a" * 40, "5")
    assert verdict.reason == "timeout"


@budget_needs_alarm
def test_the_budget_never_interrupts_a_shielded_block():
    from redstar_math.budget import BudgetExceeded, shielded, time_limit

    finished = False
    # Another thread may be the one the kernel delivers the alarm to; the shield must hold anyway.
    bystander = threading.Thread(target=time.sleep, args=(1.0,), daemon=True)
    bystander.start()
    with pytest.raises(BudgetExceeded), time_limit(0.05):
        with shielded():
            end = time.monotonic() + 0.3
            while time.monotonic() < end:
                pass
            finished = True
        while True:  # the held-back alarm fires as soon as the shield is down
            pass
    assert finished
