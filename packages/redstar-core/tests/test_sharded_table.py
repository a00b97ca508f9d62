"""Sharded run tables: every row reads back exactly as appended, shards seal and roll over, and
every way a write can be interrupted (kill -9 mid-append, mid-seal, between seal and cleanup)
ends with each row exactly once; damage is an error naming the file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from redstar.errors import InputError
from redstar.tables import ShardedTable

ODD_ROWS = [
    {"id": "a", "n": 1, "x": 0.5, "ok": True, "meta": {"k": [1, 2]}, "text": "plain"},
    {"id": "b", "n": 2 ** 70, "x": float("inf"), "ok": None, "meta": [], "text": "lone \ud800 surrogate"},
    {"id": "c", "n": "seven", "ok": False, "text": "ünïcode ✓"},  # n changes type; x and meta absent
    {"id": "d", "n": None, "x": None, "meta": None, "text": "", "extra": {"nested": {"deep": None}}},
]


def test_rows_read_back_exactly_after_sealing(tmp_path):
    with ShardedTable(tmp_path / "t") as table:
        table.append(ODD_ROWS)
        table.seal()
    shards = ShardedTable(tmp_path / "t").shards()
    assert [p.suffix for p in shards] == [".parquet"]
    assert list(ShardedTable(tmp_path / "t")) == ODD_ROWS


def test_typed_columns_for_users_who_open_the_shards(tmp_path):
    import pyarrow.parquet as pq

    rows = [{"prompt_id": f"p{i}", "index": i, "response": "r" * i, "params": {"t": 1.0}} for i in range(5)]
    with ShardedTable(tmp_path / "t") as table:
        table.append(rows)
        table.seal()
    schema = pq.read_schema(ShardedTable(tmp_path / "t").shards()[0])
    assert str(schema.field("index").type) == "int64" and str(schema.field("response").type) == "string"
    assert list(ShardedTable(tmp_path / "t").rows(columns=["index", "params"])) == [
        {"index": i, "params": {"t": 1.0}} for i in range(5)]


def test_rolls_over_by_rows_and_bytes(tmp_path):
    with ShardedTable(tmp_path / "t", shard_rows=3) as table:
        for i in range(10):
            table.append([{"i": i}])
    names = [p.name for p in ShardedTable(tmp_path / "t").shards()]
    assert names == ["part-000000.parquet", "part-000001.parquet", "part-000002.parquet", "part-000003.jsonl"]
    assert [r["i"] for r in ShardedTable(tmp_path / "t")] == list(range(10))
    assert len(ShardedTable(tmp_path / "t")) == 10
    with ShardedTable(tmp_path / "b", shard_bytes=100) as table:
        table.append([{"s": "x" * 150}])
        table.append([{"s": "y"}])
    assert [p.suffix for p in ShardedTable(tmp_path / "b").shards()] == [".parquet", ".jsonl"]


def test_reopening_appends_to_the_open_journal(tmp_path):
    with ShardedTable(tmp_path / "t") as table:
        table.append([{"i": 0}])
    with ShardedTable(tmp_path / "t") as table:
        table.append([{"i": 1}])
    assert [p.name for p in ShardedTable(tmp_path / "t").shards()] == ["part-000000.jsonl"]
    assert [r["i"] for r in ShardedTable(tmp_path / "t")] == [0, 1]


def test_killed_between_seal_and_cleanup_keeps_each_row_once(tmp_path):
    root = tmp_path / "t"
    with ShardedTable(root) as table:
        table.append([{"i": 0}, {"i": 1}])
    journal = (root / "part-000000.jsonl").read_bytes()
    ShardedTable(root).seal()
    (root / "part-000000.jsonl").write_bytes(journal)  # as if killed after the rename
    (root / ".part-000001.parquet.x.tmp").write_bytes(b"half a shard")  # a seal killed before its rename
    table = ShardedTable(root)
    assert [r["i"] for r in table] == [0, 1]
    assert sorted(p.name for p in root.iterdir()) == ["part-000000.parquet"]


def test_kill_9_mid_append_loses_only_the_torn_batch(tmp_path):
    root = tmp_path / "t"
    script = textwrap.dedent(f"""
        import os, signal
        from redstar.tables import ShardedTable
        table = ShardedTable({str(root)!r}, shard_rows=7)
        for i in range(40):
            table.append([{{"i": i, "pad": "x" * 1000}}])
            if i == 25:
                # a half-written next batch, then kill -9: the bytes a crash mid-write leaves
                os.write(table._journal._handle.fileno(), b'{{"i": 26, "pad": "xx')
                os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    with ShardedTable(root, shard_rows=7) as table:
        assert [r["i"] for r in table] == list(range(26))
        table.append([{"i": i, "pad": ""} for i in range(26, 30)])
    assert [r["i"] for r in ShardedTable(root)] == list(range(30))


