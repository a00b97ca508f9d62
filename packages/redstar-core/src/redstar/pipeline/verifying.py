"""The verification stage: each sample is judged by its domain's verifier.

Verification goes shard by shard through ``samples/``: the verdicts of sample shard
``part-000007`` are appended to ``verdicts/part-000007/`` keyed by sample id, with a digest of
the response text they judged, so a resumed run verifies only samples it has not judged yet, and
a verdict is reused only for the very text it judged (a sample redrawn under the same id is
judged again). One shard of samples and its verdicts is all that is held at a time. The judging
itself runs on the run's engine (``execution``: this process, or Ray tasks across a cluster).

Cleaning is applied later, when the datasets are built, so that changing a cleaning threshold
does not re-run verification (which for code means re-running programs).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

from redstar.execution import VerifyJob
from redstar.pipeline.context import RunContext
from redstar.pipeline.run_tables import VERDICTS, JudgedSamples, SampleSet, response_digest, verdict_table, verdicts_of
from redstar.pipeline.sampling import rows_depend_on as sample_rows_depend_on
from redstar.pipeline.stage import FunnelRow, Outcome, Stage
from redstar.records import Prompt, Sample, Verdict

__all__ = ["VERIFY", "response_digest"]


def _verify(ctx: RunContext, inputs: Mapping[str, Any]) -> Outcome:
    prompts: list[Prompt] = inputs["select"]
    samples: SampleSet = inputs["sample"]
    by_id = {p.id: p for p in prompts}
    batch = ctx.recipe.execution.verify_batch
    total = sum(samples.wanted.values())
    tally = _Tally(by_id)
    with ctx.board.task("verifying", total) as update:
        done = 0
        for shard in samples.shards():
            shard_samples = list(samples.in_shard(shard))
            verdicts = verdicts_of(ctx.run.root, shard, shard_samples)
            todo = [s for s in shard_samples if s.id not in verdicts]
            done += len(shard_samples) - len(todo)
            update(done)
            if todo:
                with verdict_table(ctx.run.root, shard) as table:
                    jobs = _jobs(todo, by_id, batch)
                    for job, results in ctx.engine.verify(jobs):
                        rows = []
                        for s, v in zip(job.key, results):
                            verdicts[s.id] = v
                            rows.append({"sample_id": s.id, "prompt_id": s.prompt_id, "index": s.index,
                                         "response_sha256": response_digest(s.response), **v.to_dict()})
                        table.append(rows)
                        done += len(rows)
                        update(done)
                    table.seal()
            for s in shard_samples:
                tally.add(s, verdicts[s.id])
    return Outcome(JudgedSamples(samples), tally.counts())


def _jobs(todo: list[Sample], by_id: dict[str, Prompt], batch: int) -> Iterator[VerifyJob]:
    for start in range(0, len(todo), batch):
        part = todo[start:start + batch]
        yield VerifyJob(key=part, items=[(s.response, by_id[s.prompt_id]) for s in part])


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
