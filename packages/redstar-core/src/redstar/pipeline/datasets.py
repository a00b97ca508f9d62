"""Cleaning and dataset building: positives become the SFT set, positive/negative pairs of the
same prompt become the preference set, and the selected prompts become the online-RL prompt set.

Every dropped sample is counted under its first reason: ``truncated``, a filter's reason
(``repetition``, ``language mixing``...), or ``no valid answer`` (the verifier's reward -1).
"""

from __future__ import annotations

import hashlib
import shutil
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from redstar.execution import CleanJob, FilterSpec
from redstar.execution.base import first_reason
from redstar.media import localize_media
from redstar.pipeline.context import RunContext
from redstar.pipeline.run_tables import JudgedSamples, SampleSet
from redstar.pipeline.stage import FunnelRow, Outcome, Stage
from redstar.recipe import Cleaning
from redstar.records import Prompt, Sample, Verdict
from redstar.references import fetch
from redstar.tables import dumps_line, iter_jsonl, streamed_table, write_table

#: Bytes of samples (uncompressed) per partition: what the build holds at once (about twice
#: this as Python objects; measured in docs/benchmarks.md, "Run tables at scale").
PARTITION_BYTES = 128 << 20


#: Samples per cleaning job (a Ray task each on the ray engine).
CLEAN_BATCH = 128


def _early_reason(cfg: Cleaning, sample: Sample, verdict: Verdict) -> str | None:
    """The reasons that come before the filters' (and need no filter to find)."""
    if cfg.drop_truncated and sample.truncated:
        return "truncated"
    if verdict.reward == -1:
        return "no valid answer"
    return None


def drop_reason(cfg: Cleaning, filters: list[Any], sample: Sample, verdict: Verdict, prompt: Prompt) -> str | None:
    """Why cleaning drops ``sample`` (its first reason), or None when it is kept."""
    return _early_reason(cfg, sample, verdict) or first_reason(filters, sample.response, prompt)


def _negatives(candidates: list[dict[str, Any]], policy: str) -> list[dict[str, Any]]:
    wrong = [s for s in candidates if s["reward"] == 0]
    invalid = [s for s in candidates if s["reward"] == -1]
    if policy == "wrong_only":
        return wrong
    if policy == "wrong_first":
        return wrong + invalid
    return candidates


