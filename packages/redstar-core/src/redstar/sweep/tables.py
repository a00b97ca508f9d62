"""The sweep's tables: one per comparison, in the paper's layout (rows = the values of one axis,
columns = evaluators plus their average).

An axis whose values differ is compared with every other axis held fixed: a sweep over one axis
has one table, a ``levels x total`` grid has a table comparing level bands at each total and one
comparing totals in each band. A row gathers its variant's runs over the seeds:

- **pass@1**: over the problems every seed answered, each problem's rate pooled over the seeds
  (its correct samples over its samples), so that the mean equals the mean of the seeds' scores;
  its 95% interval comes from :func:`redstar.stats.pass_at_1_interval` on those problems;
- **seed spread**: the seeds' own pass@1s, :func:`redstar.stats.seed_spread` (mean +- sd);
- **against the first row** (the baseline): :func:`redstar.stats.paired_comparison` over the
  problems both rows answered, with *within noise* as that function decides it;
- **average**: the mean of the evaluators' pass@1 (every benchmark weighs the same, as in the
  paper); its interval and its paired test resample problems *within* each benchmark (a
  stratified bootstrap) and sign-flip each problem's difference weighted by its benchmark's share.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np

from redstar.evaluation import room_for_rl
from redstar.stats import (
    LEVEL,
    RESAMPLES,
    SEED,
    paired_comparison,
    pass_at_1_interval,
    per_problem_results,
    seed_spread,
    sign_flip_p,
)
from redstar.sweep.spec import SweepSpec
from redstar.sweep.variants import Variant
from redstar.tables import read_json

Pooled = dict[str, tuple[int, int]]  # prompt_id -> (correct, samples), summed over seeds
PerSeed = dict[int, dict[str, Pooled | None]]  # seed -> evaluator -> that seed's results


def row_model(scores: dict[str, Any], wanted: str) -> str | None:
    """The model of a run that fills its row: ``final`` is the last one trained (not the
    teacher), else the tag asked for, when the run has it."""
    if wanted == "final":
        chain = [tag for tag in scores if tag != "teacher"]
        return chain[-1] if chain else None
    return wanted if wanted in scores else None


#: Where a run keeps each kind of score: the summary's key and the per-problem files' folder
#: under ``eval/<model>/``.
KINDS = {"scores": "", "validation": "validation"}


def _seed_results(run: Path, summary: dict[str, Any], wanted: str,
                  kind: str = "scores") -> tuple[str | None, dict[str, tuple[float, Pooled | None]]]:
    """One finished run's model tag and ``evaluator -> (pass@1, per-problem results or None)``,
    from its summary's held-out scores or (``kind="validation"``) its validation scores."""
    scores = summary.get(kind) or {}
    tag = row_model(scores, wanted)
    if tag is None:
        return None, {}
    out: dict[str, tuple[float, Pooled | None]] = {}
    for evaluator, score in scores[tag].items():
        path = run / "eval" / tag / KINDS[kind] / f"{evaluator}.jsonl"
        out[evaluator] = (float(score["pass_at_1"]), per_problem_results(path) if path.is_file() else None)
    return tag, out


def _pool(per_seed: list[Pooled | None]) -> Pooled | None:
    if not per_seed or any(p is None for p in per_seed):
        return None
    shared = set.intersection(*(set(p) for p in per_seed if p is not None))
    return {k: (sum(p[k][0] for p in per_seed if p is not None), sum(p[k][1] for p in per_seed if p is not None))
            for k in sorted(shared)}


def _cell(values: list[float], pooled: Pooled | None) -> dict[str, Any]:
    cell: dict[str, Any] = {"seeds": values, "spread": seed_spread(values) if values else None}
    if pooled:
        results = list(pooled.values())
        cell["pass_at_1"] = float(np.mean([c / s for c, s in results]))
        cell["ci"] = list(pass_at_1_interval(results))
        cell["problems"] = len(results)
    else:
        cell["pass_at_1"] = float(np.mean(values)) if values else None
        cell["ci"] = None
    return cell


def _rates(pooled: Pooled, keys: list[str]) -> np.ndarray:
    return np.array([pooled[k][0] / pooled[k][1] for k in keys], dtype=float)


def _stratified(strata: list[np.ndarray]) -> tuple[float, float]:
    """Percentile bootstrap of the mean of the strata's means, resampling within each stratum."""
    rng = np.random.default_rng(SEED)
    means = np.zeros(RESAMPLES)
    for values in strata:
        picks = rng.integers(0, len(values), size=(RESAMPLES, len(values)))
        means += values[picks].mean(axis=1)
    means /= len(strata)
    tail = (1 - LEVEL) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(low), float(high)


