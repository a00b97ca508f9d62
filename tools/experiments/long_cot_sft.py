"""Test the paper's claims in miniature with the embedded tiny models, using the pipeline's own
parts: the ``transformers`` sampler, the math/code verifiers and the ``sft`` trainer (TRL).

    . .venv/bin/activate
    python tools/experiments/long_cot_sft.py --domains math            # claim 1, math only
    python tools/experiments/long_cot_sft.py --hard-vs-easy --docs     # both claims, both domains (~10 min)

Claim 1 - Long-CoT SFT beats the base: the teacher samples ``--samples`` responses at temperature
1.0 for ``--prompts`` source prompts per domain of levels ``--levels``, the verifier keeps the
correct ones, the student base is fine-tuned on all of them with the default recipe's SFT options,
and base and fine-tuned student answer the held-out sets (every level) greedily.

Claim 2 (``--hard-vs-easy``) - hard prompts beat easy ones at equal count: from the same verified
responses, equal numbers from easy prompts (``--easy-levels``), from hard ones (``--hard-levels``,
the paper's 7-9) and from the whole band, each used to fine-tune a copy of the student, all
evaluated the same way.

Results (accuracy by level, per arm) print as tables and go to ``--out`` as JSON; ``--docs``
writes them into docs/tiny-models.md.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from redstar.interfaces import SamplingParams, TrainContext
from redstar.records import Prompt
from redstar.samplers.transformers_local import TransformersSampler
from redstar.trainers.sft import SFTTrainer
from redstar_code.synthetic import SyntheticCodeEvaluator, SyntheticCodeSource
from redstar_code.verifier import CodeVerifier
from redstar_math.synthetic import SyntheticMathEvaluator, SyntheticMathSource
from redstar_math.verifier import MathVerifier

#: The default recipe's SFT options (redstar.recipe.BASE_RECIPE), on the CPU.
SFT_OPTIONS = {"epochs": 3, "learning_rate": 1e-3, "batch_size": 16, "grad_accum": 1, "device": "cpu",
               "save_total_limit": 1}

SOURCES = {"math": SyntheticMathSource, "code": SyntheticCodeSource}
EVALUATORS = {"math": SyntheticMathEvaluator, "code": SyntheticCodeEvaluator}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--teacher", default="embedded:tiny-teacher")
    p.add_argument("--student", default="embedded:tiny-student")
    p.add_argument("--domains", default="math,code", help="comma-separated: math,code")
    p.add_argument("--prompts", type=int, default=300, help="source prompts per domain")
    p.add_argument("--levels", default="1-9", help="levels of the source prompts, as MIN-MAX")
    p.add_argument("--easy-levels", default="1-3", help="claim 2's easy band, MIN-MAX")
    p.add_argument("--hard-levels", default="7-9", help="claim 2's hard band, MIN-MAX (the paper's)")
    p.add_argument("--samples", type=int, default=4, help="teacher samples per prompt")
    p.add_argument("--max-new-tokens", type=int, default=384)
    p.add_argument("--eval-count", type=int, default=20, help="held-out problems per level and domain")
    p.add_argument("--epochs", type=float, default=SFT_OPTIONS["epochs"])
    p.add_argument("--learning-rate", type=float, default=SFT_OPTIONS["learning_rate"])
    p.add_argument("--hard-vs-easy", action="store_true", help="also run claim 2")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--work-dir", type=Path, default=None, help="keeps the fine-tuned models (default: a temp dir)")
    p.add_argument("--out", type=Path, default=Path("runs/experiments/long_cot_sft.json"))
    p.add_argument("--docs", action="store_true", help="write the tables into docs/tiny-models.md")
    return p.parse_args(argv)


def log(message: str) -> None:
    print(message, flush=True)


class Domains:
    """The verifier of each domain, as the pipeline has them."""

    def __init__(self, names: list[str]) -> None:
        self.verifiers = {name: {"math": MathVerifier, "code": CodeVerifier}[name]() for name in names}

    def conversation(self, prompt: Prompt) -> list[dict]:
        return self.verifiers[prompt.domain].messages(prompt)

    def verify(self, response: str, prompt: Prompt):
        return self.verifiers[prompt.domain].verify(response, prompt.reference, prompt.metadata)


def sample(model: str, prompts: list[Prompt], domains: Domains, *, n: int, temperature: float, max_new_tokens: int,
           seed: int) -> list[list[str]]:
    sampler = TransformersSampler(model, device="cpu", batch_size=32)
    try:
        params = SamplingParams(n=n, temperature=temperature, top_p=1.0, max_new_tokens=max_new_tokens, seed=seed)
        completions = sampler.generate([domains.conversation(p) for p in prompts], params)
    finally:
        sampler.close()
    # a response cut at the token limit is not a finished answer (the pipeline drops them too)
    return [[c.text if c.finish_reason != "length" else "" for c in row] for row in completions]


def evaluate(model: str, prompts: list[Prompt], domains: Domains, max_new_tokens: int) -> dict:
    """Greedy accuracy by domain and level, plus the share of responses with a <think> block."""
    responses = sample(model, prompts, domains, n=1, temperature=0.0, max_new_tokens=max_new_tokens, seed=0)
    table: dict = defaultdict(lambda: defaultdict(lambda: {"n": 0, "correct": 0, "thinks": 0}))
    for prompt, (response,) in zip(prompts, responses):
        cell = table[prompt.domain][prompt.metadata["level"]]
        cell["n"] += 1
        cell["correct"] += int(domains.verify(response, prompt).correct)
        cell["thinks"] += int(response.startswith("<think>"))
    return {domain: {level: {"n": c["n"], "accuracy": round(c["correct"] / c["n"], 3),
                             "thinks": round(c["thinks"] / c["n"], 3)} for level, c in sorted(levels.items())}
            for domain, levels in table.items()}


def verified_samples(teacher: str, prompts: list[Prompt], domains: Domains, args: argparse.Namespace) -> tuple[list[dict], dict]:
    """SFT rows from the teacher's correct responses, and the sampling statistics by level."""
    start = time.time()
    responses = sample(teacher, prompts, domains, n=args.samples, temperature=1.0,
                       max_new_tokens=args.max_new_tokens, seed=args.seed)
    rows: list[dict] = []
    # domain -> level -> counts
    stats: defaultdict[str, defaultdict[int, dict[str, int]]] = defaultdict(
        lambda: defaultdict(lambda: {"samples": 0, "correct": 0, "no_answer": 0}))
    for prompt, texts in zip(prompts, responses):
        for text in texts:
            verdict = domains.verify(text, prompt)
            cell = stats[prompt.domain][prompt.metadata["level"]]
            cell["samples"] += 1
            cell["correct"] += int(verdict.correct)
            cell["no_answer"] += int(verdict.reward == -1)
            if verdict.correct:
                rows.append({"prompt_id": prompt.id, "level": prompt.metadata["level"],
                             "messages": domains.conversation(prompt) + [{"role": "assistant", "content": text}]})
    summary: dict[str, Any] = {
        domain: {level: {**c, "accuracy": round(c["correct"] / c["samples"], 3)} for level, c in sorted(levels.items())}
        for domain, levels in stats.items()}
    summary["seconds"] = round(time.time() - start)
    return rows, summary


