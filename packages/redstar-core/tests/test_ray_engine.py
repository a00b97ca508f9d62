"""The ray engine on a real two-node Ray cluster on this machine (``ray.cluster_utils.Cluster``: a
head and a worker node, each its own raylet, all bound to 127.0.0.1: ``ray_cluster`` in
conftest.py): what the local engine gives, nothing lost or doubled when a replica or node dies,
clear errors. Workers find the test sampler as a cluster finds any plugin: a ``redstar`` entry
point of an installed distribution (a ``.dist-info`` on their ``PYTHONPATH``, set through
``execution.runtime_env``). Hung replicas and their child processes: test_ray_replicas.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

#: a two-node cluster, workers killed on purpose, two small runs: about 1.5 minutes on 2 cores.
#: `pytest -m 'not slow'` leaves it out of a quick loop (CI runs everything).
pytestmark = pytest.mark.slow

from ray_helpers import board, collect_once, execution, expected, jobs_of, local_engine  # noqa: E402

from redstar.errors import MissingDependencyError, PluginError, RedStarError  # noqa: E402
from redstar.execution import BuildJob, GenerateJob, SamplerSpec, VerifyJob  # noqa: E402
from redstar.execution.ray_engine import RayEngine, import_ray  # noqa: E402
from redstar.execution.ray_local import node_args  # noqa: E402
from redstar.interfaces import SamplingParams  # noqa: E402
from redstar.models import resolve_model  # noqa: E402
from redstar.pipeline.run_tables import sample_rows, verdict_rows  # noqa: E402
from redstar.records import Prompt  # noqa: E402


@pytest.fixture
def cluster(ray_cluster):
    # An engine reuses a connection this process already has: a test that left one behind would
    # make every test here run on that instance instead of the test cluster.
    assert not ray.is_initialized(), "an earlier test left this process connected to a Ray instance"
    return ray_cluster


@pytest.fixture
def plugin_dir(ray_plugin_dir):
    return ray_plugin_dir


@pytest.fixture(autouse=True)
def plugins_to_load(monkeypatch: pytest.MonkeyPatch) -> str:
    """The driver's plugin allowlist, forwarded to the workers (redstar-rl's import loads torch)."""
    monkeypatch.setenv("REDSTAR_PLUGINS", "math,code,raytest")
    return os.environ["REDSTAR_PLUGINS"]


def test_generate_with_transformers_matches_the_local_engine(cluster, plugin_dir):
    import torch

    spec = SamplerSpec("transformers", "embedded:tiny-teacher", {"device": "cpu", "batch_size": 4}, "sampling")
    jobs = jobs_of(4)  # at temperature 1, seeded per sample
    with RayEngine(execution(cluster, plugin_dir), board=(said := board())) as engine:
        remote = collect_once(engine.generate(spec, jobs))
    # Ray gives a 1-CPU actor one thread; the local run matches it so float sums add up alike.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        local_spec = SamplerSpec("transformers", resolve_model("embedded:tiny-teacher"), spec.options, "sampling")
        with local_engine() as engine:
            local = collect_once(engine.generate(local_spec, jobs))
    finally:
        torch.set_num_threads(threads)
    assert remote == local
    assert len({t for rows in local.values() for row in rows for t in row}) > 8  # really sampled
    assert any("2 node(s)" in line for line in said.lines), said.lines
    assert not ray.is_initialized()  # the engine connected, so closing it disconnected


def test_echo_matches_local_uses_every_replica_draws_lazily(cluster, plugin_dir, tmp_path, plugins_to_load):
    pids = tmp_path / "pids"
    pids.mkdir()
    spec = SamplerSpec("echo", "m", {"pids": str(pids), "delay": 0.05}, "sampling")
    jobs = jobs_of(24)
    drawn = 0
    ahead = []

    def lazily():
        nonlocal drawn
        for job in jobs:
            drawn += 1
            yield job

    remote = {}
    with RayEngine(execution(cluster, plugin_dir)) as engine:
        assert engine.runtime_env()["env_vars"]["REDSTAR_PLUGINS"] == plugins_to_load
        for job, completions in engine.generate(spec, lazily()):
            remote[job.key] = [[c.text for c in row] for row in completions]
            ahead.append(drawn - len(remote))
    replicas = {p.name for p in pids.iterdir()}
    with local_engine(plugin_dir) as engine:
        local = collect_once(engine.generate(spec, jobs))
    assert remote == local and len(remote) == 24
    # two replicas, each with one job running and one queued: never more drawn than that
    assert max(ahead) <= 4, ahead
    assert len(replicas) == 2 and str(os.getpid()) not in replicas  # both replicas worked, in their processes


def test_a_worker_killed_mid_run_loses_and_duplicates_nothing(cluster, plugin_dir, tmp_path):
    marker = tmp_path / "crashed"
    spec = SamplerSpec("echo", "m", {"crash_once": str(marker), "delay": 0.05}, "sampling")
    jobs = jobs_of(12, victim=5)
    with RayEngine(execution(cluster, plugin_dir), board=(said := board())) as engine:
        remote = collect_once(engine.generate(spec, jobs))
    assert marker.exists()  # the replica holding job 5 really died (SIGKILL) mid-job
    with local_engine(plugin_dir) as engine:
        assert remote == collect_once(engine.generate(spec, jobs_of(12, victim=5)))
    assert any("chunk 5" in line and "redoing" in line for line in said.lines), said.lines


@pytest.mark.parametrize("lose", ["actor", "node"])
def test_an_actor_or_a_node_lost_mid_run_loses_and_duplicates_nothing(cluster, plugin_dir, lose):
    spec = SamplerSpec("echo", "m", {"delay": 0.3}, "sampling")
    jobs = jobs_of(12)
    remote = {}
    with RayEngine(execution(cluster, plugin_dir), board=(said := board())) as engine:
        for job, completions in engine.generate(spec, jobs):
            if not remote and lose == "actor":  # both replicas hold a running and a queued job now
                ray.kill(engine.pool(spec).actors[0], no_restart=False)
            elif not remote:
                # The worker node goes (its raylet and every process on it) and another joins,
                # as a preempted machine and its replacement would.
                (lost,) = cluster.worker_nodes
                cluster.remove_node(lost)
                cluster.add_node(**node_args({"num_cpus": 2}))
            assert job.key not in remote
            remote[job.key] = [[c.text for c in row] for row in completions]
    assert remote == expected("m", jobs)
    assert any("worker lost" in line for line in said.lines), said.lines


def test_a_driver_elsewhere_joins_through_the_ray_client(cluster, plugin_dir, tmp_path):
    """``address: ray://head:10001`` (a laptop): a dead replica is replaced there too."""
    marker = tmp_path / "crashed"
    spec = SamplerSpec("echo", "m", {"crash_once": str(marker)}, "sampling")
    jobs = jobs_of(8, victim=3)
    with RayEngine(execution(cluster, plugin_dir, address=cluster.client_address)) as engine:
        remote = collect_once(engine.generate(spec, jobs))
        verdicts = {job.key: verdicts for job, verdicts in engine.verify(verify_jobs())}
    assert remote == expected("m", jobs) and marker.exists()
    assert sum(v.correct for part in verdicts.values() for v in part) == 5
    assert not ray.is_initialized()


