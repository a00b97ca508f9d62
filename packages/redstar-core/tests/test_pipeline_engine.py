"""What the run's stages hand the engine (issue 25): verification as one stream over every sample
shard, verdicts made while sampling taken over instead of judged again, cleaning filters as
engine jobs, the sets built as engine jobs (one per partition), and long references kept out of the driver's prompt lists. With the test-only
"arith" plugin and its scripted teacher; an engine that wraps the local one records what it
was given. (The same on a real Ray cluster: test_ray_engine.py's end-to-end run.)"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest

from redstar.execution import NOT_YET, LocalEngine
from redstar.pipeline.run_tables import sample_rows, verdict_rows
from redstar.pipeline.runner import run_pipeline
from redstar.pipeline.verify_ahead import AHEAD, take_ahead
from redstar.progress import ProgressBoard
from redstar.recipe import load_recipe
from redstar.records import Sample
from redstar.references import POINTER, STORE, fetch, is_pointer
from redstar.tables import ShardedTable

RECIPE = """
name: engine-test
models: {teacher: scripted-teacher, student: scripted-student}
sources: [{name: arith-gen, options: {count: 24, pad: PAD}}]
selection: {min_level: 1, max_level: 10}
sampling: {backend: scripted, options: {}, n: 3, n_by_level: {}, chunk_size: 4}
decontamination: {ngram: 5}
preference: {pairs_per_prompt: 2}
sft: null
"""


class Recording:
    """The local engine, recording each call it gets and the shards of the jobs it holds;
    ``ahead`` makes it an engine that judges while it samples (as Ray's does)."""

    def __init__(self, local: LocalEngine, ahead: bool = False) -> None:
        self.local, self.overlaps = local, ahead
        self.verify_calls: list[list[str]] = []
        self.clean_calls: list[int] = []
        self.build_calls: list[list[int]] = []
        self.judged_ahead = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.local, name)

    def verify(self, jobs):
        jobs = list(jobs)  # every job before the first verdict: a stream over all shards allows it
        self.verify_calls.append(sorted({job.key.shard.name.split(".")[0] for job in jobs}))
        yield from self.local.verify(jobs)

    def clean(self, filters, jobs):
        jobs = list(jobs)
        self.clean_calls.append(len(jobs))
        yield from self.local.clean(filters, jobs)

    def build(self, options, jobs):
        jobs = list(jobs)
        self.build_calls.append([job.key for job in jobs])
        yield from self.local.build(options, jobs)

    def generate_verifying(self, spec, jobs, feed):
        waiting = iter(feed)

        def judge_what_waits():
            for verify_job in waiting:
                if verify_job is NOT_YET:
                    return
                self.judged_ahead += len(verify_job.items)
                yield "verdict", verify_job, self.local._verifiers.verify(verify_job.items)

        for job, completions in self.local.generate(spec, jobs):
            yield "sample", job, completions
            yield from judge_what_waits()
        feed.close()
        yield from judge_what_waits()

    def close(self) -> None:
        self.local.close()


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> dict[str, Recording]:
    """Runs get a :class:`Recording` engine (``ahead`` from the dict's ``"ahead"`` key), and
    small sample shards (10 rows), so that a run has several."""
    import redstar.pipeline.context as context
    import redstar.pipeline.sampling as sampling

    made: dict[str, Any] = {"ahead": False}

    def engine_for(ctx):
        made["engine"] = Recording(LocalEngine(build_sampler=ctx.build, verifiers=ctx.verifiers), made["ahead"])
        return made["engine"]

    monkeypatch.setattr(context, "engine_for", engine_for)
    monkeypatch.setattr(sampling, "ShardedTable", functools.partial(ShardedTable, shard_rows=10))
    return made


def curate(tmp_path: Path, host: Any, name: str, pad: int = 0) -> Path:
    recipe_file = tmp_path / f"{name}.yaml"
    recipe_file.write_text(RECIPE.replace("PAD", str(pad)))
    out = tmp_path / name
    run_pipeline(load_recipe(recipe_file), out, host, ProgressBoard(enabled=False), until="curate")
    return out


def judged(run: Path) -> dict:
    return {(v["prompt_id"], v["index"]): (v["correct"], v["reward"], v["reason"]) for v in verdict_rows(run)}


def test_verification_is_one_stream_over_every_shard(tmp_path, arith_host, recorded):
    run = curate(tmp_path, arith_host, "stream")
    shards = [p.name.split(".")[0] for p in ShardedTable(run / "samples").shards()]
    assert len(shards) >= 4
    # one verify call, holding the batches of every shard at once (not one call per shard)
    assert recorded["engine"].verify_calls == [shards]
    assert len(judged(run)) == len(list(sample_rows(run)))
    # the cleaning filters ran as engine jobs too, in one call
    assert len(recorded["engine"].clean_calls) == 1 and recorded["engine"].clean_calls[0] >= 1


