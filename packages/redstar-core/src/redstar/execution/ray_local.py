"""A Ray cluster on this machine that stays on this machine, for tests and benchmarks.

:func:`loopback_cluster` starts a head and any number of worker nodes (each its own raylet, as
separate machines would run them) with ``ray.cluster_utils.Cluster``, and keeps them from
touching anything another Ray instance on the machine uses:

- every node, the dashboard and the Ray client server are bound to 127.0.0.1, and every port is
  one the OS picked free. Ray on Linux rewrites 127.0.0.1 to the machine's network address
  wherever a driver connects (``resolve_ip_for_localhost``), unless multi-machine clusters are
  switched off (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, :data:`LOOPBACK_ENV`): that is set for
  the block, in the environment (for the nodes and any driver started meanwhile) and in this
  process's copy of Ray's constant, and restored afterwards;
- the cluster's files (sessions, sockets, logs, and ``ray_current_cluster``, which
  ``ray.init()`` and ``ray status`` read to find "the" cluster of the machine) live in a
  temporary folder of its own (``RAY_TMPDIR``), so a user's ``ray start`` cluster is neither
  found nor forgotten by it;
- nodes can declare GPUs and custom resources they do not have (``num_gpus``): Ray schedules on
  declared resources, which is how a CPU machine stands in for a GPU cluster.

Ray is imported when a cluster starts, never at import time.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

LOOPBACK = "127.0.0.1"
#: Makes Ray treat the machine as a single-node world: its address for "this node" is 127.0.0.1.
#: Set it in the environment of a process that starts or joins a loopback cluster (a driver run
#: as a subprocess, ``ray start``), before it imports Ray.
LOOPBACK_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
#: Object store per node: Ray's minimum is about 75 MiB; tests move kilobytes.
OBJECT_STORE_BYTES = 80 * 1024**2


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (the OS's choice)."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def node_args(spec: Mapping[str, Any]) -> dict[str, Any]:
    """``Cluster.add_node`` arguments for one node: ``spec`` (``num_cpus``, ``num_gpus``,
    ``resources``, ``object_store_memory``, ...) bound to 127.0.0.1."""
    return {"object_store_memory": OBJECT_STORE_BYTES, **spec, "node_ip_address": LOOPBACK}


@contextlib.contextmanager
def loopback_cluster(nodes: Sequence[Mapping[str, Any]], client_server: bool = False,
                     env: Mapping[str, str] | None = None) -> Iterator[Any]:
    """A running ``ray.cluster_utils.Cluster`` of ``nodes`` (the first is the head), each node
    given as ``add_node`` arguments. ``client_server``: the head also runs a Ray client server,
    whose ``ray://`` address is the cluster's ``client_address`` attribute. ``env``: more
    environment for the nodes' processes (Ray's ``RAY_<setting>`` system settings). The cluster is shut
    down, its processes and its temporary folder removed, when the block ends; a driver this
    process connected (``ray.init``) is disconnected first."""
    import ray

    if not nodes:
        raise ValueError("a cluster needs at least its head node")
    root = tempfile.mkdtemp(prefix="rs-ray-", dir="/tmp")  # short: socket paths have a length limit
    with single_machine(ray, {**(env or {}), "RAY_TMPDIR": root}):
        try:
            yield from _run(ray, nodes, client_server)
        finally:
            shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def single_machine(ray: Any, extra_env: Mapping[str, str] | None = None) -> Iterator[None]:
    """Inside the block Ray's "this node" is 127.0.0.1: :data:`LOOPBACK_ENV` (and ``extra_env``)
    in the environment, inherited by every Ray process started meanwhile, and in this process's
    copy of Ray's constant. Both are restored afterwards."""
    from ray._private import ray_constants

    env = {**LOOPBACK_ENV, **(extra_env or {})}
    saved = {key: os.environ.get(key) for key in env}
    saved_constant = ray_constants.ENABLE_RAY_CLUSTER
    os.environ.update(env)
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = saved_constant
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _run(ray: Any, nodes: Sequence[Mapping[str, Any]], client_server: bool) -> Iterator[Any]:
    from ray.cluster_utils import Cluster

    cluster = None
    try:
        head = node_args(nodes[0])
        head.update(include_dashboard=False, dashboard_host=LOOPBACK, dashboard_port=free_port())
        client_port = free_port() if client_server else None
        if client_port is not None:
            head["ray_client_server_port"] = client_port
        cluster = Cluster(initialize_head=True, head_node_args=head)
        address = None if client_port is None else f"ray://{LOOPBACK}:{client_port}"
        cluster.client_address = address  # type: ignore[attr-defined]  # ours, not Ray's
        for spec in nodes[1:]:
            cluster.add_node(**node_args(spec))
        cluster.wait_for_nodes()
        yield cluster
    finally:
        if ray.is_initialized():
            ray.shutdown()
        if cluster is not None:
            cluster.shutdown()
