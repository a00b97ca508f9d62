"""Benchmark: training throughput of a tiny-model shape with 1 and with 2 torch threads.

    python tools/tiny/bench_threads.py                 # the shipped shape: hidden 128, 4 layers
    python tools/tiny/bench_threads.py --hidden 192 --layers 6

Why it exists: ``tools/build_tiny_models.py`` trains teacher and student at once, one thread each,
instead of one after the other with two threads; this measures whether that is right on the
machine at hand. Each setting runs in a fresh process (torch's thread pool is fixed per process).
Figures are in docs/tiny-models.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

STEP = r"""
import json, sys, time, torch
from transformers import Qwen2Config, Qwen2ForCausalLM
a = json.loads(sys.argv[1])
torch.set_num_threads(a["threads"])
torch.manual_seed(0)
config = Qwen2Config(vocab_size=700, hidden_size=a["hidden"], intermediate_size=4 * a["hidden"],
                     num_hidden_layers=a["layers"], num_attention_heads=a["heads"], num_key_value_heads=a["kv"],
                     tie_word_embeddings=True)
model = Qwen2ForCausalLM(config)
opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
ids = torch.randint(10, 690, (a["batch"], a["length"]))
mask = torch.ones_like(ids)
mask[: a["batch"] // 2, -a["length"] // 8:] = 0   # some padding, as the build's batches have
def step():
    model(input_ids=ids, attention_mask=mask, labels=ids).loss.backward()
    opt.step()
    opt.zero_grad()
step()
start = time.time()
for _ in range(a["steps"]):
    step()
print(json.dumps({"tokens_per_s": a["batch"] * a["length"] * a["steps"] / (time.time() - start)}))
"""


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--kv", type=int, default=2)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--length", type=int, default=256)
    p.add_argument("--steps", type=int, default=10)
    args = p.parse_args()
    results = {}
    for threads in (1, 2):
        spec = {**vars(args), "threads": threads}
        done = subprocess.run([sys.executable, "-c", STEP, json.dumps(spec)], capture_output=True, text=True, check=True)
        results[threads] = json.loads(done.stdout.strip().splitlines()[-1])["tokens_per_s"]
    # Two one-thread processes side by side, as the build runs teacher and student.
    one_thread = json.dumps({**vars(args), "threads": 1})
    start = time.time()
    procs = [subprocess.Popen([sys.executable, "-c", STEP, one_thread], stdout=subprocess.PIPE, text=True) for _ in range(2)]
    pair = sum(json.loads(proc.communicate()[0].strip().splitlines()[-1])["tokens_per_s"] for proc in procs)
    print(f"1 thread: {results[1]:.0f} tok/s; 2 threads: {results[2]:.0f} tok/s; "
          f"two 1-thread processes together: {pair:.0f} tok/s ({time.time() - start:.0f}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
