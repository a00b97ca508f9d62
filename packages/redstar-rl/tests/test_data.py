"""Preference and online files: each malformed row is an InputError naming file, line and field."""

from __future__ import annotations

import json

import pytest

from redstar.errors import InputError
from redstar_rl.data import read_online_rows, read_preference_rows

PROMPT = [{"role": "user", "content": "What is 3 + 4?"}]
PAIR = {"prompt_id": "p", "prompt": PROMPT, "chosen": [{"role": "assistant", "content": "7"}],
        "rejected": [{"role": "assistant", "content": "8"}]}
ONLINE = {"prompt": PROMPT, "prompt_id": "p", "reference": "7", "domain": "math", "metadata": {"level": 3}}


def write(tmp_path, rows):
    path = tmp_path / "data.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_preference_rows(tmp_path):
    assert read_preference_rows(write(tmp_path, [PAIR, PAIR])) == [PAIR, PAIR]
    for bad, field in [
        ({**PAIR, "chosen": [{"role": "assistant", "content": "7"}, {"role": "assistant", "content": "8"}]}, "chosen"),
        ({**PAIR, "rejected": [{"role": "user", "content": "8"}]}, "rejected"),
        ({**PAIR, "prompt": [{"role": "assistant", "content": "hi"}]}, "prompt"),
        ({k: v for k, v in PAIR.items() if k != "chosen"}, "chosen"),
    ]:
        path = write(tmp_path, [PAIR, bad])
        with pytest.raises(InputError) as info:
            read_preference_rows(path)
        assert (info.value.line, info.value.field) == (2, field)


def test_online_rows(tmp_path):
    no_metadata = {k: v for k, v in ONLINE.items() if k != "metadata"}
    assert read_online_rows(write(tmp_path, [ONLINE, no_metadata])) == [ONLINE, {**no_metadata, "metadata": {}}]
    for bad, field in [
        ({**ONLINE, "reference": 7}, "reference"),
        ({**ONLINE, "metadata": [1]}, "metadata"),
        ({k: v for k, v in ONLINE.items() if k != "domain"}, "domain"),
    ]:
        with pytest.raises(InputError) as info:
            read_online_rows(write(tmp_path, [ONLINE, ONLINE, bad]))
        assert (info.value.line, info.value.field) == (3, field)


def test_a_prompt_over_max_prompt_length_is_named_not_cut(tmp_path, tiny_lm):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_lm)
    long = {**ONLINE, "prompt": [{"role": "user", "content": "seven " * 40}]}
    with pytest.raises(InputError, match="max_prompt_length=32") as info:
        read_online_rows(write(tmp_path, [ONLINE, long]), tokenizer, max_prompt_length=32)
    assert (info.value.line, info.value.field) == (2, "prompt")
    assert len(read_online_rows(write(tmp_path, [ONLINE]), tokenizer, max_prompt_length=32)) == 1
