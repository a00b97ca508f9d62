"""Benchmark of redstar-code's verifier: candidates per second and per-kind accuracy on the
held-out verification set (correct, wrong, crashing, too slow and hostile programs), plus a check
that no process or file outlived the run.

    . .venv/bin/activate
    python tools/bench/code_verify_bench.py                 # defaults: timeout 4 s, all cores
    python tools/bench/code_verify_bench.py --timeout 1 --workers 2 --mode taco --json out.json

Needs bubblewrap (tools/install_system_deps.sh) and redstar-code installed. The set is
packages/redstar-code/tests/data/heldout.jsonl (rebuild with build_heldout.py there).
Figures measured on the development machines are in docs/code.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA = ROOT / "packages" / "redstar-code" / "tests" / "data" / "heldout.jsonl"
MARKER = "redstar-heldout-marker"
ESCAPE_PREFIX = "redstar-escape"


def processes_with(*needles: str) -> list[int]:
    """Host PIDs whose command line or environment contains any needle."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        for name in ("cmdline", "environ"):
            try:
                data = Path(f"/proc/{entry}/{name}").read_bytes()
            except OSError:
                continue
            if any(n.encode() in data for n in needles):
                found.append(int(entry))
                break
    return found


def escaped_files() -> list[str]:
    places = ["/tmp", "/var/tmp", "/dev/shm", "/root", "/usr", "/", str(Path.home())]
    out = []
    for place in places:
        with contextlib.suppress(OSError):
            out += [f"{place}/{n}" for n in os.listdir(place) if n.startswith(ESCAPE_PREFIX)]
    return sorted(set(out))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--timeout", type=float, default=4.0, help="seconds per test (TACO uses 4)")
    parser.add_argument("--workers", type=int, default=None, help="parallel sandboxes (default: usable cores)")
    parser.add_argument("--mode", choices=("strict", "taco"), default="strict")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    from redstar.records import Prompt
    from redstar_code.verifier import CodeVerifier

    rows = [json.loads(line) for line in args.data.read_text(encoding="utf-8").splitlines() if line.strip()]
    items, kinds, expected = [], [], []
    for row in rows:
        prompt = Prompt(domain="code", source="heldout", question=row["id"], reference=row["input_output"])
        for candidate in row["candidates"]:
            items.append((candidate["response"], prompt))
            kinds.append(candidate["kind"])
            expected.append(candidate["reward"])

    tmp_before = set(os.listdir("/tmp"))
    verifier = CodeVerifier(timeout=args.timeout, workers=args.workers, mode=args.mode)
    verifier.checker.sandbox.ensure_checked()  # the one-off probe is not part of the timing
    started = time.perf_counter()
    verdicts = verifier.verify_many(items)
    elapsed = time.perf_counter() - started
    tag = verifier.checker.sandbox.tag_prefix
    verifier.close()

    per_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    mistakes = []
    for kind, want, verdict, (_, prompt) in zip(kinds, expected, verdicts, items):
        per_kind[kind][1] += 1
        if verdict.reward == want:
            per_kind[kind][0] += 1
        else:
            mistakes.append(f"{prompt.question} {kind}: expected {want}, got {verdict.reward} ({verdict.reason})")
    leaked_processes = processes_with(tag, MARKER)
    leaked_files = escaped_files() + sorted(n for n in set(os.listdir("/tmp")) - tmp_before if tag in n)
    correct = sum(c for c, _ in per_kind.values())
    result = {
        "candidates": len(items),
        "problems": len(rows),
        "seconds": round(elapsed, 2),
        "candidates_per_second": round(len(items) / elapsed, 2),
        "accuracy": round(correct / len(items), 4),
        "per_kind_accuracy": {k: f"{c}/{n}" for k, (c, n) in sorted(per_kind.items())},
        "leaked_processes": leaked_processes,
        "leaked_files": leaked_files,
        "timeout": args.timeout,
        "workers": verifier.checker.workers,
        "mode": args.mode,
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "mistakes": mistakes,
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0 if not mistakes and not leaked_processes and not leaked_files else 1


if __name__ == "__main__":
    raise SystemExit(main())
