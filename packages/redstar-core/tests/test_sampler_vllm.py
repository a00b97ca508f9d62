"""The ``vllm`` sampler's mapping to and from vLLM, tested without the engine (vLLM needs a CUDA
GPU and cannot be installed on these machines). The output objects are namespaces shaped like
vLLM's ``RequestOutput``/``CompletionOutput`` (``vllm/outputs.py``: ``request_id``,
``outputs``; ``index``, ``text``, ``token_ids``, ``finish_reason``, ``stop_reason``)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from redstar.errors import MissingDependencyError, RedStarError
from redstar.interfaces import SamplingParams, options_of
from redstar.samplers.vllm_engine import (
    VLLMSampler,
    completions_from_outputs,
    engine_kwargs,
    gather_completions,
    plan_requests,
    sampling_kwargs,
)

HAS_VLLM = importlib.util.find_spec("vllm") is not None


def completion_output(index: int, text: str, finish_reason: str | None = "stop") -> SimpleNamespace:
    return SimpleNamespace(index=index, text=text, token_ids=[], cumulative_logprob=None, logprobs=None,
                           finish_reason=finish_reason, stop_reason=None)


def request_output(request_id: str, *outputs: SimpleNamespace) -> SimpleNamespace:
    return SimpleNamespace(request_id=request_id, prompt=None, prompt_token_ids=[1, 2], outputs=list(outputs),
                           finished=True)


def test_sampling_params_map_onto_vllm_names() -> None:
    params = SamplingParams(n=4, temperature=0.7, top_p=0.9, max_new_tokens=16384, seed=11, stop=["</answer>"])
    assert sampling_kwargs(params) == {
        "n": 4, "temperature": 0.7, "top_p": 0.9, "max_tokens": 16384, "seed": 11, "stop": ["</answer>"],
        "skip_special_tokens": False, "spaces_between_special_tokens": False,
    }
    plain = sampling_kwargs(SamplingParams())
    assert plain["stop"] is None and plain["seed"] is None and plain["max_tokens"] == 512


def test_greedy_asks_once_and_repeats() -> None:
    params = SamplingParams(n=3, temperature=0)
    assert sampling_kwargs(params)["n"] == 1
    [row] = completions_from_outputs([request_output("0", completion_output(0, "19", "length"))], params)
    assert [(c.text, c.finish_reason) for c in row] == [("19", "length")] * 3
    assert row[0] is not row[1]  # separate records: a later edit to one must not touch the others


def test_outputs_map_to_completions_in_order() -> None:
    outputs = [
        request_output("0", completion_output(1, "b", "length"), completion_output(0, "a", "stop")),
        request_output("1", completion_output(0, "c", "abort"), completion_output(1, "d", None)),
    ]
    result = completions_from_outputs(outputs, SamplingParams(n=2), prompts=2)
    assert [[(c.text, c.finish_reason) for c in row] for row in result] == [
        [("a", "stop"), ("b", "length")],
        [("c", "abort"), ("d", None)],
    ]


def test_per_completion_seeds_become_one_seeded_request_each() -> None:
    params = SamplingParams(n=2, temperature=0.7, seed=1, seeds=((5, 6), (7, 8)))
    prompts, kwargs = plan_requests([[1, 2], [3]], params)
    assert prompts == [{"prompt_token_ids": ids} for ids in ([1, 2], [1, 2], [3], [3])]
    assert [(k["n"], k["seed"]) for k in kwargs] == [(1, 5), (1, 6), (1, 7), (1, 8)]
    outputs = [request_output(str(i), completion_output(0, f"t{i}")) for i in range(4)]
    rows = gather_completions(outputs, params, 2)
    assert [[c.text for c in row] for row in rows] == [["t0", "t1"], ["t2", "t3"]]
    # Without seeds (or greedy) one request per conversation asks for n, as before.
    prompts, kwargs = plan_requests([[1, 2], [3]], SamplingParams(n=2, seed=1))
    assert len(prompts) == 2 and [(k["n"], k["seed"]) for k in kwargs] == [(2, 1), (2, 1)]
    assert len(plan_requests([[1]], SamplingParams(n=3, temperature=0, seeds=((1, 2, 3),)))[0]) == 1


def test_wrong_number_of_outputs_is_an_error() -> None:
    with pytest.raises(RedStarError, match=r"request 0 \(req-7\) returned 1 completions, expected 2"):
        completions_from_outputs([request_output("req-7", completion_output(0, "a"))], SamplingParams(n=2))
    with pytest.raises(RedStarError, match="1 outputs for 2 prompts"):
        completions_from_outputs([request_output("0", completion_output(0, "a"))], SamplingParams(n=1), prompts=2)


def test_engine_options_map_onto_llm_arguments() -> None:
    kwargs = engine_kwargs("/models/teacher", 2, 0.85, None, "bfloat16", True, 3, False)
    assert kwargs == {
        "model": "/models/teacher", "tensor_parallel_size": 2, "gpu_memory_utilization": 0.85,
        "dtype": "bfloat16", "enable_prefix_caching": True, "seed": 3, "trust_remote_code": False,
    }
    assert engine_kwargs("m", 1, 0.9, 32768, "auto", False, 0, False)["max_model_len"] == 32768
    assert {"tensor_parallel_size", "gpu_memory_utilization", "max_model_len", "dtype",
            "enable_prefix_caching", "seed"} <= set(options_of(VLLMSampler))


@pytest.mark.skipif(HAS_VLLM, reason="vLLM is installed here")
def test_missing_vllm_says_what_to_install() -> None:
    with pytest.raises(MissingDependencyError) as caught:
        VLLMSampler(model="Qwen/QwQ-32B")
    assert 'pip install "redstar-core[vllm]"' in str(caught.value) and "CUDA" in str(caught.value)


def test_generate_wires_prompts_params_and_outputs(tiny_lm: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """RedStar's glue around the engine - chat template to token prompts, SamplingParams in,
    outputs back in order - with a recording stand-in for the ``vllm`` module. This checks
    RedStar's side only; it says nothing about vLLM itself, which was not run here."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_lm)
    calls: dict[str, Any] = {}

    class RecordingLLM:
        def __init__(self, **kwargs: Any) -> None:
            calls["engine"] = kwargs

        def get_tokenizer(self) -> Any:
            return tokenizer

        def generate(self, prompts: list[dict], sampling_params: Any, use_tqdm: bool) -> list[SimpleNamespace]:
            calls["prompts"], calls["params"] = prompts, sampling_params
            each = sampling_params if isinstance(sampling_params, list) else [sampling_params] * len(prompts)
            return [request_output(str(i), *(completion_output(k, f"{i}.{k}") for k in range(each[i].n)))
                    for i in range(len(prompts))]

    fake = ModuleType("vllm")
    fake.LLM = RecordingLLM
    fake.SamplingParams = lambda **kwargs: SimpleNamespace(**kwargs)
    monkeypatch.setitem(sys.modules, "vllm", fake)

    sampler = VLLMSampler(model=str(tiny_lm), max_model_len=1024)
    progress: list[tuple[int, int]] = []
    sampler.on_progress = lambda done, total: progress.append((done, total))
    conversations = [[{"role": "user", "content": "What is 12 + 7?"}], [{"role": "user", "content": "hi"}]]
    result = sampler.generate(conversations, SamplingParams(n=2, temperature=0.8, max_new_tokens=32, seed=1))

    assert [[c.text for c in row] for row in result] == [["0.0", "0.1"], ["1.0", "1.1"]]
    assert calls["engine"]["model"] == str(tiny_lm) and calls["engine"]["max_model_len"] == 1024
    expected = tokenizer.apply_chat_template(conversations[1], add_generation_prompt=True, tokenize=False)
    assert calls["prompts"][1] == {"prompt_token_ids": tokenizer(expected, add_special_tokens=False)["input_ids"]}
    assert calls["params"].n == 2 and calls["params"].max_tokens == 32 and calls["params"].seed == 1
    assert progress == [(4, 4)]

    # Per-completion seeds: four n=1 requests, each with its seed, regrouped per conversation.
    seeded = sampler.generate(conversations, SamplingParams(n=2, temperature=0.8, seeds=((3, 4), (5, 6))))
    assert [[c.text for c in row] for row in seeded] == [["0.0", "1.0"], ["2.0", "3.0"]]
    assert [(p.n, p.seed) for p in calls["params"]] == [(1, 3), (1, 4), (1, 5), (1, 6)]
    assert calls["prompts"][0] == calls["prompts"][1] != calls["prompts"][2]
    sampler.close()


def test_image_parts_are_refused(tiny_lm: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "vllm", ModuleType("vllm"))
    sampler = VLLMSampler(model=str(tiny_lm))
    with pytest.raises(RedStarError, match="image part"):
        sampler.generate([[{"role": "user", "content": [{"type": "image", "path": "d.png"}]}]], SamplingParams())


def test_registered_as_builtin(redstar_host: Any) -> None:
    assert redstar_host.registry.get("samplers", "vllm") is VLLMSampler
