"""The ``transformers`` sampler on a real tiny Qwen2 model (CPU, fp32)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch

from redstar.errors import RedStarError
from redstar.interfaces import SamplingParams, options_of
from redstar.samplers.chat import render_prompts
from redstar.samplers.text import TokenDecoder, special_ids_to_drop
from redstar.samplers.transformers_local import TransformersSampler

QUESTIONS = [
    "What is 12 + 7?",
    "hi",
    "Write a function add(a, b) that returns a + b.",
    "Choices: A: 30 B: 40 C: 50 D: 60. Which one?",
    "x",
]


def ask(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


@pytest.fixture(scope="module")
def sharp_lm(tiny_lm: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``tiny_lm`` with every weight scaled by 8. The plain random model answers every prompt
    greedily with the same repeated token; scaled up, its greedy answer differs from prompt to
    prompt, which is what tests of ordering need to tell answers apart."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_lm, dtype=torch.float32)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.mul_(8)
    out = tmp_path_factory.mktemp("sharp-lm")
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(tiny_lm).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def sampler(sharp_lm: Path) -> Iterator[TransformersSampler]:
    # batch_size 2 with 5 prompts: several batches, and sorting by length reorders the prompts.
    loaded = TransformersSampler(model=str(sharp_lm), device="cpu", batch_size=2)
    yield loaded
    loaded.close()


@pytest.fixture
def fresh(sampler: TransformersSampler) -> Iterator[TransformersSampler]:
    sampler.on_progress = None
    yield sampler
    sampler.on_progress = None


def texts(result: list[list[Any]]) -> list[list[str]]:
    return [[c.text for c in row] for row in result]


def test_greedy_answers_come_back_in_input_order(fresh: TransformersSampler) -> None:
    params = SamplingParams(n=2, temperature=0, max_new_tokens=6)
    batched = fresh.generate([ask(q) for q in QUESTIONS], params)
    alone = [fresh.generate([ask(q)], params)[0] for q in QUESTIONS]
    assert texts(batched) == texts(alone)
    assert all(len(row) == 2 and row[0].text == row[1].text for row in batched)
    # The check above means something only if the answers differ between prompts.
    assert len({row[0].text for row in batched}) == len(QUESTIONS)


def test_greedy_is_deterministic(fresh: TransformersSampler) -> None:
    params = SamplingParams(n=1, temperature=0, max_new_tokens=5)
    conversations = [ask(q) for q in QUESTIONS[:3]]
    assert texts(fresh.generate(conversations, params)) == texts(fresh.generate(conversations, params))


def test_sampling_gives_n_different_completions_per_conversation(fresh: TransformersSampler) -> None:
    # The sharpened model is nearly deterministic over a few tokens: 4 samples of 12 tokens make
    # identical ones vanishingly unlikely.
    result = fresh.generate([ask(q) for q in QUESTIONS[:3]], SamplingParams(n=4, temperature=1.0, max_new_tokens=12, seed=1))
    assert [len(row) for row in result] == [4, 4, 4]
    assert all(len(set(row)) > 1 for row in texts(result))


def seeded(conversations: list[int], n: int = 3) -> SamplingParams:
    """Per-completion seeds that depend only on the conversation (by its QUESTIONS position)."""
    return SamplingParams(n=n, temperature=1.0, max_new_tokens=12,
                          seeds=tuple(tuple(1000 * q + k for k in range(n)) for q in conversations))


def test_a_seeded_row_draws_the_same_tokens_whatever_its_batch(fresh: TransformersSampler) -> None:
    """Its neighbours, their order, the batch size and n may all change: the tokens a row draws
    depend on its own seed only (up to float rounding from padding, which does not show here)."""
    target = 2  # a prompt of middling length: the others pad around it differently
    alone = texts(fresh.generate([ask(QUESTIONS[target])], seeded([target])))[0]
    assert len(set(alone)) > 1  # the seeds differ and so do the samples: this is not greedy
    together = texts(fresh.generate([ask(q) for q in QUESTIONS], seeded(list(range(len(QUESTIONS))))))
    assert together[target] == alone
    try:
        fresh.batch_size = 3
        reordered = [4, 2, 0, 3]
        shuffled = texts(fresh.generate([ask(QUESTIONS[q]) for q in reordered], seeded(reordered)))
    finally:
        fresh.batch_size = 2
    assert shuffled[1] == alone
    # The first two seeds of an n=2 call draw what the first two of an n=3 call drew.
    assert texts(fresh.generate([ask(QUESTIONS[target])], seeded([target], n=2)))[0] == alone[:2]
    # And the other rows too: every row equals its own draw in the all-together call.
    assert [shuffled[i] for i in (0, 2, 3)] == [together[q] for q in (4, 0, 3)]


def test_seeds_must_match_the_conversations(fresh: TransformersSampler) -> None:
    with pytest.raises(RedStarError, match="one tuple of n=2 seeds per conversation"):
        fresh.generate([ask("hi"), ask("x")], SamplingParams(n=2, seeds=((1, 2),)))
    with pytest.raises(RedStarError, match="integers in"):
        fresh.generate([ask("hi")], SamplingParams(n=1, seeds=((-1,),)))


def test_seed_makes_sampling_reproducible(fresh: TransformersSampler) -> None:
    conversations = [ask(q) for q in QUESTIONS[:3]]
    first = fresh.generate(conversations, SamplingParams(n=2, temperature=1.0, max_new_tokens=6, seed=3))
    again = fresh.generate(conversations, SamplingParams(n=2, temperature=1.0, max_new_tokens=6, seed=3))
    other = fresh.generate(conversations, SamplingParams(n=2, temperature=1.0, max_new_tokens=6, seed=4))
    assert texts(first) == texts(again)
    assert texts(first) != texts(other)


def test_seeded_call_leaves_the_global_random_state_alone(fresh: TransformersSampler) -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    fresh.generate([ask("hi")], SamplingParams(n=1, temperature=1.0, max_new_tokens=3, seed=9))
    assert torch.equal(torch.rand(3), expected)


def test_tiny_token_budget_reports_length(fresh: TransformersSampler) -> None:
    result = fresh.generate([ask(q) for q in QUESTIONS], SamplingParams(n=1, temperature=0, max_new_tokens=2))
    assert [row[0].finish_reason for row in result] == ["length"] * len(QUESTIONS)


def test_stop_string_ends_the_response_and_is_cut(fresh: TransformersSampler) -> None:
    params = SamplingParams(n=1, temperature=1.0, max_new_tokens=24, seed=5)
    [[full]] = fresh.generate([ask("What is 12 + 7?")], params)
    # A plain two-letter marker from the middle of the free-running answer; the same seed makes
    # the stopped run produce the same tokens up to it.
    match = re.search(r"[A-Za-z]{2}", full.text[3:])
    assert match is not None, full.text
    marker = match.group()
    [[stopped]] = fresh.generate([ask("What is 12 + 7?")], replace(params, stop=[marker]))
    assert stopped.text == full.text[: full.text.index(marker)]
    assert stopped.finish_reason == "stop"


def test_progress_is_reported_per_batch(fresh: TransformersSampler) -> None:
    seen: list[tuple[int, int]] = []
    fresh.on_progress = lambda done, total: seen.append((done, total))
    fresh.generate([ask(q) for q in QUESTIONS[:3]], SamplingParams(n=2, temperature=1.0, max_new_tokens=2, seed=0))
    # 6 rows in batches of 2.
    assert seen == [(2, 6), (4, 6), (6, 6)]


def test_cpu_defaults_to_float32(fresh: TransformersSampler) -> None:
    fresh.load()
    assert fresh._model.dtype == torch.float32 and fresh._model.device.type == "cpu"
    assert fresh._tokenizer.padding_side == "left"


def test_reasoning_tags_survive_decoding(tiny_lm: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_lm)
    think, end_think, im_start = (tokenizer.convert_tokens_to_ids(t) for t in ("<think>", "</think>", "<|im_start|>"))
    # The tiny tokenizer registers the tags as *special* tokens: a plain skip would erase them.
    assert tokenizer.decode([think], skip_special_tokens=True) == ""
    assert think not in special_ids_to_drop(tokenizer) and im_start in special_ids_to_drop(tokenizer)

    body = tokenizer(" 12 + 7 = 19. ", add_special_tokens=False)["input_ids"]
    answer = tokenizer(" The answer is 19.", add_special_tokens=False)["input_ids"]
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    decoder = TokenDecoder(tokenizer, eos_ids=[eos])
    generated = [think, *body, im_start, end_think, *answer, eos, pad, pad]
    assert decoder.decode(generated) == ("<think> 12 + 7 = 19. </think> The answer is 19.", "stop")
    assert decoder.decode([think, *body]) == ("<think> 12 + 7 = 19. ", "length")
    assert decoder.decode([think, *body, end_think, *answer], stop=["answer"]) == ("<think> 12 + 7 = 19. </think> The ", "stop")


def test_an_r1_style_template_s_think_starts_every_response(tiny_lm: Path, tmp_path: Path) -> None:
    """A template that ends the generation prompt with ``<think>\\n`` (DeepSeek-R1, QwQ): the
    model starts inside its reasoning, and each response gets that opening back, so a response
    cut off mid-reasoning reads as unfinished (``answer_region`` finds no answer in it)."""
    from test_sampler_vllm import r1_style_copy

    sampler = TransformersSampler(model=str(r1_style_copy(tiny_lm, tmp_path)), device="cpu", batch_size=4)
    try:
        sampled = sampler.generate([ask("What is 2 + 2?"), ask("hi")], SamplingParams(n=2, max_new_tokens=8, seed=0))
        greedy = sampler.generate([ask("hi")], SamplingParams(n=2, temperature=0, max_new_tokens=8))
    finally:
        sampler.close()
    assert all(c.text.startswith("<think>\n") for row in sampled + greedy for c in row)
    plain = TransformersSampler(model=str(tiny_lm), device="cpu")
    try:
        again = plain.generate([ask("What is 2 + 2?"), ask("hi")], SamplingParams(n=2, max_new_tokens=8, seed=0))
    finally:
        plain.close()
    assert not any(c.text.startswith("<think>\n") for row in again for c in row)


def test_image_parts_are_refused_with_a_clear_error(fresh: TransformersSampler) -> None:
    conversation = [{"role": "user", "content": [{"type": "image", "path": "d.png"}, {"type": "text", "text": "?"}]}]
    with pytest.raises(RedStarError, match=r"conversation 1, message 0 has an image part.*text only"):
        fresh.generate([ask("hi"), conversation], SamplingParams(max_new_tokens=2))


def test_bad_sampling_params_are_refused(fresh: TransformersSampler) -> None:
    with pytest.raises(RedStarError, match="n must be at least 1"):
        fresh.generate([ask("hi")], SamplingParams(n=0))
    with pytest.raises(RedStarError, match="top_p"):
        fresh.generate([ask("hi")], SamplingParams(top_p=0))


def test_tokenizer_without_chat_template_is_reported(tiny_lm: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_lm)
    tokenizer.chat_template = None
    with pytest.raises(RedStarError, match="no chat template"):
        render_prompts(tokenizer, [ask("hi")], "base-model")


def test_options_are_checked_at_construction(tiny_lm: Path) -> None:
    with pytest.raises(RedStarError, match="'device'"):
        TransformersSampler(model=str(tiny_lm), device="tpu")
    with pytest.raises(RedStarError, match="'dtype'"):
        TransformersSampler(model=str(tiny_lm), dtype="fp8")
    with pytest.raises(RedStarError, match="does not exist"):
        TransformersSampler(model="./no/such/model")
    assert {"device", "dtype", "batch_size"} <= set(options_of(TransformersSampler))


def test_registered_as_builtin(redstar_host: Any) -> None:
    assert redstar_host.registry.get("samplers", "transformers") is TransformersSampler