def _partitions(samples: SampleSet) -> int:
    """How many partitions the build groups samples into, so one fits in memory: from the
    sample shards' uncompressed size (1 for any run a laptop makes)."""
    import pyarrow.parquet as pq

    size = 0
    for shard in samples.shards():
        if shard.suffix == ".parquet":
            meta = pq.ParquetFile(shard).metadata
            size += sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        else:
            size += shard.stat().st_size
    return max(1, -(-size // PARTITION_BYTES))


def _partition_of(prompt_id: str, partitions: int) -> int:
    return int(hashlib.sha256(prompt_id.encode()).hexdigest()[:8], 16) % partitions


def _build(ctx: RunContext, inputs: Mapping[str, Any]) -> Outcome:
    """Clean every sample (shard by shard; the filters run on the engine, as tasks on a Ray
    cluster), spread them over partitions by prompt (a hash, so all samples of a prompt meet
    in one), then build each partition's SFT and preference rows with its prompts in selection
    order. Memory: one shard and the batches in flight, then one partition, at a time."""
    recipe, run = ctx.recipe, ctx.run
    cfg = recipe.cleaning
    prompts: list[Prompt] = inputs["select"]
    judged: JudgedSamples = inputs["verify"]
    by_id = {p.id: p for p in prompts}
    filters: FilterSpec = tuple((f.name, dict(f.options)) for f in cfg.filters)
    dropped: Counter = Counter()
    dropped_by_domain: dict[str, Counter] = defaultdict(Counter)
    partitions = _partitions(judged.samples)
    scratch = run.root / ".build-partitions"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    total = sum(judged.samples.wanted.values())
    try:
        handles = [(scratch / f"{i:05d}.jsonl").open("w", encoding="utf-8") for i in range(partitions)]

        def keep(s: Sample, v: Verdict, reason: str | None) -> None:
            domain = by_id[s.prompt_id].domain
            if reason:
                dropped[reason] += 1
                dropped_by_domain[domain][reason] += 1
            if v.correct and reason is None or not v.correct:
                row = {"prompt_id": s.prompt_id, "index": s.index, "response": s.response,
                       "correct": v.correct, "reward": v.reward, "clean": reason is None}
                handles[_partition_of(s.prompt_id, partitions)].write(dumps_line(row))

        with ctx.board.task("cleaning", total) as update:
            seen = 0

            def jobs() -> Iterator[CleanJob]:
                nonlocal seen
                for pairs in judged.by_shard():
                    todo = []
                    for s, v in pairs:
                        early = _early_reason(cfg, s, v)
                        if early is not None or not filters:
                            keep(s, v, early)
                        else:
                            todo.append((s, v))
                    seen += len(pairs) - len(todo)
                    update(seen)
                    for start in range(0, len(todo), CLEAN_BATCH):
                        part = todo[start:start + CLEAN_BATCH]
                        yield CleanJob(key=part, items=[(s.response, by_id[s.prompt_id]) for s, _ in part])

            for job, reasons in ctx.engine.clean(filters, jobs()):
                for (s, v), reason in zip(job.key, reasons):
                    keep(s, v, reason)
                seen += len(job.key)
                update(seen)
        for handle in handles:
            handle.close()
        counts = _write_sets(ctx, prompts, scratch, partitions, dropped, dropped_by_domain)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return Outcome(counts, counts)


def _write_sets(ctx: RunContext, prompts: list[Prompt], scratch: Path, partitions: int, dropped: Counter,
                dropped_by_domain: dict[str, Counter]) -> dict[str, Any]:
    recipe, run = ctx.recipe, ctx.run
    tally: dict[str, Counter] = defaultdict(Counter)
    with_positive: dict[str, set[str]] = defaultdict(set)
    with streamed_table(run.path("sft.jsonl")) as write_sft, streamed_table(run.path("preference.jsonl")) as write_pref:
        for part in range(partitions):
            groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for _, row in iter_jsonl(scratch / f"{part:05d}.jsonl"):
                groups[row["prompt_id"]].append(row)
            for prompt in prompts:
                if prompt.id not in groups:
                    continue
                group = sorted(groups.pop(prompt.id), key=lambda r: r["index"])
                messages = ctx.verifier(prompt.domain).messages(prompt)
                positives, seen = [], set()
                for r in group:
                    if r["correct"] and r["clean"]:
                        if r["response"] in seen:
                            dropped["duplicate response"] += 1
                            dropped_by_domain[prompt.domain]["duplicate response"] += 1
                            continue
                        seen.add(r["response"])
                        positives.append(r)
                sft_rows = [{"prompt_id": prompt.id, "domain": prompt.domain, "difficulty": prompt.difficulty,
                             "messages": messages + [{"role": "assistant", "content": r["response"]}]} for r in positives]
                negatives = _negatives([r for r in group if not r["correct"]], recipe.preference.negatives)
                pref_rows = []
                for k in range(min(recipe.preference.pairs_per_prompt, len(negatives)) if positives else 0):
                    chosen, rejected = positives[k % len(positives)], negatives[k]
                    pref_rows.append({"prompt_id": prompt.id, "domain": prompt.domain, "prompt": messages,
                                      "chosen": [{"role": "assistant", "content": chosen["response"]}],
                                      "rejected": [{"role": "assistant", "content": rejected["response"]}]})
                # The rows' images (geo diagrams) are copied into the run directory, so it can be moved.
                localize_media(sft_rows + pref_rows, run.root)
                write_sft(sft_rows)
                write_pref(pref_rows)
                tally[prompt.domain]["sft_rows"] += len(sft_rows)
                tally[prompt.domain]["preference_pairs"] += len(pref_rows)
                if sft_rows:
                    with_positive[prompt.domain].add(prompt.id)
    online_rows = [{"prompt_id": p.id, "domain": p.domain, "prompt": ctx.verifier(p.domain).messages(p),
                    "reference": fetch(p.reference, run.root), "metadata": p.metadata} for p in prompts]
    localize_media(online_rows, run.root)
    write_table(run.path("online.jsonl"), online_rows)
    for p in prompts:
        tally[p.domain]["online_prompts"] += 1
    return {
        "sft_rows": sum(t["sft_rows"] for t in tally.values()),
        "preference_pairs": sum(t["preference_pairs"] for t in tally.values()),
        "online_prompts": len(online_rows),
        "prompts_with_positive": sum(len(ids) for ids in with_positive.values()),
        "dropped": dict(dropped),
        "by_domain": {
            domain: {
                "sft_rows": tally[domain]["sft_rows"],
                "preference_pairs": tally[domain]["preference_pairs"],
                "online_prompts": tally[domain]["online_prompts"],
                "prompts_with_positive": len(with_positive[domain]),
                "dropped": dict(dropped_by_domain.get(domain, {})),
            }
            for domain in sorted({p.domain for p in prompts})
        },
    }


# Keyed on the selection too: verification is keyed on the samples alone, and the sets are built
# from the selected prompts' samples.
BUILD = Stage("build", "curate", _build, reads=("select", "sample", "verify"), keyed_on=("select", "verify"),
              depends_on=lambda recipe: (recipe.cleaning, recipe.preference),
              outputs=("sft.jsonl", "preference.jsonl", "online.jsonl"),
              load=lambda ctx: ctx.run.stage("build")["counts"],
              funnel=(FunnelRow("prompts with a positive", "prompts_with_positive", "prompts"),
                      FunnelRow("SFT rows (correct and clean)", "sft_rows", "samples")), drops="cleaning")
