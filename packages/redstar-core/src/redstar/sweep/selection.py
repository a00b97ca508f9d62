"""Choosing between a value's candidates on validation (a sweep file's ``select`` and ``choose``).

A row of a table whose value lists candidates (``choose: {rl[0].options.learning_rate: [...]}``)
is one of them, chosen before any held-out set is scored:

1. every candidate runs, for every seed, up to the validation sets (``redstar run --until
   validate``): trained, and its models scored on the recipe's ``evaluation.validation`` sets,
   never on the held-out ones;
2. each candidate's score is the row model's pass@1 on each validation set, pooled over the seeds
   per problem as the tables pool (:func:`redstar.sweep.tables.row`), averaged over the sets
   (each weighs the same); the highest wins, the first listed on a tie;
3. only the chosen candidate's runs go on to the held-out sets and fill the row.

So a held-out score is never looked at to pick what it reports, and the candidates that lost
are never scored on the held-out sets at all (their run directories stop at validation).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from redstar.errors import RedStarError
from redstar.sweep.spec import SweepSpec
from redstar.sweep.tables import row
from redstar.sweep.variants import Variant


def groups(variants: list[Variant]) -> list[list[list[Variant]]]:
    """The rows that choose: for each combination of values with candidates, its candidates (in
    the order listed), each a list of variants (one per seed)."""
    rows: dict[tuple[str, ...], dict[str, list[Variant]]] = {}
    for v in variants:
        if v.candidates > 1:
            rows.setdefault(tuple(level.label for level in v.levels), {}).setdefault(v.choice_label, []).append(v)
    return [list(candidates.values()) for candidates in rows.values()]


def choose(spec: SweepSpec, variants: list[Variant], out: Path) -> dict[str, Any]:
    """The choice for every row that has candidates, from their finished validation runs:
    ``{"on", "metric", "model", "groups": [{"values", "evaluators", "candidates": [{"label",
    "variants", "score", "cells", "average"}], "chosen_label"}], "chosen": [slugs of the chosen
    candidates' variants]}``."""
    select = spec.select
    if select is None:
        raise ValueError("choose needs a sweep with a select block")
    found, chosen = [], []
    for candidates in groups(variants):
        evaluators = list(dict.fromkeys(e.name for c in candidates for v in c for e in v.recipe.evaluation.validation))
        entries = []
        for members in candidates:
            cells, _ = row(members[0].choice_label, [(v, v.run_dir(out)) for v in members], spec.model, evaluators,
                           None, kind="validation")
            score = cells["average"]["pass_at_1"] if len(cells["cells"]) == len(evaluators) else None
            if score is None or len(cells["seeds_finished"]) != len(members):
                missing = [v.slug for v in members if v.seed not in cells["seeds_finished"]] or [members[0].slug]
                raise RedStarError(f"cannot choose for {', '.join(level.label for level in members[0].levels)}: "
                                   f"no validation score for {', '.join(missing)} (did its run reach validation?)")
            entries.append({"label": members[0].choice_label, "variants": [v.slug for v in members], "score": score,
                            "cells": cells["cells"], "average": cells["average"]})
        best = max(range(len(entries)), key=lambda i: (entries[i]["score"], -i))  # the first listed on a tie
        chosen += entries[best]["variants"]
        found.append({"values": [level.label for level in candidates[0][0].levels], "evaluators": evaluators,
                      "candidates": entries, "chosen_label": entries[best]["label"]})
    return {"on": select.on, "metric": select.metric, "model": spec.model, "groups": found, "chosen": chosen}


def to_run(variants: list[Variant], selection: dict[str, Any]) -> list[Variant]:
    """The variants that go on to the held-out sets: those without candidates and the chosen."""
    chosen = set(selection["chosen"])
    return [v for v in variants if v.candidates == 1 or v.slug in chosen]
