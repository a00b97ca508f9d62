"""How rank 0 and the other ranks of a multi-process launch share a run (redstar.pipeline.ranks):
one process keeps the lock and the state, the others join each training step rank 0 starts and
stop with rank 0's error when it fails. Here both sides run as threads of the test over a real
torch TCPStore on 127.0.0.1, standing in for torchrun's agent store; the launches themselves
are in test_multiprocess_train.py."""

from __future__ import annotations

import datetime
import socket
import subprocess
import sys
import threading

import pytest

from redstar.errors import RedStarError
from redstar.pipeline import ranks, training
from redstar.pipeline.context import PluginContext
from redstar.pipeline.rundir import fingerprint
from redstar.recipe import validate


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def agent_store(monkeypatch):
    """A store where torchrun's agent would keep one, and the variables torchrun sets."""
    from torch.distributed import TCPStore

    port = free_port()
    store = TCPStore("127.0.0.1", port, is_master=True, wait_for_workers=False,
                     timeout=datetime.timedelta(seconds=30))
    for name, value in {"TORCHELASTIC_USE_AGENT_STORE": "True", "MASTER_ADDR": "127.0.0.1",
                        "MASTER_PORT": str(port), "TORCHELASTIC_RESTART_COUNT": "0"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(ranks, "_SESSIONS", {})  # each test is a fresh launch
    yield store


RECIPE = {"name": "ranks", "models": {"teacher": "t", "student": "s"},
          "sft": {"trainer": "sft", "options": {"epochs": 1}},
          "rl": [{"trainer": "sft", "options": {"epochs": 2}}]}


class Follower(threading.Thread):
    """Rank 1, following in a thread: what it joined, or what it raised."""

    def __init__(self, recipe, host):
        super().__init__(daemon=True)
        self.recipe, self.host = recipe, host
        self.joined = self.error = None

    def run(self):
        try:
            self.joined = ranks.follow(ranks.Launch(1, 2), self.recipe, self.host)
        except BaseException as exc:  # noqa: BLE001 - the test looks at it
            self.error = exc


def test_the_launch_is_read_from_the_launchers_variables():
    assert ranks.current_launch({}) == ranks.Launch(0, 1)
    assert ranks.current_launch({"RANK": "3", "WORLD_SIZE": "8"}) == ranks.Launch(3, 8)
    assert ranks.current_launch({"OMPI_COMM_WORLD_RANK": "1", "OMPI_COMM_WORLD_SIZE": "2"}) == ranks.Launch(1, 2)
    assert not ranks.Launch(0, 1).multi and ranks.Launch(0, 2).leads and not ranks.Launch(1, 2).leads
    with pytest.raises(RedStarError, match="WORLD_SIZE='two' is not an integer"):
        ranks.current_launch({"WORLD_SIZE": "two"})


def test_a_launcher_without_an_agent_store_is_refused_with_what_to_do():
    with pytest.raises(RedStarError, match="accelerate launch.*torchrun.*redstar train --trainer"):
        ranks.connect_store({"WORLD_SIZE": "2", "RANK": "1", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "1"})


def test_followers_join_each_training_step_rank_0_starts_then_stop(agent_store, redstar_host, monkeypatch):
    recipe = validate(RECIPE)
    joined = []
    monkeypatch.setattr(training, "join_training", lambda ctx, order: joined.append(dict(order)))
    follower = Follower(recipe, redstar_host)
    follower.start()
    orders = [{"stage": "train:sft", "key": "sft", "step": fingerprint(recipe.sft), "model": "/m",
               "output_dir": "/o", "data_file": "/d", "seed": 0},
              {"stage": "train:rl:0", "key": "rl[0]", "step": fingerprint(recipe.rl[0]), "model": "/o/final",
               "output_dir": "/p", "data_file": "/d", "seed": 0}]
    with ranks.leading(ranks.Launch(0, 2)) as team:
        assert ranks.team() is team
        for order in orders:
            team.train(order)
    assert ranks.team() is None
    follower.join(timeout=30)
    assert not follower.is_alive() and follower.error is None
    assert follower.joined == ["train:sft", "train:rl:0"]
    assert [{k: v for k, v in o.items() if k != "kind"} for o in joined] == orders


def test_when_rank_0_fails_the_followers_stop_with_its_error(agent_store, redstar_host, monkeypatch):
    """The issue's hang: rank 0 stopped (here: the run directory is locked by another run) while
    the other ranks waited. They now exit with rank 0's error, and rank 0 waits for them to
    have read it."""
    follower = Follower(validate(RECIPE), redstar_host)
    follower.start()
    with pytest.raises(RedStarError, match="in use"), ranks.leading(ranks.Launch(0, 2)) as team:
        raise RedStarError("the run directory runs/x is in use by pid 1")
    assert team.channel.wait_for_readers(seconds=0)  # rank 1 acknowledged before rank 0 went on
    follower.join(timeout=30)
    assert isinstance(follower.error, ranks.RankZeroFailed)
    assert "rank 0 stopped the run, so rank 1 stops too: the run directory runs/x is in use" in str(follower.error)


def test_a_follower_with_another_recipe_refuses_to_train(redstar_host):
    recipe = validate(RECIPE)
    other = validate({**RECIPE, "sft": {"trainer": "sft", "options": {"epochs": 3}}})
    order = {"stage": "train:sft", "key": "sft", "step": fingerprint(recipe.sft), "model": "/m", "output_dir": "/o",
             "data_file": "/d", "seed": 0}
    ctx = PluginContext(recipe=other, host=redstar_host)
    with pytest.raises(RedStarError, match="sft differs between this rank's recipe and rank 0's"):
        training.join_training(ctx, order)
    assert training.recipe_step(recipe, "rl[0]") is recipe.rl[0]
    for key in ("rl[1]", "rl[x]", "dpo"):
        with pytest.raises(RedStarError, match="no training step"):
            training.recipe_step(recipe, key)


def test_a_multi_process_run_stops_after_training_on_every_rank(monkeypatch, tmp_path, redstar_host):
    from redstar.pipeline.runner import run_pipeline

    for rank in ("0", "1"):
        monkeypatch.setenv("RANK", rank)
        monkeypatch.setenv("WORLD_SIZE", "2")
        with pytest.raises(RedStarError, match="stops after the train stage.*redstar train --run DIR"):
            run_pipeline(validate(RECIPE), tmp_path / "run", redstar_host, until="report")
    assert not (tmp_path / "run").exists()  # nothing was locked or written


def test_python_dash_m_redstar_is_the_cli():
    done = subprocess.run([sys.executable, "-m", "redstar", "--version"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("redstar, version"), done.stderr


def test_the_runs_recipe_file_is_left_alone_when_unchanged(tmp_path, arith_host):
    """The other ranks of `redstar train --run DIR` read DIR/recipe.yaml while rank 0 starts: rank 0
    must not truncate and rewrite it when it says the same thing."""
    import os

    from redstar.pipeline.runner import run_pipeline
    from redstar.progress import ProgressBoard

    recipe = validate({"name": "arith-file", "models": {"teacher": "scripted", "student": "s"},
                       "sources": [{"name": "arith-gen", "options": {"count": 4}}],
                       "selection": {"min_level": 1, "max_level": 10},
                       "sampling": {"backend": "scripted", "n": 1}, "sft": None,
                       "evaluation": {"evaluators": [{"name": "arith-heldout", "options": {"count": 2}}]}})
    out = tmp_path / "run"
    run_pipeline(recipe, out, arith_host, ProgressBoard(enabled=False), until="curate")
    written = (out / "recipe.yaml").stat().st_mtime_ns
    os.utime(out / "recipe.yaml", ns=(written - 10**9, written - 10**9))  # tell a rewrite apart on any clock
    run_pipeline(recipe, out, arith_host, ProgressBoard(enabled=False), until="curate")
    assert (out / "recipe.yaml").stat().st_mtime_ns == written - 10**9
    changed = validate({**recipe.model_dump(mode="python"), "seed": 7})
    run_pipeline(changed, out, arith_host, ProgressBoard(enabled=False), until="curate")
    assert "seed: 7" in (out / "recipe.yaml").read_text()
