"""``engine: openrlhf`` launched through ``ray job submit`` to a real (local) Ray cluster, from a
driver whose working directory is not the job's, with a stand-in ``openrlhf`` that does what
0.11.2's ``train_ppo_ray`` does with what RedStar hands it: its own ``ray.init`` with its
runtime_env, the reward module imported inside one actor (``spec_from_file_location``, as
``SingleTurnAgentExecutor``) and ``reward_func`` called positionally, the prompt dataset read inside
another (``datasets.load_dataset("json", data_files=...)``, as ``blending_datasets``), the model
loaded from the path given, a ``Global step`` line, and the final checkpoint saved.

The cluster is this test's own: every address and port on 127.0.0.1, ports the OS picked free,
its own temp dir, so it runs beside any other Ray on the machine; it is stopped by its process
group at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from redstar.interfaces import TrainContext
from redstar_rl.reinforce_pp import ReinforcePPTrainer

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent

STANDIN = '''
"""Stand-in for OpenRLHF 0.11.2's train_ppo_ray (see test_openrlhf_launch.py)."""
import argparse
import importlib.util
import os
import shutil
import sys

import ray


@ray.remote(num_cpus=0)
class Rollout:
    """Where 0.11.2 imports the reward module: inside each vLLM actor."""

    def __init__(self, remote_url):
        spec = importlib.util.spec_from_file_location("reward_func", remote_url)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        self.reward_func = module.reward_func

    def score(self, query, prompt, label):
        return self.reward_func([query], [prompt], [label])  # positionally, one response, as 0.11.2


@ray.remote(num_cpus=0)
class Trainer:
    """Where 0.11.2 reads the prompt dataset and the model: inside the trainer actor."""

    def __init__(self, dataset, model):
        from datasets import load_dataset
        from transformers import AutoTokenizer

        self.rows = list(load_dataset("json", data_files=dataset)["train"])
        self.tokenizer = AutoTokenizer.from_pretrained(model)

    def queries(self):
        out = []
        for row in self.rows:
            prompt = self.tokenizer.apply_chat_template(row["input"], tokenize=False, add_generation_prompt=True)
            out.append((prompt + "The answer is \\\\boxed{7}." + self.tokenizer.eos_token, prompt, row["label"]))
        return out


def main():
    if os.environ.get("STANDIN_ENV") != "openrlhf":
        sys.exit("not started with the OpenRLHF environment's interpreter")
    parser = argparse.ArgumentParser()
    for flag in ("--actor.model_name_or_path", "--data.prompt_dataset", "--reward.remote_url", "--ckpt.output_dir"):
        parser.add_argument(flag)
    args, _ = parser.parse_known_args()
    get = vars(args).__getitem__
    ray.init(runtime_env={"env_vars": {"TOKENIZERS_PARALLELISM": "true", "NCCL_DEBUG": "WARN",
                                       "RAY_ENABLE_ZERO_COPY_TORCH_TENSORS": "1"}})
    trainer = Trainer.remote(get("data.prompt_dataset"), get("actor.model_name_or_path"))
    rollout = Rollout.remote(get("reward.remote_url"))
    results = ray.get([rollout.score.remote(*q) for q in ray.get(trainer.queries.remote())])
    rewards = [float(r["rewards"][0]) for r in results]
    errors = [r["extra_logs"]["reward_error"] for r in results]
    print(f"Global step 1: {{'reward': {sum(rewards) / len(rewards)}, 'reward_error': {sum(errors) / len(errors)}}}",
          flush=True)
    shutil.copytree(get("actor.model_name_or_path"), get("ckpt.output_dir"))


if __name__ == "__main__":
    main()
