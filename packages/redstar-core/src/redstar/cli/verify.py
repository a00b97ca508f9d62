"""``redstar verify``: judge responses against references with a domain's verifier, outside a run."""

from __future__ import annotations

from collections import Counter
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from redstar.cli.options import host_of, parse_options
from redstar.errors import InputError, RecipeError
from redstar.plugins import Host


@click.command()
@click.option("--domain", required=True, help="Verifier domain: math, code, geo, ...")
@click.argument("input_file", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write input rows plus verdict fields here (JSONL).")
@click.option("--recipe", "recipe_file", type=click.Path(dir_okay=False),
              help="Take the verifier's options from this recipe's verifiers.<domain> section.")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE",
              help="A verifier option, as in a recipe's verifiers.<domain> (repeatable; values parsed as "
                   "YAML; overrides --recipe), e.g. timeout=10, mode=lenient, float_tolerance=1e-6.")
@click.pass_context
def verify(ctx: click.Context, domain: str, input_file: str, output: str | None, recipe_file: str | None,
           options: tuple[str, ...]) -> None:
    """Verify responses against references.

    Each input line is a JSON object with `response` and `reference` (for code, TACO's
    `input_output` JSON string; for geo, the choice letter, with `metadata.choices`).
    Each output line is the input plus `correct`, `reward` (1 / 0 / -1), `reason` and
    `extracted`. A summary table follows.

    \b
    Examples:
      echo '{"response": "... so \\\\boxed{1/2}", "reference": "0.5"}' > in.jsonl
      redstar verify --domain math in.jsonl -o out.jsonl
      redstar verify --domain code programs.jsonl --option timeout=10 --option mode=lenient
      redstar verify --domain code programs.jsonl --recipe my.yaml   # its verifiers.code options
    """
    from redstar.records import Prompt
    from redstar.tables import dumps_line, iter_jsonl, write_table

    host_ = host_of(ctx)
    verifier = build_verifier(host_, domain, recipe_file, parse_options(options))
    rows = []
    for line, row in iter_jsonl(input_file):  # validate everything before writing anything
        for key in ("response", "reference"):
            if not isinstance(row.get(key), str):
                problem = "missing" if key not in row else f"must be a string, got {type(row[key]).__name__}"
                raise InputError(input_file, problem, line=line, field=key)
        if "metadata" in row and not isinstance(row["metadata"], dict):
            raise InputError(input_file, "must be an object", line=line, field="metadata")
        rows.append(row)
    prompts = [Prompt(domain=domain, source="verify", question=str(r.get("question", "")), reference=r["reference"],
                      metadata=r.get("metadata") or {}) for r in rows]
    try:
        verdicts = verifier.verify_many([(r["response"], p) for r, p in zip(rows, prompts)])
    finally:
        verifier.close()
    out_rows = [{**r, **v.to_dict()} for r, v in zip(rows, verdicts)]
    if output:
        write_table(output, out_rows)
    else:
        for r in out_rows:
            click.echo(dumps_line(r), nl=False)
    rewards = Counter(v.reward for v in verdicts)
    reasons = Counter(v.reason for v in verdicts)
    table = Table(title=f"{len(verdicts)} responses verified ({domain})")
    table.add_column("outcome")
    table.add_column("count", justify="right")
    for label, reward in (("correct (1)", 1), ("wrong (0)", 0), ("no valid answer (-1)", -1)):
        table.add_row(label, str(rewards[reward]))
    for reason, count in reasons.most_common(8):
        table.add_row(f"  reason: {reason}", str(count))
    Console(stderr=True).print(table)



def build_verifier(host: Host, domain: str, recipe_file: str | None, options: dict[str, Any]) -> Any:
    """The ``domain`` verifier with the options a run would give it: the recipe's
    ``verifiers.<domain>`` (when a recipe is given), overridden by ``options``."""
    from redstar.plugins import instantiate
    from redstar.recipe import load_recipe

    merged: dict[str, Any] = {}
    key = f"verifiers.{domain}"
    if recipe_file:
        merged.update(load_recipe(recipe_file).verifiers.get(domain, {}))
    merged.update(options)

    def where(option: str | None, message: str) -> Exception:
        if (option is not None and option in options) or (option is None and not recipe_file):
            return click.BadParameter(message, param_hint="--option" if option is None else f"--option {option}")
        return RecipeError(recipe_file, key if option is None else f"{key}.{option}", message)

    return instantiate(host.get("verifiers", domain), merged, where)
