"""The sampling stage: the teacher writes responses for every selected prompt.

Samples are appended to the sharded table ``samples/`` as each sampler call returns, each identified by
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
from collections.abc import Iterator, Mapping
from typing import Any

from redstar.execution import GenerateJob, SamplerSpec
from redstar.faults import check_completions
from redstar.interfaces import SamplingParams
from redstar.models import resolve_model
from redstar.pipeline.context import RunContext
from redstar.pipeline.run_tables import SAMPLES, SampleSet, adopt_legacy_tables
from redstar.pipeline.stage import FunnelRow, Outcome, Stage
from redstar.pipeline.verify_ahead import AHEAD, sample_and_verify
from redstar.recipe import Recipe, Sampling
from redstar.records import Prompt, Sample
from redstar.samplers.diversity import check_samples_differ
from redstar.samplers.interrupted import SamplingInterrupted
from redstar.selection import samples_for
from redstar.tables import ShardedTable, read_shard


def _depends_on(recipe: Recipe) -> Any:
    # Samples depend on the teacher and how it is sampled (not on how many prompts are selected:
    # more prompts, or more samples per prompt, are drawn on top of what is there), and on how
    # prompts are rendered (verifier instructions live in plugins, hence the plugin versions).
    return recipe.models.teacher, {k: v for k, v in recipe.sampling.to_dict().items() if k != "chunk_size"}, recipe.seed


#: What makes a sample another sample: how many are wanted (``n``, ``n_by_level``) does not (more
#: are drawn on top, fewer leave the rest unused), so changing it keeps every sample drawn.
PER_PROMPT = ("n", "n_by_level", "chunk_size")


def rows_depend_on(recipe: Recipe) -> Any:
    """What the samples already drawn depend on: the teacher, how it is sampled and the seed."""
    return recipe.models.teacher, {k: v for k, v in recipe.sampling.to_dict().items() if k not in PER_PROMPT}, recipe.seed


#: Responses asked of one sampler call at most: ``chunk_size`` prompts x ``n`` would otherwise
#: grow with ``n`` (held until the call returns; a vLLM batch is sized by the engine anyway).
MAX_CALL_SAMPLES = 1024


def sample_seed(run_seed: int, prompt_id: str, index: int) -> int:
    """The seed of sample ``index`` of prompt ``prompt_id``: a stable hash (not Python's salted
    ``hash``), the same on every machine and in every process, below ``2**63``."""
    key = f"redstar-sample\0{run_seed}\0{prompt_id}\0{index}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") >> 1


def _drawn(table: ShardedTable, wanted: dict[str, int]) -> dict[str, int]:
    """Which indices of each selected prompt are in the table, as a bit mask per prompt: held per
    prompt, not per sample, so resuming a run of millions of samples stays small."""
    have: dict[str, int] = defaultdict(int)
    for row in table.rows(columns=("prompt_id", "index")):
        if row["prompt_id"] in wanted:
            have[row["prompt_id"]] |= 1 << row["index"]
    return have


def _missing(have: int, wanted: int) -> list[int]:
    return [i for i in range(wanted) if not have >> i & 1]


def _sample(ctx: RunContext, inputs: Mapping[str, Any]) -> Outcome:
    recipe = ctx.recipe
    cfg = recipe.sampling
    prompts: list[Prompt] = inputs["select"]
    teacher = recipe.models.teacher
    wanted = {p.id: samples_for(p, cfg.n, cfg.n_by_level, recipe.selection.domains) for p in prompts}
    moved = adopt_legacy_tables(ctx.run.root)
    if moved:
        ctx.log(f"moved {moved} samples of this run's samples.jsonl (made before tables were sharded) into samples/")
    with ShardedTable(ctx.run.path(SAMPLES)) as table:
        have = _drawn(table, wanted)
        todo = [p for p in prompts if _missing(have[p.id], wanted[p.id])]
        total = sum(wanted.values())
        done = total - sum(len(_missing(have[p.id], wanted[p.id])) for p in todo)
        if todo:
            spec = SamplerSpec(cfg.backend, resolve_model(teacher), cfg.options, "sampling")
            backend = ctx.host.get("samplers", cfg.backend)
            engine = ctx.engine
            with ctx.board.task("sampling teacher", total) as update:
                update(done)
                # finer-grained than a job where the engine can (the local one reports its
                # sampler's completions as they finish)
                engine.on_progress = lambda finished, _total: update(done + finished)
                jobs = _jobs(ctx, cfg, todo, have, wanted, recipe.seed)

                def store(job: GenerateJob, completions: Any) -> list[Sample]:
                    # What the backend returned, checked before anything is stored: a sampler's
                    # mistake is named as its own (redstar.faults), and copies at temperature
                    # > 0 stop the run.
                    check_completions(backend, completions, len(job.conversations), job.params.n)
                    check_samples_differ(completions, job.params, f"the {cfg.backend!r} sampler (teacher {teacher})")
                    rows = _rows(job.key, completions, teacher, job.params)
                    table.append(rows)
                    return [Sample.from_dict(row) for row in rows]

                if engine.overlaps and recipe.execution.verify_during_sampling:
                    # verification runs on the cluster's free CPUs meanwhile (verify_ahead.py)
                    drawn = sample_and_verify(ctx, spec, jobs, table, {p.id: p for p in todo}, store)
                else:
                    drawn = (store(job, completions) for job, completions in engine.generate(spec, jobs))
                try:
                    for stored in drawn:
                        done += len(stored)
                        update(done)
                except SamplingInterrupted as stop:
                    # Ctrl-C: keep every completion that arrived; each has its own seed, so the
                    # resumed run asks for exactly the missing ones.
                    cut: GenerateJob | None = getattr(stop, "job", None)
                    if cut is not None:
                        table.append(_rows(cut.key, stop.completions, teacher, cut.params))
                    raise
                finally:
                    engine.on_progress = None
        # Sealed shards never change, so verification can key its verdicts on them.
        table.seal()
    return Outcome(SampleSet(ctx.run.root, wanted), _counts(SampleSet(ctx.run.root, wanted), prompts))


def _counts(samples: SampleSet, prompts: list[Prompt]) -> dict[str, Any]:
    domain_of = {p.id: p.domain for p in prompts}
    by_domain: dict[str, dict[str, int]] = {}
    for shard in samples.shards():
        for row in read_shard(shard, columns=("prompt_id", "index", "finish_reason")):
            if row["index"] >= samples.wanted.get(row["prompt_id"], 0):
                continue
            counts = by_domain.setdefault(domain_of[row["prompt_id"]], {"samples": 0, "truncated": 0})
            counts["samples"] += 1
            counts["truncated"] += int(row["finish_reason"] == "length")
    return {"samples": sum(c["samples"] for c in by_domain.values()), "prompts": len(prompts),
            "truncated": sum(c["truncated"] for c in by_domain.values()), "by_domain": by_domain}


#: Incremental (no ``load``): it always runs, keeping the samples already in ``samples/`` and
#: drawing only the missing ``(prompt_id, index)``; a changed teacher, sampling setting or seed
#: sets the samples there aside (``set-aside/``) and starts over.
SAMPLE = Stage("sample", "curate", _sample, reads=("select",), keyed_on=(), depends_on=_depends_on,
               # samples.jsonl: the table of runs made before sharding, which a resumed run moves
               # into samples/ (and a changed recipe removes, like samples/ itself)
               # .verdicts-ahead: verdicts made while sampling (the Ray engine), for the verify stage
               outputs=(SAMPLES, "samples.jsonl", AHEAD), funnel=(FunnelRow("samples drawn", "samples", "samples"),),
               rows_depend_on=rows_depend_on)


def _jobs(ctx: RunContext, cfg: Sampling, todo: list[Prompt], have: dict[str, int], wanted: dict[str, int],
          run_seed: int) -> Iterator[GenerateJob]:
    """The sampler calls that draw every missing sample of ``todo``: ``chunk_size`` prompts at a
    time, grouped by how many samples each still needs (one call asks the same ``n`` of all its
    conversations). Made lazily, so a run of millions of prompts never holds them all."""
    for start in range(0, len(todo), cfg.chunk_size):
        by_need: dict[int, list[Prompt]] = defaultdict(list)
        for p in todo[start:start + cfg.chunk_size]:
            by_need[len(_missing(have[p.id], wanted[p.id]))].append(p)
        for need, same_need in sorted(by_need.items()):
            # At most MAX_CALL_SAMPLES responses per call (at least one prompt's): a call's
            # responses are held until it returns, and n can be in the hundreds.
            step = max(1, MAX_CALL_SAMPLES // need)
            for part in range(0, len(same_need), step):
                yield _job(ctx, cfg, same_need[part:part + step], need, have, wanted, run_seed)


def _job(ctx: RunContext, cfg: Sampling, group: list[Prompt], need: int, have: dict[str, int],
         wanted: dict[str, int], run_seed: int) -> GenerateJob:
    """One call: ``need`` samples of each prompt of ``group``, each with its own seed."""
    free = [_missing(have[p.id], wanted[p.id]) for p in group]
    seeds = tuple(tuple(sample_seed(run_seed, p.id, i) for i in indices) for p, indices in zip(group, free))
    # ``seed`` is for samplers that cannot honour ``seeds``: tied to the group's first sample
    # rather than to its position in this attempt's to-do list.
    params = cfg.params(n=need, seed=seeds[0][0], seeds=seeds)
    conversations = [ctx.verifier(p.domain).messages(p) for p in group]
    return GenerateJob(key=list(zip(group, free)), conversations=conversations, params=params)


def _rows(drawn: list[tuple[Prompt, list[int]]], completions: Any, teacher: str,
          params: SamplingParams) -> list[dict[str, Any]]:
    rows = []
    for (prompt, indices), outs in zip(drawn, completions):
        for completion, index in zip(outs, indices):
            if completion is None:  # had not arrived when Ctrl-C stopped the call
                continue
            rows.append(Sample(prompt_id=prompt.id, index=index, response=completion.text, model=teacher,
                               params={"temperature": params.temperature, "top_p": params.top_p,
                                       "max_new_tokens": params.max_new_tokens},
                               finish_reason=completion.finish_reason).to_dict())
    return rows
