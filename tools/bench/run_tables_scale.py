#!/usr/bin/env python3
"""Benchmark: peak memory and time of the stages that read a run's tables (sample's table
writing, verify, build, report) on runs of 10k, 100k and 1M samples, and on 1,000 prompts with
10, 100 and 1,000 samples each (what is held per prompt against what is held per sample).

    .venv/bin/python tools/bench/run_tables_scale.py                        # 10k, 100k; 1k prompts x 10, 100
    .venv/bin/python tools/bench/run_tables_scale.py --sizes 10000,100000,1000000 --per-prompt 10,100,1000
    .venv/bin/python tools/bench/run_tables_scale.py --trace 100000         # tracemalloc: where the memory goes
    .venv/bin/python tools/bench/run_tables_scale.py --from-json results.json --plot docs/img/run_tables_scale.png

Each run is ``redstar.pipeline.runner.run_pipeline`` on a recipe, in a fresh subprocess, exactly
as ``redstar run`` runs it (local engine, default cleaning filters ``repetition`` and
``language``, the real ``math`` verifier), with ``sft: null``, no RL and no evaluators, so the run
ends with the report. Only the data is made up, by a bench plugin registered on the host:

- source ``bench-math``: P synthetic word problems (question + integer gold answer, levels 7-9,
  inside the paper's band, so all P are selected);
- sampler ``bench-teacher``: for each requested sample, Long-CoT-like text of 2-4 KB drawn
  deterministically from that sample's seed (``SamplingParams.seeds``): sentences of varied
  reasoning from a fixed pool, then ``\\boxed{gold}`` (about half), a wrong box (30%), no box
  (12%), or a loop cut at the length limit (8%, ``finish_reason: length``); about 2% drift
  into Chinese (cleaning drops them). It returns at once, so the sample stage measures writing
  the table, not a model (the sampler's own seconds are printed apart).

Memory: a thread reads ``VmRSS`` from ``/proc/self/status`` every 50 ms and charges it to the
stage running (the progress board's ``stage(name)`` call marks a stage's start; the board
closing marks the start of the report: summary, ``report.md``, plots). ``malloc_trim(0)`` runs
at each stage start, so freed memory of an earlier stage is handed back and not counted again.
"before stages" is the RSS when the first stage starts (Python, RedStar, pyarrow, the plugins
imported); "growth" is a stage's peak minus that.

The figures measured on the development machine are in docs/benchmarks.md ("Run tables at
scale"). Speed and memory are measured here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where used: only --trace needs it
    import tracemalloc

ROOT = Path(__file__).resolve().parents[2]
STAGES = ("load", "score", "select", "sample", "verify", "build", "train", "validate", "evaluate", "report")
SHOWN = ("sample", "verify", "build", "report")  # the stages that read or write the run tables
MIB = 1 << 20

RECIPE = """\
name: run-tables-scale
models: {{teacher: bench-teacher, student: bench-student}}
sources: [{{name: bench-math, options: {{count: {prompts}, seed: 0}}}}]
selection: {{min_level: 7, max_level: 9}}
sampling: {{backend: bench-teacher, n: {n}, max_new_tokens: 4096}}
decontamination: {{enabled: false}}
sft: null
"""

# -- the bench plugin: synthetic prompts and an instant teacher --------------------------------

TEMPLATES = (
    "A warehouse keeps {a} crates, each holding {b} boxes, and another {c} loose boxes. "
    "How many boxes are in the warehouse altogether?",
    "A choir has {a} rows of singers with {b} singers in each row; {c} soloists stand in front. "
    "How many people are on stage?",
    "An orchard plants {a} rows of {b} trees and then {c} more trees along the fence. "
    "How many trees does the orchard have now?",
    "A library shelves {a} books on each of {b} shelves and keeps {c} books at the desk. "
    "How many books does it hold?",
)


def problem(i: int, seed: int) -> tuple[str, int, int]:
    """Problem ``i``: its question, gold answer and level (7-9)."""
    rng = random.Random(seed * 1_000_003 + i)
    a, b, c = rng.randint(12, 999), rng.randint(12, 999), rng.randint(1, 9999)
    question = f"Problem {i}. " + TEMPLATES[i % len(TEMPLATES)].format(a=a, b=b, c=c)
    return question, a * b + c, 7 + i % 3


_NUMBERS = re.compile(r"\d+")
_WORDS = ("first", "next", "then", "so", "hence", "therefore", "now", "again", "carefully", "instead")
_NOUNS = ("product", "sum", "remainder", "total", "partial result", "estimate", "difference", "count")


def _sentence_pool(size: int = 4000) -> list[str]:
    rng = random.Random(20261202)
    shapes = (
        "Let me {w} compute the {n}: {x} times {y} is {z}.",
        "Wait, I should double-check the {n}, because {x} plus {y} gives {z}, not {q}.",
        "Hmm, {w} the {n} of {x} and {y} should be about {z}, so the order of magnitude is right.",
        "Breaking {x} into {y} and {q}, the {n} becomes {z} after carrying the tens.",
        "Alternatively, I could {w} estimate: roughly {x} groups of {y}, which is near {z}.",
        "Let me verify the {n} once more: {z} minus {y} is {x}, which matches.",
        "So far the {n} is {z}; {w} I add the remaining {y} items.",
        "I am not sure about the {n} yet; {x} and {y} might combine to {z} or {q}.",
    )
    pool = []
    for _ in range(size):
        x, y = rng.randint(2, 9999), rng.randint(2, 999)
        pool.append(rng.choice(shapes).format(w=rng.choice(_WORDS), n=rng.choice(_NOUNS), x=x, y=y,
                                              z=x * y if rng.random() < 0.5 else x + y, q=rng.randint(2, 99999)))
    return pool


POOL = _sentence_pool()
CHINESE = "我们再检查一下这个结果，乘法和加法的顺序是否正确，然后得到最终答案。"


def response(seed: int, a: int, b: int, c: int) -> tuple[str, str]:
    """One response (text, finish_reason) drawn from ``seed`` alone: 2-4 KB of reasoning, then
    the right box about half the time."""
    rng = random.Random(seed)
    gold = a * b + c
    body = rng.choices(POOL, k=rng.randint(24, 46))
    if rng.random() < 0.02:
        body.insert(rng.randrange(len(body)), CHINESE * 3)
    head = f"<think>\nWe need {a} times {b}, plus {c}.\n"
    think = head + "\n".join(body) + "\n"
    u = rng.random()
    if u < 0.5:
        return think + f"</think>\nSo {a} x {b} + {c} = {gold}.\n\n\\boxed{{{gold}}}", "stop"
    if u < 0.8:
        wrong = gold + rng.choice((-1, 1)) * rng.randint(1, 100)
        return think + f"</think>\nSo the total is {wrong}.\n\n\\boxed{{{wrong}}}", "stop"
    if u < 0.92:
        return think + f"</think>\nI think the total is around {gold + rng.randint(-5, 5)}.", "stop"
    loop = rng.choice(POOL) + " "
    return think + loop * 12, "length"


SAMPLER_SECONDS = [0.0]  # the bench teacher's own time (making text), apart from the stage's


def bench_host():
    """A host with core's built-ins, the real math plugin (its verifier) and the bench plugin (no
    entry points: nothing else installed takes part)."""
    import redstar_math.plugin
    from redstar import hookimpl
    from redstar.interfaces import Completion, Sampler, Source
    from redstar.plugins import Host
    from redstar.records import Prompt

    class BenchMathSource(Source):
        name = "bench-math"
        domain = "math"

        def __init__(self, count: int = 100, seed: int = 0) -> None:
            self.count, self.seed = count, seed

        def load(self):
            for i in range(self.count):
                question, gold, level = problem(i, self.seed)
                yield Prompt(domain="math", source="bench-math", question=question, reference=str(gold),
                             difficulty=float(level))

    class BenchTeacher(Sampler):
        """Instant: each completion comes from its own seed, as the Sampler contract asks."""

        name = "bench-teacher"

        def generate(self, conversations, params):
            start = time.perf_counter()
            out = []
            for c, conversation in enumerate(conversations):
                a, b, k = map(int, _NUMBERS.findall(conversation[-1]["content"])[1:4])
                seeds = params.seeds[c] if params.seeds else [params.seed + j for j in range(params.n)]
                out.append([Completion(*response(s, a, b, k)) for s in seeds])
            SAMPLER_SECONDS[0] += time.perf_counter() - start
            return out

    class BenchPlugin:
        @hookimpl
        def redstar_register_sources(self, register):
            register(BenchMathSource)

        @hookimpl
        def redstar_register_samplers(self, register):
            register(BenchTeacher)

    host = Host(load_entry_points=False)
    host.register(redstar_math.plugin, name="math")
    host.register(BenchPlugin(), name="bench")
    return host


# -- the child: one run, metered ----------------------------------------------------------------

def rss_bytes(pid: str = "self") -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def children_rss() -> int:
    """RSS of this process's children (the math verifier's sympy worker, when it started)."""
    total = 0
    for task in os.listdir("/proc/self/task"):
        try:
            pids = Path(f"/proc/self/task/{task}/children").read_text().split()
        except OSError:
            continue
        for pid in pids:
            with contextlib.suppress(OSError):  # it exited meanwhile
                total += rss_bytes(pid)
    return total


class Meter:
    """Peak RSS per stage, sampled every ``every`` seconds in a thread; with ``trace``, also
    tracemalloc's peak per stage and a snapshot at (near) that peak, to say where it went."""

    def __init__(self, every: float = 0.05, trace: bool = False) -> None:
        self.every, self.trace = every, trace
        self.current: str | None = None
        self.stages: dict[str, dict] = {}
        self.children_peak = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-meter", daemon=True)
        self._trim: Callable[[int], Any] | None
        try:
            self._trim = ctypes.CDLL("libc.so.6").malloc_trim
        except OSError:  # not glibc
            self._trim = None
        self._start_snapshot: tracemalloc.Snapshot | None = None
        self._peak_snapshot: tuple[int, tracemalloc.Snapshot] | None = None
        self._snapshot_at = 0

    def start(self) -> Meter:
        self._thread.start()
        return self

    def _sample(self) -> None:
        rss = rss_bytes()
        with self._lock:
            if self.current is not None:
                st = self.stages[self.current]
                st["peak"] = max(st["peak"], rss)
                st["samples"] += 1
        if self.trace and self.current is not None:
            import tracemalloc

            now, _ = tracemalloc.get_traced_memory()
            # A snapshot when traced memory passes the last snapshot's by 25%: the last one of a
            # stage is within 25% of its peak, and there are few (snapshots are slow).
            if now > 1.25 * self._snapshot_at and now > 8 * MIB:
                self._snapshot_at = now
                self._peak_snapshot = (now, tracemalloc.take_snapshot())

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self._sample()
            self.children_peak = max(self.children_peak, children_rss())

    def enter(self, name: str | None) -> None:
        """Stage ``name`` starts now (None: the run is over)."""
        now = time.perf_counter()
        if self.trace:
            self._close_trace()
        with self._lock:
            if self.current is not None:
                self.stages[self.current]["wall"] = now - self.stages[self.current]["t0"]
            self.current = None
        if self._trim is not None:
            self._trim(0)
        if name is not None:
            rss = rss_bytes()
            with self._lock:
                self.stages[name] = {"t0": time.perf_counter(), "start": rss, "peak": rss, "samples": 1}
                self.current = name
            if self.trace:
                import tracemalloc

                tracemalloc.reset_peak()
                self._start_snapshot = tracemalloc.take_snapshot()
                self._snapshot_at = tracemalloc.get_traced_memory()[0]
                self._peak_snapshot = None

    def _close_trace(self) -> None:
        import tracemalloc

        if self.current is None:
            return
        start = self._start_snapshot
        assert start is not None, "enter() takes it when a traced stage begins"
        current, peak = tracemalloc.get_traced_memory()
        st = self.stages[self.current]
        st["traced_peak"], st["traced_end"] = peak, current
        st["traced_start"] = sum(s.size for s in start.statistics("filename"))
        if self._peak_snapshot is not None:
            at, snapshot = self._peak_snapshot
            diff = snapshot.compare_to(start, "traceback")
            st["traced_snapshot_at"] = at
            st["traced_top"] = [_where(d) for d in diff[:8] if d.size_diff > 0]
        end_diff = tracemalloc.take_snapshot().compare_to(start, "traceback")
        st["traced_kept"] = [_where(d) for d in end_diff[:5] if d.size_diff > 0]

    def stop(self) -> None:
        self.enter(None)
        self._stop.set()
        self._thread.join()


