"""Benchmark: sampling throughput of the Ray engine on a local 2-node Ray cluster against the
local engine, on the same prompts with the same per-sample seeds.

    .venv/bin/python tools/bench/ray_sampling.py                  # 64 prompts x 4 samples, 256 tokens
    .venv/bin/python tools/bench/ray_sampling.py --prompts 32 --max-new-tokens 128

Both engines run RedStar's ``transformers`` sampler on the embedded tiny teacher, on prompts of
the math plugin's synthetic source rendered as the pipeline renders them (the math verifier's
instruction), jobs of ``--chunk`` prompts as the sampling stage makes them:

- local: :class:`~redstar.execution.LocalEngine`, one sampler in this process (torch's default
  thread count, here every core);
- ray: :class:`~redstar.execution.ray_engine.RayEngine` on a loopback ``ray.cluster_utils.Cluster``
  (:func:`~redstar.execution.ray_local.loopback_cluster`) with two nodes of ``--cpus-per-node``
  CPUs each (two raylets on this machine, as two machines would run them), ``--replicas`` sampler actors of one CPU each (Ray gives each actor one torch thread).

It prints samples/s and generated tokens/s for each, the Ray engine's start-up apart (cluster and
replica start, model load), and whether the two engines wrote the same texts (each sample's seed
travels with it; the float rounding of other thread counts may still change a rare token).
Measured figures and conditions: docs/benchmarks.md, "Ray engine: sampling throughput".
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any


def jobs(args: argparse.Namespace) -> list[Any]:
    from redstar.execution import GenerateJob
    from redstar.interfaces import SamplingParams
    from redstar.pipeline.sampling import sample_seed
    from redstar.plugins import Host

    host = Host()
    source = host.get("sources", "synthetic-math")(count=args.prompts, seed=0)
    prompts = list(source.load())[: args.prompts]
    verifier = host.get("verifiers", "math")()
    out = []
    for start in range(0, len(prompts), args.chunk):
        group = prompts[start:start + args.chunk]
        seeds = tuple(tuple(sample_seed(0, p.id, i) for i in range(args.n)) for p in group)
        params = SamplingParams(n=args.n, temperature=1.0, max_new_tokens=args.max_new_tokens, seeds=seeds)
        out.append(GenerateJob(start, [verifier.messages(p) for p in group], params))
    return out


def measure(engine: Any, spec: Any, work: list[Any]) -> tuple[float, dict[tuple[int, int, int], str]]:
    started = time.perf_counter()
    texts = {}
    for job, completions in engine.generate(spec, work):
        for c, row in enumerate(completions):
            for k, completion in enumerate(row):
                texts[job.key, c, k] = completion.text
    return time.perf_counter() - started, texts


def tokens(texts: dict[Any, str]) -> int:
    from transformers import AutoTokenizer

    from redstar.models import resolve_model

    tokenizer = AutoTokenizer.from_pretrained(resolve_model("embedded:tiny-teacher"))
    return sum(len(tokenizer(text, add_special_tokens=False)["input_ids"]) for text in texts.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--n", type=int, default=4)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--chunk", type=int, default=8, help="prompts per job (sampling.chunk_size)")
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--cpus-per-node", type=int, default=1)
    args = parser.parse_args()
    os.environ.setdefault("REDSTAR_PLUGINS", "math")  # what the workers load: no torch-heavy RL import

    from redstar.execution import LocalEngine, SamplerSpec
    from redstar.execution.ray_engine import RayEngine
    from redstar.models import resolve_model
    from redstar.plugins import Host, instantiate
    from redstar.recipe import Execution

    work = jobs(args)
    spec = SamplerSpec("transformers", resolve_model("embedded:tiny-teacher"), {"device": "cpu", "batch_size": 16})
    host = Host()
    local = LocalEngine(build_sampler=lambda kind, name, options, key, **extra: instantiate(
        host.get(kind, name), {**options, **extra}), verifiers=None)
    list(local.generate(spec, work[:1]))  # load the model before the clock starts
    local_seconds, local_texts = measure(local, spec, work)
    local.close()

    from redstar.execution.ray_local import loopback_cluster

    started = time.perf_counter()
    node = {"num_cpus": args.cpus_per_node, "object_store_memory": 100 * 1024 ** 2}
    # on 127.0.0.1 and free ports, beside any other Ray on the machine
    with loopback_cluster([node, node]) as cluster:
        engine = RayEngine(Execution(engine="ray", address=cluster.address, replicas=args.replicas, num_cpus=1))
        list(engine.generate(spec, work[:1]))  # replicas started and the model loaded in each
        warm = time.perf_counter() - started
        ray_seconds, ray_texts = measure(engine, spec, work)
        engine.close()

    samples = len(local_texts)
    local_tokens, ray_tokens = tokens(local_texts), tokens(ray_texts)
    same = sum(local_texts[k] == ray_texts.get(k) for k in local_texts)
    print(f"{args.prompts} prompts x {args.n} samples, max_new_tokens {args.max_new_tokens}, jobs of {args.chunk} "
          f"prompts; load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs")
    print("| engine | seconds | samples/s | generated tokens/s |")
    print("|---|---:|---:|---:|")
    print(f"| local (1 sampler, {os.cpu_count()} torch threads) | {local_seconds:.1f} | "
          f"{samples / local_seconds:.1f} | {local_tokens / local_seconds:.0f} |")
    print(f"| ray (2 nodes, {args.replicas} replicas of 1 CPU) | {ray_seconds:.1f} | {samples / ray_seconds:.1f} | "
          f"{ray_tokens / ray_seconds:.0f} |")
    print(f"ray start-up (cluster, replicas, model loads): {warm:.1f} s; identical texts: {same} of {samples}")


if __name__ == "__main__":
    main()
