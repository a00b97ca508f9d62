"""Runs a recipe's stages (:mod:`redstar.pipeline.stages`) in order and writes ``summary.json``
and the report.

Each stage is skipped when its fingerprint matches a finished run, resumed when it was
interrupted, and redone when what it depends on changed (:func:`~redstar.pipeline.stage.run_step`,
:mod:`redstar.pipeline.rundir`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

from redstar.errors import RedStarError
from redstar.pipeline import ranks
from redstar.pipeline.context import PluginContext, RunContext
from redstar.pipeline.preflight import preflight
from redstar.pipeline.rundir import STALE, RunDir, fingerprint, run_lock
from redstar.pipeline.set_aside import set_aside_folders
from redstar.pipeline.stage import Result, Stage, parts, run_step
from redstar.pipeline.stages import pipeline_stages
from redstar.pipeline.training import NO_DATA_ADVICE
from redstar.plugins import Host
from redstar.progress import ProgressBoard
from redstar.provenance import describe_run
from redstar.recipe import Recipe, dump
from redstar.stats import compare_models
from redstar.tables import write_json, write_text


def run_pipeline(recipe: Recipe, out_dir: str | Path, host: Host, board: ProgressBoard | None = None,
                 until: str = "report", siblings: Sequence[str | Path] = ()) -> dict[str, Any]:
    """Run ``recipe`` into ``out_dir``, holding the directory's lock throughout: a second run on
    the same directory fails at once instead of writing every sample twice. The recipe's plugins,
    options and model paths are checked (:func:`~redstar.pipeline.preflight.preflight`) before
    the first stage runs. ``until`` is a part of the run (``redstar run --until``): the stages of
    that part and those before it run. ``siblings`` are other run directories whose finished
    steps this run reuses where the fingerprints match (``redstar sweep``; see
    :meth:`~redstar.pipeline.rundir.RunDir.adopt`).

    Under a multi-process launcher only rank 0 does all that; the other ranks join its training
    steps and return ``{"rank": N, "joined": [steps]}`` (:mod:`redstar.pipeline.ranks`)."""
    stages = pipeline_stages(host, recipe)
    if until not in parts(stages):
        raise ValueError(f"until must be one of {', '.join(parts(stages))}, got {until!r}")
    launch = ranks.current_launch()
    if not launch.multi:
        return _check_and_run(recipe, out_dir, host, board, stages, until, siblings)
    # accelerate launch / torchrun: rank 0 alone runs the pipeline and keeps its lock and state;
    # the other ranks only join its training steps (redstar.pipeline.ranks).
    if parts(stages).index(until) > parts(stages).index("train"):
        raise RedStarError(
            f"under a multi-process launch ({launch.world_size} processes) a run stops after the train stage: "
            "use `redstar train --run DIR` (or `redstar run --until train`), then evaluate and report with "
            "`redstar run` in one process")
    if not launch.leads:
        return {"rank": launch.rank, "joined": ranks.follow(launch, recipe, host)}
    # Leading first: a recipe error or a lock held by another run is an error the other ranks
    # must hear of.
    with ranks.leading(launch):
        return _check_and_run(recipe, out_dir, host, board, stages, until, siblings)


def _check_and_run(recipe: Recipe, out_dir: str | Path, host: Host, board: ProgressBoard | None,
                   stages: list[Stage], until: str, siblings: Sequence[str | Path]) -> dict[str, Any]:
    # Everything about the recipe is checked before the run directory is touched (not even
    # created or locked): a recipe that fails here cannot cost an existing run anything.
    checked = PluginContext(recipe=recipe, host=host)
    try:
        preflight(checked)
    except BaseException:
        checked.close()
        raise
    try:
        with run_lock(Path(out_dir)):
            ctx = RunContext(recipe=recipe, host=host, run=RunDir(out_dir, siblings), board=board or ProgressBoard())
            ctx.verifiers, checked.verifiers = checked.verifiers, ctx.verifiers  # the ones preflight built
            try:
                return _run_locked(ctx, stages, until)
            finally:
                ctx.close()  # again, on the way out of an error (closing twice is harmless)
    finally:
        checked.close()


def _run_locked(ctx: RunContext, stages: list[Stage], until: str) -> dict[str, Any]:
    recipe, run, board, host = ctx.recipe, ctx.run, ctx.board, ctx.host
    recipe_file, text = run.root / "recipe.yaml", dump(recipe)
    # Rewritten only when it changed: under a multi-process launch the other ranks of
    # `redstar train --run` read this very file while rank 0 gets here. Atomically: a full disk
    # or a kill half-way through never leaves it cut short.
    if not recipe_file.is_file() or recipe_file.read_text(encoding="utf-8") != text:
        write_text(recipe_file, text)
    with board:
        try:
            results, seconds = run_stages(ctx, stages, until)
        finally:
            ctx.close()
    summary = build_summary(run, recipe, stages, results, seconds)
    summary["set_aside"] = set_aside_folders(run.root)
    set_aside = [f"rows of stage {stage!r} were set aside in {folder}: {STALE}; they come back if the recipe changes "
                 "back (delete the folder to free its space)" for stage, folder in run.set_aside_now]
    summary["warnings"] = [*recipe.warnings, *summary["warnings"], *set_aside]
    summary["provenance"] = describe_run(recipe, host)
    # Each model against the one before it, per benchmark, paired over the same problems.
    summary["comparisons"] = mark_untrained(compare_models(run.root, summary["scores"]), summary["training_health"])
    write_json(run.root / "summary.json", summary)
    if until == "report":
        from redstar.report import write_report

        write_report(run.root, summary)
    return summary


def run_stages(ctx: RunContext, stages: list[Stage], until: str) -> tuple[dict[str, Result], dict[str, float]]:
    """Run ``stages`` up to the part ``until``: each gets the values of the stages it reads;
    returns every stage's :class:`Result` and this call's seconds per stage."""
    order = parts(stages)
    results: dict[str, Result] = {}
    seconds: dict[str, float] = {}
    part = None
    for stage in stages:
        if order.index(stage.part) > order.index(until):
            break
        if part is not None and stage.part != part:
            # The teacher's replicas (GPUs with vLLM, or a model in memory locally) are not
            # needed to train; evaluation starts its own engine when it needs one.
            ctx.release_engine()
        part = stage.part
        ctx.board.stage(stage.name)  # a plain line where there is no terminal (nohup, Slurm, | tee)
        inputs = {name: results[name].value for name in stage.reads}
        start = time.perf_counter()
        if stage.fans_out:  # its steps run themselves through run_step, each with its own state
            keyed = stage.reads if stage.keyed_on is None else stage.keyed_on
            results[stage.name] = Result(stage.work(ctx, inputs).value,
                                         fingerprint(stage.name, [results[n].fingerprint for n in keyed]))
        else:
            fp = stage.fingerprint(ctx, results)
            value = run_step(ctx, stage.name, fp, [ctx.run.path(o) for o in stage.outputs],
                             work=partial(stage.work, ctx, inputs),
                             load=None if stage.load is None else partial(stage.load, ctx),
                             rows_key=stage.rows_key(ctx))
            results[stage.name] = Result(value, fp)
        seconds[stage.name] = round(time.perf_counter() - start, 2)
    return results, seconds


def _domain_count(counts: dict[str, Any], key: str, domain: str) -> int:
    by_domain = counts.get("by_domain", {}).get(domain, 0)
    if isinstance(by_domain, dict):
        return int(by_domain.get(key, 0))
    return int(by_domain)  # load and select count prompts per domain directly


def _domain_drops(counts: dict[str, Any], domain: str) -> dict[str, int]:
    if "dropped_by_domain" in counts:
        return counts["dropped_by_domain"].get(domain, {})
    per_domain = counts.get("by_domain", {}).get(domain, {})
    return per_domain.get("dropped", {}) if isinstance(per_domain, dict) else {}


def mark_untrained(comparisons: dict[str, Any], health: dict[str, Any]) -> dict[str, Any]:
    """Each comparison against a model whose RL stage did not train carries ``did_not_train``
    (why), which the report shows in place of its verdict: such a difference says nothing
    about the method."""
    for tag, per in comparisons.items():
        if health.get(tag, {}).get("trained") is False:
            for c in per.values():
                c["did_not_train"] = "; ".join(health[tag]["reasons"])
    return comparisons


def stage_seconds(run: RunDir) -> dict[str, float]:
    """Each stage's total time across every call that worked on it (not just the last call,
    which is near zero for a stage that was already done); a fanned-out stage's steps summed
    under its name (``train:sft`` and ``train:rl:0`` under ``train``, ``eval:...`` under
    ``evaluate``)."""
    out: dict[str, float] = {}
    for name, st in run.state["stages"].items():
        top = "evaluate" if name.startswith("eval:") else name.split(":")[0]
        out[top] = round(out.get(top, 0.0) + float(st.get("seconds", 0.0)), 2)
    return out


def build_summary(run: RunDir, recipe: Recipe, stages: list[Stage], results: dict[str, Result],
                  seconds: dict[str, float]) -> dict[str, Any]:
    """``summary.json``: every stage's counts, the funnels (in total and per domain) and drops
    the stages declare, warnings, models and scores."""
    counts = {name: st.get("counts", {}) for name, st in run.state["stages"].items()
              if not name.startswith(("eval:", "validate:"))}
    rows = [(stage.name, row) for stage in stages for row in stage.funnel]
    funnel = [[row.label, counts.get(name, {}).get(row.key, 0)] for name, row in rows if row.unit == "prompts"]
    sample_funnel = [[row.label, counts.get(name, {}).get(row.key, 0)] for name, row in rows if row.unit == "samples"]
    domains = sorted(counts.get("load", {}).get("by_domain", {}))
    # A stage that ran without counts["by_domain"] (a plugin's, say) has no per-domain rows: its
    # total is in the funnel, and zeros per domain would contradict it.
    split = [(name, row) for name, row in rows if name not in counts or "by_domain" in counts[name]]
    ordered = [r for r in split if r[1].unit == "prompts"] + [r for r in split if r[1].unit == "samples"]
    funnel_by_domain = {domain: [[row.label, _domain_count(counts.get(name, {}), row.key, domain)]
                                 for name, row in ordered] for domain in domains}
    # Rows that steps inside a fanned-out stage add (an RL step's prompts that its starting
    # model sometimes solves), after the stages' own, in the order the steps ran.
    for counted in counts.values():
        for row in counted.get("funnel_rows", []):
            (funnel if row["unit"] == "prompts" else sample_funnel).append([row["label"], row["count"]])
            for domain in domains:
                funnel_by_domain[domain].append([row["label"], row.get("by_domain", {}).get(domain, 0)])
    dropping = [(stage.drops, stage.name) for stage in stages if stage.drops]
    drops = {label: counts.get(name, {}).get("dropped", {}) for label, name in dropping}
    drops_by_domain = {domain: {label: _domain_drops(counts.get(name, {}), domain) for label, name in dropping}
                       for domain in domains}
    warnings = [c["skipped"] for c in counts.values() if c.get("skipped")]
    health = {c["health"]["tag"]: c["health"] for c in counts.values() if c.get("health")}
    warnings += [h["verdict"] for h in health.values() if h.get("trained") is False]
    built = "build" in counts and counts["build"]
    warnings += [f"domain {domain!r} yielded no SFT rows: {NO_DATA_ADVICE}" for domain in domains
                 if len(domains) > 1 and built and _domain_count(counts["build"], "sft_rows", domain) == 0]
    models = results["train"].value if "train" in results else []
    return {
        "recipe": recipe.name,
        "run_dir": str(run.root),
        "models": {m.tag: m.path for m in models},
        "stages": counts,
        "funnel": funnel,
        "sample_funnel": sample_funnel,
        "funnel_by_domain": funnel_by_domain,
        "drops": drops,
        "drops_by_domain": drops_by_domain,
        "warnings": warnings,
        "training_health": health,
        "scores": results["evaluate"].value if "evaluate" in results else {},
        # Scored only to choose between variants (redstar sweep's select), never reported as a result.
        "validation": results["validate"].value if "validate" in results else {},
        "seconds": stage_seconds(run),
        "seconds_this_call": seconds,
    }
