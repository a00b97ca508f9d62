"""``redstar run``, ``curate`` and ``train``: a recipe end to end, its curation only, or training."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape

from redstar.cli.options import check_selected, host_of, parse_options, plugins_option, resolve_recipe, selected_plugins
from redstar.pipeline.ranks import current_launch
from redstar.pipeline.stage import parts
from redstar.pipeline.stages import CORE_STAGES
from redstar.services import VerifierPool, rule_reward

#: What ``--until`` takes: the parts of the run's stages, in order, then ``report``.
UNTIL = parts(CORE_STAGES)

EPILOG_RUN = """\b
Examples:
  redstar run --plugins math,code              # the embedded default on CPU: tiny models, bundled data
  redstar run --recipe recipes/paper-code-math.yaml --out runs/paper   # the paper's blend, on GPUs
  redstar run --plugins math --until curate    # stop once the SFT and preference sets are built

Re-running the same command resumes an interrupted run; changing the recipe redoes only the
stages the change affects. Results: <out>/summary.json, <out>/report.html, <out>/report.md."""


@click.command()
@plugins_option
@click.option("--recipe", "recipe_file", type=click.Path(dir_okay=False), help="Recipe YAML (default: the embedded default of the selected plugins).")
@click.option("--out", type=click.Path(file_okay=False), help="Run directory (default: runs/<recipe name>).")
@click.option("--until", type=click.Choice(UNTIL), default="report", show_default=True,
              help="The last part of the run: curate (stop once the SFT and preference sets are built), train, "
                   "validate (the validation sets of evaluation.validation, not the held-out ones), eval, or report "
                   "(everything).")
@click.option("--no-progress", is_flag=True,
              help="Do not show progress (bars on a terminal; elsewhere a plain line every $REDSTAR_PROGRESS_EVERY "
                   "seconds, default 30).")
@click.pass_context
def run(ctx: click.Context, plugins: str | None, recipe_file: str | None, out: str | None, until: str,
        no_progress: bool) -> None:
    """Run a recipe end to end: curate, sample, verify, build datasets, train, evaluate, report."""
    from redstar.pipeline.runner import run_pipeline
    from redstar.progress import ProgressBoard
    from redstar.report import print_summary

    host_ = host_of(ctx)
    selected = selected_plugins(plugins)
    check_selected(host_, selected)
    recipe = resolve_recipe(host_, recipe_file, selected)
    out_dir = Path(out or Path("runs") / recipe.name)
    console = Console(stderr=True)
    console.print(f"[bold]redstar run[/bold] {recipe.name} -> {out_dir}")
    for warning in recipe.warnings:
        console.print(f"[yellow]warning: {escape(warning)}")
    summary = run_pipeline(recipe, out_dir, host_, ProgressBoard(console, enabled=not no_progress), until=until)
    if current_launch().leads:  # the other ranks of a multi-process launch only joined the training
        print_summary(summary, Console())

run.epilog = EPILOG_RUN


@click.command()
@plugins_option
@click.option("--recipe", "recipe_file", type=click.Path(dir_okay=False))
@click.option("--out", type=click.Path(file_okay=False))
@click.pass_context
def curate(ctx: click.Context, plugins: str | None, recipe_file: str | None, out: str | None) -> None:
    """Curate only: load, score, select, decontaminate, sample, verify, clean and build the
    SFT and preference sets (same as `redstar run --until curate`)."""
    ctx.invoke(run, plugins=plugins, recipe_file=recipe_file, out=out, until="curate", no_progress=False)

@click.command()
@plugins_option
@click.option("--run", "run_dir", type=click.Path(file_okay=False, exists=True),
              help="Train the recipe's SFT and RL stages on a curated run directory.")
@click.option("--trainer", help="Or train one trainer directly (e.g. sft, dpo, ppo, reinforce_pp, grpo).")
@click.option("--model", help="Starting model: path, hub id or embedded:NAME.")
@click.option("--data", type=click.Path(dir_okay=False, exists=True), help="Data file in the trainer's format.")
@click.option("--out", type=click.Path(file_okay=False), help="Output directory.")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE", help="Trainer option (repeatable; values parsed as YAML).")
@click.pass_context
def train(ctx: click.Context, plugins: str | None, run_dir: str | None, trainer: str | None, model: str | None,
          data: str | None, out: str | None, options: tuple[str, ...]) -> None:
    """Train: a run directory's SFT and RL stages, or one trainer on given data.

    \b
    Examples:
      redstar train --run runs/default-code-math
      redstar train --trainer sft --model embedded:tiny-student --data runs/x/sft.jsonl --out models/sft --option epochs=2
      redstar train --trainer dpo --model models/sft/final --data runs/x/preference.jsonl --out models/dpo
    Per-step metrics go to <out>/metrics.jsonl (or <run>/metrics/<stage>.jsonl).
    """
    from redstar.progress import ProgressBoard

    host_ = host_of(ctx)
    if run_dir:
        from redstar.pipeline.runner import run_pipeline
        from redstar.recipe import load_recipe
        from redstar.report import print_summary

        recipe = load_recipe(Path(run_dir) / "recipe.yaml")
        summary = run_pipeline(recipe, run_dir, host_, ProgressBoard(Console(stderr=True)), until="train")
        if current_launch().leads:
            print_summary(summary, Console())
        return
    if not (trainer and model and data and out):
        raise click.UsageError("give --run DIR, or all of --trainer, --model, --data and --out")
    from redstar.interfaces import TrainContext
    from redstar.models import resolve_model
    from redstar.plugins import instantiate

    cls = host_.get("trainers", trainer)
    trainer_obj = instantiate(cls, parse_options(options))
    reward = None
    if trainer_obj.kind == "online":
        reward = rule_reward(VerifierPool.from_options(host_))
    board = ProgressBoard(Console(stderr=True))
    with board, board.task(f"training {trainer}", None) as update:
        result = trainer_obj.train(TrainContext(
            model=resolve_model(model), output_dir=Path(out), data_file=Path(data), reward=reward,
            metrics_file=Path(out) / "metrics.jsonl", on_step=lambda s, t, m: update(s, t)))
    click.echo(json.dumps({"model_path": str(result.model_path), "metrics": result.metrics}, indent=2))

