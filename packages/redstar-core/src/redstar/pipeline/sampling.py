"""The sampling stage: the teacher writes responses for every selected prompt.

Samples are appended to ``samples.jsonl`` a chunk of prompts at a time, each identified by
``(prompt_id, index)``. On resume (after a crash or with more prompts selected) only the missing
indices are sampled, so no sample is lost or drawn twice. Harder prompts get more samples
(``sampling.n_by_level``), as in the paper.

Each sample is drawn with its own seed, derived from the run's seed and its ``(prompt_id,
index)`` (:func:`sample_seed`), and passed to the sampler as ``SamplingParams.seeds``: with a
sampler that honours it, a resumed run draws exactly what an uninterrupted one would have,
whatever chunks and batches the remaining work falls into.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from typing import Any

from redstar.models import resolve_model
from redstar.pipeline.context import RunContext
from redstar.pipeline.rundir import fingerprint
from redstar.recipe import Recipe
from redstar.records import Prompt, Sample
from redstar.selection import samples_for
from redstar.tables import JsonlAppender


def sampling_fingerprint(recipe: Recipe) -> str:
    cfg = {k: v for k, v in recipe.sampling.to_dict().items() if k != "chunk_size"}
    # Samples depend on the teacher, how it is sampled, and how prompts are rendered (verifier
    # instructions live in plugins, hence their versions via the caller).
    return fingerprint("sample", recipe.models.teacher, cfg, recipe.seed)


def sample_seed(run_seed: int, prompt_id: str, index: int) -> int:
    """The seed of sample ``index`` of prompt ``prompt_id``: a stable hash (not Python's salted
    ``hash``), the same on every machine and in every process, below ``2**63``."""
    key = f"redstar-sample\0{run_seed}\0{prompt_id}\0{index}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") >> 1


def sample_stage(ctx: RunContext, prompts: list[Prompt]) -> tuple[str, list[Sample]]:
    recipe, run = ctx.recipe, ctx.run
    cfg = recipe.sampling
    out = run.path("samples.jsonl")
    fp = fingerprint(sampling_fingerprint(recipe), ctx.plugin_versions())
    # Same fingerprint: keep what is there and sample only what is missing (resume, or more
    # prompts selected). Different teacher or sampling settings: start over.
    run.begin("sample", fp, [out])

    with JsonlAppender(out) as table:
        have: dict[str, set[int]] = defaultdict(set)
        for row in table.rows:
            have[row["prompt_id"]].add(row["index"])
        domains = recipe.selection.domains
        wanted = {p.id: samples_for(p, cfg.n, cfg.n_by_level, domains) for p in prompts}
        todo = [p for p in prompts if len(have[p.id]) < wanted[p.id]]
        total = sum(wanted.values())
        done = total - sum(wanted[p.id] - len(have[p.id]) for p in todo)
        if todo:
            sampler = ctx.build("samplers", cfg.backend, cfg.options, "sampling",
                                model=resolve_model(recipe.models.teacher))
            try:
                with ctx.board.task("sampling teacher", total) as update:
                    update(done)
                    if hasattr(sampler, "on_progress"):
                        # finer-grained than a chunk: backends report completions as they finish
                        sampler.on_progress = lambda finished, _total: update(done + finished)
                    for start in range(0, len(todo), cfg.chunk_size):
                        chunk = todo[start:start + cfg.chunk_size]
                        rows = _sample_chunk(ctx, sampler, chunk, have, wanted, run_seed=recipe.seed)
                        table.append(rows)
                        done += len(rows)
                        update(done)
            finally:
                sampler.close()
        selected = {p.id for p in prompts}
        samples = [Sample.from_dict(r) for r in table.rows if r["prompt_id"] in selected
                   and r["index"] < wanted[r["prompt_id"]]]
    truncated = sum(s.truncated for s in samples)
    domain_of = {p.id: p.domain for p in prompts}
    by_domain: dict[str, dict[str, int]] = {}
    for s in samples:
        counts = by_domain.setdefault(domain_of[s.prompt_id], {"samples": 0, "truncated": 0})
        counts["samples"] += 1
        counts["truncated"] += int(s.truncated)
    run.finish("sample", {"samples": len(samples), "prompts": len(prompts), "truncated": truncated,
                          "by_domain": by_domain})
    return fp, samples


def _sample_chunk(ctx: RunContext, sampler: Any, chunk: list[Prompt], have: dict[str, set[int]],
                  wanted: dict[str, int], run_seed: int) -> list[dict[str, Any]]:
    cfg = ctx.recipe.sampling
    by_need: dict[int, list[Prompt]] = defaultdict(list)
    for p in chunk:
        by_need[wanted[p.id] - len(have[p.id])].append(p)
    rows = []
    for need, group in sorted(by_need.items()):
        free = {p.id: [i for i in range(wanted[p.id]) if i not in have[p.id]] for p in group}
        seeds = tuple(tuple(sample_seed(run_seed, p.id, i) for i in free[p.id]) for p in group)
        # ``seed`` is for samplers that cannot honour ``seeds``: tied to the group's first sample
        # rather than to its position in this attempt's to-do list.
        params = cfg.params(n=need, seed=seeds[0][0], seeds=seeds)
        conversations = [ctx.verifier(p.domain).messages(p) for p in group]
        completions = sampler.generate(conversations, params)
        for prompt, outs in zip(group, completions):
            for completion, index in zip(outs, free[prompt.id]):
                have[prompt.id].add(index)
                rows.append(Sample(prompt_id=prompt.id, index=index, response=completion.text,
                                   model=ctx.recipe.models.teacher,
                                   params={"temperature": params.temperature, "top_p": params.top_p,
                                           "max_new_tokens": params.max_new_tokens},
                                   finish_reason=completion.finish_reason).to_dict())
    return rows