def _average(cells: dict[str, dict[str, Any]], pooled: dict[str, Pooled | None], evaluators: list[str],
             base: dict[str, Pooled | None] | None) -> dict[str, Any]:
    present = [e for e in evaluators if e in cells and cells[e]["pass_at_1"] is not None]
    if not present:
        return {"pass_at_1": None, "ci": None, "spread": None, "seeds": []}
    per_seed = [float(np.mean(vals)) for vals in zip(*(cells[e]["seeds"] for e in present))]
    out: dict[str, Any] = {"pass_at_1": float(np.mean([cells[e]["pass_at_1"] for e in present])),
                           "seeds": per_seed, "spread": seed_spread(per_seed) if per_seed else None, "ci": None}
    if all(pooled.get(e) for e in present):
        strata = [_rates(pooled[e], list(pooled[e])) for e in present]  # type: ignore[arg-type]
        low, high = _stratified(strata)
        if high - low < 1e-12:
            # Every problem alike (all solved, none solved): the bootstrap has nothing to resample,
            # as in stats.pass_at_1_interval; the mean of the evaluators' (Wilson) bounds instead.
            low, high = (float(np.mean([cells[e]["ci"][k] for e in present])) for k in (0, 1))
        out["ci"] = [max(0.0, low), min(1.0, high)]
    if base is not None and all(pooled.get(e) and base.get(e) for e in present):
        diffs, weighted = [], []
        for e in present:
            mine, theirs = pooled[e], base[e]
            keys = sorted(set(mine) & set(theirs))  # type: ignore[arg-type]
            if not keys:
                return out
            d = _rates(mine, keys) - _rates(theirs, keys)  # type: ignore[arg-type]
            diffs.append(d)
            weighted.append(d / (len(present) * len(keys)))  # sums to the difference of the averages
        low, high = _stratified(diffs)
        flat = np.concatenate(weighted)
        nonzero = flat[np.abs(flat) > 1e-12]
        p = 1.0 if len(nonzero) == 0 else sign_flip_p(nonzero, SEED)
        out["vs_baseline"] = {"difference": float(flat.sum()), "ci": [low, high], "p_value": p,
                              "test": "stratified sign-flip Monte Carlo",
                              "within_noise": bool(low <= 0.0 <= high or p >= 1 - LEVEL)}
    return out


def row(label: str, group: list[tuple[Variant, Path]], wanted: str, evaluators: list[str],
        base: PerSeed | None, kind: str = "scores") -> tuple[dict[str, Any], PerSeed]:
    """One row: ``group``'s runs (one per seed) pooled per evaluator, with the average, and each
    cell against ``base`` (the first row's results, seed by seed, as this function returns them)
    when given, pooled over the same seeds as this row: a row that has only some of the seeds is
    compared with the baseline on those seeds, and one with a seed the baseline lacks is not
    compared."""
    per_eval: dict[str, list[tuple[float, Pooled | None]]] = {}
    per_seed: PerSeed = {}
    tags, finished = set(), []
    # Each finished run's summary, read once: its scores, room for RL and training health.
    summaries = [(variant, run, read_json(run / "summary.json")) for variant, run in group
                 if (run / "summary.json").is_file()]
    for variant, run, summary in summaries:
        tag, results = _seed_results(run, summary, wanted, kind)
        if tag is None:
            continue
        tags.add(tag)
        finished.append(variant.seed)
        per_seed[variant.seed] = {evaluator: result[1] for evaluator, result in results.items()}
        for evaluator, result in results.items():
            per_eval.setdefault(evaluator, []).append(result)
    against: dict[str, Pooled | None] | None = None
    if base is not None and finished and all(seed in base for seed in finished):
        against = {e: _pool([base[seed].get(e) for seed in finished]) for e in evaluators}
    cells, pooled = {}, {}
    for evaluator in evaluators:
        found = per_eval.get(evaluator, [])
        if len(found) != len(finished) or not found:
            continue  # a seed without this score: leave the cell empty rather than average fewer seeds
        pooled[evaluator] = _pool([p for _, p in found])
        cells[evaluator] = _cell([v for v, _ in found], pooled[evaluator])
        if against is not None and pooled[evaluator] and against.get(evaluator):
            mine, theirs = pooled[evaluator], against[evaluator]
            keys = sorted(set(mine) & set(theirs))  # type: ignore[arg-type]
            if keys:
                c = paired_comparison([mine[k] for k in keys], [theirs[k] for k in keys])  # type: ignore[index]
                cells[evaluator]["vs_baseline"] = c.to_dict()
    if kind == "scores":
        for evaluator, cell in cells.items():
            room = _room([(run, summary) for _, run, summary in summaries], wanted, evaluator)
            if room:
                cell["room"] = room
    out = {"label": label, "variants": [v.slug for v, _ in group], "seeds_finished": finished,
           "model": sorted(tags), "cells": cells, "average": _average(cells, pooled, evaluators, against)}
    if kind == "scores":
        health = _health(summaries)
        if health:
            out["health"] = health
    return out, per_seed


