"""``redstar eval``: a model on benchmarks, outside a run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.console import Console

from redstar.cli.options import host_of, parse_options, plugins_option, split_key_value


@click.command(name="eval")
@plugins_option
@click.option("--model", required=True, help="Model to evaluate: path, hub id or embedded:NAME.")
@click.option("--evaluator", "evaluators", multiple=True, required=True,
              help="Evaluator name (repeatable), e.g. math-hard, aime24, taco, geoqa.")
@click.option("--path", "paths", multiple=True, metavar="EVALUATOR=FILE",
              help="Full benchmark file or folder for an evaluator (default: its bundled sample).")
@click.option("--evaluator-option", "evaluator_options", multiple=True, metavar="EVALUATOR.KEY=VALUE",
              help="Any other evaluator option, e.g. geoqa.image_root=data/geoqa/images (repeatable).")
@click.option("--limit", type=int, help="Evaluate only the first N problems of each benchmark.")
@click.option("--n", "n", type=int, default=1, show_default=True, help="Samples per problem.")
@click.option("--temperature", type=float, default=0.0, show_default=True)
@click.option("--max-new-tokens", type=int, default=1024, show_default=True)
@click.option("--sampled", "sampled_n", type=click.IntRange(min=1), default=None, metavar="K",
              help="Also sample K answers per problem at --sampled-temperature: sampled pass@1, pass@K and the room "
                   "for RL (pass@K minus pass@1; the problems answered wrongly that some sample solves), in "
                   "scores.json and <out>/<evaluator>.sampled.jsonl.")
@click.option("--sampled-temperature", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
              help="Temperature of --sampled (the RL trainers' default).")
@click.option("--backend", default="transformers", show_default=True, help="Sampler: transformers, vllm, openai, ...")
@click.option("--backend-option", "backend_options", multiple=True, metavar="KEY=VALUE")
@click.option("--verifier-option", "verifier_options", multiple=True, metavar="DOMAIN.KEY=VALUE",
              help="A verifier option, as in a recipe's verifiers.<domain>, e.g. code.timeout=10 (repeatable).")
@click.option("--out", type=click.Path(file_okay=False), default="runs/eval", show_default=True)
@click.pass_context
def eval_cmd(ctx: click.Context, plugins: str | None, model: str, evaluators: tuple[str, ...], paths: tuple[str, ...],
             evaluator_options: tuple[str, ...], limit: int | None, n: int, temperature: float, max_new_tokens: int,
             sampled_n: int | None, sampled_temperature: float, backend: str,
             backend_options: tuple[str, ...], verifier_options: tuple[str, ...], out: str) -> None:
    """Evaluate a model on benchmarks: pass@1 over n samples, pass@k, majority vote,
    truncation; per-problem results in <out>/<evaluator>.jsonl.

    \b
    Examples:
      redstar eval --model embedded:tiny-student --evaluator synthetic-math-heldout
      redstar eval --model Qwen/Qwen2.5-Math-7B-Instruct --backend vllm --evaluator math-hard \\
          --path math-hard=data/math/test.jsonl --n 4 --temperature 0.6
      redstar eval --model runs/mine/models/sft/final --evaluator synthetic-code-heldout --sampled 4
    """
    from redstar.evaluation import room_for_rl, room_units
    from redstar.interfaces import SamplingParams
    from redstar.models import resolve_model
    from redstar.plugins import instantiate
    from redstar.progress import ProgressBoard
    from redstar.report import score_table
    from redstar.services import VerifierPool, evaluate_on
    from redstar.stats import per_problem_results
    from redstar.tables import write_json

    host_ = host_of(ctx)
    path_for = dict(split_key_value(p, "--path") for p in paths)
    extra_options = _per_name(evaluator_options, "--evaluator-option", "EVALUATOR")
    verifiers = VerifierPool.from_options(host_, _per_name(verifier_options, "--verifier-option", "DOMAIN"))
    sampler = instantiate(host_.get("samplers", backend), {**parse_options(backend_options), "model": resolve_model(model)})
    params = SamplingParams(n=n, temperature=temperature, max_new_tokens=max_new_tokens)
    scores = {}
    board = ProgressBoard(Console(stderr=True))
    try:
        with board:
            for name in evaluators:
                opts: dict[str, Any] = dict(extra_options.get(name, {}))
                if name in path_for:
                    opts["path"] = path_for[name]
                if limit is not None:
                    opts["limit"] = limit
                evaluator = instantiate(host_.get("evaluators", name), opts)
                verifier = verifiers.verifier(evaluator.domain)
                primary = Path(out) / f"{name}.jsonl"
                scores[name] = evaluate_on(board, f"evaluating {name}", evaluator, sampler, verifier, params,
                                           primary).to_dict()
                if sampled_n is not None:
                    drawn = SamplingParams(n=sampled_n, temperature=sampled_temperature, max_new_tokens=max_new_tokens)
                    sampled = primary.with_name(f"{name}.sampled.jsonl")
                    scores[name]["sampled"] = evaluate_on(board, f"sampling {name}", evaluator, sampler, verifier,
                                                          drawn, sampled).to_dict()
                    scores[name]["room_for_rl"] = room_for_rl(room_units(per_problem_results(primary),
                                                                         per_problem_results(sampled)))
    finally:
        sampler.close()
        verifiers.close()
    write_json(Path(out) / "scores.json", scores)
    Console().print(score_table({"scores": {model: scores}}))
    for name, score in scores.items():
        room = score.get("room_for_rl")
        if room and room.get("problems"):
            gain, (low, high) = room["gain"], room["gain"]["ci"]
            click.echo(f"{name}: sampled pass@1 {score['sampled']['pass_at_1']:.3f}, pass@{room['k']} "
                       f"{room['pass_at_k']:.3f}; pass@{room['k']} - pass@1 {gain['difference']:+.3f} "
                       f"[{low:+.2f}, {high:+.2f}]; {room['solved_by_a_sample']} of {room['wrong']} wrong answers "
                       "solved by a sample")


def _per_name(items: tuple[str, ...], hint: str, what: str) -> dict[str, dict[str, Any]]:
    """``("geoqa.image_root=x",)`` -> ``{"geoqa": {"image_root": "x"}}``."""
    out: dict[str, dict[str, Any]] = {}
    for key, value in parse_options(items, hint).items():
        if "." not in key:
            raise click.BadParameter(f"expected {what}.KEY=VALUE, got {key!r}", param_hint=hint)
        name, option = key.split(".", 1)
        out.setdefault(name, {})[option] = value
    return out
