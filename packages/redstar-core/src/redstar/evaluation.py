"""Scoring a model on a benchmark: sample, verify, and compute pass@1, pass@k and majority vote.

Every evaluator in every domain goes through :func:`evaluate`: the evaluator only supplies
problems, the domain's verifier judges responses. Per-problem results are appended to a JSONL
file as they finish, so scores can be audited and an interrupted evaluation resumes where it
stopped. Responses cut off at the token limit are counted as ``truncated`` and reported next to
the scores, never silently folded into "wrong". Every pass@1 (overall and per group) carries its
95% interval (:mod:`redstar.stats`): on 40-180 problems a few problems' difference is noise.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from math import comb
from pathlib import Path
from typing import Any

from redstar.faults import check_completions, check_verdicts
from redstar.interfaces import Sampler, SamplingParams, Verifier
from redstar.records import Prompt
from redstar.stats import mean_interval, paired_comparison, pass_at_1_interval, ratio_interval, wilson
from redstar.tables import JsonlAppender


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples of which c are correct (Chen et al., 2021)."""
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def majority_correct(samples: Sequence[dict[str, Any]]) -> bool:
    """Majority vote over extracted answers; ties go to the answer seen first. A problem with
    no extracted answer at all counts as not solved."""
    answers = [s["extracted"] for s in samples if s.get("extracted") is not None]
    if not answers:
        return False
    winner = Counter(answers).most_common(1)[0][0]
    return any(s["correct"] for s in samples if s.get("extracted") == winner)


@dataclass
class Score:
    evaluator: str
    model: str
    problems: int
    samples_per_problem: int
    pass_at_1: float
    pass_at_k: dict[str, float]
    majority: float
    truncated: int
    no_answer: int
    # Each group: {"problems": int, "pass@1": float, "pass@1_ci": [low, high]}.
    by_group: dict[str, dict[str, Any]] = field(default_factory=dict)
    pass_at_1_ci: list[float] = field(default_factory=lambda: [0.0, 1.0])  # 95%, see redstar.stats
    pass_at_k_ci: dict[str, list[float]] = field(default_factory=dict)  # 95% each, bootstrap over problems
    majority_ci: list[float] = field(default_factory=lambda: [0.0, 1.0])  # 95%, Wilson over problems

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarise(evaluator: str, model: str, rows: Sequence[dict[str, Any]], n: int) -> Score:
    ks = sorted({k for k in (1, 2, 4, 8, 16, 32, 64) if k <= n} | {n})
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[str(row.get("group"))].append(row)

    def stats(subset: Sequence[dict[str, Any]]) -> dict[str, Any]:
        if not subset:
            return {"problems": 0, "pass@1": 0.0, "pass@1_ci": [0.0, 1.0]}  # nothing measured: anything goes
        p1 = sum(r["correct_count"] / len(r["samples"]) for r in subset) / len(subset)
        low, high = pass_at_1_interval([(r["correct_count"], len(r["samples"])) for r in subset])
        return {"problems": len(subset), "pass@1": p1, "pass@1_ci": [low, high]}

    total = len(rows)
    overall = stats(rows)
    per_k = {f"pass@{k}": [pass_at_k(len(r["samples"]), r["correct_count"], k) for r in rows] for k in ks}
    majority_count = sum(bool(r["majority_correct"]) for r in rows)
    return Score(
        evaluator=evaluator,
        model=model,
        problems=total,
        samples_per_problem=n,
        pass_at_1=overall["pass@1"],
        pass_at_k={name: (sum(values) / total) if total else 0.0 for name, values in per_k.items()},
        majority=(majority_count / total) if total else 0.0,
        truncated=sum(s["finish_reason"] == "length" for r in rows for s in r["samples"]),
        no_answer=sum(s["reward"] == -1 for r in rows for s in r["samples"]),
        by_group={g: stats(rs) for g, rs in sorted(groups.items()) if g != "None"},
        pass_at_1_ci=overall["pass@1_ci"],
        pass_at_k_ci={name: list(mean_interval(values)) for name, values in per_k.items()},
        majority_ci=list(wilson(majority_count, total)),
    )


#: Per problem, one entry per seed: ``((primary correct, primary samples), (sampled correct,
#: sampled samples))``.
RoomUnits = Mapping[str, Sequence[tuple[tuple[int, int], tuple[int, int]]]]


