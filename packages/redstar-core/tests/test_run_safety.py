"""Nothing lost, nothing run twice: the run directory's lock, verdicts tied to the text they
judged, a damaged table named instead of cut, and bad settings caught before the first stage."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from redstar.errors import InputError, RecipeError, RedStarError
from redstar.pipeline.run_tables import sample_rows, verdict_rows
from redstar.pipeline.runner import run_pipeline
from redstar.progress import ProgressBoard
from redstar.recipe import load_recipe
from redstar.tables import ShardedTable

HERE = Path(__file__).parent

RECIPE = """
name: safety-test
models: {teacher: scripted-teacher, student: scripted-student}
sources: [{name: arith-gen, options: {count: 12}}]
selection: {min_level: 1, max_level: 10}
sampling: {backend: scripted, options: {delay: DELAY}, n: 2, chunk_size: 2}
decontamination: {ngram: 5}
sft: null
"""


def recipe_file(tmp_path, delay=0.0, extra=""):
    path = tmp_path / "recipe.yaml"
    path.write_text(RECIPE.replace("DELAY", str(delay)) + extra)
    return path


def curate(path, out, host):
    return run_pipeline(load_recipe(path), out, host, ProgressBoard(enabled=False), until="curate")


def rows(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


HOLDER = """
import sys
sys.path.insert(0, {here!r})
import arith_plugin
from redstar.plugins import Host
from redstar.pipeline.runner import run_pipeline
from redstar.progress import ProgressBoard
from redstar.recipe import load_recipe
host = Host(load_entry_points=False)
host.register(arith_plugin, name="arith")
run_pipeline(load_recipe({recipe!r}), {out!r}, host, ProgressBoard(enabled=False), until="curate")
"""


def test_a_second_run_on_the_same_directory_fails_at_once_naming_the_holder(tmp_path, arith_host):
    path = recipe_file(tmp_path, delay=0.5)
    out = tmp_path / "run"
    script = tmp_path / "hold.py"
    script.write_text(HOLDER.format(here=str(HERE), recipe=str(path), out=str(out)))
    holder = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not list(sample_rows(out)):
            assert holder.poll() is None, holder.stderr.read().decode()
            time.sleep(0.05)
        before = list(sample_rows(out))
        with pytest.raises(RedStarError, match=rf"in use by pid {holder.pid} on "):
            curate(path, out, arith_host)
        # The refused run wrote nothing: every row so far is the holder's, none twice.
        after = list(sample_rows(out))
        assert after[:len(before)] == before
    finally:
        holder.kill()
        holder.wait()
    # The kernel dropped the lock with its holder (kill -9): the next run takes over and resumes.
    curate(path, out, arith_host)
    keys = [(s["prompt_id"], s["index"]) for s in sample_rows(out)]
    assert len(keys) == len(set(keys)) == 2 * len(rows(out / "selected.jsonl"))


def test_a_verdict_is_reused_only_for_the_text_it_judged(tmp_path, arith_host):
    path = recipe_file(tmp_path)
    out = tmp_path / "run"
    curate(path, out, arith_host)
    samples = list(sample_rows(out))
    verdicts = {v["sample_id"]: v for v in verdict_rows(out)}
    # Swap in a wrong answer for a sample judged correct, as a redrawn sample under the same id
    # would be (same prompt and index, other text), and let the run resume its stages.
    victim = next(s for s in samples if verdicts[f"{s['prompt_id']}#{s['index']}"]["correct"])
    victim_id = f"{victim['prompt_id']}#{victim['index']}"
    victim["response"] = "<think>no idea</think> \\boxed{-12345}"
    shards = [p.name for p in (out / "samples").iterdir()]
    assert shards == ["part-000000.parquet"]
    shutil.rmtree(out / "samples")  # the same shard, rewritten with the other text
    with ShardedTable(out / "samples") as table:
        table.append(samples)
        table.seal()
    state = json.loads((out / "state.json").read_text())
    for stage in ("verify", "build"):
        state["stages"][stage]["done"] = False
    (out / "state.json").write_text(json.dumps(state))
    curate(path, out, arith_host)
    latest = {v["sample_id"]: v for v in verdict_rows(out)}
    assert latest[victim_id]["correct"] is False and latest[victim_id]["extracted"] == "-12345"
    assert all(victim["response"] != r["messages"][-1]["content"] for r in rows(out / "sft.jsonl"))


def test_sample_ids_are_what_verdicts_use(tmp_path, arith_host):
    # The test above addresses verdicts by "<prompt_id>#<index>": pin that, so it cannot pass
    # vacuously if the id scheme changes.
    from redstar.records import Sample

    assert Sample(prompt_id="p", index=3, response="r", model="m").id == "p#3"


def test_a_damaged_line_in_the_middle_of_samples_is_named_and_nothing_is_dropped(tmp_path, arith_host):
    path = recipe_file(tmp_path)
    out = tmp_path / "run"
    curate(path, out, arith_host)
    # The open shard (a journal) of a run interrupted mid-sampling, damaged in its 4th line.
    journal = out / "samples" / "part-000000.jsonl"
    lines = [json.dumps(r).encode() + b"\n" for r in sample_rows(out)]
    (out / "samples" / "part-000000.parquet").unlink()
    lines[3] = b'{"prompt_id": "oops\n'
    damaged = b"".join(lines)
    journal.write_bytes(damaged)
    state = json.loads((out / "state.json").read_text())
    state["stages"]["sample"]["done"] = False
    (out / "state.json").write_text(json.dumps(state))
    with pytest.raises(InputError, match=r"part-000000\.jsonl:4: invalid JSON"):
        curate(path, out, arith_host)
    assert journal.read_bytes() == damaged  # nothing cut, nothing resampled
    lines[3] = b'{"prompt_id": "\xff\xfe"}\n'
    journal.write_bytes(b"".join(lines))
    with pytest.raises(InputError, match=r"part-000000\.jsonl:4: bytes that are not UTF-8"):
        curate(path, out, arith_host)


def test_a_damaged_run_state_is_named(tmp_path, arith_host):
    path = recipe_file(tmp_path)
    out = tmp_path / "run"
    out.mkdir()
    (out / "state.json").write_text('{"stages": {"load": ')
    with pytest.raises(InputError, match=r"state\.json: unreadable run state"):
        curate(path, out, arith_host)


@pytest.mark.parametrize(("damage", "problem"), [
    # each was an AttributeError or ValueError traceback from the runner or the report
    (lambda st: st.__setitem__("load", []), "stage 'load': a list of 0, not a mapping"),
    (lambda st: st.__setitem__("verify", None), "stage 'verify': None, not a mapping"),
    (lambda st: st["load"].__setitem__("counts", [1]), "stage 'load': counts is a list of 1, not a mapping"),
    (lambda st: st["load"]["counts"].__setitem__("by_domain", "x"), "stage 'load': counts.by_domain is a str"),
    (lambda st: st["build"]["counts"].__setitem__("dropped", [1]), "stage 'build': counts.dropped is a list"),
    (lambda st: st["load"].__setitem__("seconds", "x"), "stage 'load': seconds is a str ('x'), not a number"),
    (lambda st: st["sample"].__setitem__("rows_key", {"a": 1}), "stage 'sample': rows_key is a dict of 1, not a string"),
])
def test_a_run_state_damaged_in_its_shape_is_named(tmp_path, arith_host, invoke_cli, damage, problem):
    path = recipe_file(tmp_path)
    out = tmp_path / "run"
    curate(path, out, arith_host)
    state = json.loads((out / "state.json").read_text())
    damage(state["stages"])
    (out / "state.json").write_text(json.dumps(state))
    before = sorted(p.name for p in out.rglob("*"))
    result = invoke_cli(["run", "--recipe", str(path), "--out", str(out), "--until", "curate", "--no-progress"],
                        expect_exit=1)
    assert f"Error: {out / 'state.json'}: not a RedStar run state: {problem}" in result.output
    assert "Traceback" not in result.output and sorted(p.name for p in out.rglob("*")) == before


def test_a_missing_student_is_reported_before_any_stage_runs(tmp_path, arith_host, invoke_cli):
    path = recipe_file(tmp_path).read_text().replace("student: scripted-student", "student: ./no/student")
    (tmp_path / "r.yaml").write_text(path)
    result = invoke_cli(["recipe", "check", str(tmp_path / "r.yaml")], expect_exit=1)
    assert "models.student" in result.output and "./no/student does not exist" in result.output
    out = tmp_path / "run"
    with pytest.raises(RecipeError, match="models.student"):
        curate(tmp_path / "r.yaml", out, arith_host)
    assert not (out / "samples").exists() and not (out / "prompts.jsonl").exists()


class StrictVerifier:
    """A verifier whose constructor rejects a bad value, as the code verifier does."""

    domain = "strict"
    instruction = "Answer."

    def __init__(self, timeout: float = 1.0) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout!r}")
        self.timeout = timeout

    def close(self) -> None:
        pass


@pytest.fixture
def strict_host(arith_host, register_plugin):
    from redstar import hookimpl
    from redstar.interfaces import Verifier

    cls = type("StrictVerifier", (StrictVerifier, Verifier), {"extract": lambda self, r: r,
                                                              "verify": lambda self, r, ref, m=None: None})

    class Plugin:
        @hookimpl
        def redstar_register_verifiers(self, register):
            register(cls)

    register_plugin(Plugin(), name="strict")
    return arith_host


def test_a_bad_option_value_is_a_message_naming_the_key_before_any_stage(tmp_path, strict_host, invoke_cli):
    path = recipe_file(tmp_path, extra="verifiers: {strict: {timeout: -1}}\n")
    result = invoke_cli(["recipe", "check", str(path)], expect_exit=1)
    assert "verifiers.strict" in result.output and "timeout must be positive, got -1" in result.output
    out = tmp_path / "run"
    result = invoke_cli(["run", "--recipe", str(path), "--out", str(out), "--no-progress"], expect_exit=1)
    assert "verifiers.strict: StrictVerifier rejected its options" in result.output
    assert "Traceback" not in result.output and not (out / "prompts.jsonl").exists()
    bad_key = recipe_file(tmp_path, extra="verifiers: {strict: {timout: 2}}\n")
    result = invoke_cli(["recipe", "check", str(bad_key)], expect_exit=1)
    assert "verifiers.strict.timout: unknown option" in result.output  # no "options" level in the YAML


def test_bad_core_values_fail_the_check(tmp_path, invoke_cli, arith_host):
    for extra, key in (("evaluation: {n: 0}\n", "evaluation.n"),
                       ("selection: {min_level: 1, max_level: 10, total: 0}\n", "selection.total")):
        text = RECIPE.replace("DELAY", "0").replace("selection: {min_level: 1, max_level: 10}\n", "") + extra
        (tmp_path / "r.yaml").write_text(text)
        result = invoke_cli(["recipe", "check", str(tmp_path / "r.yaml")], expect_exit=1)
        assert key in result.output, result.output
    text = RECIPE.replace("DELAY", "0").replace("n: 2,", "n: 2, temperature: -0.5,")
    (tmp_path / "r.yaml").write_text(text)
    assert "sampling.temperature" in invoke_cli(["recipe", "check", str(tmp_path / "r.yaml")], expect_exit=1).output


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere; see the unprivileged variant below")
def test_an_unwritable_out_is_one_line(tmp_path, arith_host, invoke_cli):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    result = invoke_cli(["run", "--recipe", str(recipe_file(tmp_path)), "--out", str(locked / "run"),
                         "--until", "curate", "--no-progress"], expect_exit=1)
    assert "cannot create the run directory" in result.output and "Traceback" not in result.output


UNWRITABLE = """
import sys
sys.path[:0] = {paths!r}
import arith_plugin
from redstar.cli import build_cli
from redstar.plugins import Host
host = Host(load_entry_points=False)
host.register(arith_plugin, name="arith")
build_cli(host)(args=["run", "--recipe", {recipe!r}, "--out", {out!r}, "--until", "curate", "--no-progress"],
                prog_name="redstar")
