"""Cleaning and dataset building: positives become the SFT set, positive/negative pairs of the
same prompt become the preference set, and the selected prompts become the online-RL prompt set.
Cleaning and building run on the run's engine (Ray tasks on a cluster); the driver routes
samples to partitions and joins the partitions' sets.

Every dropped sample is counted under its first reason: ``truncated``, a filter's reason
(``repetition``, ``language mixing``...), or ``no valid answer`` (the verifier's reward -1).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from redstar.execution import BuildJob, CleanJob, FilterSpec
from redstar.execution.base import first_reason
from redstar.media import localize_media
from redstar.pipeline.context import RunContext
from redstar.pipeline.run_tables import JudgedSamples, SampleSet
from redstar.pipeline.set_building import DUPLICATE
from redstar.pipeline.stage import FunnelRow, Outcome, Stage
from redstar.recipe import Cleaning
from redstar.records import Prompt, Sample, Verdict
from redstar.references import fetch
from redstar.tables import dumps_line, streamed_table

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
    order, also on the engine (:mod:`redstar.pipeline.set_building`). The driver's memory: one
    shard and the cleaning batches in flight, then the messages of the partitions in flight;
    a partition's samples are read where it is built (this process on the local engine, which
    builds one at a time)."""
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
    """Build each partition's SFT rows and preference pairs on the engine (a Ray task per
    partition on a cluster), then join the partitions' files in partition order into
    ``sft.jsonl`` and ``preference.jsonl``. The driver holds the prompts' messages of the
    partitions in flight, never their samples."""
    recipe, run = ctx.recipe, ctx.run
    by_partition: list[list[Prompt]] = [[] for _ in range(partitions)]
    for prompt in prompts:
        by_partition[_partition_of(prompt.id, partitions)].append(prompt)

    def jobs() -> Iterator[BuildJob]:
        for part, members in enumerate(by_partition):
            entries = []
            for prompt in members:
                messages = ctx.verifier(prompt.domain).messages(prompt)
                # The rows' images (geo diagrams) are copied into the run directory, so it can be moved.
                localize_media([{"messages": messages}], run.root)
                entries.append((prompt.id, prompt.domain, prompt.difficulty, messages))
            yield BuildJob(key=part, prompts=entries, rows=scratch / f"{part:05d}.jsonl",
                           sft=scratch / f"{part:05d}.sft.jsonl", preference=scratch / f"{part:05d}.preference.jsonl")

    tally: dict[str, Counter] = defaultdict(Counter)
    duplicates: dict[int, dict[str, int]] = {}
    options = {"pairs_per_prompt": recipe.preference.pairs_per_prompt, "negatives": recipe.preference.negatives}
    with ctx.board.task("building sets", partitions) as update:
        for job, counts in ctx.engine.build(options, jobs()):
            for domain, got in counts.items():
                for key in ("sft_rows", "preference_pairs", "prompts_with_positive"):
                    tally[domain][key] += got[key]
            duplicates[job.key] = {domain: got[DUPLICATE] for domain, got in counts.items() if got[DUPLICATE]}
            update(len(duplicates))
    # In partition order, as one pass over the partitions would have counted them.
    for part in range(partitions):
        for domain, count in duplicates[part].items():
            dropped[DUPLICATE] += count
            dropped_by_domain[domain][DUPLICATE] += count
    _join([scratch / f"{part:05d}.sft.jsonl" for part in range(partitions)], run.path("sft.jsonl"))
    _join([scratch / f"{part:05d}.preference.jsonl" for part in range(partitions)], run.path("preference.jsonl"))
    _write_online(ctx, prompts)
    for p in prompts:
        tally[p.domain]["online_prompts"] += 1
    return {
        "sft_rows": sum(t["sft_rows"] for t in tally.values()),
        "preference_pairs": sum(t["preference_pairs"] for t in tally.values()),
        "online_prompts": len(prompts),
        "prompts_with_positive": sum(t["prompts_with_positive"] for t in tally.values()),
        "dropped": dict(dropped),
        "by_domain": {
            domain: {
                "sft_rows": tally[domain]["sft_rows"],
                "preference_pairs": tally[domain]["preference_pairs"],
                "online_prompts": tally[domain]["online_prompts"],
                "prompts_with_positive": tally[domain]["prompts_with_positive"],
                "dropped": dict(dropped_by_domain.get(domain, {})),
            }
            for domain in sorted({p.domain for p in prompts})
        },
    }


#: Prompts per write of ``online.jsonl``: their references (code's tests, fetched from the run's
#: store) are held only for one such batch.
ONLINE_BATCH = 512


def _write_online(ctx: RunContext, prompts: list[Prompt]) -> None:
    """``online.jsonl``: every selected prompt, with its messages and whole reference, for online
    RL, written a batch at a time."""
    run = ctx.run
    with streamed_table(run.path("online.jsonl")) as write:
        for start in range(0, len(prompts), ONLINE_BATCH):
            rows = [{"prompt_id": p.id, "domain": p.domain, "prompt": ctx.verifier(p.domain).messages(p),
                     "reference": fetch(p.reference, run.root), "metadata": p.metadata}
                    for p in prompts[start:start + ONLINE_BATCH]]
            localize_media(rows, run.root)
            write(rows)


def _join(parts: list[Path], target: Path) -> None:
    """``parts`` one after another as ``target``, atomically: a temporary file beside it, then
    ``os.replace`` (a reader sees the old file or the whole new one)."""
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        with tmp.open("wb") as out:
            for part in parts:
                with part.open("rb") as handle:
                    shutil.copyfileobj(handle, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


# Keyed on the selection too: verification is keyed on the samples alone, and the sets are built
# from the selected prompts' samples.
BUILD = Stage("build", "curate", _build, reads=("select", "sample", "verify"), keyed_on=("select", "verify"),
              depends_on=lambda recipe: (recipe.cleaning, recipe.preference),
              outputs=("sft.jsonl", "preference.jsonl", "online.jsonl"),
              load=lambda ctx: ctx.run.stage("build")["counts"],
              funnel=(FunnelRow("prompts with a positive", "prompts_with_positive", "prompts"),
                      FunnelRow("SFT rows (correct and clean)", "sft_rows", "samples")), drops="cleaning")
