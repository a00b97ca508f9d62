"""Accuracy and throughput of RedStar's MathVerifier next to math-verify, side by side.

    python tools/bench/math_verify_bench.py                      # labelled set (+ MATH if found)
    python tools/bench/math_verify_bench.py --benchmarks /path/to/benchmarks --math-limit 2000

Both verifiers check the same (response, gold) pairs in this one process, one after the other,
single-threaded, each pair once:

- RedStar: ``MathVerifier().verify(response, gold)`` (sympy fallback enabled, its worker started
  before timing so its one-off start is not counted).
- math-verify: ``verify(parse("$" + gold + "$"), parse(response))`` with its default extraction
  and timeouts (signals, which work here because this runs in the main thread). Wrapping the gold
  in ``$...$`` is how math-verify's documentation parses gold answers; bare golds scored lower.

Data sets:

- ``labelled``: the 411 hand-labelled pairs of ``packages/redstar-math/tests/data`` (every answer
  category, extraction styles, responses without an answer, 80 real MATH solutions);
- ``math-solutions`` (when the benchmarks folder exists): each MATH test solution against its own
  answer (correct) and against the answer of the next problem whose answer differs (wrong).

Accuracy counts a check right when the verifier's correct/not-correct matches the label (a "no
answer" label is "not correct"). Caches of RedStar's parser are cleared before each data set.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LABELLED = ROOT / "packages" / "redstar-math" / "tests" / "data" / "verifier_labelled.jsonl"
DEFAULT_BENCHMARKS = ROOT.parent / "shared" / "data" / "benchmarks"


def labelled_pairs() -> list[tuple[str, str, bool]]:
    rows = [json.loads(line) for line in LABELLED.open(encoding="utf-8")]
    return [(row["response"], row["gold"], row["expected_correct"]) for row in rows]


def math_solution_pairs(benchmarks: Path, limit: int | None) -> list[tuple[str, str, bool]]:
    rows = [json.loads(line) for line in (benchmarks / "math" / "test.jsonl").open(encoding="utf-8")]
    rows = rows[:limit] if limit else rows
    pairs = []
    for i, row in enumerate(rows):
        pairs.append((row["solution"], row["answer"], True))
        other = next(r for r in rows[i + 1:] + rows[:i] if r["answer"] != row["answer"])
        pairs.append((row["solution"], other["answer"], False))
    return pairs


def run_redstar(pairs):
    from redstar_math import equivalence, forms
    from redstar_math.cas import shared_cas
    from redstar_math.verifier import MathVerifier

    equivalence._parse.cache_clear()
    forms.parse_answer.cache_clear()
    verifier = MathVerifier()
    shared_cas().equal("1", "1", timeout=120)  # start the sympy worker outside the timed loop
    paths = Counter()
    results = []
    start = time.perf_counter()
    for response, gold, _ in pairs:
        verdict = verifier.verify(response, gold)
        results.append(verdict.correct)
        paths[verdict.reason.split("(")[-1].rstrip(")") if "(" in verdict.reason else "no answer"] += 1
    return results, time.perf_counter() - start, paths


def run_math_verify(pairs):
    from math_verify import parse, verify

    results = []
    start = time.perf_counter()
    for response, gold, _ in pairs:
        try:
            results.append(bool(verify(parse(f"${gold}$"), parse(response))))
        except Exception:  # math-verify raising counts as "not correct", as a pipeline would treat it
            results.append(False)
    return results, time.perf_counter() - start


def accuracy(results, pairs) -> float:
    return sum(r == label for r, (_, _, label) in zip(results, pairs)) / len(pairs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--benchmarks", type=Path, default=DEFAULT_BENCHMARKS,
                        help="folder with math/test.jsonl (skipped when missing)")
    parser.add_argument("--math-limit", type=int, default=None, help="use only the first N MATH problems")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)

    sets = {"labelled": labelled_pairs()}
    if (args.benchmarks / "math" / "test.jsonl").exists():
        sets["math-solutions"] = math_solution_pairs(args.benchmarks, args.math_limit)
    else:
        print(f"(no {args.benchmarks}/math/test.jsonl: MATH solutions skipped)", file=sys.stderr)

    figures = {}
    header = f"{'data set':16s} {'pairs':>6s} | {'RedStar acc':>11s} {'checks/s':>9s} | " \
             f"{'math-verify acc':>15s} {'checks/s':>9s} | {'speed-up':>8s}"
    print(header)
    print("-" * len(header))
    for name, pairs in sets.items():
        ours, ours_s, paths = run_redstar(pairs)
        theirs, theirs_s = run_math_verify(pairs)
        row = {
            "pairs": len(pairs),
            "redstar_accuracy": accuracy(ours, pairs), "redstar_checks_per_s": len(pairs) / ours_s,
            "math_verify_accuracy": accuracy(theirs, pairs), "math_verify_checks_per_s": len(pairs) / theirs_s,
            "speedup": theirs_s / ours_s, "redstar_decided_by": dict(paths.most_common()),
        }
        figures[name] = row
        print(f"{name:16s} {len(pairs):6d} | {row['redstar_accuracy']:11.4f} {row['redstar_checks_per_s']:9.0f} | "
              f"{row['math_verify_accuracy']:15.4f} {row['math_verify_checks_per_s']:9.0f} | {row['speedup']:7.1f}x")
    for name, row in figures.items():
        print(f"RedStar on {name}, decided by: {row['redstar_decided_by']}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
