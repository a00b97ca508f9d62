"""What the Ray tests share (test_ray_engine.py, test_ray_replicas.py): the test sampler plugin,
the engine settings for the test cluster, jobs and their expected texts. The cluster and the
plugin's folder are session fixtures in conftest.py (``ray_cluster``, ``ray_plugin_dir``), so
every Ray test module uses one cluster."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import SimpleNamespace

from redstar.execution import GenerateJob, LocalEngine
from redstar.interfaces import SamplingParams
from redstar.plugins import Host, instantiate
from redstar.recipe import Execution
from redstar.services import VerifierPool

#: The test plugin: a sampler whose text is a function of (model, conversation, seed) alone, which
#: can record its pid, sleep, SIGKILL its own process or hang (sleep for an hour) on chosen
#: conversations, and start child processes that start their own (as vLLM's engine and workers);
#: and a "raytest" verifier (right when the response is the reference) that can hang the same way.
PLUGIN = '''
import os, signal, subprocess, sys, time
from redstar import hookimpl
from redstar.interfaces import Completion, Sampler, Verifier
from redstar.records import Verdict

GRANDCHILD = "import os, sys, time; open(os.path.join(sys.argv[1], 'g%d' % os.getpid()), 'w').close(); time.sleep(3600)"
CHILD = ("import os, subprocess, sys, time; d = sys.argv[1]; "
         "subprocess.Popen([sys.executable, '-c', sys.argv[2], d]); "
         "open(os.path.join(d, 'c%d' % os.getpid()), 'w').close(); time.sleep(3600)")


class EchoSampler(Sampler):
    name = "echo"

    def __init__(self, model, delay=0.0, pids=None, crash_once=None, crash_always=None, hang_once=None,
                 hang_always=None, children=None):
        super().__init__(model)
        self.delay, self.pids, self.crash_once, self.crash_always = delay, pids, crash_once, crash_always
        self.hang_once, self.hang_always, self.children = hang_once, hang_always, children
        self.spawned = None

    def generate(self, conversations, params):
        if self.pids:
            open(os.path.join(self.pids, str(os.getpid())), "w").close()
        if self.children and self.spawned is None:
            self.spawned = subprocess.Popen([sys.executable, "-c", CHILD, self.children, GRANDCHILD])
        time.sleep(self.delay)
        contents = [conversation[-1]["content"] for conversation in conversations]
        if any(self.crash_always and self.crash_always in c for c in contents) or (
                self.crash_once and any("victim" in c for c in contents) and self.first(self.crash_once)):
            os.kill(os.getpid(), signal.SIGKILL)
        if any(self.hang_always and self.hang_always in c for c in contents) or (
                self.hang_once and any("victim" in c for c in contents) and self.first(self.hang_once)):
            time.sleep(3600)
        return [[Completion(f"{self.model}|{c}|{seed}") for seed in seeds] for c, seeds in zip(contents, params.seeds)]

    @staticmethod
    def first(marker):
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))  # across replicas: once
            return True
        except FileExistsError:
            return False


class HangingVerifier(Verifier):
    domain = "raytest"

    def __init__(self, hang_once=None, hang_always=False):
        self.hang_once, self.hang_always = hang_once, hang_always

    def extract(self, response):
        return response

    def verify(self, response, reference, metadata=None):
        if "victim" in response and (self.hang_always or self.hang_once and EchoSampler.first(self.hang_once)):
            time.sleep(3600)
        return Verdict.right(response) if response == reference else Verdict.wrong(response)


@hookimpl
def redstar_register_samplers(register):
    register(EchoSampler)


@hookimpl
def redstar_register_verifiers(register):
    register(HangingVerifier)
'''


def write_plugin(root: Path) -> Path:
    """An installed-looking distribution ``redstar-raytest`` with the ``raytest`` entry point."""
    (root / "redstar_raytest.py").write_text(PLUGIN)
    info = root / "redstar_raytest-0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: redstar-raytest\nVersion: 0.0\n")
    (info / "entry_points.txt").write_text("[redstar]\nraytest = redstar_raytest\n")
    return root


def board() -> SimpleNamespace:
    """Collects the engine's lines (``.lines``), as the run's board would show them."""
    lines: list[str] = []
    return SimpleNamespace(log=lines.append, lines=lines)


def execution(cluster, plugin_dir: Path, **overrides) -> Execution:
    path = os.pathsep.join(p for p in (str(plugin_dir), os.environ.get("PYTHONPATH")) if p)
    options = {"engine": "ray", "address": cluster.address, "replicas": 2, "num_cpus": 1, "max_retries": 2,
               "runtime_env": {"env_vars": {"PYTHONPATH": path}}, **overrides}
    return Execution(**options)


def local_engine(plugin_dir: Path | None = None) -> LocalEngine:
    """The local engine on the installed plugins (and the test plugin, from its file)."""
    host = Host()
    if plugin_dir is not None:
        spec = importlib.util.spec_from_file_location("redstar_raytest", plugin_dir / "redstar_raytest.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        host.register(module, name="raytest-driver")  # "raytest" is the entry point the workers load

    def build(kind, name, options, key, model):
        return instantiate(host.get(kind, name), {**options, "model": model})

    return LocalEngine(build, VerifierPool.from_options(host, {}))


def jobs_of(count: int, per_job: int = 2, n: int = 2, victim: int | None = None) -> list[GenerateJob]:
    jobs = []
    for k in range(count):
        conversations = [[{"role": "user", "content": f"{'victim' if k == victim else 'q'} {k}.{c}"}]
                         for c in range(per_job)]
        seeds = tuple(tuple(1000 * k + 10 * c + i for i in range(n)) for c in range(per_job))
        jobs.append(GenerateJob(k, conversations, SamplingParams(n=n, max_new_tokens=8, seeds=seeds)))
    return jobs


def expected(model: str, jobs: list[GenerateJob]) -> dict:
    """What the echo sampler answers to ``jobs``, worked out here."""
    return {job.key: [[f"{model}|{conversation[-1]['content']}|{seed}" for seed in seeds]
                      for conversation, seeds in zip(job.conversations, job.params.seeds)] for job in jobs}


def collect_once(results) -> dict:
    """Each job's texts by key, failing on a job handed back twice."""
    out = {}
    for job, completions in results:
        assert job.key not in out, f"job {job.key} returned twice"
        out[job.key] = [[c.text for c in row] for row in completions]
    return out


