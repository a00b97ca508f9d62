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
from collections.abc import Mapping
from typing import Any

from redstar.interfaces import Sampler, SamplingParams
from redstar.models import resolve_model
from redstar.pipeline.context import RunContext
from redstar.pipeline.stage import FunnelRow, Outcome, Stage
from redstar.recipe import Recipe, Sampling
from redstar.records import Prompt, Sample
from redstar.samplers.diversity import check_samples_differ
from redstar.samplers.interrupted import SamplingInterrupted
from redstar.selection import samples_for
from redstar.tables import JsonlAppender


def _depends_on(recipe: Recipe) -> Any:
    # Samples depend on the teacher and how it is sampled (not on how many prompts are selected:
    # more prompts, or more samples per prompt, are drawn on top of what is there), and on how
    # prompts are rendered (verifier instructions live in plugins, hence the plugin versions).
    return recipe.models.teacher, {k: v for k, v in recipe.sampling.to_dict().items() if k != "chunk_size"}, recipe.seed


def sample_seed(run_seed: int, prompt_id: str, index: int) -> int:
    """The seed of sample ``index`` of prompt ``prompt_id``: a stable hash (not Python's salted
    ``hash``), the same on every machine and in every process, below ``2**63``."""
    key = f"redstar-sample\0{run_seed}\0{prompt_id}\0{index}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") >> 1


def _sample(ctx: RunContext, inputs: Mapping[str, Any]) -> Outcome:
    recipe = ctx.recipe
    cfg = recipe.sampling
    prompts: list[Prompt] = inputs["select"]
    teacher = recipe.models.teacher
    with JsonlAppender(ctx.run.path("samples.jsonl")) as table:
        have: dict[str, set[int]] = defaultdict(set)
        for row in table.rows:
            have[row["prompt_id"]].add(row["index"])
        wanted = {p.id: samples_for(p, cfg.n, cfg.n_by_level, recipe.selection.domains) for p in prompts}
        todo = [p for p in prompts if len(have[p.id]) < wanted[p.id]]
        total = sum(wanted.values())
        done = total - sum(wanted[p.id] - len(have[p.id]) for p in todo)
        if todo:
            sampler = ctx.build("samplers", cfg.backend, cfg.options, "sampling", model=resolve_model(teacher))
            try:
                with ctx.board.task("sampling teacher", total) as update:
                    update(done)
                    # finer-grained than a chunk: backends report completions as they finish
                    sampler.on_progress = lambda finished, _total: update(done + finished)
                    for start in range(0, len(todo), cfg.chunk_size):
                        chunk = todo[start:start + cfg.chunk_size]
                        done += _sample_chunk(ctx, cfg, teacher, sampler, chunk, have, wanted,
                                              run_seed=recipe.seed, table=table)
                        update(done)
            finally:
                sampler.close()
        selected = {p.id for p in prompts}
        samples = [Sample.from_dict(r) for r in table.rows if r["prompt_id"] in selected
                   and r["index"] < wanted[r["prompt_id"]]]
    domain_of = {p.id: p.domain for p in prompts}
    by_domain: dict[str, dict[str, int]] = {}
    for s in samples:
        counts = by_domain.setdefault(domain_of[s.prompt_id], {"samples": 0, "truncated": 0})
        counts["samples"] += 1
        counts["truncated"] += int(s.truncated)
    return Outcome(samples, {"samples": len(samples), "prompts": len(prompts),
                             "truncated": sum(s.truncated for s in samples), "by_domain": by_domain})


#: Incremental (no ``load``): it always runs, keeping the samples already in ``samples.jsonl``
#: and drawing only the missing ``(prompt_id, index)``; a changed teacher or sampling setting
#: starts over.
SAMPLE = Stage("sample", "curate", _sample, reads=("select",), keyed_on=(), depends_on=_depends_on,
               outputs=("samples.jsonl",), funnel=(FunnelRow("samples drawn", "samples", "samples"),))


def _sample_chunk(ctx: RunContext, cfg: Sampling, teacher: str, sampler: Sampler, chunk: list[Prompt],
                  have: dict[str, set[int]], wanted: dict[str, int], run_seed: int, table: JsonlAppender) -> int:
    """Draw ``chunk``'s missing samples, appending them to ``table`` after each sampler call;
    returns how many were written. On Ctrl-C the completions that arrived are written first."""
    by_need: dict[int, list[Prompt]] = defaultdict(list)
    for p in chunk:
        by_need[wanted[p.id] - len(have[p.id])].append(p)
    written = 0
    for need, group in sorted(by_need.items()):
        free = {p.id: [i for i in range(wanted[p.id]) if i not in have[p.id]] for p in group}
        seeds = tuple(tuple(sample_seed(run_seed, p.id, i) for i in free[p.id]) for p in group)
        # ``seed`` is for samplers that cannot honour ``seeds``: tied to the group's first sample
        # rather than to its position in this attempt's to-do list.
        params = cfg.params(n=need, seed=seeds[0][0], seeds=seeds)
        conversations = [ctx.verifier(p.domain).messages(p) for p in group]
        try:
            completions = sampler.generate(conversations, params)
        except SamplingInterrupted as stop:
            # Ctrl-C: keep every completion that arrived; each has its own seed, so the resumed
            # run asks for exactly the missing ones.
            table.append(_rows(group, stop.completions, free, have, teacher, params))
            raise
        # A backend that returns copies at temperature > 0 stops the run before they are stored.
        check_samples_differ(completions, params, f"the {cfg.backend!r} sampler (teacher {teacher})")
        rows = _rows(group, completions, free, have, teacher, params)
        table.append(rows)
        written += len(rows)
    return written


def _rows(group: list[Prompt], completions: Any, free: dict[str, list[int]], have: dict[str, set[int]],
          teacher: str, params: SamplingParams) -> list[dict[str, Any]]:
    rows = []
    for prompt, outs in zip(group, completions):
        for completion, index in zip(outs, free[prompt.id]):
            if completion is None:  # had not arrived when Ctrl-C stopped the call
                continue
            have[prompt.id].add(index)
            rows.append(Sample(prompt_id=prompt.id, index=index, response=completion.text, model=teacher,
                               params={"temperature": params.temperature, "top_p": params.top_p,
                                       "max_new_tokens": params.max_new_tokens},
                               finish_reason=completion.finish_reason).to_dict())
    return rows