def room_for_rl(units: RoomUnits) -> dict[str, Any]:
    """How much a sampling policy could gain over its primary (greedy) answers, measured on the
    same problems: ``units`` maps each problem to its (primary, sampled) results, one pair per
    seed (one seed for a single run).

    - ``pass_at_k`` (k = the sampled evaluation's samples per problem): the share of problems
      some sample solves, with its 95% interval over problems;
    - ``gain``: ``pass_at_k`` minus the primary pass@1, paired over problems
      (:func:`redstar.stats.paired_comparison`: difference, interval, p-value): what an RL step
      that only sharpens the policy towards its own best samples could add;
    - ``wrong`` and ``solved_by_a_sample``: problems (problem-seed pairs with several seeds) the
      primary answer gets wrong, and how many of them some sample solves; ``share`` their ratio
      with its 95% interval (:func:`redstar.stats.ratio_interval`).
    """
    keys = sorted(units)
    if not keys:
        return {"problems": 0}
    ks = {s[1] for k in keys for _, s in units[k]}
    any_solved = [(sum(s[0] > 0 for _, s in units[k]), len(units[k])) for k in keys]
    primary = [(sum(p[0] for p, _ in units[k]), sum(p[1] for p, _ in units[k])) for k in keys]
    wrong = [sum(p[0] == 0 for p, _ in units[k]) for k in keys]
    fixed = [sum(p[0] == 0 and s[0] > 0 for p, s in units[k]) for k in keys]
    per_problem = [c / n for c, n in any_solved]
    gain = paired_comparison(any_solved, primary)
    total_wrong, total_fixed = sum(wrong), sum(fixed)
    return {
        "problems": len(keys),
        "k": max(ks),
        "pass_at_1": sum(c / n for c, n in primary) / len(keys),
        "pass_at_k": sum(per_problem) / len(keys),
        "pass_at_k_ci": list(mean_interval(per_problem)),
        "gain": gain.to_dict(),
        "wrong": total_wrong,
        "solved_by_a_sample": total_fixed,
        "share": total_fixed / total_wrong if total_wrong else 0.0,
        "share_ci": list(ratio_interval(fixed, wrong)),
    }


def room_units(primary: Mapping[str, tuple[int, int]], sampled: Mapping[str, tuple[int, int]]) -> RoomUnits:
    """One run's :data:`RoomUnits`: the problems both evaluations answered."""
    return {k: [(primary[k], sampled[k])] for k in sorted(set(primary) & set(sampled))}


def evaluate(
    evaluator: str,
    problems: Sequence[Prompt],
    sampler: Sampler,
    verifier: Verifier,
    params: SamplingParams,
    results_file: str | Path,
    batch_size: int = 64,
    on_progress: Callable[[int, int], None] | None = None,
) -> Score:
    """Evaluate ``sampler``'s model on ``problems``, appending per-problem rows to
    ``results_file`` and skipping problems already there (resume)."""
    with JsonlAppender(results_file) as table:
        done = {row["prompt_id"] for row in table.rows}
        todo = [p for p in problems if p.id not in done]
        if on_progress:
            on_progress(len(problems) - len(todo), len(problems))
        for start in range(0, len(todo), batch_size):
            batch = todo[start:start + batch_size]
            completions = check_completions(sampler, sampler.generate([verifier.messages(p) for p in batch], params),
                                            len(batch), params.n)
            pairs = [(c.text, p) for p, cs in zip(batch, completions) for c in cs]
            verdicts = iter(check_verdicts(verifier, verifier.verify_many(pairs), len(pairs)))
            rows = []
            for prompt, cs in zip(batch, completions):
                samples = []
                for c in cs:
                    v = next(verdicts)
                    samples.append({"response": c.text, "finish_reason": c.finish_reason, "extracted": v.extracted,
                                    "correct": v.correct, "reward": v.reward, "reason": v.reason})
                rows.append({
                    "prompt_id": prompt.id,
                    "group": prompt.metadata.get("group"),
                    "question": prompt.question,
                    "reference": prompt.reference,
                    "correct_count": sum(bool(s["correct"]) for s in samples),
                    "majority_correct": majority_correct(samples),
                    "samples": samples,
                })
            table.append(rows)
            if on_progress:
                on_progress(len(problems) - len(todo) + start + len(batch), len(problems))
        wanted = {p.id for p in problems}
        rows = [r for r in table.rows if r["prompt_id"] in wanted]
    return summarise(evaluator, sampler.model, rows, params.n)