def test_a_chunk_that_keeps_killing_its_worker_stops_the_run_naming_it(cluster, plugin_dir):
    spec = SamplerSpec("echo", "m", {"crash_always": "poison"}, "sampling")
    jobs = jobs_of(3) + [
        GenerateJob("poisoned", [[{"role": "user", "content": "poison"}]], SamplingParams(n=1, seeds=((1,),)))]
    with RayEngine(execution(cluster, plugin_dir, max_retries=1)) as engine, \
            pytest.raises(RedStarError, match=r"sampling chunk 'poisoned' failed 2 times .*max_retries is 1"):
        for _ in engine.generate(spec, jobs):
            pass


def test_a_plugin_error_or_an_environment_ray_cannot_build_is_a_message(cluster, plugin_dir):
    spec = SamplerSpec("echo", "m", {"bogus": 1}, "sampling")
    with RayEngine(execution(cluster, plugin_dir)) as engine, \
            pytest.raises(PluginError, match=r"sampling\.options\.bogus: unknown option 'bogus'"):
        list(engine.generate(spec, jobs_of(2)))
    with RayEngine(execution(cluster, plugin_dir, runtime_env={"conda": "no-such-env"})) as engine, \
            pytest.raises(RedStarError, match=r"^ray: verification batch 0 \(verifier: code, math\): RuntimeEnvSetupError: [^\n]+$"):
        list(engine.verify(verify_jobs()[:1]))


CODE_IO = json.dumps({"inputs": ["2 3\n", "10 -4\n"], "outputs": ["5\n", "6\n"]})