def _where(diff) -> dict:
    """A tracemalloc difference as the innermost RedStar (or bench) line that allocated it, with
    the frames below it."""
    frames = [f"{Path(f.filename).name}:{f.lineno}" for f in diff.traceback]
    ours = [f for f in diff.traceback if "/redstar" in f.filename or "run_tables_scale" in f.filename]
    top = ours[-1] if ours else diff.traceback[-1]  # tracemalloc lists the innermost frame last
    return {"mib": round(diff.size_diff / MIB, 1), "count": diff.count_diff,
            "where": f"{Path(top.filename).parent.name}/{Path(top.filename).name}:{top.lineno}",
            "line": _source_line(top.filename, top.lineno), "frames": frames[-4:]}


def _source_line(filename: str, lineno: int) -> str:
    try:
        return Path(filename).read_text(encoding="utf-8").splitlines()[lineno - 1].strip()[:120]
    except (OSError, IndexError):
        return ""


def child(args: argparse.Namespace) -> int:
    bare = rss_bytes()
    if args.trace:
        import tracemalloc

        tracemalloc.start(6)
    from redstar.pipeline.runner import run_pipeline
    from redstar.progress import ProgressBoard
    from redstar.recipe import load_recipe

    meter = Meter(trace=args.trace)

    class MeteredBoard(ProgressBoard):
        def stage(self, name: str) -> None:
            meter.enter(name)
            super().stage(name)

        def __exit__(self, *exc) -> None:
            super().__exit__(*exc)
            meter.enter("report")  # what follows the stages: summary.json, report.md, plots

    out = Path(args.out)
    recipe_path = out.parent / f"{out.name}.yaml"
    recipe_path.write_text(RECIPE.format(prompts=args.prompts, n=args.n), encoding="utf-8")
    host = bench_host()
    imported = rss_bytes()
    meter.start()
    start = time.perf_counter()
    run_pipeline(load_recipe(recipe_path), out, host, MeteredBoard(enabled=False))
    meter.stop()
    wall = time.perf_counter() - start
    state = json.loads((out / "state.json").read_text())
    first = meter.stages[STAGES[0]]["start"]
    result = {
        "prompts": args.prompts, "n": args.n, "samples": args.prompts * args.n, "trace": bool(args.trace),
        "rss_bare_mib": bare / MIB, "rss_imported_mib": imported / MIB, "rss_before_stages_mib": first / MIB,
        "hwm_mib": _hwm() / MIB, "children_peak_mib": meter.children_peak / MIB, "wall": wall,
        "sampler_seconds": SAMPLER_SECONDS[0],
        "counts": {name: st.get("counts", {}) for name, st in state["stages"].items()},
        "disk_mib": {p: _size(out / p) / MIB for p in ("samples", "verdicts", "sft.jsonl", "preference.jsonl")},
        "stages": {},
    }
    for name, st in meter.stages.items():
        seconds = state["stages"].get(name, {}).get("seconds", st["wall"])
        row = {"seconds": round(float(seconds), 2), "wall": round(st["wall"], 2), "peak_mib": st["peak"] / MIB,
               "start_mib": st["start"] / MIB, "samples": st["samples"]}
        row.update({k: v for k, v in st.items() if k.startswith("traced")})
        result["stages"][name] = row
    Path(args.result).write_text(json.dumps(result, indent=1))
    return 0