def test_verdicts_made_while_sampling_are_taken_over_not_judged_again(tmp_path, arith_host, recorded):
    plain = curate(tmp_path, arith_host, "plain")
    recorded["ahead"] = True
    ahead = curate(tmp_path, arith_host, "ahead")
    engine = recorded["engine"]
    assert engine.judged_ahead == len(list(sample_rows(ahead)))
    assert engine.verify_calls == [[]]  # the verify stage judged nothing itself
    assert judged(ahead) == judged(plain)
    assert (ahead / "sft.jsonl").read_bytes() == (plain / "sft.jsonl").read_bytes()
    assert (ahead / "preference.jsonl").read_bytes() == (plain / "preference.jsonl").read_bytes()
    assert not (ahead / AHEAD).exists()  # taken over into verdicts/, then removed


def test_a_staged_verdict_counts_only_for_its_very_text_and_settings(tmp_path):
    shard = tmp_path / "samples" / "part-000003.jsonl"
    sample = Sample(prompt_id="p", index=0, response="\\boxed{5}", model="m")
    other_text = Sample(prompt_id="p", index=1, response="\\boxed{6}", model="m")
    from redstar.pipeline.run_tables import verdict_row
    from redstar.records import Verdict

    with ShardedTable(tmp_path / AHEAD / "part-000003") as table:
        table.append([{**verdict_row(sample, Verdict.right("5")), "verifiers": "k1"},
                      {**verdict_row(Sample("p", 1, "\\boxed{7}", "m"), Verdict.wrong("7")), "verifiers": "k1"}])
    assert [s.index for s, _ in take_ahead(tmp_path, shard, [sample, other_text], "k1")] == [0]
    assert take_ahead(tmp_path, shard, [sample], "k2") == []  # other verifier settings: judged again
    assert take_ahead(tmp_path, tmp_path / "samples" / "part-000004.jsonl", [sample], "k1") == []


def test_long_references_stay_out_of_the_prompt_lists_and_reach_the_verifier(tmp_path, arith_host, recorded):
    short = curate(tmp_path, arith_host, "short")
    padded = curate(tmp_path, arith_host, "padded", pad=6000)
    selected = [json.loads(line) for line in (padded / "selected.jsonl").read_text().splitlines()]
    assert selected and all(is_pointer(p["reference"]) for p in selected)
    assert all(len(line) < 2000 for line in (padded / "prompts.jsonl").read_text().splitlines())
    stored = list((padded / STORE).rglob("*.txt"))
    assert len(stored) >= len({p["reference"] for p in selected})
    # the verifier got the whole reference ("19" + 6000 spaces): each verdict is what it gives
    # the sample against that text (against the pointer, no answer would be right)
    from arith_plugin import ArithVerifier

    reference = {p["id"]: fetch(p["reference"], padded) for p in selected}
    verdicts = judged(padded)
    for row in sample_rows(padded):
        again = ArithVerifier().verify(row["response"], reference[row["prompt_id"]])
        assert verdicts[row["prompt_id"], row["index"]] == (again.correct, again.reward, again.reason)
    assert {c for c, _, _ in verdicts.values()} == {True, False} and {c for c, _, _ in judged(short).values()} == {True, False}
    online = [json.loads(line) for line in (padded / "online.jsonl").read_text().splitlines()]
    assert all(len(row["reference"]) > 6000 and not row["reference"].startswith(POINTER) for row in online)
    assert fetch(selected[0]["reference"], padded).strip() == online[0]["reference"].strip()


#: sha256 of the engine-test run's sets (15 partitions) as the driver built them before set
#: building moved onto the engine (commit be3a8a7): the engine must write the very same bytes.
DRIVER_BUILT = {
    "sft.jsonl": "15274f67c136c58bf6d05422e70c87017e5b379c0e37ee94af5f5e40eaae59bd",
    "preference.jsonl": "1c0ad89cea47688ce3199a4f0c10b341aba74f62e0ab37deb93de0e2a5132a6f",
    "online.jsonl": "f9a7b4684dcdd90c22f1b2e9da19df586dd14b2b85f773111a520518b3917602",
}


def test_sets_are_built_as_engine_jobs_per_partition_with_the_driver_built_bytes(tmp_path, arith_host, recorded,
                                                                                 monkeypatch):
    import hashlib

    import redstar.pipeline.datasets as datasets

    monkeypatch.setattr(datasets, "PARTITION_BYTES", 1500)  # several partitions from a small run
    run = curate(tmp_path, arith_host, "parts")
    assert recorded["engine"].build_calls == [list(range(15))]  # one job per partition, in one call
    assert {name: hashlib.sha256((run / name).read_bytes()).hexdigest() for name in DRIVER_BUILT} == DRIVER_BUILT
    counts = json.loads((run / "summary.json").read_text())["stages"]["build"]
    assert counts["dropped"] == {"no valid answer": 11, "repetition": 8, "duplicate response": 24}
    assert (counts["sft_rows"], counts["preference_pairs"], counts["prompts_with_positive"]) == (22, 14, 22)
    assert not (run / ".build-partitions").exists()
