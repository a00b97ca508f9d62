"""A finished run directory and a new recipe: nothing in the directory is removed or overwritten
before the new recipe has passed every check, and a recipe change never discards a sample that is
still valid (stale ones are set aside, and come back when the recipe changes back)."""

import hashlib
import json
from pathlib import Path

import pytest

from redstar.pipeline.run_tables import sample_rows, verdict_rows
from redstar.pipeline.runner import run_pipeline
from redstar.progress import ProgressBoard
from redstar.recipe import load_recipe

RECIPE = """\
name: change-test
models: {teacher: scripted-teacher, student: scripted-student}
sources: [{name: arith-gen, options: {count: 12}}]
selection: {min_level: 1, max_level: 10}
sampling:
  backend: scripted
  n: 2
  chunk_size: 4
  temperature: 1.0
decontamination: {ngram: 5}
sft: null
"""


def write(tmp_path, text, name="recipe.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def curate(path, out, host):
    return run_pipeline(load_recipe(path), out, host, ProgressBoard(enabled=False), until="curate")


def everything(root):
    """Every file under ``root`` (the lock file included) by path: its bytes' digest and mtime."""
    return {str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(Path(root).rglob("*")) if p.is_file()}


@pytest.fixture
def finished(tmp_path, arith_host):
    """A finished curation: the run directory and its recipe file."""
    path = write(tmp_path, RECIPE)
    out = tmp_path / "run"
    curate(path, out, arith_host)
    assert list(sample_rows(out)) and (out / "recipe.yaml").exists()
    return out, path


def line_of(path, text):
    return next(i for i, line in enumerate(Path(path).read_text().splitlines(), start=1) if text in line)


@pytest.mark.parametrize(("change", "key", "problem"), [
    # the two data-loss cases of issue 23: each deleted the samples of a finished run
    ("temperature: .nan", "sampling.temperature", "must be a finite number, got nan"),
    ("n_by_level: {eleven: 3}", "sampling.n_by_level.eleven", "'eleven' is not a difficulty level"),
    ("temperature: .inf", "sampling.temperature", "must be a finite number, got inf"),
    ("n_by_level: {99: 3}", "sampling.n_by_level.99", "99 is not a difficulty level"),
])
def test_a_bad_recipe_changes_nothing_in_a_finished_run(finished, invoke_cli, change, key, problem):
    out, good = finished
    bad = write(good.parent, RECIPE.replace("temperature: 1.0", change), "bad.yaml")
    line = line_of(bad, change)
    before = everything(out)
    checked = invoke_cli(["recipe", "check", str(bad)], expect_exit=1)
    assert f"{bad}:{line}: {key}: {problem}" in checked.output
    ran = invoke_cli(["run", "--recipe", str(bad), "--out", str(out), "--no-progress"], expect_exit=1)
    assert f"{bad}:{line}: {key}: {problem}" in ran.output and "Traceback" not in ran.output
    assert everything(out) == before  # not a sample, not recipe.yaml, not even the lock file


def test_a_wrong_typed_plugin_option_is_named_at_its_line_before_the_run_is_touched(finished, invoke_cli):
    out, good = finished
    bad = write(good.parent, RECIPE.replace("count: 12", "count: many"), "bad.yaml")
    line = line_of(bad, "count: many")
    before = everything(out)
    message = f"{bad}:{line}: sources[0].options.count: must be int, got str 'many'"
    assert message in invoke_cli(["recipe", "check", str(bad)], expect_exit=1).output
    ran = invoke_cli(["run", "--recipe", str(bad), "--out", str(out), "--no-progress"], expect_exit=1)
    assert message in ran.output
    assert everything(out) == before


def test_a_run_name_is_a_plain_name_never_a_path(tmp_path, invoke_cli, arith_host, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    for name in ("../../../x", "''", "/tmp/abs", ".hidden"):
        bad = write(tmp_path, RECIPE.replace("name: change-test", f"name: {name}"), "bad.yaml")
        result = invoke_cli(["run", "--recipe", str(bad), "--no-progress"], expect_exit=1)
        assert f"{bad}:1: name: must be a plain name" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml", "work"]
    assert not any(work.iterdir())  # not even runs/


def test_a_domain_in_mix_that_no_source_yields_is_named(tmp_path, invoke_cli, arith_host):
    bad = write(tmp_path, RECIPE.replace("selection: {min_level: 1, max_level: 10}",
                                         "selection: {min_level: 1, max_level: 10, mix: {arith: 0.5, logic: 0.5}}"))
    result = invoke_cli(["recipe", "check", str(bad)], expect_exit=1)
    assert f"{bad}:4: selection.mix.logic: no source of this recipe yields the domain 'logic'" in result.output


def test_a_sampling_change_sets_the_samples_aside_and_changing_back_brings_them_back(finished, arith_host):
    out, good = finished
    samples = sorted(json.dumps(s, sort_keys=True) for s in sample_rows(out))
    verdicts = sorted(json.dumps(v, sort_keys=True) for v in verdict_rows(out))
    colder = write(good.parent, RECIPE.replace("temperature: 1.0", "temperature: 0.7"), "colder.yaml")
    summary = curate(colder, out, arith_host)
    folders = {a["stage"]: out / a["path"] for a in summary["set_aside"]}
    assert len(summary["set_aside"]) == 2 and set(folders) == {"sample", "verify"}  # verdicts go with their samples
    kept = sorted(json.dumps(s, sort_keys=True) for s in sample_rows(folders["sample"]))
    assert kept == samples  # every sample of the old recipe, moved, not deleted
    assert any("set aside" in w and "sample" in w for w in summary["warnings"])
    assert all(s["params"]["temperature"] == 0.7 for s in sample_rows(out))
    # Back to the first recipe: its samples and verdicts come back instead of being drawn again.
    summary = curate(good, out, arith_host)
    assert sorted(json.dumps(s, sort_keys=True) for s in sample_rows(out)) == samples
    assert sorted(json.dumps(v, sort_keys=True) for v in verdict_rows(out)) == verdicts
    assert not folders["sample"].exists()
    # the 0.7 samples (and their verdicts) are now the ones set aside
    assert sorted(a["stage"] for a in summary["set_aside"]) == ["sample", "verify"]
    [colder_aside] = [out / a["path"] for a in summary["set_aside"] if a["stage"] == "sample"]
    assert {s["params"]["temperature"] for s in sample_rows(colder_aside)} == {0.7}


def test_more_samples_per_prompt_keeps_every_sample_and_verdict_already_there(finished, arith_host):
    out, good = finished
    shards = {p.name: p.stat().st_ino for p in (out / "samples").glob("*.parquet")}
    verdicts = {(v["sample_id"], v["response_sha256"]) for v in verdict_rows(out)}
    more = write(good.parent, RECIPE.replace("  n: 2\n", "  n: 3\n  n_by_level: {5: 4}\n"), "more.yaml")
    summary = curate(more, out, arith_host)
    assert summary["set_aside"] == [] and not (out / "set-aside").exists()
    # the shards drawn first are the very same files; the new samples are in new shards
    assert {name: (out / "samples" / name).stat().st_ino for name in shards} == shards
    assert verdicts <= {(v["sample_id"], v["response_sha256"]) for v in verdict_rows(out)}
    prompts = {s["prompt_id"] for s in sample_rows(out)}
    assert len(list(sample_rows(out))) > 2 * len(prompts)
    # and back to fewer: nothing is drawn, nothing is removed
    before = everything(out / "samples")
    curate(good, out, arith_host)
    assert everything(out / "samples") == before


def test_a_sweep_sibling_never_replaces_rows_still_valid_here_and_sets_stale_ones_aside(tmp_path):
    from redstar.pipeline.rundir import RunDir

    def run_with(root, fp, key, text):
        run = RunDir(root)
        run.begin("sample", fp, [root / "samples"], rows_key=key)
        (root / "samples").mkdir()
        (root / "samples" / "part-000000.parquet").write_text(text)
        run.finish("sample", {"samples": 1})
        return run

    sibling = run_with(tmp_path / "sibling", "fp-new", "key-new", "sibling's rows")
    # Here: the same rows key, another fingerprint (more samples per prompt, say): keep them.
    mine = run_with(tmp_path / "same-key", "fp-old", "key-new", "my rows")
    mine.siblings = (sibling.root,)
    assert mine.adopt("sample", "fp-new", [mine.root / "samples"], rows_key="key-new") is None
    assert (mine.root / "samples" / "part-000000.parquet").read_text() == "my rows"
    # Here: rows under another key: set aside, then the sibling's are brought over.
    other = run_with(tmp_path / "other-key", "fp-old", "key-old", "stale rows")
    other.siblings = (sibling.root,)
    assert other.adopt("sample", "fp-new", [other.root / "samples"], rows_key="key-new") == sibling.root
    assert (other.root / "samples" / "part-000000.parquet").read_text() == "sibling's rows"
    [(stage, folder)] = other.set_aside_now
    assert stage == "sample" and folder == other.root / "set-aside" / "sample-key-old"
    assert (folder / "samples" / "part-000000.parquet").read_text() == "stale rows"
    assert json.loads((folder / "set-aside.json").read_text())["counts"] == {"samples": 1}


def test_a_write_of_recipe_yaml_that_fails_half_way_leaves_the_old_one_whole(finished, arith_host, monkeypatch):
    # A full disk (or a kill) while recipe.yaml was written left it cut short: it was opened for
    # writing, so emptied, before the new text was in it.
    import redstar.pipeline.runner as runner

    out, good = finished
    before = (out / "recipe.yaml").read_text()
    colder = write(good.parent, RECIPE.replace("temperature: 1.0", "temperature: 0.7"), "colder.yaml")
    monkeypatch.setattr(runner, "dump", lambda recipe: "name: cut\n" * 10_000 + "\udc80")  # fails as it is encoded
    with pytest.raises(UnicodeEncodeError):
        curate(colder, out, arith_host)
    assert (out / "recipe.yaml").read_text() == before
