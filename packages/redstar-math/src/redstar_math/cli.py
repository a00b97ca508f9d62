"""``redstar score-model train|eval``: train and evaluate the ``trained`` difficulty scorer.

Prompts come from any registered source with its options, so the same command trains on MATH
(levels) or on the synthetic generator::

    redstar score-model train --source math --path data/math/train.jsonl --out scorers/math \\
        --base Qwen/Qwen2.5-0.5B --epochs 2
    redstar score-model train --source synthetic-math --option count=400 --out /tmp/scorer \\
        --base tiny --max-steps 60
    redstar score-model eval --model /tmp/scorer --source synthetic-math --option count=100 --option seed=7
"""

from __future__ import annotations

import json
from itertools import islice
from typing import Any

import click

from redstar.errors import RedStarError
from redstar.records import Prompt


def _options(items: tuple[str, ...], path: str | None) -> dict[str, Any]:
    # Core's parser: a value means the same here as in a recipe (``5e-7`` is a number).
    from redstar.cli.options import parse_options

    options = parse_options(items)
    if path is not None:
        options["path"] = path
    return options


def _prompts(ctx: click.Context, source: str, options: dict[str, Any], limit: int | None) -> list[Prompt]:
    from redstar.cli.options import host_of
    from redstar.plugins import instantiate

    cls = host_of(ctx).get("sources", source)
    loaded = instantiate(cls, options).load()
    prompts = list(loaded if limit is None else islice(loaded, limit))
    if not prompts:
        raise RedStarError(f"source {source!r} gave no prompts")
    return prompts


def _source_options(fn: Any) -> Any:
    fn = click.option("--limit", type=int, default=None, help="Use at most this many prompts.")(fn)
    fn = click.option("--option", "options", multiple=True, metavar="KEY=VALUE",
                      help="A source option (repeatable); values are read as YAML.")(fn)
    fn = click.option("--path", default=None, help="Shorthand for --option path=PATH.")(fn)
    fn = click.option("--source", required=True, help="A registered source whose prompts carry levels.")(fn)
    return fn


def _echo(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    for key, value in result.items():
        if isinstance(value, dict):
            click.echo(f"{key}:")
            for sub, sub_value in value.items():
                if sub.endswith("_ci"):
                    continue  # shown beside its figure
                interval = value.get(f"{sub}_ci")
                shown = f"{sub_value:.4f}" if isinstance(sub_value, float) else f"{sub_value}"
                if isinstance(interval, (list, tuple)) and len(interval) == 2:
                    shown += f" [{interval[0]:.4f}, {interval[1]:.4f}] (95%)"
                click.echo(f"  {sub}: {shown}")
        else:
            click.echo(f"{key}: {value}")


@click.group("score-model")
def score_model() -> None:
    """Train and evaluate a model that predicts problem difficulty (the 'trained' scorer)."""


@score_model.command("train")
@_source_options
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="Folder to save the model to.")
@click.option("--base", default="tiny", show_default=True,
              help="Pretrained model (folder or hub id) to add a regression head to, or 'tiny' (from scratch).")
@click.option("--epochs", type=float, default=3.0, show_default=True)
@click.option("--max-steps", type=int, default=-1, show_default=True, help="Stop after this many steps (-1: epochs).")
@click.option("--batch-size", type=int, default=16, show_default=True)
@click.option("--learning-rate", type=float, default=5e-5, show_default=True)
@click.option("--max-length", type=int, default=256, show_default=True, help="Tokens of a question the model reads.")
@click.option("--heldout-fraction", type=float, default=0.1, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the model card as JSON.")
@click.pass_context
def train(ctx: click.Context, source: str, path: str | None, options: tuple[str, ...], limit: int | None, out: str,
          base: str, epochs: float, max_steps: int, batch_size: int, learning_rate: float, max_length: int,
          heldout_fraction: float, seed: int, as_json: bool) -> None:
    """Fine-tune a difficulty model on a source's prompts and report held-out agreement."""
    from redstar_math.difficulty_model import train_difficulty_model

    prompts = _prompts(ctx, source, _options(options, path), limit)
    card = train_difficulty_model(prompts, out, base=base, epochs=epochs, max_steps=max_steps, batch_size=batch_size,
                                  learning_rate=learning_rate, max_length=max_length,
                                  heldout_fraction=heldout_fraction, seed=seed)
    _echo({"saved": out, **card}, as_json)


@score_model.command("eval")
@_source_options
@click.option("--model", "model", required=True, type=click.Path(exists=True, file_okay=False),
              help="A folder saved by `score-model train`.")
@click.option("--json", "as_json", is_flag=True, help="Print the agreement as JSON.")
@click.pass_context
def evaluate(ctx: click.Context, source: str, path: str | None, options: tuple[str, ...], limit: int | None,
             model: str, as_json: bool) -> None:
    """Agreement of a trained difficulty model with the levels of a source's prompts."""
    from dataclasses import asdict

    from redstar_math.difficulty_model import evaluate_difficulty_model

    prompts = _prompts(ctx, source, _options(options, path), limit)
    _echo({"model": model, "agreement": asdict(evaluate_difficulty_model(model, prompts))}, as_json)