"""


UNPRIVILEGED = """
import sys
from pathlib import Path
from redstar.errors import RedStarError
from redstar.pipeline.rundir import writable_dir
try:
    writable_dir(Path(sys.argv[1]))
except RedStarError as exc:
    print("ERROR:", exc)
"""


def test_an_unwritable_out_is_one_line_for_an_unprivileged_user(tmp_path):
    """As a user who may not write the folder (uid 65534 when the tests run as root). The user
    reads a copy of what it imports (``redstar`` and ``pluggy``) in a folder it may read, and runs
    the base interpreter in isolated mode, so a private checkout or venv (mode 700) is no obstacle."""
    import shutil
    import tempfile

    import pluggy

    import redstar

    if os.geteuid() != 0:
        pytest.skip("covered by test_an_unwritable_out_is_one_line")
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv (util-linux) is not installed")
    python = getattr(sys, "_base_executable", "") or sys.executable
    shared = Path(tempfile.mkdtemp(prefix="redstar-unprivileged-", dir="/tmp"))
    try:
        for module in (redstar, pluggy):
            source = Path(module.__file__).parent
            shutil.copytree(source, shared / source.name, ignore=shutil.ignore_patterns("assets", "__pycache__"))
        (shared / "check.py").write_text(UNPRIVILEGED)
        locked = shared / "locked"
        locked.mkdir()  # owned by root: uid 65534 may read it, not write it
        for path in [shared, *shared.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        proc = subprocess.run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", python, "-I", "-S",
                               "-c", f"import sys; sys.path.insert(0, {str(shared)!r}); "
                                     f"exec(open({str(shared / 'check.py')!r}).read())", str(locked / "run")],
                              capture_output=True, text=True, timeout=120, cwd=str(shared), env={"PATH": "/usr/bin:/bin"})
        assert proc.returncode == 0, proc.stderr
        assert "ERROR: cannot create the run directory" in proc.stdout and "Permission denied" in proc.stdout
        assert "Traceback" not in proc.stdout + proc.stderr
    finally:
        shutil.rmtree(shared, ignore_errors=True)


FULL_DISK = """
mount -t tmpfs -o size=16k tmpfs {out_parent} || exit 99
{python} {script} 2> {log}
echo "first exit $?" >> {log}
mount -o remount,size=16m {out_parent} || exit 98
{python} {script} 2>> {log} || exit 97
{python} -c 'import json, sys; from redstar.pipeline.run_tables import sample_rows; \
rows = list(sample_rows(sys.argv[1])); selected = sum(1 for l in open(sys.argv[2]) if l.strip()); \
print(json.dumps([selected, [[r["prompt_id"], r["index"]] for r in rows]]))' \
{out_parent}/run {out_parent}/run/selected.jsonl
"""


def test_a_full_disk_is_one_line_and_the_run_resumes_once_there_is_room(tmp_path, arith_host):
    """A real full disk: a 16 KiB tmpfs mounted in a private mount namespace (``unshare -Urm``
    lets any user do that) as the run's parent folder, then grown, and the same command rerun."""
    import shutil

    unshare = shutil.which("unshare")
    if unshare is None or subprocess.run([unshare, "-Urm", "true"], capture_output=True).returncode != 0:
        pytest.skip("unprivileged mount namespaces are not available here")
    out_parent = tmp_path / "disk"
    out_parent.mkdir()
    recipe = recipe_file(tmp_path)
    recipe.write_text(recipe.read_text().replace("count: 12", "count: 80"))
    script = tmp_path / "run.py"
    script.write_text(UNWRITABLE.format(paths=[str(HERE), *sys.path], recipe=str(recipe), out=str(out_parent / "run")))
    log = tmp_path / "log.txt"
    shell = FULL_DISK.format(out_parent=out_parent, python=sys.executable, script=script, log=log)
    proc = subprocess.run([unshare, "-Urm", "sh", "-c", shell], capture_output=True, text=True, timeout=600)
    first = log.read_text()
    assert proc.returncode == 0, first[-3000:] + proc.stderr[-2000:]
    assert "first exit 1" in first
    assert "No space left on device" in first and "run the same command again" in first
    assert "Traceback" not in first
    selected, keys = json.loads(proc.stdout.strip().splitlines()[-1])
    keys = [tuple(k) for k in keys]
    assert selected > 40 and len(keys) == len(set(keys)) == 2 * selected  # every (prompt, index) once


def test_a_misspelt_plugin_option_names_its_line_and_its_real_key(tmp_path, strict_host, invoke_cli):
    path = recipe_file(tmp_path, extra="verifiers:\n  strict:\n    timout: 2\n")
    lines = path.read_text().splitlines()
    line = lines.index("    timout: 2") + 1
    result = invoke_cli(["recipe", "check", str(path)], expect_exit=1)
    assert f"{path}:{line}: verifiers.strict.timout: unknown option" in result.output
    source = recipe_file(tmp_path).read_text().replace("options: {count: 12}", "options: {count: 12, colour: red}")
    path.write_text(source)
    line = next(i for i, text in enumerate(source.splitlines(), start=1) if "colour" in text)
    result = invoke_cli(["recipe", "check", str(path)], expect_exit=1)
    assert f"{path}:{line}: sources[0].options.colour" in result.output
