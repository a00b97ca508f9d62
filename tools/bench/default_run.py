#!/usr/bin/env python3
"""Benchmark: wall time of the embedded default run (`redstar run --plugins math,code`), stage by
stage, on this machine. Speed is measured here, never asserted in tests.

    .venv/bin/python tools/bench/default_run.py                 # math,code into a fresh folder
    .venv/bin/python tools/bench/default_run.py --plugins math  # one domain

Prints the time of each stage (from the run's summary.json), the total, and the scores; the
figures measured on the development machine are in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from redstar.report_tables import fmt_pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plugins", default="math,code")
    parser.add_argument("--out", help="run directory (default: a fresh temporary folder)")
    args = parser.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="redstar-bench-"))
    redstar = Path(sys.executable).with_name("redstar")
    start = time.perf_counter()
    subprocess.run([str(redstar), "run", "--plugins", args.plugins, "--out", str(out), "--no-progress"], check=True,
                   env=dict(os.environ))
    wall = time.perf_counter() - start
    summary = json.loads((out / "summary.json").read_text())
    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} cores; python {platform.python_version()}")
    print(f"{'stage':<12} {'seconds':>8}")
    for stage, seconds in summary["seconds"].items():
        print(f"{stage:<12} {seconds:>8.1f}")
    print(f"{'total wall':<12} {wall:>8.1f}  (process start and model loading included)")
    for tag, per in summary.get("scores", {}).items():
        for name, score in per.items():
            print(f"score {tag:<8} {name:<26} pass@1 {fmt_pass(score['pass_at_1'], score.get('pass_at_1_ci'))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