def verify_jobs() -> list[VerifyJob]:
    math = [Prompt(domain="math", source="t", question=f"{i} + {i}?", reference=str(2 * i), id=f"m{i}")
            for i in range(4)]
    code = Prompt(domain="code", source="t", question="Add two numbers.", reference=CODE_IO, id="c")
    right = "```python\na, b = map(int, input().split())\nprint(a + b)\n```"
    items = [(f"so \\boxed{{{2 * i}}}", math[i]) for i in range(4)] + [("so \\boxed{7}", math[1]),
                                                                        ("no answer", math[2])]
    items += [(right, code), ("```python\nprint(5)\n```", code), ("a + b", code)]
    return [VerifyJob(k, items[k::3]) for k in range(3)]


def test_verify_matches_the_local_engine_for_math_and_code(cluster, plugin_dir):
    with RayEngine(execution(cluster, plugin_dir)) as engine:
        remote = {job.key: verdicts for job, verdicts in engine.verify(verify_jobs())}
    with local_engine() as engine:
        local = {job.key: verdicts for job, verdicts in engine.verify(verify_jobs())}
    assert remote == local and len(remote) == 3
    flat = [v for k in sorted(local) for v in local[k]]
    assert sum(v.correct for v in flat) == 5 and {v.reward for v in flat} == {1, 0, -1}
    assert {v.reason for v in flat if not v.correct} >= {"wrong answer on test 2 of 2"}


def test_set_building_on_ray_writes_what_the_local_engine_does(cluster, plugin_dir, tmp_path):
    """Each partition a task: its rows shipped from the driver's file, its sets written back;
    the same bytes and counts as the local engine's in-process build (test_pipeline_engine.py
    pins those to the driver-side build)."""
    prompts = [(f"p{k}", "math" if k % 2 else "code", float(k), [{"role": "user", "content": f"q{k} é"}])
               for k in range(6)]
    kinds = [(True, 1), (False, 0), (False, -1), (True, 1)]

    def jobs(out: Path) -> list[BuildJob]:
        made = []
        for part in range(3):
            rows = out / f"{part}.jsonl"
            rows.parent.mkdir(parents=True, exist_ok=True)
            rows.write_text("".join(json.dumps({"prompt_id": f"p{k}", "index": i, "response": f"r{k % 2}{i % 3} ∑",
                                                "correct": c, "reward": r, "clean": True}) + "\n"
                                    for k in range(part, 6, 3) for i, (c, r) in reversed(list(enumerate(kinds)))))
            made.append(BuildJob(part, prompts[part::3], rows, out / f"{part}.sft", out / f"{part}.pref"))
        return made

    options = {"pairs_per_prompt": 2, "negatives": "wrong_first"}
    with RayEngine(execution(cluster, plugin_dir, task_timeout=60)) as engine:
        remote = {job.key: counts for job, counts in engine.build(options, jobs(tmp_path / "ray"))}
    with local_engine() as engine:
        local = {job.key: counts for job, counts in engine.build(options, jobs(tmp_path / "local"))}
    assert remote == local and sorted(local) == [0, 1, 2]
    totals = [sum(c[key] for counts in local.values() for c in counts.values())
              for key in ("sft_rows", "preference_pairs", "duplicate response")]
    assert totals == [6, 12, 6]  # index 3 repeats index 0's response: a duplicate positive
    for name in ("0.sft", "1.sft", "2.sft", "0.pref", "1.pref", "2.pref"):
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "local" / name).read_bytes() != b""


def test_a_hung_verification_task_is_redone_or_named(cluster, plugin_dir, tmp_path):
    """A verifier that hangs once: its task is killed after ``execution.task_timeout`` and the
    batch redone; one that hangs every time stops the run with one line naming the batch and
    the verifier, within the retries' timeouts."""
    import time

    prompts = [Prompt(domain="raytest", source="t", question=f"q{k}", reference=f"a{k}", id=f"p{k}") for k in range(4)]
    items = [("victim" if k == 2 else f"a{k}", prompts[k]) for k in range(4)]
    jobs = [VerifyJob([p for _, p in items[k:k + 2]], items[k:k + 2]) for k in (0, 2)]
    said = board()
    options = {"raytest": {"hang_once": str(tmp_path / "hung")}}
    with RayEngine(execution(cluster, plugin_dir, task_timeout=4), verifier_options=options, board=said) as engine:
        got = {job.key[0].id: [v.correct for v in verdicts] for job, verdicts in engine.verify(jobs)}
    assert got == {"p0": [True, True], "p2": [False, True]}
    assert any("worker hung" in line and "starting at 'p2'" in line and "(verifier: raytest)" in line
               for line in said.lines), said.lines
    started = time.monotonic()
    always = RayEngine(execution(cluster, plugin_dir, task_timeout=4, max_retries=0),
                       verifier_options={"raytest": {"hang_always": True}})
    with always, pytest.raises(RedStarError) as stop:
        list(always.verify(jobs[1:]))
    message = str(stop.value)
    assert "\n" not in message and "starting at 'p2'" in message and "(verifier: raytest)" in message, message
    assert "because its worker hung" in message and time.monotonic() - started < 60


