"""Curation stages: load prompts from the recipe's sources, score their difficulty, then select
(difficulty band, per-source and per-domain caps, domain mix) and decontaminate against
benchmarks."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from redstar.decontamination import BenchmarkIndex, decontaminate
from redstar.errors import RedStarError
from redstar.faults import check_iterable, check_levels, check_problems, check_prompt
from redstar.pipeline.context import PluginContext, RunContext
from redstar.pipeline.stage import FunnelRow, Outcome, Stage
from redstar.records import Prompt
from redstar.references import STORE, stow
from redstar.selection import DomainRule, select
from redstar.tables import parse_records, write_table


def _load(ctx: RunContext, inputs: Mapping[str, Any]) -> Outcome:
    sources = ctx.recipe.sources
    if not sources:
        raise RedStarError("the recipe has no sources: add at least one under `sources:`")
    prompts: list[Prompt] = []
    per_source: Counter = Counter()
    seen: set[str] = set()
    duplicates = 0
    with ctx.board.task("loading prompts", len(sources)) as update:
        for i, spec in enumerate(sources):
            source = ctx.build("sources", spec.name, spec.options, f"sources[{i}]")
            loaded = check_iterable(source, "load", source.load(), "an iterable of redstar.records.Prompt")
            for j, prompt in enumerate(loaded):
                check_prompt(source, "load", prompt, j)
                if prompt.id in seen:  # the same problem from two sources is sampled once
                    duplicates += 1
                    continue
                seen.add(prompt.id)
                # A long reference (code tests) goes to the run's store; the prompt keeps a pointer.
                prompts.append(stow(prompt, ctx.run.root))
                per_source[spec.name] += 1
            update(i + 1)
    if not prompts:
        raise RedStarError("the recipe's sources produced no prompts (an empty prompt set): check their options")
    write_table(ctx.run.path("prompts.jsonl"), prompts)
    return Outcome(prompts, {"prompts": len(prompts), "per_source": dict(per_source), "duplicates": duplicates,
                             "by_domain": dict(Counter(p.domain for p in prompts))})


def _prompts_in(name: str) -> Callable[[RunContext], list[Prompt]]:
    return lambda ctx: parse_records(ctx.run.path(name), Prompt.from_dict)


LOAD = Stage("load", "curate", _load, depends_on=lambda recipe: recipe.sources, outputs=("prompts.jsonl", STORE),
             load=_prompts_in("prompts.jsonl"), funnel=(FunnelRow("prompts loaded", "prompts", "prompts"),))


def _score(ctx: RunContext, inputs: Mapping[str, Any]) -> Outcome:
    cfg = ctx.recipe.scoring
    prompts: list[Prompt] = inputs["load"]
    scorer = ctx.build("scorers", cfg.scorer, cfg.options, "scoring")
    with ctx.board.task("scoring difficulty", len(prompts)) as update:
        levels = []
        batch = 256
        for start in range(0, len(prompts), batch):
            part = prompts[start:start + batch]
            levels.extend(check_levels(scorer, scorer.score(part), len(part)))
            update(min(start + batch, len(prompts)))
    if len(levels) != len(prompts):
        raise RedStarError(f"scorer {cfg.scorer!r} returned {len(levels)} levels for {len(prompts)} prompts")
    for prompt, level in zip(prompts, levels):
        prompt.difficulty = float(level)
    write_table(ctx.run.path("scored.jsonl"), prompts)
    histogram = Counter(int(round(float(level))) for level in levels)
    return Outcome(prompts, {"levels": {str(k): histogram[k] for k in sorted(histogram)}})


SCORE = Stage("score", "curate", _score, reads=("load",), depends_on=lambda recipe: recipe.scoring,
              outputs=("scored.jsonl",), load=_prompts_in("scored.jsonl"))


def benchmark_index(ctx: PluginContext) -> tuple[BenchmarkIndex, list[str]]:
    """Index the questions of the evaluators named in ``decontamination.evaluators`` (default:
    every installed evaluator with its default data, plus the recipe's own evaluation sets)."""
    cfg = ctx.recipe.decontamination
    index = BenchmarkIndex(cfg.ngram)
    # The recipe's own evaluation sets are built exactly as evaluation will build them (their
    # path, count, seed...); another installed evaluator with its default data.
    recipe_specs = [(e.name, e.options, f"evaluation.evaluators[{i}]")
                    for i, e in enumerate(ctx.recipe.evaluation.evaluators)]
    # Training on a validation question would bias the choice it makes as a held-out one would the score.
    recipe_specs += [(e.name, e.options, f"evaluation.validation[{i}]")
                     for i, e in enumerate(ctx.recipe.evaluation.validation)]
    in_recipe = {name for name, _, _ in recipe_specs}
    names = cfg.evaluators if cfg.evaluators is not None else ctx.host.names("evaluators")
    specs: list[tuple[str, dict[str, Any], str]] = [
        (name, {}, f"decontamination.evaluators[{name}]") for name in names if name not in in_recipe]
    specs += recipe_specs
    used = []
    for name, options, key in specs:
        evaluator = ctx.build("evaluators", name, options, key)
        problems = check_problems(evaluator, evaluator.load())
        index.add(name, (p.question for p in problems), exact_only=name in cfg.exact_only)
        used.append(name)
    return index, sorted(set(used))


def _select(ctx: RunContext, inputs: Mapping[str, Any]) -> Outcome:
    recipe = ctx.recipe
    cfg = recipe.selection
    prompts: list[Prompt] = inputs["score"]
    dropped: Counter = Counter()
    candidates = prompts
    checked: list[str] = []
    if recipe.decontamination.enabled:
        with ctx.board.task("decontaminating", len(prompts)) as update:
            index, checked = benchmark_index(ctx)
            candidates, contaminated = decontaminate(prompts, index)
            dropped.update(contaminated)
            update(len(prompts))
    rules = {d: DomainRule(r.min_level, r.max_level, r.max_prompts) for d, r in cfg.domains.items()}
    report = select(candidates, min_level=cfg.min_level, max_level=cfg.max_level,
                    per_source=cfg.per_source, mix=cfg.shares(), counts=cfg.counts(), total=cfg.total,
                    seed=recipe.seed, domains=rules, mix_mode=cfg.mix_mode)
    dropped.update(report.dropped)
    dropped_by_domain = {d: dict(c) for d, c in report.dropped_by_domain.items()}
    if not report.kept:
        raise RedStarError(
            f"selection kept no prompts out of {len(prompts)} (dropped: {dict(dropped)}); "
            f"widen the difficulty band (selection.min_level/max_level, or selection.domains.<domain>) "
            f"or add sources"
        )
    loaded = Counter(p.domain for p in prompts)
    for domain in sorted(loaded):
        low, high = cfg.band(domain)
        origin = "its own" if domain in cfg.domains else "the global band"
        ctx.log(f"selection: {domain}: levels {low:g}-{high:g} ({origin}), "
                f"{sum(p.domain == domain for p in report.kept)} of {loaded[domain]} prompts kept")
    for domain, missing in report.shortfall.items():
        ctx.log(f"[yellow]selection: domain {domain!r} is {missing} prompts short of its mix quota")
    write_table(ctx.run.path("selected.jsonl"), report.kept)
    return Outcome(report.kept, {
        "selected": len(report.kept),
        "by_domain": dict(Counter(p.domain for p in report.kept)),
        "dropped": dict(dropped),
        "dropped_by_domain": _contaminated_by_domain(prompts, candidates, dropped_by_domain),
        "shortfall": report.shortfall,
        "decontaminated_against": checked,
    })


SELECT = Stage("select", "curate", _select, reads=("score",),
               # The benchmarks decontamination checks against are the evaluation's; its other
               # settings (sampling, n) do not change which prompts are kept.
               # Validation sets join only when there are some, so that older runs keep their fingerprint.
               depends_on=lambda recipe: (recipe.selection, recipe.decontamination, recipe.evaluation.evaluators,
                                          recipe.seed) + ((recipe.evaluation.validation,)
                                                          if recipe.evaluation.validation else ()),
               outputs=("selected.jsonl",), load=_prompts_in("selected.jsonl"),
               funnel=(FunnelRow("prompts selected", "selected", "prompts"),), drops="selection")


def _contaminated_by_domain(prompts: list[Prompt], candidates: list[Prompt],
                            dropped: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """Selection's drops per domain, with the prompts decontamination removed added."""
    kept = Counter(p.domain for p in candidates)
    out = {d: dict(c) for d, c in dropped.items()}
    for domain, total in Counter(p.domain for p in prompts).items():
        removed = total - kept[domain]
        if removed:
            out.setdefault(domain, {})["contaminated"] = removed
    return out
