"""A run's sample and verdict tables, read in bounded memory.

``samples/`` is a :class:`~redstar.tables.ShardedTable` of :class:`~redstar.records.Sample`
rows. Its shards are sealed when sampling ends and never change afterwards (a later, larger
run adds shards), so verification works shard by shard: the verdicts of sample shard
``part-000007`` are the table ``verdicts/part-000007/``. Joining a sample with its verdict then
needs one shard of each in memory, whatever the size of the run; the prompts themselves (one
per selected prompt, not per sample) are the only thing held for the whole run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from redstar.records import Sample, Verdict
from redstar.tables import ShardedTable, read_shard

SAMPLES = "samples"
VERDICTS = "verdicts"
VERDICT_FIELDS = ("correct", "reward", "reason", "extracted")


def response_digest(text: str) -> str:
    """What a verdict row records of the text it judged (``surrogatepass``: a response may hold a
    lone surrogate, and it still needs a digest)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def verdict_row(sample: Sample, verdict: Verdict) -> dict[str, Any]:
    """A verdict table's row for ``sample``."""
    return {"sample_id": sample.id, "prompt_id": sample.prompt_id, "index": sample.index,
            "response_sha256": response_digest(sample.response), **verdict.to_dict()}


class ShardBatch(list):  # a list of Samples (error messages name its first)
    """The samples of one verification job, all from the sample shard ``shard``."""

    def __init__(self, shard: Path, samples: list[Sample]) -> None:
        super().__init__(samples)
        self.shard = shard


@dataclass(frozen=True)
class SampleSet:
    """The samples a run uses: those of its selected prompts with ``index < wanted[prompt_id]``
    (the table may hold more, drawn for an earlier, larger selection)."""

    run_root: Path
    wanted: dict[str, int]

    @property
    def table(self) -> Path:
        return self.run_root / SAMPLES

    def shards(self) -> list[Path]:
        return ShardedTable(self.table).shards() if self.table.exists() else []

    def in_shard(self, shard: Path) -> Iterator[Sample]:
        for row in read_shard(shard):
            if row["index"] < self.wanted.get(row["prompt_id"], 0):
                yield Sample.from_dict(row)

    def __iter__(self) -> Iterator[Sample]:
        for shard in self.shards():
            yield from self.in_shard(shard)

    @cached_property
    def count(self) -> int:
        """How many samples the run uses (read from two columns, not the texts)."""
        return sum(1 for shard in self.shards() for row in read_shard(shard, ("prompt_id", "index"))
                   if row["index"] < self.wanted.get(row["prompt_id"], 0))

    def __len__(self) -> int:
        return self.count


def verdicts_dir(run_root: Path, sample_shard: Path) -> Path:
    """Where the verdicts of the samples in ``sample_shard`` are: ``verdicts/part-NNNNNN/``."""
    return run_root / VERDICTS / sample_shard.name.split(".")[0]


def verdict_table(run_root: Path, sample_shard: Path) -> ShardedTable:
    """The verdicts of the samples in ``sample_shard``, opened for appending."""
    return ShardedTable(verdicts_dir(run_root, sample_shard))


def stored_verdicts(run_root: Path, sample_shard: Path) -> dict[str, dict]:
    """The verdict rows of ``sample_shard`` by sample id (later rows win: a sample judged again
    appends a newer verdict); empty when none was written. Reading creates nothing."""
    root = verdicts_dir(run_root, sample_shard)
    return {row["sample_id"]: row for row in ShardedTable(root).rows()} if root.is_dir() else {}


def verdicts_of(run_root: Path, sample_shard: Path, samples: list[Sample]) -> dict[str, Verdict]:
    """The stored verdicts of ``samples`` (all from ``sample_shard``) that judged their very text."""
    digests = {s.id: response_digest(s.response) for s in samples}
    return {sample_id: Verdict.from_dict({k: row[k] for k in VERDICT_FIELDS})
            for sample_id, row in stored_verdicts(run_root, sample_shard).items()
            if digests.get(sample_id) == row.get("response_sha256")}


