"""Runs a recipe's stages in order and writes ``summary.json`` and the report.

load -> score -> select (+ decontaminate) -> sample -> verify -> build (clean, SFT and preference
sets) -> train (SFT, then RL) -> evaluate (every model) -> report.

Each stage is skipped when its fingerprint matches a finished run, resumed when it was
interrupted, and redone when what it depends on changed (see :mod:`redstar.pipeline.rundir`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from redstar.pipeline.context import RunContext
from redstar.pipeline.curate import load_stage, score_stage, select_stage
from redstar.pipeline.datasets import build_stage
from redstar.pipeline.evaluating import evaluate_stages
from redstar.pipeline.preflight import preflight
from redstar.pipeline.rundir import RunDir, fingerprint, run_lock
from redstar.pipeline.sampling import sample_stage
from redstar.pipeline.training import NO_DATA_ADVICE, ModelStage, train_stages
from redstar.pipeline.verifying import verify_stage
from redstar.plugins import Host
from redstar.progress import ProgressBoard
from redstar.recipe import Recipe, dump
from redstar.tables import write_json

#: How far ``redstar run --until`` goes; ``curate`` stops once the datasets are built.
UNTIL = ("curate", "train", "eval", "report")


def run_pipeline(recipe: Recipe, out_dir: str | Path, host: Host, board: ProgressBoard | None = None,
                 until: str = "report") -> dict[str, Any]:
    """Run ``recipe`` into ``out_dir``, holding the directory's lock throughout: a second run on
    the same directory fails at once instead of writing every sample twice. The recipe's plugins,
    options and model paths are checked (:func:`~redstar.pipeline.preflight.preflight`) before
    the first stage runs."""
    with run_lock(Path(out_dir)):
        return _run_locked(recipe, Path(out_dir), host, board or ProgressBoard(), until)


def _run_locked(recipe: Recipe, out_dir: Path, host: Host, board: ProgressBoard, until: str) -> dict[str, Any]:
    run = RunDir(out_dir)
    ctx = RunContext(recipe=recipe, host=host, run=run, board=board)
    try:
        preflight(ctx)
    except BaseException:
        ctx.close()
        raise
    (run.root / "recipe.yaml").write_text(dump(recipe), encoding="utf-8")
    seconds: dict[str, float] = dict(run.state.get("seconds", {}))

    def timed(name: str, fn: Any, *args: Any) -> Any:
        start = time.perf_counter()
        result = fn(*args)
        seconds[name] = round(time.perf_counter() - start, 2)
        run.state["seconds"] = seconds
        run.save()
        return result

    with board:
        try:
            models, scores = _run_stages(ctx, recipe, until, timed)
        finally:
            ctx.close()
    summary = build_summary(run, recipe, models, scores, seconds)
    write_json(run.root / "summary.json", summary)
    if UNTIL.index(until) >= UNTIL.index("report"):
        from redstar.report import write_report

        write_report(run.root, summary)
    return summary


def _run_stages(ctx: RunContext, recipe: Recipe, until: str, timed: Any) -> tuple[list[ModelStage], dict[str, Any]]:
    fp, prompts = timed("load", load_stage, ctx)
    fp, prompts = timed("score", score_stage, ctx, fp, prompts)
    fp, selected = timed("select", select_stage, ctx, fp, prompts)
    sample_fp, samples = timed("sample", sample_stage, ctx, selected)
    fp, verdicts = timed("verify", verify_stage, ctx, fingerprint(fp, sample_fp), selected, samples)
    timed("build", build_stage, ctx, fp, selected, samples, verdicts)
    models: list[ModelStage] = []
    scores: dict[str, Any] = {}
    if UNTIL.index(until) >= UNTIL.index("train"):
        models = timed("train", train_stages, ctx)
    if UNTIL.index(until) >= UNTIL.index("eval") and recipe.evaluation.evaluators:
        scores = timed("evaluate", evaluate_stages, ctx, models)
    return models, scores


#: The summary's funnels: (label, stage, count key). The per-domain funnels use the same rows,
#: read from each stage's ``by_domain`` counts.
PROMPT_FUNNEL = (("prompts loaded", "load", "prompts"), ("prompts selected", "select", "selected"),
                 ("prompts with a positive", "build", "prompts_with_positive"))
SAMPLE_FUNNEL = (("samples drawn", "sample", "samples"), ("samples correct", "verify", "correct"),
                 ("SFT rows (correct and clean)", "build", "sft_rows"))


def _domain_count(stage: dict[str, Any], key: str, domain: str) -> int:
    by_domain = stage.get("by_domain", {}).get(domain, 0)
    if isinstance(by_domain, dict):
        return int(by_domain.get(key, 0))
    return int(by_domain)  # load and select count prompts per domain directly


def stage_seconds(run: RunDir) -> dict[str, float]:
    """Each stage's total time across every call that worked on it (not just the last call,
    which is near zero for a stage that was already done); training and evaluation summed over
    their steps."""
    out: dict[str, float] = {}
    for name, st in run.state["stages"].items():
        top = "train" if name.startswith("train:") else "evaluate" if name.startswith("eval:") else name
        out[top] = round(out.get(top, 0.0) + float(st.get("seconds", 0.0)), 2)
    return out


def build_summary(run: RunDir, recipe: Recipe, models: list[ModelStage], scores: dict[str, Any],
                  seconds: dict[str, float]) -> dict[str, Any]:
    stages = {name: st.get("counts", {}) for name, st in run.state["stages"].items() if not name.startswith("eval:")}
    funnel = [[label, stages.get(stage, {}).get(key, 0)] for label, stage, key in PROMPT_FUNNEL]
    sample_funnel = [[label, stages.get(stage, {}).get(key, 0)] for label, stage, key in SAMPLE_FUNNEL]
    domains = sorted(stages.get("load", {}).get("by_domain", {}))
    funnel_by_domain = {
        domain: [[label, _domain_count(stages.get(stage, {}), key, domain)]
                 for label, stage, key in PROMPT_FUNNEL + SAMPLE_FUNNEL]
        for domain in domains
    }
    select, build = stages.get("select", {}), stages.get("build", {})
    drops = {"selection": select.get("dropped", {}), "cleaning": build.get("dropped", {})}
    drops_by_domain = {
        domain: {"selection": select.get("dropped_by_domain", {}).get(domain, {}),
                 "cleaning": build.get("by_domain", {}).get(domain, {}).get("dropped", {})}
        for domain in domains
    }
    warnings = [counts["skipped"] for counts in stages.values() if counts.get("skipped")]
    warnings += [f"domain {domain!r} yielded no SFT rows: {NO_DATA_ADVICE}" for domain in domains
                 if len(domains) > 1 and build and funnel_by_domain[domain][-1][1] == 0]
    return {
        "recipe": recipe.name,
        "run_dir": str(run.root),
        "models": {m.tag: m.path for m in models},
        "stages": stages,
        "funnel": funnel,
        "sample_funnel": sample_funnel,
        "funnel_by_domain": funnel_by_domain,
        "drops": drops,
        "drops_by_domain": drops_by_domain,
        "warnings": warnings,
        "scores": scores,
        "seconds": stage_seconds(run),
        "seconds_this_call": seconds,
    }
