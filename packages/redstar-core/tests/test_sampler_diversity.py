"""The check that stops a run whose backend returns copies instead of samples, and the rule
that keeps it quiet on real sampling."""

from __future__ import annotations

import pytest

from redstar.interfaces import Completion, SamplingParams
from redstar.samplers.diversity import MIN_CHARS, MIN_PROMPTS, IdenticalSamplesError, check_samples_differ

LONG = "<think>\nSeven and twelve make nineteen; checking: 19 - 7 = 12.\n</think>\n\nThe answer is \\boxed{19}."
assert len(LONG) >= MIN_CHARS


def copies(text: str, n: int = 4) -> list[Completion]:
    return [Completion(text) for _ in range(n)]


def prompts_of_copies(count: int = MIN_PROMPTS) -> list[list[Completion]]:
    return [copies(f"{LONG} ({i})") for i in range(count)]


def test_every_prompt_all_copies_at_temperature_above_0_stops() -> None:
    with pytest.raises(IdenticalSamplesError) as caught:
        check_samples_differ(prompts_of_copies(), SamplingParams(n=4, temperature=0.7), "the xyz sampler")
    message = str(caught.value)
    assert "the xyz sampler" in message and "4 identical completions" in message and "3 prompts" in message
    assert "temperature 0.7" in message and "greedily" in message


def test_the_caller_can_name_the_cause() -> None:
    with pytest.raises(IdenticalSamplesError, match="do_sample"):
        check_samples_differ(prompts_of_copies(), SamplingParams(n=4), "server", cause="set do_sample")


def test_greedy_decoding_is_allowed_its_copies() -> None:
    check_samples_differ(prompts_of_copies(), SamplingParams(n=4, temperature=0.0), "x")


def test_one_prompt_that_differs_is_enough() -> None:
    rows = prompts_of_copies(5)
    rows[3][2] = Completion(LONG + " Also 19.")
    check_samples_differ(rows, SamplingParams(n=4), "x")


def test_short_answers_may_repeat_by_chance() -> None:
    rows = [copies("\\boxed{19}") for _ in range(10)]
    check_samples_differ(rows, SamplingParams(n=4), "x")


def test_too_few_prompts_to_judge() -> None:
    check_samples_differ(prompts_of_copies(MIN_PROMPTS - 1), SamplingParams(n=4), "x")
    # Short prompts do not count towards the minimum either.
    rows = prompts_of_copies(MIN_PROMPTS - 1) + [copies("19")]
    check_samples_differ(rows, SamplingParams(n=4), "x")


def test_missing_completions_are_left_out() -> None:
    rows: list[list[Completion | None]] = [[Completion(f"{LONG} ({i})"), None] for i in range(MIN_PROMPTS)]
    check_samples_differ(rows, SamplingParams(n=2), "x")  # one completion each: nothing to compare
    rows = [[Completion(f"{LONG} ({i})"), None, Completion(f"{LONG} ({i})")] for i in range(MIN_PROMPTS)]
    with pytest.raises(IdenticalSamplesError):
        check_samples_differ(rows, SamplingParams(n=3), "x")
