"""The run pipeline's bookkeeping, with the test-only "arith" plugin and its scripted teacher:
counts, cleaning, pairing, resume after kill -9, and redoing only what a recipe change affects."""

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from redstar.errors import InputError, RedStarError
from redstar.pipeline.run_tables import sample_rows, verdict_rows
from redstar.pipeline.runner import run_pipeline
from redstar.progress import ProgressBoard
from redstar.recipe import load_recipe, validate

HERE = Path(__file__).parent

RECIPE = """
name: arith-test
models: {teacher: scripted-teacher, student: scripted-student}
sources: [{name: arith-gen, options: {count: COUNT}}]
selection: {min_level: 1, max_level: 10}
sampling: {backend: scripted, options: {delay: DELAY}, n: 3, n_by_level: {6: 4}, chunk_size: 4}
decontamination: {ngram: 5}
cleaning: {filters: [{name: repetition, options: {}}, {name: language, options: {}}]}
preference: {pairs_per_prompt: 2}
sft: null
"""


def write_recipe(tmp_path, count=30, delay=0.0, extra=""):
    path = tmp_path / "recipe.yaml"
    path.write_text(RECIPE.replace("COUNT", str(count)).replace("DELAY", str(delay)) + extra)
    return load_recipe(path)


def rows(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def snapshot(table):
    """Every file of a sharded table folder, by name: what must not change when nothing is redone."""
    return {str(p.relative_to(table)): p.read_bytes() for p in sorted(Path(table).rglob("*")) if p.is_file()}


def curate(recipe, out, host):
    return run_pipeline(recipe, out, host, ProgressBoard(enabled=False), until="curate")


def test_curate_builds_sets_from_verified_clean_samples(tmp_path, arith_host):
    out = tmp_path / "run"
    summary = curate(write_recipe(tmp_path), out, arith_host)
    samples = list(sample_rows(out))
    verdicts = {(v["prompt_id"], v["index"]): v for v in verdict_rows(out)}
    assert len(verdicts) == len(samples)
    selected = rows(out / "selected.jsonl")
    expected = sum(4 if p["difficulty"] >= 6 else 3 for p in selected)
    assert len(samples) == expected == summary["stages"]["sample"]["samples"]
    assert len({(s["prompt_id"], s["index"]) for s in samples}) == len(samples)

    drops = summary["drops"]["cleaning"]
    assert drops["no valid answer"] > 0 and drops["repetition"] > 0
    by_key = {(s["prompt_id"], s["index"]): s for s in samples}
    sft = rows(out / "sft.jsonl")
    assert sft, "some scripted answers are correct and clean"
    for row in sft:
        answer = row["messages"][-1]["content"]
        assert "again and again" not in answer and "\\boxed" in answer
        assert row["messages"][0]["content"].endswith("Put the answer in \\boxed{}.")
    clean_correct = [(k[0], by_key[k]["response"]) for k, v in verdicts.items()
                     if v["correct"] and "again and again" not in by_key[k]["response"]]
    # identical responses to one prompt teach nothing twice: one is kept, the rest counted
    assert len(sft) == len(set(clean_correct))
    assert drops.get("duplicate response", 0) == len(clean_correct) - len(set(clean_correct))
    for pair in rows(out / "preference.jsonl"):
        assert pair["chosen"][0]["content"] != pair["rejected"][0]["content"]
        ref = next(p["reference"] for p in selected if p["id"] == pair["prompt_id"])
        assert f"\\boxed{{{ref}}}" in pair["chosen"][0]["content"]
    per_prompt = Counter(p["prompt_id"] for p in rows(out / "preference.jsonl"))
    assert max(per_prompt.values()) <= 2
    assert (out / "summary.json").exists()


def test_rerun_skips_finished_stages(tmp_path, arith_host):
    recipe = write_recipe(tmp_path)
    out = tmp_path / "run"
    curate(recipe, out, arith_host)
    mtimes = {p: p.stat().st_mtime_ns for p in (out / "verdicts").rglob("*")}
    before = snapshot(out / "samples"), snapshot(out / "verdicts")
    assert before[0] and before[1]
    curate(recipe, out, arith_host)
    assert (snapshot(out / "samples"), snapshot(out / "verdicts")) == before
    assert {p: p.stat().st_mtime_ns for p in (out / "verdicts").rglob("*")} == mtimes


def test_changed_cleaning_redoes_only_the_build(tmp_path, arith_host):
    out = tmp_path / "run"
    curate(write_recipe(tmp_path), out, arith_host)
    state = json.loads((out / "state.json").read_text())["stages"]
    samples_before = snapshot(out / "samples")
    relaxed = write_recipe(tmp_path)
    relaxed = validate({**relaxed.to_dict(), "cleaning": {"filters": [{"name": "language", "options": {}}]}},
                       relaxed.path)
    summary = curate(relaxed, out, arith_host)
    after = json.loads((out / "state.json").read_text())["stages"]
    for stage in ("load", "score", "select", "sample", "verify"):
        assert after[stage]["fingerprint"] == state[stage]["fingerprint"]
    assert after["build"]["fingerprint"] != state["build"]["fingerprint"]
    assert snapshot(out / "samples") == samples_before
    assert "repetition" not in summary["drops"]["cleaning"]


def test_more_prompts_samples_only_the_new_ones(tmp_path, arith_host):
    out = tmp_path / "run"
    curate(write_recipe(tmp_path, count=20), out, arith_host)
    first = snapshot(out / "samples")
    curate(write_recipe(tmp_path, count=30), out, arith_host)
    second = snapshot(out / "samples")
    # the first run's shards stay as they were; the new prompts' samples are new shards
    assert {k: second[k] for k in first} == first and len(second) > len(first)
    keys = [(s["prompt_id"], s["index"]) for s in sample_rows(out)]
    assert len(keys) == len(set(keys))


KILL_SCRIPT = """
import sys
sys.path.insert(0, {here!r})
import arith_plugin
from redstar.plugins import Host
from redstar.pipeline.run_tables import sample_rows, verdict_rows
from redstar.pipeline.runner import run_pipeline
from redstar.progress import ProgressBoard
from redstar.recipe import load_recipe
host = Host(load_entry_points=False)
host.register(arith_plugin, name="arith")
run_pipeline(load_recipe({recipe!r}), {out!r}, host, ProgressBoard(enabled=False), until="curate")
"""


def test_kill_9_during_sampling_then_resume_loses_and_duplicates_nothing(tmp_path, arith_host):
    recipe = write_recipe(tmp_path, count=30, delay=0.3)
    out = tmp_path / "run"
    script = tmp_path / "run.py"
    script.write_text(KILL_SCRIPT.format(here=str(HERE), recipe=str(recipe.path), out=str(out)))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and not list(sample_rows(out)):
        time.sleep(0.05)
    time.sleep(0.4)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = len(list(sample_rows(out)))
    assert partial > 0
    recipe.sampling.options["delay"] = 0.3  # same fingerprint as the killed run
    summary = curate(recipe, out, arith_host)
    samples = list(sample_rows(out))
    keys = [(s["prompt_id"], s["index"]) for s in samples]
    assert len(keys) == len(set(keys))
    selected = rows(out / "selected.jsonl")
    assert len(samples) == sum(4 if p["difficulty"] >= 6 else 3 for p in selected) > partial
    assert summary["stages"]["verify"]["verified"] == len(samples)


def test_malformed_source_file_names_file_line_and_field(tmp_path, arith_host, register_plugin):
    from redstar import hookimpl
    from redstar.interfaces import Source
    from redstar.records import Prompt
    from redstar.tables import parse_records

    class FileSource(Source):
        name = "prompt-file"
        domain = "arith"

        def __init__(self, path):
            self.path = path

        def load(self):
            return parse_records(self.path, Prompt.from_dict)

    class P:
        @hookimpl
        def redstar_register_sources(self, register):
            register(FileSource)

    register_plugin(P(), name="file-source")
    data = tmp_path / "prompts.jsonl"
    data.write_text('{"domain": "arith", "source": "f", "question": "1+1", "reference": "2"}\n'
                    '{"domain": "arith", "source": "f", "question": "2+2", "reference": 4}\n')
    recipe = write_recipe(tmp_path)
    recipe = validate({**recipe.to_dict(), "sources": [{"name": "prompt-file", "options": {"path": str(data)}}]},
                      recipe.path)
    with pytest.raises(InputError) as err:
        curate(recipe, tmp_path / "run", arith_host)
    assert f"{data}:2" in str(err.value) and err.value.field == "reference"
    assert not (tmp_path / "run" / "prompts.jsonl").exists()


def test_empty_prompt_set_is_a_clear_error(tmp_path, arith_host):
    recipe = write_recipe(tmp_path, count=0)
    with pytest.raises(RedStarError, match="empty prompt set"):
        curate(recipe, tmp_path / "run", arith_host)


def test_unknown_plugin_option_names_the_recipe_key(tmp_path, arith_host):
    from redstar.errors import RecipeError

    recipe = write_recipe(tmp_path)
    recipe.sources[0].options["colour"] = "red"
    with pytest.raises(RecipeError, match=r"sources\[0\]\.options\.colour"):
        curate(recipe, tmp_path / "run", arith_host)


def test_a_run_made_before_sharding_resumes_from_its_jsonl_tables(tmp_path, arith_host, monkeypatch):
    import shutil

    import arith_plugin

    out = tmp_path / "run"
    recipe = write_recipe(tmp_path)
    first = curate(recipe, out, arith_host)
    samples, verdicts = list(sample_rows(out)), list(verdict_rows(out))
    # the layout of the previous release: one samples.jsonl, one verdicts.jsonl
    (out / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in samples))
    (out / "verdicts.jsonl").write_text("".join(json.dumps(r) + "\n" for r in verdicts))
    shutil.rmtree(out / "samples")
    shutil.rmtree(out / "verdicts")
    state = json.loads((out / "state.json").read_text())
    for stage in ("sample", "verify", "build"):
        state["stages"][stage]["done"] = False
    (out / "state.json").write_text(json.dumps(state))

    def no_sampling(self, conversations, params):
        raise AssertionError("a migrated run must not sample again")

    monkeypatch.setattr(arith_plugin.ScriptedTeacher, "generate", no_sampling)
    again = curate(recipe, out, arith_host)
    assert list(sample_rows(out)) == samples
    assert sorted(verdict_rows(out), key=lambda r: r["sample_id"]) == sorted(verdicts, key=lambda r: r["sample_id"])
    assert again["stages"]["verify"] == first["stages"]["verify"]
    assert (out / "samples.jsonl.migrated").exists() and not (out / "samples.jsonl").exists()