def fine_tune(student: str, rows: list[dict], out: Path, args: argparse.Namespace) -> tuple[str, dict]:
    out.mkdir(parents=True, exist_ok=True)
    data = out / "sft.jsonl"
    data.write_text("".join(json.dumps({"prompt_id": r["prompt_id"], "messages": r["messages"]}) + "\n" for r in rows))
    trainer = SFTTrainer(**{**SFT_OPTIONS, "epochs": args.epochs, "learning_rate": args.learning_rate})
    start = time.time()
    result = trainer.train(TrainContext(model=student, output_dir=out, data_file=data, seed=args.seed))
    return str(result.model_path), {"rows": len(rows), "seconds": round(time.time() - start),
                                    **{k: v for k, v in result.metrics.items() if isinstance(v, (int, float))}}


def table(title: str, arms: dict[str, dict]) -> list[str]:
    """A markdown table: one row per domain and arm, accuracy by level and the mean."""
    domains = sorted({d for arm in arms.values() for d in arm})
    levels = sorted({lv for arm in arms.values() for d in domains for lv in arm.get(d, {})})
    lines = [title, "", "| domain | model | " + " | ".join(f"L{lv}" for lv in levels) + " | mean |",
             "|---|---|" + "---|" * (len(levels) + 1)]
    for domain in domains:
        for name, arm in arms.items():
            cells = [arm[domain][lv]["accuracy"] for lv in levels if lv in arm[domain]]
            lines.append(f"| {domain} | {name} | " + " | ".join(f"{c:.2f}" for c in cells)
                         + f" | {sum(cells) / len(cells):.3f} |")
    return lines + [""]


