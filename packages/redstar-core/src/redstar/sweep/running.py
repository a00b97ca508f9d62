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
from redstar.sweep.spec import SweepSpec
from redstar.sweep.tables import build_tables, row_model
from redstar.sweep.variants import Variant
from redstar.tables import write_json

DONE = "sweep-done.json"


def variant_key(variant: Variant, until: str) -> str:
    return fingerprint(dump(variant.recipe), until)


def is_finished(variant: Variant, out: Path, until: str) -> bool:
    """Whether ``variant`` already ran to ``until`` with its current recipe."""
    run = variant.run_dir(out)
    try:
        marker = json.loads((run / DONE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return marker.get("key") == variant_key(variant, until) and (run / "summary.json").is_file()


def _brief(summary: dict[str, Any], wanted: str) -> str:
    scores = summary.get("scores") or {}
    tag = row_model(scores, wanted)
    if tag is None:
        return ""
    return f"{tag}: " + ", ".join(f"{name} {fmt_pass(s['pass_at_1'], s.get('pass_at_1_ci'))}"
                                  for name, s in scores[tag].items())


def run_sweep(spec: SweepSpec, variants: list[Variant], out: Path, host: Any, echo: Callable[[str], None],
              board: Callable[[], ProgressBoard] = lambda: ProgressBoard(enabled=False),
              until: str = "report", reuse: Sequence[Path] = ()) -> dict[str, Any]:
    """Run every variant not already finished, in order, each able to reuse any sibling's
    finished steps (and those of the runs in ``reuse``: other sweeps' directories or run
    directories); then write ``sweep.json``, ``sweep.md``, ``sweep.html`` and ``sweep.png``.
    Holds ``<out>/.lock`` throughout, so that two sweeps never write one directory."""
    from redstar.pipeline.runner import run_pipeline

    with run_lock(out):
        runs = [v.run_dir(out) for v in variants]
        own = {run.resolve() for run in runs}
        others = [r for r in reused_runs(reuse) if r.resolve() not in own]
        write_json(out / "variants.json", [{"slug": v.slug, "values": [level.label for level in v.levels],
                                            "seed": v.seed, "run_dir": str(r)} for v, r in zip(variants, runs)])
        total = len(variants)
        started = time.perf_counter()
        for i, (variant, run) in enumerate(zip(variants, runs), start=1):
            head = f"[{i}/{total}] {variant.title}"
            if is_finished(variant, out, until):
                echo(f"{head}: finished before, skipped ({run})")
                continue
            echo(f"{head}: running in {run}")
            begin = time.perf_counter()
            summary = run_pipeline(variant.recipe, run, host, board(), until=until,
                                   siblings=[r for r in runs if r != run] + others)
            write_json(run / DONE, {"key": variant_key(variant, until), "until": until})
            shared = sorted(name for name, st in summary_state(run).items() if st.get("shared_from"))
            note = f"; reused from siblings: {', '.join(shared)}" if shared else ""
            brief = _brief(summary, spec.model)
            echo(f"{head}: done in {time.perf_counter() - begin:.1f}s{note}{'; ' + brief if brief else ''}")
        result = build_tables(spec, variants, out)
        result["seconds"] = round(time.perf_counter() - started, 2)
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
