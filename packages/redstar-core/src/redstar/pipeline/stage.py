"""The shape of every stage of a run, and the one place that runs a step of it.

A :class:`Stage` says what it is called, which part of a run it belongs to (``--until``), which
earlier stages it reads, which of them its output depends on (its fingerprint chains theirs),
the recipe sections that shape its output, the files it writes, and how to do its work. The run's stages are listed in
:mod:`redstar.pipeline.stages`; a plugin adds its own through the ``redstar_pipeline_stages``
hook. Stages
that fan out into several steps (training: one per trainer; evaluation: one per model and
benchmark) run each step through the same :func:`run_step`, so skipping a finished step,
resuming an interrupted one, redoing a changed one and timing it are written once.

A step whose fingerprint matches a finished step is *loaded* (its ``load`` reads the outputs
back); one without ``load`` is incremental (sampling, verification) and always runs, keeping
what its outputs already hold and doing only what is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from redstar.faults import in_stage, plugin_code
from redstar.pipeline.rundir import fingerprint

if TYPE_CHECKING:
    from redstar.pipeline.context import RunContext
    from redstar.recipe import Recipe


@dataclass(frozen=True)
class Result:
    """What a finished stage hands the stages after it: its value and its fingerprint."""

    value: Any
    fingerprint: str


@dataclass(frozen=True)
class Outcome:
    """What a stage's work returns: the value for later stages and the counts for the run state
    (and the summary's funnel)."""

    value: Any
    counts: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # more state to keep (a model path, a score)


@dataclass(frozen=True)
class FunnelRow:
    """A row of the summary's funnel: ``label``, read from the stage's ``counts[key]`` (and from
    ``counts["by_domain"][domain][key]`` for the per-domain funnels)."""

    label: str
    key: str
    unit: str  # "prompts" or "samples": which funnel it belongs to


@dataclass(frozen=True)
class Stage:
    """One stage of a run.

    - ``name``: its key in ``state.json`` (a fanned-out stage's steps are ``<name>:...``);
    - ``part``: ``curate``, ``train`` or ``eval``; ``redstar run --until PART`` runs the stages of
      that part and those before it;
    - ``reads``: the stages whose values ``work`` receives, by name;
    - ``keyed_on``: the stages whose fingerprints this stage's output depends on (by default all
      it reads). Sampling reads the selection but is keyed on nothing upstream, so selecting more
      prompts samples only the new ones instead of starting over;
    - ``depends_on(recipe)``: the parts of the recipe that shape its output (in its fingerprint);
    - ``outputs``: run-directory paths it writes, removed when its fingerprint changes (or, for
      a stage with ``rows_depend_on``, kept or set aside: see below);
    - ``work(ctx, inputs)``: does the work and returns an :class:`Outcome`;
    - ``load(ctx)``: reads a finished stage's value back; None for an incremental stage;
    - ``fans_out``: ``work`` runs its own steps through :func:`run_step` (training, evaluation);
      the stage itself then has no fingerprint or state of its own;
    - ``funnel``: the rows it adds to the summary's funnel;
    - ``drops``: the name its ``counts["dropped"]`` (reason -> count) go by in the summary
      (``selection``, ``cleaning``), with ``counts["by_domain"][d]["dropped"]`` or
      ``counts["dropped_by_domain"][d]`` per domain;
    - ``after``: for a stage a plugin adds, the stage it runs after;
    - ``plugin``: the plugin that added it (set by :func:`~redstar.pipeline.stages.pipeline_stages`;
      None for core's).
    - ``rows_depend_on(recipe)``: for an incremental stage whose rows are costly (samples,
      verdicts), the part of the recipe the rows already written depend on, which may be less
      than ``depends_on`` (how *many* samples are wanted shapes the stage's value, not the rows
      drawn so far). When the fingerprint changes and this does not, the rows are kept and only
      what is missing is done; when this changes too, the rows are set aside in the run
      directory, not deleted, and come back if the recipe changes back
      (:mod:`redstar.pipeline.set_aside`).
    """

    name: str
    part: str
    work: Callable[[RunContext, Mapping[str, Any]], Outcome]
    reads: tuple[str, ...] = ()
    keyed_on: tuple[str, ...] | None = None
    depends_on: Callable[[Recipe], Any] = lambda recipe: None
    outputs: tuple[str, ...] = ()
    load: Callable[[RunContext], Any] | None = None
    fans_out: bool = False
    versioned: bool = True
    funnel: tuple[FunnelRow, ...] = ()
    drops: str | None = None
    after: str | None = None
    plugin: str | None = None
    rows_depend_on: Callable[[Recipe], Any] | None = None

    def rows_key(self, ctx: RunContext) -> str | None:
        """The digest of what the rows in ``outputs`` depend on (None without ``rows_depend_on``)."""
        if self.rows_depend_on is None:
            return None
        return fingerprint(self.name, "rows", self.rows_depend_on(ctx.recipe),
                           ctx.plugin_versions() if self.versioned else None)

    def fingerprint(self, ctx: RunContext, upstream: Mapping[str, Result]) -> str:
        keyed = self.reads if self.keyed_on is None else self.keyed_on
        return fingerprint(self.name, [upstream[name].fingerprint for name in keyed], self.depends_on(ctx.recipe),
                           ctx.plugin_versions() if self.versioned else None)


def run_step(ctx: RunContext, name: str, fp: str, outputs: Sequence[Path],
             work: Callable[[], Outcome], load: Callable[[], Any] | None = None,
             is_complete: Callable[[], bool] | None = None, rows_key: str | None = None) -> Any:
    """Skip, resume or redo one step, the same way for every stage.

    Finished with the same fingerprint (and ``is_complete()``, by default: every output exists),
    and ``load`` given: its value is read back. A step done in a sibling run (``RunDir.siblings``)
    with the same fingerprint is first brought over (:meth:`~redstar.pipeline.rundir.RunDir.adopt`),
    then loaded or, when incremental, resumed from the sibling's outputs. Otherwise the step begins (a changed fingerprint
    removes the old ``outputs``; an unchanged one keeps partial outputs to resume from), works
    and finishes, recording its counts and time in the run state. ``rows_key``: see
    :meth:`~redstar.pipeline.rundir.RunDir.begin`."""
    run = ctx.run
    # Done in a sibling run with this fingerprint (a sweep's other variant): reuse its outputs.
    run.adopt(name, fp, outputs, rows_key)
    complete = is_complete or (lambda: all(Path(p).exists() for p in outputs))
    # An exception raised in a plugin's code becomes one line naming the plugin, the method
    # RedStar called and this step (redstar.faults); the traceback stays its cause (--debug).
    with in_stage(name), plugin_code(name):
        if load is not None and run.is_done(name, fp) and complete():
            return load()
        run.begin(name, fp, list(outputs), rows_key)
        outcome = work()
    run.finish(name, outcome.counts, **outcome.extra)
    return outcome.value


def parts(stages: Sequence[Stage]) -> tuple[str, ...]:
    """The values ``--until`` takes: the stages' parts in order, then ``report``."""
    return (*dict.fromkeys(stage.part for stage in stages), "report")