def test_ctrl_c_stops_and_hands_back_only_finished_jobs(cluster, plugin_dir, ctrl_c_raises):
    spec = SamplerSpec("echo", "m", {"delay": 0.4}, "sampling")
    got = {}
    with RayEngine(execution(cluster, plugin_dir)) as engine:
        results = engine.generate(spec, jobs_of(30))
        with pytest.raises(KeyboardInterrupt):
            for job, completions in results:
                if not got:
                    threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT)).start()
                assert job.key not in got
                got[job.key] = [[c.text for c in row] for row in completions]
    assert 1 <= len(got) < 30
    assert got == {key: rows for key, rows in expected("m", jobs_of(30)).items() if key in got}


def test_no_ray_or_no_cluster_is_a_one_line_error_and_a_joined_cluster_is_reused(monkeypatch, cluster, plugin_dir):
    with monkeypatch.context() as patched, \
            pytest.raises(MissingDependencyError, match=r"pip install 'redstar-core\[ray\]'"):
        patched.setitem(sys.modules, "ray", None)
        import_ray()
    # A process that joined already: reused.
    ray.init(address=cluster.address)
    try:
        with RayEngine(execution(cluster, plugin_dir, address="ray://127.0.0.1:1")) as engine:
            assert list(engine.verify([])) == []
        assert ray.is_initialized()  # not the engine's to shut down
    finally:
        ray.shutdown()
    # Ray's client waits 5 s, then 10 s, ... for a server; a second is enough to know none is there.
    monkeypatch.setattr("ray.util.client.worker.INITIAL_TIMEOUT_SEC", 1, raising=False)
    with pytest.raises(RedStarError, match=r"^execution.address: cannot reach the Ray cluster at ray://127.0.0.1:1: "
                                           r"[^\n]*$"):
        RayEngine(execution(cluster, plugin_dir, address="ray://127.0.0.1:1"))
    assert not ray.is_initialized()
    # and the failed attempt left nothing behind that stops this process joining a cluster
    with RayEngine(execution(cluster, plugin_dir)) as engine:
        assert [v.correct for v in next(iter(engine.verify(verify_jobs()[:1])))[1]] == [True, True, True]


PRIVATE = """
import json, ray
from redstar.execution.ray_engine import RayEngine
from redstar.recipe import Execution
with RayEngine(Execution(engine="ray", address=None)):
    print(json.dumps({"gcs": ray.get_runtime_context().gcs_address,
                      "nodes": [n["NodeManagerAddress"] for n in ray.nodes() if n["Alive"]]}))
"""


