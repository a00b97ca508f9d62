"""Accuracy and throughput of RedStar's MathVerifier next to math-verify, side by side.

    python tools/bench/math_verify_bench.py                      # labelled set (+ MATH if found)
    python tools/bench/math_verify_bench.py --benchmarks /path/to/benchmarks --math-limit 2000
    python tools/bench/math_verify_bench.py --repeat 5 --no-math # best of 5 timings, labelled only

Both verifiers check the same (response, gold) pairs in this one process, one after the other,
single-threaded, each pair once:

- RedStar: ``MathVerifier().verify(response, gold)`` (sympy fallback enabled, its worker started
  before timing so its one-off start is not counted).
- math-verify: ``verify(parse("$" + gold + "$"), parse(response))`` with its default extraction
  and timeouts (signals, which work here because this runs in the main thread). Wrapping the gold
  in ``$...$`` is how math-verify's documentation parses gold answers; bare golds scored lower.

Data sets:

- ``labelled``: the hand-labelled pairs of ``packages/redstar-math/tests/data`` (every answer
  category, extraction styles, responses without an answer, 80 real MATH solutions), with
  accuracy and checks/s printed per category for both verifiers;
- ``math-solutions`` (when the benchmarks folder exists): each MATH test solution against its own
  answer (correct) and against the answer of the next problem whose answer differs (wrong).

Accuracy counts a check right when the verifier's correct/not-correct matches the label (a "no
answer" label is "not correct"). RedStar's caches (parser, cleaning, the sympy worker's answers)
are cleared before each data set and each repeat. Each pair is timed on its own, so per-category checks/s are real; with
``--repeat N`` every figure is the fastest of N runs (verdicts must agree between runs), which
is what to compare on a machine shared with other jobs.
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


def labelled_pairs() -> list[tuple[str, str, bool, str]]:
    rows = [json.loads(line) for line in LABELLED.open(encoding="utf-8")]
    return [(row["response"], row["gold"], row["expected_correct"], row["category"]) for row in rows]


def math_solution_pairs(benchmarks: Path, limit: int | None) -> list[tuple[str, str, bool, str]]:
    rows = [json.loads(line) for line in (benchmarks / "math" / "test.jsonl").open(encoding="utf-8")]
    rows = rows[:limit] if limit else rows
    pairs = []
    for i, row in enumerate(rows):
        pairs.append((row["solution"], row["answer"], True, "math-solutions"))
        other = next(r for r in rows[i + 1:] + rows[:i] if r["answer"] != row["answer"])
        pairs.append((row["solution"], other["answer"], False, "math-solutions"))
    return pairs


def run_redstar(pairs):
    """Verdicts, seconds per pair, and the path that decided each."""
    from redstar_math import equivalence, forms, latex
    from redstar_math.cas import shared_cas
    from redstar_math.verifier import MathVerifier

    equivalence._parse.cache_clear()
    forms.parse_answer.cache_clear()
    if hasattr(latex.clean, "cache_clear"):  # cached since issue 11; the bench also times older code
        latex.clean.cache_clear()
    verifier = MathVerifier()
    shared_cas().equal("1", "1", timeout=120)  # start the sympy worker outside the timed loop
    shared_cas()._decided.clear()  # and forget what an earlier repeat asked it
    results, seconds, paths = [], [], []
    clock = time.perf_counter
    for response, gold, _, _ in pairs:
        start = clock()
        verdict = verifier.verify(response, gold)
        seconds.append(clock() - start)
        results.append(verdict.correct)
        paths.append(verdict.reason.split("(")[-1].rstrip(")") if "(" in verdict.reason else "no answer")
    return results, seconds, paths


def run_math_verify(pairs):
    from math_verify import parse, verify

    results, seconds = [], []
    clock = time.perf_counter
    for response, gold, _, _ in pairs:
        start = clock()
        try:
            results.append(bool(verify(parse(f"${gold}$"), parse(response))))
        except Exception:  # math-verify raising counts as "not correct", as a pipeline would treat it
            results.append(False)
        seconds.append(clock() - start)
    return results, seconds


def best_of(runs: list[tuple[list, list]]) -> tuple[list, list]:
    """The verdicts of the first run and, per pair, the fastest time of all runs."""
    results = runs[0][0]
    for other, _ in runs[1:]:
        if other != results:
            print("warning: verdicts differ between repeats (a timeout?); using the first run's",
                  file=sys.stderr)
    return results, [min(times) for times in zip(*(seconds for _, seconds in runs))]


def accuracy(results, pairs) -> float:
    return sum(r == pair[2] for r, pair in zip(results, pairs)) / len(pairs)


def by_category(pairs, ours, ours_s, theirs, theirs_s) -> dict[str, dict]:
    table: dict[str, dict] = {}
    for category in dict.fromkeys(pair[3] for pair in pairs):
        index = [i for i, pair in enumerate(pairs) if pair[3] == category]
        subset = [pairs[i] for i in index]
        ours_time, theirs_time = sum(ours_s[i] for i in index), sum(theirs_s[i] for i in index)
        table[category] = {
            "pairs": len(index),
            "redstar_accuracy": accuracy([ours[i] for i in index], subset),
            "redstar_checks_per_s": len(index) / ours_time,
            "math_verify_accuracy": accuracy([theirs[i] for i in index], subset),
            "math_verify_checks_per_s": len(index) / theirs_time,
            "speedup": theirs_time / ours_time,
        }
    return table


def print_row(name: str, row: dict) -> None:
    print(f"{name:16s} {row['pairs']:6d} | {row['redstar_accuracy']:11.4f} {row['redstar_checks_per_s']:9.0f} | "
          f"{row['math_verify_accuracy']:15.4f} {row['math_verify_checks_per_s']:9.0f} | {row['speedup']:7.1f}x")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--benchmarks", type=Path, default=DEFAULT_BENCHMARKS,
                        help="folder with math/test.jsonl (skipped when missing)")
    parser.add_argument("--math-limit", type=int, default=None, help="use only the first N MATH problems")
    parser.add_argument("--no-math", action="store_true", help="the labelled set only")
    parser.add_argument("--repeat", type=int, default=1, help="time each verifier N times, keep the fastest")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)

    sets = {"labelled": labelled_pairs()}
    if args.no_math:
        pass
    elif (args.benchmarks / "math" / "test.jsonl").exists():
        sets["math-solutions"] = math_solution_pairs(args.benchmarks, args.math_limit)
    else:
        print(f"(no {args.benchmarks}/math/test.jsonl: MATH solutions skipped)", file=sys.stderr)

    figures = {}
    header = f"{'data set':16s} {'pairs':>6s} | {'RedStar acc':>11s} {'checks/s':>9s} | " \
             f"{'math-verify acc':>15s} {'checks/s':>9s} | {'speed-up':>8s}"
    print(header)
    print("-" * len(header))
    for name, pairs in sets.items():
        runs = [run_redstar(pairs) for _ in range(args.repeat)]
        ours, ours_s = best_of([(results, seconds) for results, seconds, _ in runs])
        paths = Counter(runs[0][2])
        theirs, theirs_s = best_of([run_math_verify(pairs) for _ in range(args.repeat)])
        row = {
            "pairs": len(pairs),
            "redstar_accuracy": accuracy(ours, pairs), "redstar_checks_per_s": len(pairs) / sum(ours_s),
            "math_verify_accuracy": accuracy(theirs, pairs), "math_verify_checks_per_s": len(pairs) / sum(theirs_s),
            "speedup": sum(theirs_s) / sum(ours_s), "redstar_decided_by": dict(paths.most_common()),
            "categories": by_category(pairs, ours, ours_s, theirs, theirs_s),
        }
        figures[name] = row
        print_row(name, row)
    for name, row in figures.items():
        if len(row["categories"]) > 1:
            print(f"\n{name}, by category:")
            print(header.replace("data set", "category"))
            for category, sub in row["categories"].items():
                print_row(category, sub)
    for name, row in figures.items():
        print(f"RedStar on {name}, decided by: {row['redstar_decided_by']}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
