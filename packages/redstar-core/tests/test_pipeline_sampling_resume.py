"""A resumed sampling stage draws what an uninterrupted one would: each sample is seeded by
``(run seed, prompt_id, index)``, not by where it fell in this attempt's to-do list. Real
embedded tiny teacher on the transformers backend, at temperature 1."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from redstar.pipeline.run_tables import sample_rows
from redstar.pipeline.runner import run_pipeline
from redstar.pipeline.sampling import sample_seed
from redstar.progress import ProgressBoard
from redstar.recipe import load_recipe
from redstar.samplers.transformers_local import TransformersSampler
from redstar.tables import ShardedTable

#: samples the embedded teacher several times: `pytest -m 'not slow'` leaves it out of a quick loop (CI runs everything).
pytestmark = pytest.mark.slow

RECIPE = """
name: resume-test
models: {teacher: "embedded:tiny-teacher", student: s}
sources: [{name: arith-gen, options: {count: 7}}]
selection: {min_level: 1, max_level: 10}
sampling: {backend: transformers, options: {device: cpu, batch_size: BATCH}, n: 2, n_by_level: {6: 3},
           temperature: 1.0, max_new_tokens: 6, chunk_size: CHUNK}
sft: null
"""


def sample(tmp_path: Path, host: Any, out: str, batch: int, chunk: int) -> dict[tuple[str, int], str]:
    recipe = tmp_path / f"{out}.yaml"
    recipe.write_text(RECIPE.replace("BATCH", str(batch)).replace("CHUNK", str(chunk)))
    run_pipeline(load_recipe(recipe), tmp_path / out, host, ProgressBoard(enabled=False), until="curate")
    return responses(tmp_path / out)


def responses(run: Path) -> dict[tuple[str, int], str]:
    rows = list(sample_rows(run))
    found = {(r["prompt_id"], r["index"]): r["response"] for r in rows}
    assert len(found) == len(rows)  # no (prompt, index) drawn twice
    return found


def test_a_resumed_run_draws_what_an_uninterrupted_one_would(tmp_path, arith_host, monkeypatch):
    whole = sample(tmp_path, arith_host, "whole", batch=4, chunk=4)
    assert len(whole) > 14 and len({i for _, i in whole}) == 3  # some prompts got a third sample
    # At temperature 1 the samples differ, so equal runs below mean the same draws, not a constant.
    assert len(set(whole.values())) > len(whole) // 2

    # Interrupted: the sampler dies on its third call, after the first chunk reached the disk.
    calls = {"n": 0}
    generate = TransformersSampler.generate

    def dies_on_the_third_call(self, conversations, params):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("killed")
        return generate(self, conversations, params)

    monkeypatch.setattr(TransformersSampler, "generate", dies_on_the_third_call)
    with pytest.raises(RuntimeError, match="killed"):
        sample(tmp_path, arith_host, "resumed", batch=4, chunk=4)
    monkeypatch.setattr(TransformersSampler, "generate", generate)
    # Some prompts keep only part of their samples (as after a change of n), so the rerun asks
    # for other indices in other groups, chunks and batches than the first attempt did.
    run = tmp_path / "resumed"
    kept = [row for row in sample_rows(run) if row["index"] != 1]
    shutil.rmtree(run / "samples")
    with ShardedTable(run / "samples") as table:
        table.append(kept)
    before = responses(run)
    assert 0 < len(before) < len(whole)

    resumed = sample(tmp_path, arith_host, "resumed", batch=4, chunk=3)
    assert resumed == whole
    # A fresh run with another batch size and chunk layout draws the same samples too.
    assert sample(tmp_path, arith_host, "rebatched", batch=3, chunk=5) == whole


def test_sample_seeds_are_stable_and_distinct():
    assert sample_seed(0, "p1", 0) == sample_seed(0, "p1", 0)
    seeds = {sample_seed(run, prompt, index) for run in (0, 1) for prompt in ("p1", "p2") for index in range(4)}
    assert len(seeds) == 16 and all(0 <= s < 2**63 for s in seeds)
    # Fixed by value, not by Python's per-process hash salt: a resumed process must agree.
    assert sample_seed(0, "p1", 0) == 0x422F45F3255E9DE9