def test_without_an_address_the_engine_starts_an_instance_of_its_own_on_loopback(cluster):
    """``address: null`` beside another Ray on the machine (here the test cluster, which is what
    ``ray.init()`` finds as the machine's latest): a new instance, bound to 127.0.0.1, not the
    other one. In a process of its own, without the test session's loopback setting."""
    env = {k: v for k, v in os.environ.items() if k != "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"}
    done = subprocess.run([sys.executable, "-c", PRIVATE], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["gcs"] != cluster.address and seen["gcs"].startswith("127.0.0.1:")
    assert seen["nodes"] == ["127.0.0.1"]


E2E_RECIPE = """
name: ray-e2e
models: {teacher: "embedded:tiny-teacher", student: "embedded:tiny-student"}
sources: [{name: synthetic-math, options: {count: 10}}, {name: synthetic-code, options: {count: 6}}]
selection: {mix_mode: cap, domains: {math: {min_level: 1, max_level: 10}, code: {min_level: 1, max_level: 10}}}
sampling: {backend: transformers, options: {device: cpu, batch_size: 4}, n: 2, n_by_level: {}, temperature: 1.0,
           max_new_tokens: 96, chunk_size: 3}
sft: null
evaluation: {evaluators: [{name: synthetic-math-heldout, options: {count: 1}},
                          {name: synthetic-code-heldout, options: {count: 1}}],
             backend: transformers, options: {device: cpu, batch_size: 4}, n: 2, max_new_tokens: 24}
"""


def redstar_run(tmp_path: Path, name: str, extra: str = "") -> tuple[Path, str]:
    """``redstar run --until eval`` in its own process (the driver): the run and what it printed."""
    recipe = tmp_path / f"{name}.yaml"
    recipe.write_text(E2E_RECIPE + extra)
    out = tmp_path / name
    # One torch thread, as Ray gives a 1-CPU replica: float sums then add up alike in both runs.
    env = {**os.environ, "REDSTAR_PLUGINS": "math,code", "OMP_NUM_THREADS": "1"}
    command = [str(Path(sys.executable).parent / "redstar"), "run", "--recipe", str(recipe), "--out", str(out),
               "--until", "eval", "--no-progress"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out, done.stdout + done.stderr


def outcome(run: Path) -> dict:
    """A run's counts and scores, every sample's text, every verdict, the built sets and every
    evaluation row."""
    summary = json.loads((run / "summary.json").read_text())
    samples = {(r["prompt_id"], r["index"]): r["response"] for r in sample_rows(run)}
    verdicts = {(r["prompt_id"], r["index"]): (r["correct"], r["reward"]) for r in verdict_rows(run)}
    evaluated = {p.name: sorted(p.read_text().splitlines()) for p in sorted((run / "eval").rglob("*.jsonl"))}
    return {"counts": {k: summary["stages"][k] for k in ("load", "select", "sample", "verify", "build")},
            "scores": summary["scores"], "samples": samples, "verdicts": verdicts, "eval": evaluated,
            "sets": {name: (run / name).read_text() for name in ("sft.jsonl", "preference.jsonl", "online.jsonl")}}


def test_a_small_run_on_ray_produces_what_the_local_run_does(cluster, tmp_path):
    local_run, local_log = redstar_run(tmp_path, "local")
    on_cluster = f"execution: {{engine: ray, address: '{cluster.address}', replicas: 2}}\n"
    ray_run, ray_log = redstar_run(tmp_path, "ray", on_cluster)
    said = " ".join(ray_log.split())  # the console may wrap the engine's lines (not mid-word: soft wrap)
    assert "ray: 2 node(s)" in said and "ray: " not in local_log
    # verification ran while the replicas sampled, and cleaning as tasks: the same sets either way
    assert "verdicts made while sampling were taken over" in said and "taken over" not in local_log
    # the teacher's replicas sampled, then the student's evaluated
    assert said.count("transformers replica(s) of") == 2 and "tiny-teacher" in said and "tiny-student" in said, said
    assert (local := outcome(local_run)) == outcome(ray_run)
    assert local["counts"]["sample"]["samples"] == len(local["samples"]) > 20
    # right, wrong and unanswered responses; both benchmarks evaluated
    assert {reward for _, reward in local["verdicts"].values()} == {1, 0, -1} and len(local["eval"]) == 2
    assert not ray.is_initialized()  # the runs were other processes: this one never connected


def test_a_sweep_on_ray_shares_steps_between_variants(cluster, tmp_path):
    """``redstar sweep`` with ``execution.engine: ray``: each variant samples on the cluster, the
    larger SFT set reuses the smaller one's samples and draws only its new prompts there."""
    base = tmp_path / "base.yaml"
    base.write_text(E2E_RECIPE + f"execution: {{engine: ray, address: '{cluster.address}', replicas: 2}}\n")
    sweep = tmp_path / "sizes.yaml"
    sweep.write_text("name: ray-sizes\nbase: base.yaml\nseeds: [0]\nvary:\n  - selection.total: [6, 12]\n")
    out = tmp_path / "sweep"
    env = {**os.environ, "REDSTAR_PLUGINS": "math,code", "OMP_NUM_THREADS": "1"}
    command = [str(Path(sys.executable).parent / "redstar"), "sweep", str(sweep), "--out", str(out),
               "--until", "eval", "--no-progress"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    said = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == 0, said[-3000:]
    assert said.count("ray: 2 node(s)") >= 2, said  # both variants drew on the cluster
    small, large = out / "runs" / "total-6_seed-0", out / "runs" / "total-12_seed-0"
    assert json.loads((large / "state.json").read_text())["stages"]["sample"]["shared_from"] == str(small)
    mine, theirs = ({(r["prompt_id"], r["index"]): r["response"] for r in sample_rows(run)} for run in (small, large))
    assert mine and set(mine) < set(theirs)
    assert {key: theirs[key] for key in mine} == mine  # the shared draws, unchanged
    (table,) = json.loads((out / "sweep.json").read_text())["tables"]
    assert [row["label"] for row in table["rows"]] == ["total=6", "total=12"]
    assert all(set(row["cells"]) >= {"synthetic-math-heldout", "synthetic-code-heldout"} for row in table["rows"])