def _hwm() -> int:
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


# -- the parent: runs, table, plot ------------------------------------------------------------

def run_one(prompts: int, n: int, workdir: Path, trace: bool = False, keep: bool = False) -> dict:
    out = workdir / f"run-{prompts}x{n}{'-trace' if trace else ''}"
    result = workdir / f"{out.name}.json"
    command = [sys.executable, str(Path(__file__).resolve()), "--child", "--prompts", str(prompts), "--n", str(n),
               "--out", str(out), "--result", str(result)] + (["--trace", "1"] if trace else [])
    print(f"running {prompts} prompts x {n} samples{' (tracemalloc)' if trace else ''} ...", flush=True)
    subprocess.run(command, check=True, env={**os.environ, "REDSTAR_PROGRESS_EVERY": "600"})
    data = json.loads(result.read_text())
    if not keep:
        shutil.rmtree(out, ignore_errors=True)
    print(f"  done in {data['wall']:.1f} s; " + ", ".join(
        f"{s} {data['stages'][s]['seconds']:.1f} s {data['stages'][s]['peak_mib']:.0f} MiB" for s in SHOWN), flush=True)
    return data


def table(results: list[dict]) -> str:
    lines = ["| samples | prompts x samples each | stage | seconds | peak RSS MiB | growth over before-stages MiB "
             "| rise during the stage MiB |", "|---:|---|---|---:|---:|---:|---:|"]
    for r in results:
        base = r["rss_before_stages_mib"]
        lines.append(f"| {r['samples']:,} | {r['prompts']:,} x {r['n']} | (before stages) | | {base:.0f} | | |")
        for stage in SHOWN:
            st = r["stages"][stage]
            extra = f" (sampler {r['sampler_seconds']:.1f})" if stage == "sample" else ""
            lines.append(f"| {r['samples']:,} | {r['prompts']:,} x {r['n']} | {stage} | {st['seconds']:.1f}{extra} | "
                         f"{st['peak_mib']:.0f} | {st['peak_mib'] - base:+.0f} | {st['peak_mib'] - st['start_mib']:+.0f} |")
    return "\n".join(lines)


