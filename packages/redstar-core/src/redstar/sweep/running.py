"""Running a sweep: each variant an ordinary run (:func:`~redstar.pipeline.runner.run_pipeline`)
in ``<out>/runs/<variant>/``, reusing the steps its siblings already did with the same
fingerprint (``run_pipeline(..., siblings=...)``), then the tables.

Resumable as a whole: a variant that finished is marked (``<run>/sweep-done.json``, with the
fingerprint of its recipe and ``--until``) and skipped on the next call; one that was interrupted
(``kill -9`` included) is resumed by its own run state; one whose recipe changed is rerun, redoing
only what the change affects.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from redstar.errors import RedStarError
from redstar.pipeline.rundir import fingerprint, run_lock
from redstar.progress import ProgressBoard
from redstar.recipe import dump
from redstar.report_tables import fmt_pass
from redstar.sweep.render import write_sweep_files
from redstar.sweep.selection import choose, groups, to_run
from redstar.sweep.spec import SweepSpec
from redstar.sweep.tables import build_tables, row_model
from redstar.sweep.variants import Variant
from redstar.tables import write_json

DONE = "sweep-done.json"
#: The part a candidate runs to before the choice: trained and scored on validation only.
VALIDATE = "validate"


def variant_key(variant: Variant, until: str) -> str:
    return fingerprint(dump(variant.recipe), until)


def is_finished(variant: Variant, out: Path, until: str, order: Sequence[str] = ()) -> bool:
    """Whether ``variant`` already ran to ``until`` (or, by ``order``, the parts of a run, past
    it) with its current recipe."""
    run = variant.run_dir(out)
    try:
        marker = json.loads((run / DONE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(marker, dict):
        return False
    done = marker.get("until")
    if not isinstance(done, str) or marker.get("key") != variant_key(variant, done):
        return False
    if not (run / "summary.json").is_file():
        return False
    return done == until or (done in order and until in order and order.index(done) >= order.index(until))


def _brief(summary: dict[str, Any], wanted: str, kind: str = "scores") -> str:
    scores = summary.get(kind) or {}
    tag = row_model(scores, wanted)
    if tag is None:
        return ""
    where = " (validation)" if kind == "validation" else ""
    return f"{tag}{where}: " + ", ".join(f"{name} {fmt_pass(s['pass_at_1'], s.get('pass_at_1_ci'))}"
                                         for name, s in scores[tag].items())


def run_sweep(spec: SweepSpec, variants: list[Variant], out: Path, host: Any, echo: Callable[[str], None],
              board: Callable[[], ProgressBoard] = lambda: ProgressBoard(enabled=False),
              until: str = "report", reuse: Sequence[Path] = ()) -> dict[str, Any]:
    """Run every variant not already finished, in order, each able to reuse any sibling's
    finished steps (and those of the runs in ``reuse``: other sweeps' directories or run
    directories); then write ``sweep.json``, ``sweep.md``, ``sweep.html`` and ``sweep.png``.
    With ``select``, the candidates run to validation first, one is chosen per row
    (:mod:`redstar.sweep.selection`), and only the chosen go on to ``until``.
    Holds ``<out>/.lock`` throughout, so that two sweeps never write one directory."""
    from redstar.pipeline.runner import run_pipeline
    from redstar.pipeline.stage import parts
    from redstar.pipeline.stages import pipeline_stages

    order = parts(pipeline_stages(host))
    with run_lock(out):
        runs = [v.run_dir(out) for v in variants]
        own = {run.resolve() for run in runs}
        others = [r for r in reused_runs(reuse) if r.resolve() not in own]
        write_json(out / "variants.json", [{"slug": v.slug, "values": [level.label for level in v.levels],
                                            "seed": v.seed, "run_dir": str(r)} for v, r in zip(variants, runs)])
        selecting = spec.select is not None and VALIDATE in order and order.index(until) >= order.index(VALIDATE)
        first = [v for v in variants if v.candidates > 1] if selecting else []
        # Runs to do: the candidates to validation, then every row's variants (one candidate each).
        total = len(variants) + sum(len(candidates[0]) for candidates in groups(first))
        started = time.perf_counter()
        count = [0]

        def run_one(variant: Variant, target: str) -> None:
            count[0] += 1
            run = variant.run_dir(out)
            head = f"[{count[0]}/{total}] {variant.title}" + (" (to validation)" if target == VALIDATE else "")
            if is_finished(variant, out, target, order):
                echo(f"{head}: finished before, skipped ({run})")
                return
            echo(f"{head}: running in {run}")
            begin = time.perf_counter()
            summary = run_pipeline(variant.recipe, run, host, board(), until=target,
                                   siblings=[r for r in runs if r != run] + others)
            write_json(run / DONE, {"key": variant_key(variant, target), "until": target})
            shared = sorted(name for name, st in summary_state(run).items() if st.get("shared_from"))
            note = f"; reused from siblings: {', '.join(shared)}" if shared else ""
            brief = _brief(summary, spec.model, "validation" if target == VALIDATE else "scores")
            echo(f"{head}: done in {time.perf_counter() - begin:.1f}s{note}{'; ' + brief if brief else ''}")

        selection = None
        for variant in first:
            run_one(variant, VALIDATE)
        if selecting:
            selection = choose(spec, variants, out)
            for group in selection["groups"]:
                echo(f"chosen on validation for {', '.join(group['values'])}: {group['chosen_label']} ("
                     + ", ".join(f"{c['label']} {c['score']:.3f}" for c in group["candidates"]) + ")")
        for variant in (to_run(variants, selection) if selection else variants):
            run_one(variant, until)
        return _write_tables(spec, variants, out, echo, selection, seconds=time.perf_counter() - started)


def tabulate(spec: SweepSpec, variants: list[Variant], out: Path, echo: Callable[[str], None]) -> dict[str, Any]:
    """Write the tables from the variants that have finished, running nothing (``redstar sweep
    --tables-only``): the others leave their cells empty, and a row with some of the seeds says
    which. With ``select``, the choice is made from the candidates' validation runs, which must
    all have finished."""
    selection = choose(spec, variants, out) if spec.select is not None else None
    return _write_tables(spec, variants, out, echo, selection)


def _write_tables(spec: SweepSpec, variants: list[Variant], out: Path, echo: Callable[[str], None],
                  selection: dict[str, Any] | None, seconds: float | None = None) -> dict[str, Any]:
    result = build_tables(spec, variants, out, selection)
    if seconds is not None:
        result["seconds"] = round(seconds, 2)
    files = write_sweep_files(out, result)
    echo("tables: " + ", ".join(str(p) for p in files.values()))
    return result


def reused_runs(places: Sequence[Path]) -> list[Path]:
    """The run directories in ``places``: a sweep directory's ``runs/*``, or a run directory
    itself (one with a ``state.json``)."""
    found: list[Path] = []
    for place in places:
        if (place / "state.json").is_file():
            found.append(place)
        elif (place / "runs").is_dir():
            found += sorted(d for d in (place / "runs").iterdir() if (d / "state.json").is_file())
        else:
            raise RedStarError(f"--reuse {place}: neither a sweep directory (with runs/) nor a run directory "
                               "(with state.json)")
    return found


def summary_state(run: Path) -> dict[str, dict[str, Any]]:
    """The run's steps as ``state.json`` records them (``shared_from`` on those reused)."""
    try:
        stages = json.loads((run / "state.json").read_text(encoding="utf-8")).get("stages", {})
    except (OSError, ValueError):
        return {}
    return stages if isinstance(stages, dict) else {}