def _health(summaries: list[tuple[Variant, Path, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Each seed's training health of each RL stage of a row (the run summary's
    ``training_health``, :mod:`redstar.training_health`), in seed order; empty for rows without
    RL."""
    return [{"seed": variant.seed, **health} for variant, _, summary in sorted(summaries, key=lambda s: s[0].seed)
            for health in (summary.get("training_health") or {}).values()]


def _room(runs: list[tuple[Path, dict[str, Any]]], wanted: str, evaluator: str) -> dict[str, Any] | None:
    """The room for RL of a row on one evaluator, every seed's (primary, sampled) results
    pooled per problem (:func:`redstar.evaluation.room_for_rl`); None unless every seed has a
    sampled evaluation."""
    per_seed = []
    for run, summary in runs:
        tag = row_model(summary.get("scores") or {}, wanted)
        folder = run / "eval" / str(tag)
        primary, sampled = folder / f"{evaluator}.jsonl", folder / f"{evaluator}.sampled.jsonl"
        if tag is None or not primary.is_file() or not sampled.is_file():
            return None
        per_seed.append((per_problem_results(primary), per_problem_results(sampled)))
    if not per_seed:
        return None
    shared = set.intersection(*(set(p) & set(s) for p, s in per_seed))
    return room_for_rl({k: [(p[k], s[k]) for p, s in per_seed] for k in sorted(shared)})


def build_tables(spec: SweepSpec, variants: list[Variant], out: Path,
                 selection: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything ``sweep.json`` holds: the variants and their status, the choices made on
    validation (``selection``, :func:`redstar.sweep.selection.choose`) and the tables, whose
    rows hold only the chosen candidates."""
    runs = {v.slug: v.run_dir(out) for v in variants}
    chosen = set(selection["chosen"]) if selection else None
    listed = variants
    variants = [v for v in variants if v.candidates == 1 or chosen is None or v.slug in chosen]
    evaluators: list[str] = list(dict.fromkeys(
        e.name for v in variants for e in v.recipe.evaluation.evaluators))
    tables = []
    axes = spec.axes
    for i, axis in enumerate(axes):
        if len(axis.levels) < 2 and len(axes) > 1:
            continue  # nothing to compare along it
        others = [list(a.levels) for j, a in enumerate(axes) if j != i]
        for fixed in itertools.product(*others):
            rows, base = [], None
            for level in axis.levels:
                wanted = list(fixed)
                wanted.insert(i, level)
                group = [(v, runs[v.slug]) for v in variants if list(v.levels) == wanted]
                choices = sorted({v.choice_label for v, _ in group if v.choice})
                label = level.label + (f" ({'; '.join(choices)})" if choices else "")
                found, per_seed = row(label, group, spec.model, evaluators, base)
                if base is None:
                    base = per_seed
                rows.append(found)
            title = axis.title + ("" if not fixed else " (" + "; ".join(level.label for level in fixed) + ")")
            tables.append({"title": title, "axis": axis.title, "fixed": [level.label for level in fixed], "rows": rows})
    if not axes:  # seeds only: one row
        only, _ = row("base recipe", [(v, runs[v.slug]) for v in variants], spec.model, evaluators, None)
        tables.append({"title": "the base recipe over seeds", "axis": "", "fixed": [], "rows": [only]})
    result: dict[str, Any] = {"name": spec.name, "sweep_file": str(spec.path), "model": spec.model, "evaluators": evaluators,
              "seeds": sorted({v.seed for v in listed}),
              "variants": [_listed(v, runs[v.slug], chosen) for v in listed],
              "tables": tables}
    if selection:
        result["selection"] = selection
    return result


def _listed(v: Variant, run: Path, chosen: set[str] | None) -> dict[str, Any]:
    entry = {"slug": v.slug, "values": [level.label for level in v.levels], "seed": v.seed, "run_dir": str(run),
             "finished": (run / "summary.json").is_file()}
    if v.choice:
        entry["candidate"] = v.choice_label
        entry["chosen"] = chosen is not None and v.slug in chosen
    return entry
