"""Cleaning and dataset building: positives become the SFT set, positive/negative pairs of the
same prompt become the preference set, and the selected prompts become the online-RL prompt set.

Every dropped sample is counted under its first reason: ``truncated``, a filter's reason
(``repetition``, ``language mixing``...), or ``no valid answer`` (the verifier's reward -1).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from typing import Any

from redstar.media import localize_media
from redstar.pipeline.context import RunContext
from redstar.pipeline.stage import FunnelRow, Outcome, Stage
from redstar.recipe import Cleaning
from redstar.records import Prompt, Sample, Verdict
from redstar.tables import write_table


def clean(ctx: RunContext, cfg: Cleaning, prompts: dict[str, Prompt], samples: list[Sample],
          verdicts: dict[str, Verdict]) -> tuple[dict[str, str | None], Counter]:
    """Drop reason (or None) per sample id, and the counts by reason."""
    filters = [ctx.build("filters", f.name, f.options, f"cleaning.filters[{i}]")
               for i, f in enumerate(cfg.filters)]
    reasons: dict[str, str | None] = {}
    counts: Counter = Counter()
    with ctx.board.task("cleaning", len(samples)) as update:
        for i, s in enumerate(samples):
            reason = None
            if cfg.drop_truncated and s.truncated:
                reason = "truncated"
            if reason is None and verdicts[s.id].reward == -1:
                reason = "no valid answer"
            if reason is None:
                for f in filters:
                    reason = f.check(s.response, prompts[s.prompt_id])
                    if reason:
                        break
            reasons[s.id] = reason
            if reason:
                counts[reason] += 1
            if i % 256 == 0:
                update(i)
    return reasons, counts


def _negatives(candidates: list[tuple[Sample, Verdict]], policy: str) -> list[Sample]:
    wrong = [s for s, v in candidates if v.reward == 0]
    invalid = [s for s, v in candidates if v.reward == -1]
    if policy == "wrong_only":
        return wrong
    if policy == "wrong_first":
        return wrong + invalid
    return [s for s, _ in candidates]


def _build(ctx: RunContext, inputs: Mapping[str, Any]) -> Outcome:
    recipe, run = ctx.recipe, ctx.run
    prompts: list[Prompt] = inputs["select"]
    samples: list[Sample] = inputs["sample"]
    verdicts: dict[str, Verdict] = inputs["verify"]
    sft_file, pref_file, online_file = run.path("sft.jsonl"), run.path("preference.jsonl"), run.path("online.jsonl")
    by_id = {p.id: p for p in prompts}
    reasons, dropped = clean(ctx, recipe.cleaning, by_id, samples, verdicts)
    dropped_by_domain: dict[str, Counter] = defaultdict(Counter)
    for s in samples:
        if reasons[s.id]:
            dropped_by_domain[by_id[s.prompt_id].domain][reasons[s.id]] += 1

    per_prompt: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        per_prompt[s.prompt_id].append(s)

    sft_rows, pref_rows = [], []
    for prompt in prompts:
        group = sorted(per_prompt.get(prompt.id, []), key=lambda s: s.index)
        messages = ctx.verifier(prompt.domain).messages(prompt)
        positives, seen = [], set()
        for s in group:
            if verdicts[s.id].correct and reasons[s.id] is None:
                if s.response in seen:
                    dropped["duplicate response"] += 1
                    dropped_by_domain[prompt.domain]["duplicate response"] += 1
                    continue
                seen.add(s.response)
                positives.append(s)
        for s in positives:
            sft_rows.append({"prompt_id": prompt.id, "domain": prompt.domain, "difficulty": prompt.difficulty,
                             "messages": messages + [{"role": "assistant", "content": s.response}]})
        negatives = _negatives([(s, verdicts[s.id]) for s in group if not verdicts[s.id].correct],
                               recipe.preference.negatives)
        for k in range(min(recipe.preference.pairs_per_prompt, len(negatives)) if positives else 0):
            chosen, rejected = positives[k % len(positives)], negatives[k]
            pref_rows.append({"prompt_id": prompt.id, "domain": prompt.domain, "prompt": messages,
                              "chosen": [{"role": "assistant", "content": chosen.response}],
                              "rejected": [{"role": "assistant", "content": rejected.response}]})
    online_rows = [{"prompt_id": p.id, "domain": p.domain, "prompt": ctx.verifier(p.domain).messages(p),
                    "reference": p.reference, "metadata": p.metadata} for p in prompts]
    # The rows' images (geo diagrams) are copied into the run directory, so it can be moved.
    localize_media(sft_rows + pref_rows + online_rows, run.root)
    write_table(sft_file, sft_rows)
    write_table(pref_file, pref_rows)
    write_table(online_file, online_rows)
    counts = {
        "sft_rows": len(sft_rows),
        "preference_pairs": len(pref_rows),
        "online_prompts": len(online_rows),
        "prompts_with_positive": len({r["prompt_id"] for r in sft_rows}),
        "dropped": dict(dropped),
        "by_domain": {
            domain: {
                "sft_rows": sum(r["domain"] == domain for r in sft_rows),
                "preference_pairs": sum(r["domain"] == domain for r in pref_rows),
                "online_prompts": sum(r["domain"] == domain for r in online_rows),
                "prompts_with_positive": len({r["prompt_id"] for r in sft_rows if r["domain"] == domain}),
                "dropped": dict(dropped_by_domain.get(domain, {})),
            }
            for domain in sorted({p.domain for p in prompts})
        },
    }
    return Outcome(counts, counts)


BUILD = Stage("build", "curate", _build, reads=("select", "sample", "verify"), keyed_on=("verify",),
              depends_on=lambda recipe: (recipe.cleaning, recipe.preference),
              outputs=("sft.jsonl", "preference.jsonl", "online.jsonl"),
              load=lambda ctx: ctx.run.stage("build")["counts"],
              funnel=(FunnelRow("prompts with a positive", "prompts_with_positive", "prompts"),
                      FunnelRow("SFT rows (correct and clean)", "sft_rows", "samples")), drops="cleaning")