def test_a_damaged_shard_or_line_is_named(tmp_path):
    root = tmp_path / "t"
    with ShardedTable(root, shard_rows=2) as table:
        table.append([{"i": 0}, {"i": 1}])
        table.append([{"i": 2}])
    shard = root / "part-000000.parquet"
    shard.write_bytes(shard.read_bytes()[:20] + b"garbage" + shard.read_bytes()[27:])
    with pytest.raises(InputError, match="part-000000.parquet"):
        list(ShardedTable(root))
    shard.unlink()
    (root / "part-000001.jsonl").write_text('{"i": 2}\nnot json\n{"i": 3}\n')
    with pytest.raises(InputError) as caught:
        list(ShardedTable(root))
    assert caught.value.line == 2 and caught.value.path.endswith("part-000001.jsonl")


def test_a_reader_never_cuts_a_writers_torn_tail(tmp_path):
    root = tmp_path / "t"
    with ShardedTable(root) as table:
        table.append([{"i": 0}])
    journal = root / "part-000000.jsonl"
    with journal.open("ab") as handle:
        handle.write(b'{"i": 1')  # a writer mid-line
    size = journal.stat().st_size
    assert [r["i"] for r in ShardedTable(root).rows()] == [0]
    assert journal.stat().st_size == size


def test_a_file_where_the_folder_belongs(tmp_path):
    (tmp_path / "t").write_text("{}\n")
    with pytest.raises(InputError, match="table folder"):
        ShardedTable(tmp_path / "t")


def test_file_modes_follow_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        with ShardedTable(tmp_path / "t") as table:
            table.append([{"i": 0}])
            table.seal()
    finally:
        os.umask(old)
    assert {oct(p.stat().st_mode & 0o777) for p in (tmp_path / "t").iterdir()} == {oct(0o640)}


def test_jsonl_export_joins_each_sample_with_its_verdict(tmp_path):
    from redstar.export import export_run

    run = tmp_path / "run"
    samples = [{"prompt_id": "p", "index": i, "response": f"r{i} \ud800", "model": "t", "params": {},
                "finish_reason": "stop"} for i in range(3)]
    with ShardedTable(run / "samples", shard_rows=2) as table:
        table.append(samples[:2])
        table.append(samples[2:])
        table.seal()
    assert len(ShardedTable(run / "samples").shards()) == 2
    # shard 0 holds samples 0-1 (sample 1 not judged yet), shard 1 holds sample 2
    with ShardedTable(run / "verdicts" / "part-000000") as verdicts:
        verdicts.append([{"sample_id": "p#0", "correct": True, "reward": 1, "reason": "ok", "extracted": "4"}])
    with ShardedTable(run / "verdicts" / "part-000001") as verdicts:
        verdicts.append([{"sample_id": "p#2", "correct": False, "reward": -1, "reason": "none", "extracted": None}])
    path, count = export_run(run, "jsonl")
    exported = [json.loads(line) for line in path.read_text().splitlines()]
    assert count == 3 and [r["response"] for r in exported] == [s["response"] for s in samples]
    assert [r["verdict"] and r["verdict"]["reward"] for r in exported] == [1, None, -1]
