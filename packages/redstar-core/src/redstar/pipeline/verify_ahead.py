"""Judging samples while the teacher is still writing them (engines that can: Ray's).

On a cluster the sampler replicas hold the GPUs and verification needs CPUs, so both can run
at once: as each chunk of samples arrives, the sampling stage stores it and hands its
verification to the engine (:meth:`~redstar.execution.Engine.generate_verifying`), whose
verdicts land in ``.verdicts-ahead/part-NNNNNN/`` (one table per sample shard, rows as in
``verdicts/`` plus the key of the verifier settings that made them). The verify stage then takes
each verdict over into ``verdicts/`` (:func:`take_ahead`) when it judged the very text of the
sample under the very settings the stage runs with, judges the rest, and removes the folder.

The verdicts are staged, not written to ``verdicts/`` directly, because that folder belongs to
the verify stage: it is emptied whenever the stage's fingerprint changes, which includes the
first run of a stage. The staging folder is an output of the sampling stage: a new teacher
removes it with the samples.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from redstar.execution import GenerateJob, JobFeed, SamplerSpec, VerifyJob
from redstar.pipeline.run_tables import VERDICT_FIELDS, ShardBatch, response_digest, verdict_row
from redstar.records import Prompt, Sample, Verdict
from redstar.references import resolved
from redstar.tables import ShardedTable

#: The staging folder in a run directory.
AHEAD = ".verdicts-ahead"


def verifiers_key(ctx: Any) -> str:
    """What a verdict depends on besides the sample: the recipe's verifier options and the
    plugins' versions (the verify stage's own fingerprint, less the samples)."""
    settings = json.dumps([ctx.recipe.verifiers, ctx.plugin_versions()], sort_keys=True, default=str)
    return hashlib.sha256(settings.encode()).hexdigest()[:16]


def take_ahead(run_root: Path, shard: Path, samples: Iterable[Sample], key: str) -> list[tuple[Sample, Verdict]]:
    """The staged verdicts of ``samples`` (of sample shard ``shard``) that judged their very
    text under the settings ``key``."""
    folder = run_root / AHEAD / shard.name.split(".")[0]
    if not folder.is_dir():
        return []
    rows = {row["sample_id"]: row for row in ShardedTable(folder).rows() if row.get("verifiers") == key}
    found = []
    for sample in samples:
        row = rows.get(sample.id)
        if row is not None and row.get("response_sha256") == response_digest(sample.response):
            found.append((sample, Verdict.from_dict({k: row[k] for k in VERDICT_FIELDS})))
    return found


class _Staging:
    """The staging tables being written, one per sample shard."""

    def __init__(self, run_root: Path, key: str) -> None:
        self.root, self.key = run_root / AHEAD, key
        self.tables: dict[str, ShardedTable] = {}

    def write(self, batch: ShardBatch, verdicts: list[Verdict]) -> None:
        name = batch.shard.name.split(".")[0]
        if name not in self.tables:
            self.tables[name] = ShardedTable(self.root / name)
        self.tables[name].append({**verdict_row(s, v), "verifiers": self.key} for s, v in zip(batch, verdicts))

    def close(self) -> None:
        for table in self.tables.values():
            table.close()


def sample_and_verify(ctx: Any, spec: SamplerSpec, jobs: Iterable[GenerateJob], table: ShardedTable,
                      prompts: Mapping[str, Prompt],
                      store: Callable[[GenerateJob, Any], list[Sample]]) -> Iterator[list[Sample]]:
    """Run ``jobs`` on the run's engine, storing each chunk (``store`` appends it to the sample
    table ``table`` and returns its samples, which are yielded) and handing its verification
    to the engine at once, in batches of ``execution.verify_batch``; the verdicts go to the
    staging folder. Returns when every chunk is stored and every verdict staged."""
    feed = JobFeed()
    staging = _Staging(ctx.run.root, verifiers_key(ctx))
    batch = ctx.recipe.execution.verify_batch
    try:
        for kind, job, result in ctx.engine.generate_verifying(spec, jobs, feed):
            if kind == "verdict":
                staging.write(job.key, result)
                continue
            shard = table.root / f"{table.open_shard()}.jsonl"
            drawn = store(job, result)
            for start in range(0, len(drawn), batch):
                part = ShardBatch(shard, drawn[start:start + batch])
                feed.put(VerifyJob(key=part, items=[(s.response, resolved(prompts[s.prompt_id], ctx.run.root))
                                                    for s in part]))
            yield drawn
    finally:
        staging.close()