DOCS = Path(__file__).resolve().parents[2] / "docs/tiny-models.md"
DOCS_START, DOCS_END = "<!-- experiment:start -->", "<!-- experiment:end -->"


def write_docs(lines: list[str]) -> None:
    text = DOCS.read_text()
    head, _, rest = text.partition(DOCS_START)
    _, _, tail = rest.partition(DOCS_END)
    DOCS.write_text(head + DOCS_START + "\n" + "\n".join(lines) + "\n" + DOCS_END + tail)


def level_band(text: str) -> tuple[int, int]:
    low, _, high = text.partition("-")
    return int(low), int(high or low)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    names = args.domains.split(",")
    domains = Domains(names)
    low, high = level_band(args.levels)
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="redstar-exp-"))
    report: dict = {"args": {k: str(v) for k, v in vars(args).items()}, "sft_options": SFT_OPTIONS}

    heldout = [p for name in names for p in EVALUATORS[name](count=args.eval_count, seed=args.seed).load()]
    log(f"held-out: {len(heldout)} problems; evaluating the student base")
    arms = {"student base": evaluate(args.student, heldout, domains, args.max_new_tokens)}

    prompts = [p for name in names
               for p in SOURCES[name](count=args.prompts, seed=args.seed, min_level=low, max_level=high).load()]
    log(f"sampling the teacher: {len(prompts)} prompts x {args.samples}")
    rows, report["teacher_sampling"] = verified_samples(args.teacher, prompts, domains, args)
    log(f"  {len(rows)} verified responses; {json.dumps(report['teacher_sampling'])}")
    if not rows:
        raise SystemExit("the teacher answered no prompt correctly: nothing to fine-tune on")

    path, report["sft"] = fine_tune(args.student, rows, work / "long-cot-sft", args)
    log(f"  sft: {json.dumps(report['sft'])}")
    arms[f"+ Long-CoT SFT, {len(rows)} rows (L{low}-{high})"] = evaluate(path, heldout, domains, args.max_new_tokens)
    report["claim_1"] = arms
    sampling = report["teacher_sampling"]
    command = " ".join(sys.argv[1:] if argv is None else argv)
    summary = [f"Run: `python tools/experiments/long_cot_sft.py {command}`.", "",
               f"The teacher sampled {len(prompts)} source prompts (levels {low}-{high}) x {args.samples} at temperature 1.0 "
               f"in {sampling['seconds']} s; correct by domain and level: "
               + "; ".join(f"{d} " + ", ".join(f"L{lv} {c['correct']}/{c['samples']}" for lv, c in levels.items())
                           for d, levels in sampling.items() if d != "seconds")
               + f". The student was fine-tuned on the {len(rows)} verified responses in {report['sft']['seconds']} s.", ""]
    summary += table("Claim 1 - Long-CoT SFT beats the base (held-out sets, greedy, accuracy by level):", arms)
    log("\n".join(summary))

    if args.hard_vs_easy:
        # The same verified responses, split by the level of their prompt; every arm gets the same
        # number of rows, so only which prompts they came from differs.
        bands = {name: level_band(band) for name, band in
                 (("easy", args.easy_levels), ("hard", args.hard_levels), ("all", f"{low}-{high}"))}
        pools = {name: [r for r in rows if lo <= r["level"] <= hi] for name, (lo, hi) in bands.items()}
        count = min(len(pool) for pool in pools.values())
        if count == 0:
            raise SystemExit(f"no verified responses in some band: {({k: len(v) for k, v in pools.items()})}")
        rng = random.Random(args.seed)
        claim2 = {"student base": arms["student base"]}
        report["claim_2_rows"] = count
        for name, pool in pools.items():
            lo, hi = bands[name]
            path, report[f"sft {name}"] = fine_tune(args.student, rng.sample(pool, count), work / name, args)
            claim2[f"+ SFT on {count} from L{lo}-{hi} ({name})"] = evaluate(path, heldout, domains, args.max_new_tokens)
        report["claim_2"] = claim2
        part = table(f"Claim 2 - hard prompts against easy ones at equal count ({count} verified responses each, "
                     "drawn from the responses above):", claim2)
        log("\n".join(part))
        summary += part

    if args.docs:
        write_docs(summary)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    log(f"\nreport: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