def counts_line(r: dict) -> str:
    c = r["counts"]
    b = c.get("build", {})
    return (f"{r['prompts']:,} x {r['n']}: samples {c['sample'].get('samples')}, verified {c['verify'].get('verified')} "
            f"(correct {c['verify'].get('correct')}), SFT rows {b.get('sft_rows')}, pairs {b.get('preference_pairs')}, "
            f"dropped {b.get('dropped')}; tables on disk " +
            ", ".join(f"{k} {v:.0f} MiB" for k, v in r["disk_mib"].items()))


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = [("by size (10 samples per prompt)", [r for r in results if r["n"] == 10 and not r["trace"]],
               lambda r: r["samples"], "samples in the run"),
              ("1,000 prompts, more samples each", [r for r in results if r["prompts"] == 1000 and not r["trace"]],
               lambda r: r["n"], "samples per prompt (1,000 prompts: 10k, 100k, 1M samples)")]
    series = [s for s in series if len(s[1]) >= 1]
    fig, axes = plt.subplots(len(series), 2, figsize=(11, 3.8 * len(series)), squeeze=False)
    colors = {"sample": "#2980b9", "verify": "#27ae60", "build": "#c0392b", "report": "#8e44ad"}
    for row, (title, rs, x_of, xlabel) in zip(axes, series):
        rs = sorted(rs, key=x_of)
        xs = [x_of(r) for r in rs]
        mem, sec = row
        for stage in SHOWN:
            mem.plot(xs, [r["stages"][stage]["peak_mib"] for r in rs], marker="o", label=stage, color=colors[stage])
            sec.plot(xs, [max(r["stages"][stage]["seconds"], 0.01) for r in rs], marker="o", label=stage,
                     color=colors[stage])
        mem.plot(xs, [r["rss_before_stages_mib"] for r in rs], ls="--", color="#7f8c8d", label="before stages")
        mem.set_xscale("log")
        mem.set_ylim(0, max(r["stages"][s]["peak_mib"] for r in rs for s in SHOWN) * 1.2)
        mem.set_ylabel("peak RSS during the stage (MiB)")
        mem.set_xlabel(xlabel)
        mem.set_title(f"Memory, {title}", fontsize=10)
        mem.legend(fontsize=8)
        if len(xs) >= 2:  # a linear-time guide through the smallest run's build
            first = rs[0]["stages"]["build"]["seconds"]
            sec.plot(xs, [first * x / xs[0] for x in xs], ls=":", color="#7f8c8d", label="linear (from build)")
        sec.set_xscale("log")
        sec.set_yscale("log")
        sec.set_ylabel("seconds")
        sec.set_xlabel(xlabel)
        sec.set_title(f"Time, {title}", fontsize=10)
        sec.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def machine() -> str:
    load = os.getloadavg()
    return (f"{platform.machine()}, {os.cpu_count()} cores (nproc {len(os.sched_getaffinity(0))}), load average "
            f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, python {platform.python_version()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000", help="samples per run, 10 per prompt (comma-separated)")
    parser.add_argument("--per-prompt", default="10,100",
                        help="samples per prompt for the 1,000-prompt series (comma-separated; empty: none)")
    parser.add_argument("--trace", type=int, default=0, help="also run this size under tracemalloc (slow)")
    parser.add_argument("--workdir", help="where runs go (default: a temporary folder, deleted afterwards)")
    parser.add_argument("--keep", action="store_true", help="keep the run directories")
    parser.add_argument("--json", help="write every result here (and read those already there: reruns skip them)")
    parser.add_argument("--from-json", help="only print the table and plot from this results file")
    parser.add_argument("--md", help="write the markdown table here")
    parser.add_argument("--plot", help="write the plot here (e.g. docs/img/run_tables_scale.png)")
    # the child
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--prompts", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)

    if args.from_json:
        results = json.loads(Path(args.from_json).read_text())
    else:
        known = json.loads(Path(args.json).read_text()) if args.json and Path(args.json).exists() else []
        runs = [(int(s) // 10, 10, False) for s in args.sizes.split(",") if s.strip()]
        runs += [(1000, int(k), False) for k in args.per_prompt.split(",") if k.strip()]
        runs += [(args.trace // 10, 10, True)] if args.trace else []
        workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="redstar-scale-"))
        workdir.mkdir(parents=True, exist_ok=True)
        results = list(known)
        try:
            for prompts, n, trace in dict.fromkeys(runs):
                if any(r["prompts"] == prompts and r["n"] == n and r["trace"] == trace for r in results):
                    continue
                results.append(run_one(prompts, n, workdir, trace, args.keep))
                if args.json:
                    Path(args.json).write_text(json.dumps(results, indent=1))
        finally:
            if not args.workdir and not args.keep:
                shutil.rmtree(workdir, ignore_errors=True)
    plain = sorted((r for r in results if not r["trace"]), key=lambda r: (r["n"] != 10, r["samples"], r["n"]))
    print(f"\nmachine: {machine()}")
    text = table(plain)
    print(text)
    for r in plain:
        print(counts_line(r))
    for r in results:
        if r["trace"]:
            print(f"\ntracemalloc, {r['prompts']:,} x {r['n']}:")
            for stage in SHOWN:
                st = r["stages"][stage]
                print(f"  {stage}: traced peak {st['traced_peak'] / MIB:.0f} MiB (start {st['traced_start'] / MIB:.0f}, "
                      f"end {st['traced_end'] / MIB:.0f}); at the peak, allocated since the stage started:")
                for top in st.get("traced_top", []):
                    print(f"    {top['mib']:8.1f} MiB {top['count']:>9} blocks  {top['where']}  {top['line']}")
    if args.md:
        Path(args.md).write_text(text + "\n")
    if args.plot:
        plot(results, Path(args.plot))
        print(f"plot: {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