@dataclass(frozen=True)
class JudgedSamples:
    """The value of the verify stage: every sample of the run with its verdict, a shard at a time."""

    samples: SampleSet

    def by_shard(self) -> Iterator[list[tuple[Sample, Verdict]]]:
        """Each sample shard's samples with their verdicts (a shard is the unit held in memory)."""
        for shard in self.samples.shards():
            samples = list(self.samples.in_shard(shard))
            verdicts = verdicts_of(self.samples.run_root, shard, samples)
            yield [(s, verdicts[s.id]) for s in samples if s.id in verdicts]

    def __iter__(self) -> Iterator[tuple[Sample, Verdict]]:
        for pairs in self.by_shard():
            yield from pairs

    @cached_property
    def count(self) -> int:
        """How many samples have a verdict."""
        return sum(len(pairs) for pairs in self.by_shard())

    def __len__(self) -> int:
        return self.count


def sample_rows(run_root: str | Path) -> Iterator[dict]:
    """Every row of a run's sample table, as stored (for tools, exports and tests)."""
    root = Path(run_root) / SAMPLES
    return ShardedTable(root).rows() if root.exists() else iter(())


def verdict_rows(run_root: str | Path) -> Iterator[dict]:
    """Every row of a run's verdict tables, in sample-shard order."""
    root = Path(run_root) / VERDICTS
    if not root.exists():
        return
    for table in sorted(p for p in root.iterdir() if p.is_dir()):
        yield from ShardedTable(table).rows()


def judged_rows(run_root: str | Path, columns: tuple[str, ...] | None = None,
                unjudged: bool = False) -> Iterator[tuple[dict, dict | None]]:
    """``(sample row, verdict row)`` for every judged sample of a run, one shard in memory at a
    time (``columns``: only those sample fields; ``unjudged``: samples without a verdict too,
    with None), for reports and tools."""
    root = Path(run_root)
    if not (root / SAMPLES).is_dir():
        return
    for shard in ShardedTable(root / SAMPLES).shards():
        verdicts = stored_verdicts(root, shard)
        for row in read_shard(shard, columns):
            verdict = verdicts.get(f"{row['prompt_id']}#{row['index']}")
            if verdict is not None or unjudged:
                yield row, verdict


def adopt_legacy_tables(run_root: Path) -> int:
    """Move the single-file tables of runs made before sharding (``samples.jsonl``,
    ``verdicts.jsonl``) into ``samples/`` and ``verdicts/``, so such a run resumes instead of
    drawing every sample again. The old files are kept as ``*.jsonl.migrated``. Returns the
    number of samples moved."""
    legacy = run_root / "samples.jsonl"
    if not legacy.exists() or (run_root / SAMPLES).exists():
        return 0
    from redstar.tables import iter_jsonl

    staging = run_root / f".{SAMPLES}.migrating"
    if staging.exists():
        import shutil

        shutil.rmtree(staging)  # a migration that was cut short: start it again
    shard_of: dict[str, str] = {}
    moved = 0
    with ShardedTable(staging) as table:
        batch: list[dict] = []
        for _, row in iter_jsonl(legacy):
            batch.append(row)
            if len(batch) == 1024:
                table.append(batch)
                moved += len(batch)
                batch = []
        table.append(batch)
        moved += len(batch)
        table.seal()
    for shard in ShardedTable(staging).shards():
        for row in read_shard(shard, ("prompt_id", "index")):
            shard_of[f"{row['prompt_id']}#{row['index']}"] = shard.name.split(".")[0]
    old_verdicts = run_root / "verdicts.jsonl"
    if old_verdicts.exists():
        tables: dict[str, ShardedTable] = {}
        try:
            for _, row in iter_jsonl(old_verdicts):
                name = shard_of.get(row.get("sample_id", ""))
                if name is not None:
                    table = tables.setdefault(name, ShardedTable(run_root / VERDICTS / name))
                    table.append([row])
        finally:
            for table in tables.values():
                table.close()
        old_verdicts.rename(run_root / "verdicts.jsonl.migrated")
    staging.rename(run_root / SAMPLES)
    legacy.rename(run_root / "samples.jsonl.migrated")
    return moved
