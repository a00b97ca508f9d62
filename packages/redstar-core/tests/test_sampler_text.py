"""Helpers shared by the samplers: stop strings, finish reasons, conversation checks."""

from __future__ import annotations

import pytest

from redstar.errors import RedStarError
from redstar.samplers.chat import check_conversations, openai_messages
from redstar.samplers.text import cut_at_stop, normalize_finish_reason


def test_cut_at_the_earliest_stop_string() -> None:
    assert cut_at_stop("abc</answer>def```x", ["```", "</answer>"]) == ("abc", True)
    assert cut_at_stop("no marker", ["```"]) == ("no marker", False)
    assert cut_at_stop("keeps empty stops out", [""]) == ("keeps empty stops out", False)
    assert cut_at_stop("", ["x"]) == ("", False)


@pytest.mark.parametrize(
    ("given", "expected"),
    [("stop", "stop"), ("eos", "stop"), ("end_turn", "stop"), ("length", "length"),
     ("max_tokens", "length"), ("content_filter", "content_filter"), ("abort", "abort"), (None, None)],
)
def test_finish_reasons(given: str | None, expected: str | None) -> None:
    assert normalize_finish_reason(given) == expected


def test_conversation_shape_errors_name_the_place() -> None:
    with pytest.raises(RedStarError, match="conversation 1 must be a non-empty list"):
        check_conversations([[{"role": "user", "content": "q"}], []], "x")
    with pytest.raises(RedStarError, match="conversation 0, message 1: a message must be a mapping"):
        check_conversations([[{"role": "user", "content": "q"}, "oops"]], "x")
    with pytest.raises(RedStarError, match="'content' must be a string or a list of parts, got int"):
        check_conversations([[{"role": "user", "content": 3}]], "x")
    check_conversations([[{"role": "user", "content": [{"type": "image", "path": "p.png"}]}]], "x", images=True)


def test_openai_messages_leave_text_alone() -> None:
    conversation = [{"role": "system", "content": "Think step by step."}, {"role": "user", "content": "q"}]
    assert openai_messages(conversation) == conversation


def test_an_r1_style_generation_prompt_s_opening_is_found_and_restored() -> None:
    from redstar.interfaces import Completion
    from redstar.samplers.text import opened_reasoning, restore_openings

    assert opened_reasoning("<|im_start|>assistant\n<think>\n") == "<think>\n"
    assert opened_reasoning("<｜Assistant｜><think>\n") == "<think>\n"
    assert opened_reasoning("<|im_start|>assistant\n") == ""
    # Qwen3 with thinking off: an empty, closed block is not an opening
    assert opened_reasoning("<|im_start|>assistant\n<think>\n\n</think>\n\n") == ""
    rows = [[Completion("so \\boxed{5}", "length"), None], [Completion("x", "stop")]]
    assert restore_openings(rows, ["<think>\n", ""]) == [[Completion("<think>\nso \\boxed{5}", "length"), None],
                                                         [Completion("x", "stop")]]


@pytest.mark.parametrize(("text", "opened", "expected"), [
    ("reasoning</think>\n\n\\boxed{5}", None, "<think>\nreasoning</think>\n\n\\boxed{5}"),  # closes what it never opened
    ("reasoning cut off \\boxed{5}", None, "reasoning cut off \\boxed{5}"),  # auto cannot tell: left alone
    ("reasoning cut off \\boxed{5}", True, "<think>\nreasoning cut off \\boxed{5}"),
    ("<think>\nr</think> a", True, "<think>\nr</think> a"),  # the model wrote it: not twice
    ("reasoning</think> a", False, "reasoning</think> a"),
    ("plain answer", None, "plain answer"),
])
def test_a_server_s_response_gets_its_opening_back(text: str, opened: bool | None, expected: str) -> None:
    from redstar.samplers.text import reopen_reasoning

    assert reopen_reasoning(text, opened) == expected
