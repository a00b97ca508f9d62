"""Joining a cluster (ray_connect.py): a ``ray://`` connection whose server side failed to start
is tried once more, every other failure is one line at once, and while an engine is open a Ray
call without a connection raises instead of starting or joining another Ray. The retry is driven
by a scripted ``ray.init`` (a head that fails to start a client server cannot be staged on
demand); the real client path: test_ray_engine.py."""

from __future__ import annotations

from typing import Any

import pytest

from redstar.errors import RedStarError
from redstar.execution.ray_connect import CLIENT_TRIES, connect, no_auto_init

SERVER_FAILED = ("Initialization failure from server:\nTraceback (most recent call last):\n  ...\n"
                 "RuntimeError: Starting Ray client server failed. See ray_client_server_23000.err for detailed logs.")


class ScriptedRay:
    """``ray.init`` raising the scripted errors in turn, then connecting."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.inits: list[dict[str, Any]] = []
        self.shutdowns = 0
        self.connected = False

    def is_initialized(self) -> bool:
        return self.connected

    def init(self, **options: Any) -> None:
        self.inits.append(options)
        if self.errors:
            raise self.errors.pop(0)
        self.connected = True

    def shutdown(self) -> None:
        self.shutdowns += 1
        self.connected = False


def test_a_client_server_that_failed_to_start_is_tried_once_more(caplog):
    ray = ScriptedRay(ConnectionError(SERVER_FAILED))
    assert connect(ray, "ray://head:10001") is True
    assert len(ray.inits) == 2 and ray.shutdowns == 1 and ray.connected
    assert "ray://head:10001: Initialization failure from server" in caplog.text and "connecting again" in caplog.text


def test_a_failure_that_persists_is_one_line_naming_the_address_after_the_last_try():
    ray = ScriptedRay(*[ConnectionError(SERVER_FAILED)] * (CLIENT_TRIES + 1))
    with pytest.raises(RedStarError, match=r"^execution.address: cannot reach the Ray cluster at ray://head:10001: "
                                           r"Initialization failure from server: \(RuntimeError: Starting Ray client "
                                           r"server failed\. [^\n]*\)$"):
        connect(ray, "ray://head:10001")
    assert len(ray.inits) == CLIENT_TRIES == 2 and not ray.connected


@pytest.mark.parametrize(("address", "error"), [
    ("ray://head:10001", ConnectionError("ray client connection timeout")),  # nobody there: Ray waited already
    ("head:6379", ConnectionError(SERVER_FAILED)),  # not a client connection
])
def test_other_failures_are_not_retried(address, error):
    ray = ScriptedRay(error, error)
    with pytest.raises(RedStarError, match=f"^execution.address: cannot reach the Ray cluster at {address}: "):
        connect(ray, address)
    assert len(ray.inits) == 1


def test_a_process_already_connected_is_reused():
    ray = ScriptedRay()
    ray.connected = True
    assert connect(ray, "ray://head:10001") is False and ray.inits == []


def test_without_a_connection_a_ray_call_raises_instead_of_starting_ray():
    ray = pytest.importorskip("ray")
    assert not ray.is_initialized()
    restore = no_auto_init(ray)
    try:
        with pytest.raises(ray.exceptions.RaySystemError, match="Ray has not been started yet"):
            ray.put(1)
        assert not ray.is_initialized()
    finally:
        restore()
    from ray._private import auto_init_hook

    assert auto_init_hook.enable_auto_connect is True  # restored: the process's own choice again


def test_an_engine_that_fails_right_after_connecting_disconnects_and_restores_ray(monkeypatch):
    """No engine reaches the caller to be closed: the constructor itself lets go of what it took."""
    from types import SimpleNamespace

    from redstar.execution import ray_engine

    ray, restored = ScriptedRay(), []

    def cluster_gone() -> dict[str, float]:
        raise ConnectionError("the head stopped answering")

    ray.cluster_resources = cluster_gone  # type: ignore[attr-defined]
    monkeypatch.setattr(ray_engine, "import_ray", lambda: ray)
    monkeypatch.setattr(ray_engine, "no_auto_init", lambda _: lambda: restored.append(True))
    with pytest.raises(ConnectionError, match="the head stopped answering"):
        ray_engine.RayEngine(SimpleNamespace(address="ray://head:10001"))
    assert len(ray.inits) == 1 and ray.shutdowns == 1 and not ray.connected and restored == [True]
