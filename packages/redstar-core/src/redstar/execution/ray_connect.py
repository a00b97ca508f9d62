"""Joining a Ray cluster, and staying honest about it once joined.

- :func:`connect` joins ``execution.address`` (or starts a private instance on 127.0.0.1) and
  turns every way that fails into one line naming the address. A ``ray://`` connection whose
  server side failed to start (the head's Ray client server starts one process per driver, and
  a head busy enough to lose that start answers "Initialization failure from server") is tried
  once more before it is an error: a second start usually succeeds, and one that fails again
  fails with the same message.
- :func:`no_auto_init`: while an engine holds its connection, a Ray call made after that
  connection was lost (the client dropped, the head died) raises. Ray's default is to call
  ``ray.init()`` on the first API use without a connection, which joins whatever cluster the
  machine last started, or blocks for good waiting on a GCS that no longer answers: a run
  would hang where it should stop with an error.

Ray is imported by the caller (:func:`import_ray`), never at import time.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import logging
from collections.abc import Callable
from typing import Any

from redstar.errors import MissingDependencyError, RedStarError
from redstar.execution.ray_dispatch import first_line
from redstar.execution.ray_local import LOOPBACK, single_machine

INSTALL_HINT = "the ray engine needs Ray: pip install 'redstar-core[ray]'"
#: Tries of a ``ray://`` connection whose server side failed to start.
CLIENT_TRIES = 2
#: How the Ray client reports a failure on the server's side of the connection (Ray 2.x).
SERVER_SIDE_FAILURE = "Initialization failure from server"

log = logging.getLogger(__name__)


def import_ray() -> Any:
    """The ``ray`` module, typed ``Any`` (Ray's own annotations are not what mypy checks here),
    or a :class:`MissingDependencyError` saying what to install."""
    try:
        return importlib.import_module("ray")
    except ImportError as exc:
        raise MissingDependencyError(f"{INSTALL_HINT} ({exc})") from None


def connect(ray: Any, address: str | None) -> bool:
    """Join the cluster at ``address`` (None: start a Ray instance on this machine) unless this
    process is already connected (a test's cluster, a script that called ``ray.init``). True
    when this call connected, so that closing the engine disconnects again."""
    if ray.is_initialized():
        return False
    options: dict[str, Any] = {"address": address, "logging_level": logging.WARNING}
    private: Callable[[], contextlib.AbstractContextManager[None]] = contextlib.nullcontext
    if address is None:
        # A private instance for this run. ``address=None`` would join the machine's latest
        # cluster (``ray start``'s, another run's) where there is one: "local" always starts a
        # new one. It has no web UI to serve and is bound to 127.0.0.1: nothing outside this
        # machine has any business with it.
        options.update(address="local", include_dashboard=False, _node_ip_address=LOOPBACK)
        private = functools.partial(single_machine, ray)
    tries = CLIENT_TRIES if address is not None and address.startswith("ray://") else 1
    attempt = 1
    while True:
        try:
            with private():
                ray.init(**options)
            return True
        except (ConnectionError, TimeoutError, RuntimeError, ValueError, OSError) as exc:
            # A failed client connection leaves half of itself behind, and the next ray.init in
            # this process (the retry, another engine, a notebook's) would fail on it.
            with contextlib.suppress(Exception):
                ray.shutdown()
            if attempt < tries and SERVER_SIDE_FAILURE in str(exc):
                attempt += 1
                log.warning("ray: %s: %s; connecting again", address, first_line(exc))
                continue
            where = f"the Ray cluster at {address}" if address else "a local Ray instance"
            raise RedStarError(f"execution.address: cannot reach {where}: {first_line(exc)}") from None


def no_auto_init(ray: Any) -> Callable[[], None]:
    """Switch off Ray's implicit ``ray.init()`` in this process (see the module docstring);
    returns what restores the previous setting. Ray reads its switch
    (``RAY_ENABLE_AUTO_CONNECT``) once, at import, into a module flag: the flag is what is
    changed. A Ray without that flag is left as it is."""
    hook = getattr(getattr(ray, "_private", None), "auto_init_hook", None)
    if hook is None or not hasattr(hook, "enable_auto_connect"):
        return lambda: None
    before = hook.enable_auto_connect
    hook.enable_auto_connect = False

    def restore() -> None:
        hook.enable_auto_connect = before

    return restore
