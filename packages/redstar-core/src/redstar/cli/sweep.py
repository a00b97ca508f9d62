"""``redstar sweep``: a grid of recipe variants run as ordinary runs that share what they can,
rendered as the paper's comparison tables (:mod:`redstar.sweep`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console

from redstar.cli.options import host_of
from redstar.cli.run import UNTIL

if TYPE_CHECKING:
    from redstar.plugins import Host
    from redstar.sweep import SweepSpec, Variant

EPILOG = """\b
A sweep file names a base recipe, the recipe keys to vary and the seeds:
\b
  name: table1-sft-size
  base: default                    # or a recipe path, relative to this file
  plugins: [math, code]            # with base: default, whose parts make it up
  seeds: [0, 1, 2]
  set: {sampling.max_new_tokens: 256}          # for every variant
  vary:                                        # the variants are the grid of these axes
    - selection.total: [40, 80, 160]
    - {label: [easy, hard], selection.min_level: [2, 7], selection.max_level: [6, 9]}
    - - {label: SFT only, rl: []}
      - {label: + DPO, rl: [{trainer: dpo}]}
  report: {model: final}           # which model of each run fills its row

A value may list candidates to choose between on validation sets, which the held-out sets
never see (the recipe's evaluation.validation; only the chosen candidate is scored on the
held-out sets):

      - label: + DPO
        rl: [{trainer: dpo}]
        choose:
          rl[0].options.learning_rate: [1.0e-6, 5.0e-6, 2.0e-5]
  select: {on: validation, metric: pass@1}
\b
Each variant runs in <out>/runs/<variant>/ (its recipe.yaml, report and summary as any run).
A step done by another variant with the same fingerprint is reused, not redone: one sampling
pass serves every SFT-size variant. Re-running the command skips finished variants and resumes
an interrupted one. Results: <out>/sweep.md, sweep.html, sweep.json, sweep.png: one table per
comparison (rows = values of an axis, columns = evaluators and their average), each pass@1 with
its 95% interval and the sd over seeds, and each row against the first with a paired test.
\b
Examples:
  redstar sweep recipes/sweeps/miniature-table1.yaml --dry-run     # the variants and what they share
  redstar sweep recipes/sweeps/paper-table3.yaml --check --skip-paths
  redstar sweep recipes/sweeps/miniature-table1.yaml --out runs/table1
  redstar sweep recipes/sweeps/miniature-table1.yaml --out runs/table1 --tables-only   # tables so far
  redstar sweep recipes/sweeps/miniature-table4.yaml --reuse runs/miniature-table3   # its blend = Table 3's SFT"""


@click.command()
@click.argument("sweep_file", type=click.Path(dir_okay=False))
@click.option("--out", type=click.Path(file_okay=False), help="Sweep directory (default: runs/<sweep name>).")
@click.option("--dry-run", is_flag=True, help="List the variants and the steps they would share; run nothing.")
@click.option("--check", is_flag=True,
              help="Check every variant as `redstar recipe check` does (keys, plugins and their options, model "
                   "paths); run nothing.")
@click.option("--skip-paths", is_flag=True, help="With --check: do not check that local model paths exist.")
@click.option("--until", type=click.Choice(UNTIL), default="report", show_default=True,
              help="The last part of each variant's run (as `redstar run --until`).")
@click.option("--no-progress", is_flag=True, help="Only the per-variant lines, no progress bars.")
@click.option("--tables-only", is_flag=True,
              help="Write the tables from the variants that have finished (a sweep still running, or stopped "
                   "part-way); run nothing. Unfinished variants leave their cells empty.")
@click.option("--reuse", "reuse", multiple=True, type=click.Path(exists=True, file_okay=False),
              help="Another sweep's directory (or a run directory) whose finished steps this sweep reuses "
                   "where the fingerprints match, as it reuses its own variants' (repeatable).")
@click.pass_context
def sweep(ctx: click.Context, sweep_file: str, out: str | None, dry_run: bool, check: bool, skip_paths: bool,
          until: str, no_progress: bool, tables_only: bool, reuse: tuple[str, ...]) -> None:
    """Run a grid of recipe variants and tabulate them as the paper's comparisons."""
    from redstar.sweep import expand, load_sweep

    host_ = host_of(ctx)
    spec = load_sweep(sweep_file)
    variants = expand(spec, host_)  # every variant's recipe is validated before anything runs
    out_dir = Path(out or Path("runs") / spec.name)
    if check:
        _check(spec, variants, host_, skip_paths)
        return
    if dry_run:
        _dry_run(spec, variants, host_, out_dir, until)
        return
    if tables_only:
        from redstar.sweep.running import tabulate

        done = sum((v.run_dir(out_dir) / "summary.json").is_file() for v in variants)
        click.echo(f"{spec.name}: {done} of {len(variants)} variants have finished in {out_dir}/runs/")
        tabulate(spec, variants, out_dir, click.echo)
        return
    from redstar.progress import ProgressBoard
    from redstar.sweep.running import run_sweep

    console = Console(stderr=True)
    console.print(f"[bold]redstar sweep[/bold] {spec.name}: {len(variants)} variants -> {out_dir}")
    run_sweep(spec, variants, out_dir, host_, lambda line: console.print(line, markup=False, highlight=False, soft_wrap=True),
              board=lambda: ProgressBoard(console, enabled=not no_progress), until=until,
              reuse=[Path(r) for r in reuse])

sweep.epilog = EPILOG


def _check(spec: SweepSpec, variants: list[Variant], host: Host, skip_paths: bool) -> None:
    from redstar.errors import RecipeError
    from redstar.pipeline.context import PluginContext
    from redstar.pipeline.preflight import preflight
    from redstar.sweep.variants import located

    for variant in variants:
        checking = PluginContext(recipe=variant.recipe, host=host)
        try:
            preflight(checking, check_paths=not skip_paths)
        except RecipeError as exc:
            raise located(exc, variant, spec) from None
        finally:
            checking.close()
    click.echo(f"{len(variants)} variants checked: " + ", ".join(v.slug for v in variants))


def _dry_run(spec: SweepSpec, variants: list[Variant], host: Host, out: Path, until: str) -> None:
    from redstar.pipeline.stage import parts
    from redstar.pipeline.stages import pipeline_stages
    from redstar.sweep.running import VALIDATE, is_finished
    from redstar.sweep.sharing import shared_steps

    order = parts(pipeline_stages(host))
    click.echo(f"{len(variants)} variants -> {out}/runs/")
    for v in variants:
        status = "finished" if is_finished(v, out, until, order) else "to run"
        if v.candidates > 1 and spec.select is not None:
            status = ("validated" if is_finished(v, out, VALIDATE, order) else "to validate") + \
                f"; one of {v.candidates} candidates, {status} if chosen"
        click.echo(f"  {v.slug}  ({v.title}; {status})")
    shared = shared_steps(variants, host)
    if not shared:
        click.echo("no step is shared: every variant runs every step")
        return
    click.echo("steps run once and reused (training and evaluation: predicted from the data they are built on):")
    for step, groups in shared:
        click.echo(f"  {step}: " + "; ".join(f"{len(g)} variants ({', '.join(g)})" for g in groups))
