"""Sampling and token scoring on the tiny model: responses stop at the end-of-sequence token,
padding never changes a token's log-probability, and per-token tensors line up."""

from __future__ import annotations

import pytest
import torch

from redstar_rl.rollout import Sample, collate, generate_samples, response_logprobs, split_padded


@pytest.fixture(scope="module")
def model_and_tokenizer(tiny_lm):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(tiny_lm).eval(), AutoTokenizer.from_pretrained(tiny_lm)


def rows(*questions):
    return [{"prompt": [{"role": "user", "content": q}], "reference": "7"} for q in questions]


def test_generated_samples_end_at_eos_or_are_marked_truncated(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    torch.manual_seed(0)
    samples = generate_samples(model, tokenizer, rows("What is 12 + 7?", "Hi"), samples_per_prompt=3,
                               temperature=1.0, top_p=1.0, max_new_tokens=6, batch_size=4)
    assert len(samples) == 6
    assert [s.row["prompt"][0]["content"] for s in samples] == ["What is 12 + 7?"] * 3 + ["Hi"] * 3
    eos = tokenizer.eos_token_id
    for s in samples:
        assert 1 <= len(s.response_ids) <= 6
        assert eos not in s.response_ids[:-1]
        assert s.truncated == (s.response_ids[-1] != eos)
        # Decoded as core's samplers decode: the end-of-sequence token is not text.
        assert s.text == tokenizer.decode([i for i in s.response_ids if i != eos], skip_special_tokens=False,
                                          clean_up_tokenization_spaces=False)
        assert s.prompt_ids == tokenizer(tokenizer.apply_chat_template(
            s.row["prompt"], add_generation_prompt=True, tokenize=False), add_special_tokens=False)["input_ids"]


def test_padding_does_not_change_log_probabilities(model_and_tokenizer):
    model, _ = model_and_tokenizer
    short = Sample(row={}, prompt_ids=[1, 89, 87], response_ids=[40, 41, 2], text="", truncated=False)
    long = Sample(row={}, prompt_ids=[1, 89, 87, 265, 203, 366], response_ids=[50], text="", truncated=False)
    batch = collate([short, long], pad_id=0)
    assert batch.prompt_width == 6 and batch.input_ids.shape == (2, 9)
    assert batch.input_ids[0].tolist() == [0, 0, 0, 1, 89, 87, 40, 41, 2]
    assert batch.response_mask.tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch.position_ids[0, 3:].tolist() == [0, 1, 2, 3, 4, 5]
    with torch.no_grad():
        together = response_logprobs(model, batch)
        alone = response_logprobs(model, collate([short], pad_id=0))
        # By hand: log-softmax of the logits that precede each response token.
        logits = model(input_ids=torch.tensor([short.prompt_ids + short.response_ids])).logits[0]
        manual = logits[2:5].log_softmax(-1)[torch.arange(3), torch.tensor(short.response_ids)]
    torch.testing.assert_close(alone[0], manual, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(together[0], alone[0], atol=1e-5, rtol=1e-5)


def test_per_token_tensors_round_trip_through_collate():
    samples = [Sample(row={}, prompt_ids=[1], response_ids=[5] * n, text="", truncated=False) for n in (3, 1)]
    split_padded(torch.tensor([[1.0, 2.0, 3.0], [4.0, 9.0, 9.0]]), samples, "advantages")
    assert samples[1].tokens["advantages"].tolist() == [4.0]
    batch = collate(samples, pad_id=0, names=["advantages"])
    assert batch.tokens["advantages"].tolist() == [[1.0, 2.0, 3.0], [4.0, 0.0, 0.0]]


def test_rollouts_ignore_the_logit_shaping_the_checkpoint_ships(tiny_lm):
    """Sampling must draw from exactly what :func:`response_logprobs` scores (logits / T). A
    checkpoint's generation config (Qwen2.5-Instruct ships ``repetition_penalty``) would otherwise
    shape the sampling distribution: here it suppresses every token but one and the end of
    sequence, which ``generate`` would obey if the rollout read the model's config."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model, tokenizer = AutoModelForCausalLM.from_pretrained(tiny_lm).eval(), AutoTokenizer.from_pretrained(tiny_lm)
    eos = tokenizer.eos_token_id
    allowed = {eos, 50}
    model.generation_config.suppress_tokens = [i for i in range(model.config.vocab_size) if i not in allowed]
    model.generation_config.repetition_penalty = 1.05
    torch.manual_seed(0)
    samples = generate_samples(model, tokenizer, rows("What is 12 + 7?", "Hi"), samples_per_prompt=4,
                               temperature=1.0, top_p=1.0, max_new_tokens=6, batch_size=8)
    drawn = {token for s in samples for token in s.response_ids}
    assert drawn - allowed, "the rollout sampled under the checkpoint's suppress_tokens"
    # The shipped config is put back for whoever uses the model next.
    assert model.generation_config.repetition_penalty == 1.05


def test_reasoning_tags_survive_decoding(model_and_tokenizer, monkeypatch):
    """``<think>``/``</think>`` are special tokens in RedStar's tokenizer (as in many); a response
    decoded with ``skip_special_tokens=True`` loses them and the verifier judges other text than
    sampling and evaluation do (a truncated ``<think> ... \\boxed{7}`` is -1 there, not 0)."""
    model, tokenizer = model_and_tokenizer
    think, close = tokenizer.convert_tokens_to_ids("<think>"), tokenizer.convert_tokens_to_ids("</think>")
    assert {think, close} <= set(tokenizer.all_special_ids) | {
        i for i, t in tokenizer.added_tokens_decoder.items() if t.special}
    body = tokenizer("12 + 7 = 19", add_special_tokens=False)["input_ids"]
    answer = tokenizer("The answer is 19", add_special_tokens=False)["input_ids"]
    response = [think, *body, close, *answer, tokenizer.eos_token_id]

    def fake_generate(input_ids, **kwargs):
        return torch.cat([input_ids, torch.tensor([response] * len(input_ids))], dim=1)

    monkeypatch.setattr(model, "generate", fake_generate)
    [sample] = generate_samples(model, tokenizer, rows("What is 12 + 7?"), samples_per_prompt=1,
                                temperature=1.0, top_p=1.0, max_new_tokens=len(response), batch_size=1)
    assert sample.text.startswith("<think>") and "</think>" in sample.text
    assert "<|endoftext|>" not in sample.text and "19" in sample.text
