"""The driver's memory per prompt with long references (code's tests) held inline and out of line
(``redstar.references``): Python allocations of a list of code prompts, measured with tracemalloc.

    .venv/bin/python tools/bench/reference_memory.py                 # 2,000 prompts of ~17.6 KB tests

Each prompt has a question of about 500 characters and a TACO-shaped ``input_output`` JSON of 35
test cases (about 17.6k characters); "out of line" stows each reference in a temporary store as
the run's load stage does and keeps the pointer. Figures: docs/scale.md.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any


def reference(i: int) -> str:
    rng = random.Random(i)
    inputs = [" ".join(str(rng.randint(0, 10**6)) for _ in range(70)) + "\n" for _ in range(35)]
    return json.dumps({"inputs": inputs, "outputs": [str(rng.randint(0, 10**9)) + "\n" for _ in inputs]})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=2000)
    args = parser.parse_args()
    from redstar.records import Prompt
    from redstar.references import stow

    print(f"mean reference: {sum(len(reference(i)) for i in range(50)) / 50:,.0f} characters")
    with tempfile.TemporaryDirectory(prefix="rs-refs-") as folder:
        measure(Path(folder), args.prompts, stow, Prompt)


def measure(root: Path, count: int, stow: Any, prompt: Any) -> None:
    for label, keep in (("inline", lambda p: p), ("out of line", lambda p: stow(p, root))):
        tracemalloc.start()
        prompts = [keep(prompt(domain="code", source="taco", reference=reference(i),
                               question=f"Problem {i}: read the numbers and print their sum. " * 10))
                   for i in range(count)]
        size, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"{label:>12}: {size / len(prompts) / 1024:.2f} KiB per prompt; "
              f"{size / len(prompts) * 220_000 / 2**30:.2f} GiB at 220k prompts")
        del prompts


if __name__ == "__main__":
    main()
