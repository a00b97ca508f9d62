"""What a recipe will do, in words, before anything runs: each domain's difficulty band, its
responses per prompt and what ``selection.mix`` gives it (``redstar recipe check`` and ``redstar
recipe show --explain`` print this as YAML comments under the recipe)."""

from __future__ import annotations

from typing import Any

from redstar.errors import PluginError
from redstar.recipe.sections import Recipe
from redstar.selection import explain_mix


def _source_domains(recipe: Recipe, host: Any) -> list[str]:
    domains = []
    for spec in recipe.sources:
        try:
            domain = getattr(host.get("sources", spec.name), "domain", None)
        except PluginError:
            continue  # the check names it
        if isinstance(domain, str) and domain not in domains:
            domains.append(domain)
    return domains


def _responses(recipe: Recipe, domain: str) -> str:
    rule = recipe.selection.domains.get(domain)
    n = recipe.sampling.n if rule is None or rule.n is None else rule.n
    by_level = recipe.sampling.n_by_level if rule is None or rule.n_by_level is None else rule.n_by_level
    more = "".join(f", {count} from level {level:g}" for level, count in sorted(by_level.items()))
    return f"{n} responses per prompt{more}"


def explain(recipe: Recipe, host: Any | None = None) -> list[str]:
    """One line per domain (those the recipe's sources yield, then any other the selection
    names) and lines about the selection as a whole."""
    selection = recipe.selection
    per_domain, notes = explain_mix(selection.shares(), selection.counts(), selection.total, selection.mix_mode)
    yielded = _source_domains(recipe, host) if host is not None else []
    domains = list(dict.fromkeys([*yielded, *selection.mix, *selection.domains]))
    lines = []
    for domain in domains:
        low, high = selection.band(domain)
        origin = "its own band" if domain in selection.domains and (
            selection.domains[domain].min_level is not None or selection.domains[domain].max_level is not None) \
            else "the global band"
        mix = per_domain.get(domain, "no prompts: not in the mix" if per_domain else None)
        lines.append(f"{domain}: levels {low:g}-{high:g} ({origin}); {_responses(recipe, domain)}"
                     + (f"; {mix}" if mix else ""))
    total = "no total" if selection.total is None else f"selection.total {selection.total}"
    lines.append(f"mix_mode {selection.mix_mode}, {total}")
    return lines + notes
