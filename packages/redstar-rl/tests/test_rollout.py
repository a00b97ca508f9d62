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
        assert s.text == tokenizer.decode(s.response_ids, skip_special_tokens=True)
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