'''


#: What the cluster and its clients share: Ray's single-machine mode (its address for "this node"
#: is 127.0.0.1 instead of the machine's network address), and a token of this cluster's own
#: (Ray's token authentication otherwise reads ~/.ray/auth_token, which another Ray on the machine
#: may hold or rewrite).
CLIENT_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "token",
              "RAY_AUTH_TOKEN": uuid.uuid4().hex, "RAY_USAGE_STATS_ENABLED": "0"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def job_server_up(address: str) -> bool:
    """Whether the dashboard answers at all (Ray's token authentication answers 401 to a request
    without the token, which the ``ray`` command sends)."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{address}/api/version", timeout=5):
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory, openrlhf_env):
    """A one-node Ray cluster started from the stand-in OpenRLHF environment (as docs/scale.md
    says to start the cluster), with its dashboard (the job server) at ``.address``."""
    root = tmp_path_factory.mktemp("ray")
    # Short: a socket path under it may not exceed 107 bytes, and pytest's basetemp can be long.
    temp = tempfile.mkdtemp(prefix="rs-job-", dir="/tmp")
    dashboard = free_port()
    ports = {f"--{name}": str(free_port()) for name in (
        "port", "node-manager-port", "object-manager-port", "ray-client-server-port", "metrics-export-port",
        "dashboard-agent-listen-port", "dashboard-agent-grpc-port", "runtime-env-agent-port")}
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env.update(PYTHONPATH=str(openrlhf_env["site"]), STANDIN_ENV="openrlhf", **CLIENT_ENV)
    command = [str(BIN / "ray"), "start", "--head", "--block", "--node-ip-address", "127.0.0.1",
               "--dashboard-host", "127.0.0.1", "--dashboard-port", str(dashboard), "--include-dashboard", "true",
               "--min-worker-port", "0", "--max-worker-port", "0", "--num-cpus", "2",
               "--object-store-memory", str(100 * 1024 ** 2), "--temp-dir", temp, "--disable-usage-stats",
               *[x for pair in ports.items() for x in pair]]
    log = (root / "ray.log").open("w")
    head = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    address = f"http://127.0.0.1:{dashboard}"
    try:
        # Polled over HTTP (a `ray` command per poll costs seconds of CPU); on a loaded 2-core
        # machine the head has taken minutes to come up.
        deadline = time.monotonic() + 600
        while not job_server_up(address):
            if head.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the Ray head did not come up: {(root / 'ray.log').read_text()[-3000:]}")
            time.sleep(2)
        # The dashboard is up; now the job server must answer the `ray` command itself.
        while subprocess.run([str(BIN / "ray"), "job", "list", "--address", address], env=env,
                             capture_output=True).returncode != 0:
            if head.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the Ray job server did not come up: {(root / 'ray.log').read_text()[-3000:]}")
            time.sleep(5)
        yield type("Cluster", (), {"address": address})
    finally:
        # A few seconds' grace, then the whole group: a graceful `ray stop` took half a minute,
        # and nothing of the cluster is kept.
        os.killpg(head.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            head.wait(timeout=5)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(head.pid, signal.SIGKILL)
        head.wait()
        log.close()
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="module")
def openrlhf_env(tmp_path_factory):
    """"The OpenRLHF environment": an interpreter (a wrapper around this venv's) that sees the
    stand-in ``openrlhf`` 0.11.2, and the ``ray`` command beside it, as a real one would be."""
    root = tmp_path_factory.mktemp("openrlhf-env")
    site = root / "site"
    package = site / "openrlhf" / "cli"
    package.mkdir(parents=True)
    (site / "openrlhf" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "train_ppo_ray.py").write_text(STANDIN)
    info = site / "openrlhf-0.11.2.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: openrlhf\nVersion: 0.11.2\n")
    bin_dir = root / "bin"
    bin_dir.mkdir()
    for name, target in (("python", sys.executable), ("ray", str(BIN / "ray"))):
        wrapper = bin_dir / name
        wrapper.write_text(textwrap.dedent(f"""\
            #!/bin/sh
            export PYTHONPATH="{site}${{PYTHONPATH:+:$PYTHONPATH}}" STANDIN_ENV=openrlhf
            exec "{target}" "$@"
            """))
        wrapper.chmod(0o755)
    return {"python": str(bin_dir / "python"), "site": site}


def test_ray_job_submit_from_another_directory_ships_the_reward_module_and_the_dataset(
        tmp_path, monkeypatch, tiny_lm, online_file, ray_cluster, openrlhf_env):
    # The driver runs in a directory of its own, and hands over relative paths, as a user would.
    driver = tmp_path / "driver"
    shutil.copytree(tiny_lm, driver / "models" / "sft")
    shutil.copy(online_file, driver / "online.jsonl")
    rows = [json.loads(line) for line in (driver / "online.jsonl").read_text().splitlines()]
    with (driver / "online.jsonl").open("w") as handle:  # math rows: the registered verifier judges them
        for row in rows[:3]:
            handle.write(json.dumps({**row, "domain": "math", "reference": "7"}) + "\n")
    monkeypatch.chdir(driver)
    for name in list(os.environ):
        if name.startswith("RAY_"):
            monkeypatch.delenv(name)
    for name, value in CLIENT_ENV.items():  # for the `ray job submit` RedStar runs
        monkeypatch.setenv(name, value)

    trainer = ReinforcePPTrainer(engine="openrlhf", batch_size=3, mini_batch_size=6, episodes=1,
                                 openrlhf={"python": openrlhf_env["python"], "ray_address": ray_cluster.address,
                                           "runtime_env": {"env_vars": {"HF_HUB_OFFLINE": "1"}}})
    steps = []
    result = trainer.train(TrainContext(
        model="models/sft", output_dir=Path("runs/x/models/reinforce_pp"), data_file=Path("online.jsonl"),
        reward=lambda rows, responses: [0.0] * len(rows), metrics_file=Path("runs/x/metrics/rl.jsonl"),
        on_step=lambda step, total, metrics: steps.append((step, total, dict(metrics)))))

    # The job's reward module judged every response with the math verifier: all correct.
    assert steps == [(1, 1, {"reward": 1.0, "reward_error": 0.0})]
    assert result.model_path == driver / "runs/x/models/reinforce_pp/final"
    assert (result.model_path / "config.json").is_file()
    log = (driver / "runs/x/models/reinforce_pp/openrlhf/openrlhf.log").read_text()
    assert "succeeded" in log.lower()
