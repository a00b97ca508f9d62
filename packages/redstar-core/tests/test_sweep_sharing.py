"""Variants share every step whose fingerprint is the same: the run directory's sharing hook
(hard links for files never modified in place, copies for appended ones, state entries rebased),
a sweep over SFT set sizes that samples each prompt once, the sibling left untouched by later
work, and a sweep resumed as a whole after ``kill -9``."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import arith_plugin
import pytest

from redstar.errors import RedStarError
from redstar.pipeline.rundir import RunDir, bring_over
from redstar.progress import ProgressBoard
from redstar.sweep import expand, load_sweep
from redstar.sweep.running import run_sweep
from redstar.tables import JsonlAppender

HERE = Path(__file__).parent

BASE = """
name: arith
models: {teacher: scripted-teacher, student: scripted-student}
sources: [{name: arith-gen, options: {count: 30}}]
selection: {min_level: 1, max_level: 10}
sampling: {backend: scripted, options: {delay: DELAY}, n: 2, n_by_level: {6: 3}, chunk_size: 2}
sft: null
"""

SWEEP = """
base: base.yaml
seeds: [0]
vary:
  - selection.total: [6, 12, 24]
"""


def snapshot(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(Path(root).rglob("*"))
            if p.is_file() and p.name not in (".lock", "state.json", "summary.json", "sweep-done.json")}


def test_bring_over_links_immutable_files_and_copies_appended_ones(tmp_path):
    src = tmp_path / "a" / "samples"
    src.mkdir(parents=True)
    (src / "part-000000.parquet").write_bytes(b"sealed")
    with JsonlAppender(src / "part-000001.jsonl") as journal:
        journal.append([{"x": 1}])
    dst = tmp_path / "b" / "samples"
    bring_over(src, dst)
    assert os.path.samefile(src / "part-000000.parquet", dst / "part-000000.parquet")
    assert not os.path.samefile(src / "part-000001.jsonl", dst / "part-000001.jsonl")
    with JsonlAppender(dst / "part-000001.jsonl") as journal:  # the variant appends...
        journal.append([{"x": 2}])
    assert (src / "part-000001.jsonl").read_text() == '{"x": 1}\n'  # ...its sibling does not change
    assert len((dst / "part-000001.jsonl").read_text().splitlines()) == 2


def test_adopt_copies_the_state_entry_with_paths_rebased(tmp_path):
    sibling = RunDir(tmp_path / "a")
    (sibling.root / "models" / "sft" / "final").mkdir(parents=True)
    (sibling.root / "models" / "sft" / "final" / "weights.bin").write_bytes(b"w")
    sibling.begin("train:sft", "fp1")
    sibling.finish("train:sft", {"rows": 3}, model_path=str(sibling.root / "models" / "sft" / "final"))
    mine = RunDir(tmp_path / "b", siblings=[sibling.root])
    assert mine.adopt("train:sft", "other-fp", [mine.root / "models" / "sft"]) is None  # fingerprints differ
    assert mine.adopt("train:sft", "fp1", [mine.root / "models" / "sft"]) == sibling.root
    entry = mine.stage("train:sft")
    assert entry["done"] and entry["counts"] == {"rows": 3} and entry["shared_from"] == str(sibling.root)
    assert entry["model_path"] == str(mine.root / "models" / "sft" / "final")
    assert (mine.root / "models" / "sft" / "final" / "weights.bin").read_bytes() == b"w"
    assert json.loads(mine.state_file.read_text())["stages"]["train:sft"]["done"]
    assert mine.adopt("train:sft", "fp1", [mine.root / "models" / "sft"]) is None  # done here now


@pytest.fixture
def drawn(monkeypatch):
    """How many samples the scripted teacher drew, call by call."""
    calls = []
    generate = arith_plugin.ScriptedTeacher.generate

    def counting(self, conversations, params):
        calls.append(len(conversations) * params.n)
        return generate(self, conversations, params)

    monkeypatch.setattr(arith_plugin.ScriptedTeacher, "generate", counting)
    return calls


def write_sweep(tmp_path, delay=0.0, sweep=SWEEP):
    (tmp_path / "base.yaml").write_text(BASE.replace("DELAY", str(delay)))
    (tmp_path / "sweep.yaml").write_text(sweep)
    return load_sweep(tmp_path / "sweep.yaml")


def test_sampling_runs_once_for_a_sweep_over_selection_total(tmp_path, arith_host, drawn):
    spec = write_sweep(tmp_path)
    variants = expand(spec, arith_host)
    out = tmp_path / "out"
    lines = []
    smallest = variants[0].run_dir(out)

    # the first variant alone, to snapshot it before its siblings run
    run_sweep(spec, variants[:1], out, arith_host, lines.append, until="curate")
    before = snapshot(smallest)
    first_drawn = sum(drawn)
    assert first_drawn > 0
    run_sweep(spec, variants, out, arith_host, lines.append, until="curate")

    summaries = [json.loads((v.run_dir(out) / "summary.json").read_text()) for v in variants]
    needed = [s["stages"]["sample"]["samples"] for s in summaries]
    assert needed[0] < needed[1] < needed[2]
    # every sample of the largest variant drawn once in the whole sweep: the smaller ones reused it
    assert sum(drawn) == needed[2]
    for v, s in zip(variants[1:], summaries[1:]):
        state = json.loads((v.run_dir(out) / "state.json").read_text())["stages"]
        assert state["load"]["shared_from"] and state["sample"]["shared_from"]
        # the selection is what differs; verification is keyed on the samples, so the sibling's
        # verdicts are reused and only the variant's new samples are judged
        assert "shared_from" not in state["select"] and state["verify"]["shared_from"]
        assert s["stages"]["verify"]["verified"] == s["stages"]["sample"]["samples"]
        assert s["stages"]["select"]["selected"] == v.recipe.selection.total
    # the finished sibling is unchanged by the samples its siblings added after copying its tables
    assert snapshot(smallest) == before
    assert any("[1/3]" in line and "skipped" in line for line in lines)  # finished before: not rerun
    assert any("reused from siblings: load" in line for line in lines)

    # running the sweep again draws nothing and changes no run
    drawn.clear()
    after = {v.slug: snapshot(v.run_dir(out)) for v in variants}
    result = run_sweep(spec, variants, out, arith_host, lines.append, until="curate")
    assert drawn == [] and after == {v.slug: snapshot(v.run_dir(out)) for v in variants}
    assert all(v["finished"] for v in result["variants"])
    assert (out / "sweep.md").is_file() and (out / "sweep.html").is_file() and (out / "sweep.json").is_file()


def test_a_sweep_reuses_another_sweeps_runs_through_reuse(tmp_path, arith_host, drawn):
    first = write_sweep(tmp_path, sweep=SWEEP.replace("[6, 12, 24]", "[6, 12]"))
    run_sweep(first, expand(first, arith_host), tmp_path / "first", arith_host, [].append, until="curate")
    assert drawn
    drawn.clear()
    # another sweep (another name, another folder) whose larger variant is the first's
    (tmp_path / "second.yaml").write_text("name: second\n" + SWEEP.replace("[6, 12, 24]", "[12, 18]"))
    second = load_sweep(tmp_path / "second.yaml")
    variants = expand(second, arith_host)
    lines: list[str] = []
    run_sweep(second, variants, tmp_path / "second", arith_host, lines.append, until="curate",
              reuse=[tmp_path / "first"])
    same = json.loads((variants[0].run_dir(tmp_path / "second") / "state.json").read_text())["stages"]
    theirs = tmp_path / "first" / "runs" / "total-12_seed-0"
    assert same["sample"]["shared_from"] == str(theirs) and same["select"]["shared_from"] == str(theirs)
    summaries = [json.loads((v.run_dir(tmp_path / "second") / "summary.json").read_text()) for v in variants]
    # only the 18-prompt variant's six new prompts were drawn
    assert sum(drawn) == summaries[1]["stages"]["sample"]["samples"] - summaries[0]["stages"]["sample"]["samples"] > 0
    with pytest.raises(RedStarError, match="--reuse .*neither a sweep directory"):
        run_sweep(second, variants, tmp_path / "second", arith_host, lines.append, until="curate",
                  reuse=[tmp_path])


KILL_SCRIPT = """
import sys
sys.path.insert(0, {here!r})
import arith_plugin
from pathlib import Path
from redstar.plugins import Host
from redstar.sweep import expand, load_sweep
from redstar.sweep.running import run_sweep
host = Host(load_entry_points=False)
host.register(arith_plugin, name="arith")
spec = load_sweep({sweep!r})
run_sweep(spec, expand(spec, host), Path({out!r}), host, print, until="curate")
"""


def test_kill_9_mid_sweep_then_rerun_completes_it(tmp_path, arith_host):
    spec = write_sweep(tmp_path, delay=0.2, sweep=SWEEP.replace("[6, 12, 24]", "[4, 8]").replace("[0]", "[0, 1]"))
    out = tmp_path / "out"
    script = tmp_path / "run.py"
    script.write_text(KILL_SCRIPT.format(here=str(HERE), sweep=str(spec.path), out=str(out)))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    variants = expand(spec, arith_host)
    second = variants[1].run_dir(out)  # killed while the second variant samples
    deadline = time.time() + 120
    while time.time() < deadline and not (second / "state.json").exists():
        time.sleep(0.05)
    time.sleep(0.3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (variants[0].run_dir(out) / "sweep-done.json").exists()
    assert not (second / "sweep-done.json").exists()
    lines = []
    result = run_sweep(spec, variants, out, arith_host, lines.append, board=lambda: ProgressBoard(enabled=False),
                       until="curate")
    assert lines[0].startswith("[1/4]") and "skipped" in lines[0]
    assert all(v["finished"] for v in result["variants"])
    for v in variants:
        summary = json.loads((v.run_dir(out) / "summary.json").read_text())
        assert summary["stages"]["select"]["selected"] == v.recipe.selection.total
        assert summary["stages"]["verify"]["verified"] == summary["stages"]["sample"]["samples"] > 0
