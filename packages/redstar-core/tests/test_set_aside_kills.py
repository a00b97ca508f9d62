"""A run killed while it sets stale rows aside or brings rows back: the next run finds every row
where it belongs. The rows of the recipe it runs are in the run (brought back, not drawn again),
the other recipe's rows are set aside under their own key, and no folder of set-aside rows is
left where a later change of recipe would not look for it.

A kill is simulated by raising, at one point of the move, an exception that nothing catches
(``kill -9`` runs no cleanup either); the run directory is then what a kill leaves."""

import json
import os
from pathlib import Path

import pytest

import redstar.pipeline.set_aside as set_aside_module
from redstar.pipeline.runner import run_pipeline
from redstar.progress import ProgressBoard
from redstar.recipe import load_recipe

RECIPE = """\
name: kill-test
models: {teacher: scripted-teacher, student: scripted-student}
sources: [{name: arith-gen, options: {count: 8}}]
selection: {min_level: 1, max_level: 10}
sampling: {backend: scripted, n: 2, chunk_size: 4, temperature: 1.0}
decontamination: {ngram: 5}
sft: null
"""


class Killed(KeyboardInterrupt):
    """The process stops here: like Ctrl-C, nothing on the way out of a run step catches it or
    takes it for a plugin's fault, and what the run left on disk is what a kill leaves."""


def curate(path, out, host):
    return run_pipeline(load_recipe(path), out, host, ProgressBoard(enabled=False), until="curate")


def shards(folder):
    """The sample shards under ``folder`` by inode: a shard moved keeps its inode, one drawn again
    does not."""
    return {p.stat().st_ino for p in Path(folder).rglob("part-*.parquet")}


class _KillingOs:
    """``os`` for the set-aside module, whose ``replace`` kills the process at its first call."""

    def __getattr__(self, name):
        return getattr(os, name)

    @staticmethod
    def replace(*args):
        raise Killed


def kill_at(monkeypatch, point):
    if point == "before the note":  # the folder is made, its set-aside.json not yet written
        monkeypatch.setattr(set_aside_module, "write_json", lambda *a, **k: (_ for _ in ()).throw(Killed()))
    elif point == "before the rows move":  # the note is written, the rows not yet moved
        monkeypatch.setattr(set_aside_module, "os", _KillingOs())
    else:  # rows brought back, their emptied folder not yet removed
        monkeypatch.setattr(set_aside_module.shutil, "rmtree", lambda *a, **k: (_ for _ in ()).throw(Killed()))


@pytest.mark.parametrize("point", ["before the note", "before the rows move", "after the rows came back"])
def test_a_kill_while_rows_are_set_aside_or_brought_back_loses_no_row(tmp_path, arith_host, monkeypatch, point):
    warm = tmp_path / "warm.yaml"
    warm.write_text(RECIPE)
    cold = tmp_path / "cold.yaml"
    cold.write_text(RECIPE.replace("temperature: 1.0", "temperature: 0.7"))
    out = tmp_path / "run"
    curate(warm, out, arith_host)
    warm_rows = shards(out / "samples")
    curate(cold, out, arith_host)  # the warm rows are set aside
    cold_rows = shards(out / "samples")
    assert warm_rows and cold_rows and not warm_rows & cold_rows

    # Back to warm, killed in the middle: the cold rows are being set aside (the first two
    # points) or the warm ones brought back (the third).
    with monkeypatch.context() as patch:
        kill_at(patch, point)
        with pytest.raises(Killed):
            curate(warm, out, arith_host)

    summary = curate(warm, out, arith_host)  # the same command again
    assert shards(out / "samples") == warm_rows  # brought back, not drawn again
    aside = {a["stage"]: out / a["path"] for a in summary["set_aside"]}
    assert sorted(a["stage"] for a in summary["set_aside"]) == ["sample", "verify"]  # one folder each, none empty
    assert shards(aside["sample"]) == cold_rows
    note = json.loads((aside["sample"] / "set-aside.json").read_text())
    assert {s["params"]["temperature"] for s in _sample_rows(aside["sample"])} == {0.7}
    assert note["rows_key"] == aside["sample"].name.removeprefix("sample-")

    summary = curate(cold, out, arith_host)  # and cold again: its rows come back too
    assert shards(out / "samples") == cold_rows
    assert sorted(a["stage"] for a in summary["set_aside"]) == ["sample", "verify"]


def _sample_rows(root):
    from redstar.pipeline.run_tables import sample_rows

    return list(sample_rows(root))


def test_a_kill_while_a_sweep_sibling_s_rows_are_brought_over_labels_nothing_wrongly(tmp_path, monkeypatch):
    import redstar.pipeline.rundir as rundir_module
    from redstar.pipeline.rundir import RunDir

    def run_with(root, fp, key, text):
        run = RunDir(root)
        run.begin("sample", fp, [root / "samples"], rows_key=key)
        (root / "samples").mkdir()
        (root / "samples" / "part-000000.parquet").write_text(text)
        run.finish("sample", {"samples": 1})
        return run

    sibling = run_with(tmp_path / "sibling", "fp-new", "key-new", "sibling's rows")
    mine = run_with(tmp_path / "mine", "fp-old", "key-old", "stale rows")

    def half_copied(src, dst):  # the first file is over, then the process is killed
        dst.mkdir(parents=True)
        (dst / "part-000000.parquet").write_text("sibling's rows")
        raise Killed

    with monkeypatch.context() as patch:
        patch.setattr(rundir_module, "bring_over", half_copied)
        with pytest.raises(Killed):
            RunDir(mine.root, [sibling.root]).adopt("sample", "fp-new", [mine.root / "samples"], rows_key="key-new")
    again = RunDir(mine.root, [sibling.root])
    again.adopt("sample", "fp-new", [mine.root / "samples"], rows_key="key-new")
    # The sibling's rows (under key-new) were never set aside as the stale rows' key.
    assert sorted(p.name for p in (mine.root / "set-aside").iterdir()) == ["sample-key-old"]
    assert (mine.root / "set-aside" / "sample-key-old" / "samples" / "part-000000.parquet").read_text() == "stale rows"
    assert again.stage("sample")["rows_key"] == "key-new"


def test_a_hand_edited_rows_key_never_sets_rows_aside_outside_the_run(tmp_path):
    from redstar.pipeline.rundir import RunDir

    root = tmp_path / "runs" / "r"
    (root / "samples").mkdir(parents=True)
    (root / "samples" / "part-000000.parquet").write_text("rows")
    (root / "state.json").write_text(json.dumps({"stages": {"sample": {"fingerprint": "a", "rows_key": "../../../../x"}}}))
    RunDir(root).begin("sample", "b", [root / "samples"], rows_key="c")
    assert (root / "set-aside" / "sample-unrecorded" / "samples" / "part-000000.parquet").read_text() == "rows"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]
