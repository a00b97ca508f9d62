"""The ``transformers`` and ``vllm`` samplers return the same text for the same tokens and sample
by the request's parameters alone (issue 13): no vLLM needed here. The vLLM side is checked on
the engine itself by ``test_vllm_cpu.py``; this is the rule, on the embedded teacher's tokenizer,
whose ``<think>``/``</think>`` are special tokens."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from redstar.interfaces import SamplingParams
from redstar.models import resolve_model
from redstar.samplers.text import REASONING_TAGS, TokenDecoder
from redstar.samplers.transformers_local import TransformersSampler
from redstar.samplers.vllm_engine import completions_from_outputs, end_of_sequence_ids

#: Logit-shaping settings a checkpoint may ship (Qwen2.5-Instruct ships the first two) that would
#: change greedy decoding if they applied.
SHIPPED_DEFAULTS = {"repetition_penalty": 3.0, "no_repeat_ngram_size": 1, "top_k": 2, "temperature": 0.3}
QUESTIONS = ["What is 12 + 7?", "Write a function add(a, b) that returns a + b.", "hi"]


def ask(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


@pytest.fixture(scope="module")
def teacher() -> Path:
    return Path(resolve_model("embedded:tiny-teacher"))


@pytest.fixture(scope="module")
def sampler(teacher: Path) -> Iterator[TransformersSampler]:
    loaded = TransformersSampler(model=str(teacher), device="cpu", batch_size=4)
    loaded.load()
    yield loaded
    loaded.close()


def vllm_output(token_ids: list[int], text: str, finish_reason: str) -> SimpleNamespace:
    """A ``RequestOutput`` as vLLM shapes it (``vllm/outputs.py``), one completion."""
    completion = SimpleNamespace(index=0, text=text, token_ids=token_ids, finish_reason=finish_reason)
    return SimpleNamespace(request_id="0", outputs=[completion])


def test_both_backends_decode_token_ids_by_one_rule(sampler: TransformersSampler, teacher: Path) -> None:
    tokenizer = sampler._tokenizer
    eos = tokenizer.eos_token_id
    think, end_think, im_start = (tokenizer.convert_tokens_to_ids(t) for t in ("<think>", "</think>", "<|im_start|>"))
    words = tokenizer("3 + 4 = 7", add_special_tokens=False)["input_ids"]
    answer = tokenizer(" so 7", add_special_tokens=False)["input_ids"]
    # Reasoning tags, a stray chat marker mid-response, the end token, and what followed it in
    # the batch (vLLM stops there; padded transformers rows go on).
    generated = [think, *words, end_think, im_start, *answer, eos, *words]
    # What vLLM's own detokenizer returns with skip_special_tokens=False: the chat marker stays.
    vllm_text = tokenizer.decode(generated[:generated.index(eos)], skip_special_tokens=False)
    assert "<|im_start|>" in vllm_text

    # The vllm sampler's decoder, built as VLLMSampler.load builds it.
    decoder = TokenDecoder(tokenizer, end_of_sequence_ids(tokenizer, str(teacher)), keep=REASONING_TAGS)
    assert decoder.eos_ids == sampler._decoder.eos_ids == {eos}
    [[from_vllm]] = completions_from_outputs([vllm_output(generated, vllm_text, "stop")], SamplingParams())
    [[decoded]] = completions_from_outputs([vllm_output(generated, vllm_text, "stop")], SamplingParams(),
                                           decoder=decoder)
    from_transformers = sampler._decoder.decode(generated)
    assert (decoded.text, decoded.finish_reason) == from_transformers == ("<think>3 + 4 = 7</think> so 7", "stop")
    assert from_vllm.text == vllm_text != decoded.text  # vLLM's own text is what the rule replaces

    # A stop string that only appears once the marker is dropped ends the text in both; vLLM
    # generated on (its text had no "</think> so") and called it "length".
    stop = SamplingParams(stop=["</think> so"])
    body = generated[:generated.index(eos)]
    [[cut]] = completions_from_outputs([vllm_output(body, vllm_text, "length")], stop, decoder=decoder)
    assert (cut.text, cut.finish_reason) == sampler._decoder.decode(body, stop.stop) == ("<think>3 + 4 = 7", "stop")
    # Cut at the token limit inside the reasoning: the open tag stays, nothing else is made up.
    [[truncated]] = completions_from_outputs([vllm_output(generated[:3], "", "length")], SamplingParams(),
                                             decoder=decoder)
    assert (truncated.text, truncated.finish_reason) == ("<think>3 +", "length")


def with_shipped_defaults(model: Path, out: Path) -> Path:
    """A copy of ``model`` with logit-shaping defaults in its ``generation_config.json``."""
    for item in model.iterdir():
        shutil.copy(item, out / item.name)
    config = json.loads((model / "generation_config.json").read_text())
    (out / "generation_config.json").write_text(json.dumps({**config, **SHIPPED_DEFAULTS}))
    return out


@pytest.fixture(scope="module")
def doctored(teacher: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return with_shipped_defaults(teacher, tmp_path_factory.mktemp("shipped-defaults"))


def test_generation_config_sampling_defaults_do_not_apply(sampler: TransformersSampler, doctored: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    greedy = SamplingParams(n=1, temperature=0, max_new_tokens=24)
    seeded = SamplingParams(n=2, temperature=1.0, max_new_tokens=24, seeds=((1, 2), (3, 4), (5, 6)))
    other = TransformersSampler(model=str(doctored), device="cpu", batch_size=4)
    plain: dict[str, list[list[str]]] = {}
    try:
        for name, params in (("greedy", greedy), ("seeded", seeded)):
            plain[name] = [[c.text for c in row] for row in sampler.generate([ask(q) for q in QUESTIONS], params)]
            shipped = other.generate([ask(q) for q in QUESTIONS], params)
            assert [[c.text for c in row] for row in shipped] == plain[name]
    finally:
        other.close()

    # The check means something: transformers' generate, left to itself, applies these defaults
    # and decodes something else from the same prompt.
    tokenizer = sampler._tokenizer
    prompt = tokenizer.apply_chat_template(ask(QUESTIONS[0]), add_generation_prompt=True, tokenize=False)
    ids = torch.tensor([tokenizer(prompt, add_special_tokens=False)["input_ids"]])
    raw = AutoModelForCausalLM.from_pretrained(doctored, dtype=torch.float32).eval()
    with torch.inference_mode():
        as_shipped = raw.generate(ids, do_sample=False, max_new_tokens=24)[0, ids.shape[1]:].tolist()
    assert sampler._decoder.decode(as_shipped)[0] != plain["greedy"][0][0]
