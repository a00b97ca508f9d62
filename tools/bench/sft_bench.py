"""SFT throughput benchmark: RedStar's ``sft`` trainer with its best settings against plain TRL
``SFTTrainer`` on the same model shape and the same data. Reports trained tokens per second
(real tokens, padding excluded) over the steps after a warm-up, and peak memory.

    . .venv/bin/activate
    python tools/bench/sft_bench.py                   # GPU: random-init Qwen2.5-1.5B shape, bf16
    python tools/bench/sft_bench.py --tiny            # CPU: a tiny Qwen2, to exercise the script
    python tools/bench/sft_bench.py --steps 20 --batch-size 4 --json results.json

Configurations (each runs in its own process, so peak memory is its own):

- ``trl``: ``trl.SFTTrainer`` as a user would call it: padded batches, TRL's defaults
  (gradient checkpointing on GPU), bf16 on GPU / fp32 on CPU.
- ``redstar``: ``redstar.trainers.sft.SFTTrainer`` with its best settings for the machine:
  ``liger: true`` on CUDA with liger-kernel installed; ``packing: true`` (padding-free) only with
  flash-attn installed (``attn_implementation: flash_attention_2``). Without flash-attn packing
  stays off: packed rows on SDPA were slower than padding on the H200 (docs/benchmarks.md) and on
  the CPU (measured with the next configuration).
- ``redstar-packing``: the same with ``packing: true`` whatever the attention backend.

Data: synthetic conversations whose responses are 512-4,096 tokens (``--tiny``: 64-256), a
``<think>`` block of digits (one token per digit with Qwen2's pre-tokenizer) and an answer, so the
lengths are exact. The model is built from a config (no download): Qwen2.5-1.5B's shape (1.54B
parameters, vocab 151,936) with random weights, or with ``--tiny`` a 2-layer, 64-wide Qwen2.
Figures measured so far are in docs/benchmarks.md ("SFT throughput").
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

QWEN25_15B_SHAPE = dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12,
                        num_key_value_heads=2, vocab_size=151936, max_position_embeddings=32768, rope_theta=1e6,
                        tie_word_embeddings=True)
TINY_SHAPE = dict(hidden_size=64, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=2, max_position_embeddings=2048, tie_word_embeddings=True)


def build_model(out: Path, tiny: bool) -> None:
    """A tokenizer trained by RedStar's tiny-model builder and a random model of the chosen shape
    (for the 1.5B shape the vocabulary is the real model's, so the LM head costs what it costs)."""
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    from redstar.tiny import train_tokenizer

    corpus = ["What is 12 + 7? <think> 1234567890 </think> The answer is 19."] * 50
    tokenizer = train_tokenizer(corpus, vocab_size=300)
    shape = dict(TINY_SHAPE, vocab_size=len(tokenizer)) if tiny else QWEN25_15B_SHAPE
    config = Qwen2Config(**shape, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                         bos_token_id=None)
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(eos_token_id=tokenizer.eos_token_id,
                                               pad_token_id=tokenizer.pad_token_id, bos_token_id=None)
    if not tiny:
        # Halves the checkpoint; TRL loads it back in fp32 + autocast. transformers wraps `to` with
        # functools.wraps(nn.Module.to), and typeshed's _Wrapped does not bind self.
        model = model.to(torch.bfloat16)  # type: ignore[arg-type]
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def write_data(path: Path, rows: int, shortest: int, longest: int) -> int:
    """``rows`` SFT rows with responses of ``shortest``-``longest`` digit tokens; returns the
    total number of response digits."""
    rng = random.Random(0)
    total = 0
    with path.open("w", encoding="utf-8") as handle:
        for i in range(rows):
            length = rng.randint(shortest, longest)
            total += length
            digits = "".join(rng.choice("0123456789") for _ in range(length))
            handle.write(json.dumps({"prompt_id": f"b{i}", "messages": [
                {"role": "user", "content": f"Problem {i}: what is 12 + 7?"},
                {"role": "assistant", "content": f"<think> {digits} </think> The answer is 19."},
            ]}) + "\n")
    return total


def redstar_settings(device: str, force_packing: bool = False) -> dict:
    settings: dict[str, Any] = {"liger": device == "cuda" and importlib.util.find_spec("liger_kernel") is not None,
                "packing": force_packing}
    if device == "cuda" and importlib.util.find_spec("flash_attn") is not None:
        settings.update(packing=True, attn_implementation="flash_attention_2")
    return settings


def run_one(name: str, model: Path, data: Path, work: Path, args: argparse.Namespace) -> dict:
    """Train ``warmup + steps`` steps with configuration ``name``; time the last ``steps``."""
    import torch
    from transformers import TrainerCallback

    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        torch.set_num_threads(args.threads)
    max_length = args.max_length

    class Timer(TrainerCallback):
        def __init__(self) -> None:
            self.marks: list[tuple[int, float, float]] = []  # (step, time, cumulative tokens)
            self.tokens = 0.0

        def on_log(self, a, state, control, logs=None, **kw):  # logging_steps=1: once per step
            if logs and "num_tokens" in logs:
                self.tokens = float(logs["num_tokens"])
                if device == "cuda":
                    torch.cuda.synchronize()
                self.marks.append((state.global_step, time.perf_counter(), self.tokens))

    timer = Timer()
    total_steps = args.warmup + args.steps
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    if name == "trl":
        import datasets
        import trl
        from transformers import AutoTokenizer

        from redstar.trainers.sft_data import read_sft_rows

        tokenizer = AutoTokenizer.from_pretrained(model)
        cpu_options: dict[str, Any] = {"use_cpu": True, "bf16": False, "gradient_checkpointing": False}
        config = trl.SFTConfig(
            output_dir=str(work / name), max_steps=total_steps, per_device_train_batch_size=args.batch_size,
            learning_rate=1e-5, max_length=max_length, logging_steps=1, save_strategy="no", report_to="none",
            assistant_only_loss=True,
            **(cpu_options if device == "cpu" else {}),
        )
        trainer = trl.SFTTrainer(model=str(model), args=config, processing_class=tokenizer,
                                 train_dataset=datasets.Dataset.from_list(read_sft_rows(data)))
        settings: dict = {}
    else:
        from redstar.interfaces import TrainContext
        from redstar.trainers.sft import SFTTrainer

        settings = redstar_settings(device, force_packing=name == "redstar-packing")
        trainer = SFTTrainer(max_steps=total_steps, batch_size=args.batch_size, grad_accum=1,
                             learning_rate=1e-5, max_length=max_length, warmup_ratio=0.0, save_steps=10**9,
                             resume=False, **settings).build_trainer(
            TrainContext(model=str(model), output_dir=work / name, data_file=data))
    trainer.add_callback(timer)
    trainer.train()

    measured = [m for m in timer.marks if m[0] > args.warmup]
    start = [m for m in timer.marks if m[0] == args.warmup]
    if not measured or not start:
        raise SystemExit(f"{name}: ran out of data before {total_steps} steps; lower --steps or raise --rows")
    (_, t0, tok0), (_, t1, tok1) = start[-1], measured[-1]
    if device == "cuda":
        peak = torch.cuda.max_memory_allocated() / 2**30
    else:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
    return {"config": name, "device": device, "settings": settings, "steps": len(measured),
            "tokens": tok1 - tok0, "seconds": t1 - t0, "tokens_per_s": (tok1 - tok0) / (t1 - t0),
            "s_per_step": (t1 - t0) / len(measured), "peak_gib": peak,
            "peak_kind": "torch.cuda.max_memory_allocated" if device == "cuda" else "process max RSS"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="tiny model and short responses (CPU)")
    parser.add_argument("--steps", type=int, default=None, help="measured steps (default 12, tiny 6)")
    parser.add_argument("--warmup", type=int, default=2, help="steps before timing starts")
    parser.add_argument("--batch-size", type=int, default=4, help="rows per device per step")
    parser.add_argument("--rows", type=int, default=None, help="data rows (default: enough for the steps)")
    parser.add_argument("--configs", default="trl,redstar,redstar-packing")
    parser.add_argument("--threads", type=int, default=1, help="torch threads on CPU")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--run-one", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.steps = args.steps or (6 if args.tiny else 12)
    shortest, longest = (64, 256) if args.tiny else (512, 4096)
    args.max_length = longest + 64  # the prompt and the answer around the digits

    if args.run_one:
        work = args.workdir
        result = run_one(args.run_one, work / "model", work / "sft.jsonl", work, args)
        print("RESULT " + json.dumps(result))
        return

    with tempfile.TemporaryDirectory(prefix="sft-bench-") as tmp:
        work = Path(tmp)
        t = time.perf_counter()
        build_model(work / "model", args.tiny)
        rows = args.rows or (args.warmup + args.steps) * args.batch_size * 2
        digits = write_data(work / "sft.jsonl", rows, shortest, longest)
        print(f"model and {rows} rows ({digits} response tokens) ready in {time.perf_counter() - t:.0f} s",
              file=sys.stderr)
        results = []
        for name in args.configs.split(","):
            command = [sys.executable, __file__, "--run-one", name, "--workdir", str(work),
                       "--steps", str(args.steps), "--warmup", str(args.warmup), "--batch-size",
                       str(args.batch_size), "--threads", str(args.threads)] + (["--tiny"] if args.tiny else [])
            done = subprocess.run(command, capture_output=True, text=True)
            lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
            if done.returncode or not lines:
                print(done.stdout[-3000:] + done.stderr[-5000:], file=sys.stderr)
                raise SystemExit(f"configuration {name} failed")
            results.append(json.loads(lines[-1][len("RESULT "):]))

    print(f"{'config':<16} {'device':<6} {'tokens/s':>10} {'s/step':>8} {'peak GiB':>9}  settings")
    for r in results:
        print(f"{r['config']:<16} {r['device']:<6} {r['tokens_per_s']:>10.0f} {r['s_per_step']:>8.3f} "
              f"{r['peak_gib']:>9.2f}  {json.dumps(r['settings'])}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
