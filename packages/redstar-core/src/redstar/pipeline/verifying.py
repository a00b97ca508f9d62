"""The verification stage: each sample is judged by its domain's verifier.

The verdicts of sample shard ``part-000007`` are appended to ``verdicts/part-000007/`` keyed by
sample id, with a digest of the response text they judged, so a resumed run verifies only
samples it has not judged yet, and a verdict is reused only for the very text it judged (a
sample redrawn under the same id is judged again). The judging runs on the run's engine
(``execution``: this process, or Ray tasks across a cluster) as one stream of batches over
every shard: the engine is never left waiting at the end of a shard for its slowest batch, and
the stage holds one shard of samples (the one being cut into batches) plus the batches in
flight. On the Ray engine most verdicts were already made while sampling went on
(:mod:`redstar.pipeline.verify_ahead`): they are taken over here, not judged again.

Cleaning is applied later, when the datasets are built, so that changing a cleaning threshold
does not re-run verification (which for code means re-running programs).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from redstar.execution import VerifyJob
from redstar.pipeline.context import RunContext
from redstar.pipeline.run_tables import (
    VERDICTS,
    JudgedSamples,
    SampleSet,
    ShardBatch,
    response_digest,
    verdict_row,
    verdict_table,
    verdicts_of,
)
from redstar.pipeline.sampling import rows_depend_on as sample_rows_depend_on
from redstar.pipeline.stage import FunnelRow, Outcome, Stage
from redstar.pipeline.verify_ahead import AHEAD, take_ahead, verifiers_key
from redstar.records import Prompt, Sample, Verdict
from redstar.references import resolved
from redstar.tables import ShardedTable

__all__ = ["VERIFY", "response_digest"]


class _Writers:
    """The verdict tables of the shards being verified, each opened on its first verdict and
    sealed once every batch of its shard came back (a Ctrl-C leaves it open, to resume)."""

    def __init__(self, run_root: Path) -> None:
        self.run_root = run_root
        self.tables: dict[Path, ShardedTable] = {}
        self.left: Counter[Path] = Counter()  # batches sent and not back, per shard
        self.cut: set[Path] = set()  # shards whose every batch has been sent

    def table(self, shard: Path) -> ShardedTable:
        if shard not in self.tables:
            self.tables[shard] = verdict_table(self.run_root, shard)
        return self.tables[shard]

    def returned(self, shard: Path) -> None:
        self.left[shard] -= 1
        self.seal_if_done(shard)

    def seal_if_done(self, shard: Path) -> None:
        if shard in self.cut and self.left[shard] <= 0 and shard in self.tables:
            table = self.tables.pop(shard)
            table.seal()
            table.close()

    def close(self) -> None:
        for table in self.tables.values():
            table.close()
        self.tables.clear()


def _verify(ctx: RunContext, inputs: Mapping[str, Any]) -> Outcome:
    prompts: list[Prompt] = inputs["select"]
    samples: SampleSet = inputs["sample"]
    by_id = {p.id: p for p in prompts}
    batch = ctx.recipe.execution.verify_batch
    total = sum(samples.wanted.values())
    tally = _Tally(by_id)
    key = verifiers_key(ctx)
    writers = _Writers(ctx.run.root)
    done = taken = 0
    with ctx.board.task("verifying", total) as update:

        def jobs() -> Iterator[VerifyJob]:
            nonlocal done, taken
            for shard in samples.shards():
                shard_samples = list(samples.in_shard(shard))
                verdicts = verdicts_of(ctx.run.root, shard, shard_samples)
                # verdicts made while sampling (the Ray engine): stored here, not judged again
                ahead = take_ahead(ctx.run.root, shard, [s for s in shard_samples if s.id not in verdicts], key)
                if ahead:
                    writers.table(shard).append(verdict_row(s, v) for s, v in ahead)
                    verdicts.update((s.id, v) for s, v in ahead)
                    taken += len(ahead)
                todo = []
                for s in shard_samples:
                    if s.id in verdicts:
                        tally.add(s, verdicts[s.id])
                    else:
                        todo.append(s)
                done += len(shard_samples) - len(todo)
                update(done)
                for start in range(0, len(todo), batch):
                    part = ShardBatch(shard, todo[start:start + batch])
                    writers.left[shard] += 1
                    yield VerifyJob(key=part, items=[(s.response, resolved(by_id[s.prompt_id], ctx.run.root))
                                                     for s in part])
                writers.cut.add(shard)
                writers.seal_if_done(shard)

        try:
            for job, results in ctx.engine.verify(jobs()):
                part: ShardBatch = job.key
                writers.table(part.shard).append(verdict_row(s, v) for s, v in zip(part, results))
                for s, v in zip(part, results):
                    tally.add(s, v)
                done += len(part)
                update(done)
                writers.returned(part.shard)
        finally:
            writers.close()
    if taken:
        ctx.log(f"verify: {taken} verdicts made while sampling were taken over")
    ahead_dir = ctx.run.path(AHEAD)
    if ahead_dir.exists():  # every verdict made ahead is in verdicts/ now
        import shutil

        shutil.rmtree(ahead_dir)
    return Outcome(JudgedSamples(samples), tally.counts())


class _Tally:
    """The stage's counts, kept as verdicts stream past."""

    def __init__(self, by_id: dict[str, Prompt]) -> None:
        self.by_id = by_id
        self.rewards: Counter = Counter()
        self.by_level: dict[str, list[int]] = {}
        self.by_domain: dict[str, dict[str, int]] = {}

    def add(self, sample: Sample, verdict: Verdict) -> None:
        prompt = self.by_id[sample.prompt_id]
        self.rewards[verdict.reward] += 1
        key = "?" if prompt.difficulty is None else str(int(round(prompt.difficulty)))
        level = self.by_level.setdefault(key, [0, 0])
        level[0] += int(verdict.correct)
        level[1] += 1
        counts = self.by_domain.setdefault(prompt.domain, {"verified": 0, "correct": 0, "wrong": 0, "no_answer": 0})
        counts["verified"] += 1
        counts[{1: "correct", 0: "wrong", -1: "no_answer"}[verdict.reward]] += 1

    def counts(self) -> dict[str, Any]:
        return {
            "verified": sum(self.rewards.values()),
            "correct": self.rewards[1],
            "wrong": self.rewards[0],
            "no_answer": self.rewards[-1],
            "by_domain": self.by_domain,
            "pass_rate_by_level": {k: c / n for k, (c, n) in sorted(self.by_level.items())},
        }


#: Incremental: it always runs and judges only the samples without a verdict for their text.
# Keyed on the samples only: a verdict judges a sample's text against its prompt, and a sample's
# prompt id is a hash of the prompt's content, so selecting more or fewer prompts (a sweep over
# ``selection.total``) reuses every verdict already there instead of judging them all again.
VERIFY = Stage("verify", "curate", _verify, reads=("select", "sample"), keyed_on=("sample",),
               depends_on=lambda recipe: recipe.verifiers,
               outputs=(VERDICTS, "verdicts.jsonl"), funnel=(FunnelRow("samples correct", "correct", "samples"),),
               # Verdicts judge the samples there: set aside (and brought back) with them.
               rows_depend_on=lambda recipe: (sample_rows_depend_on(recipe), recipe.verifiers))
