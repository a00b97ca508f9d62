"""The sandbox factory: finds the tools once, then starts one isolated session per candidate."""

from __future__ import annotations

import itertools
import os
import secrets
import threading
import weakref
from collections.abc import Sequence
from typing import Any

from redstar_code.sandbox.bridge import MountBridge, needs_bridge
from redstar_code.sandbox.command import (
    SANDBOX_GID,
    SANDBOX_UID,
    WORK_DIR,
    Interpreter,
    bwrap_arguments,
    find_bwrap,
    find_nsenter,
)
from redstar_code.sandbox.errors import SandboxError, SandboxUnavailable
from redstar_code.sandbox.limits import Limits
from redstar_code.sandbox.session import Session

#: The prefix of every sandbox tag (in its processes' environment and command line).
TAG_PREFIX = "redstar-sbx"


class Sandbox:
    """Starts sandboxed harness sessions (see :mod:`redstar_code.sandbox.command` for what the
    isolation is). Thread-safe: many sessions may run at once.

    ``python``: the interpreter that runs candidates (default: the one running RedStar);
    ``import_paths``: host directories whose packages candidates may import (read-only; default
    none, so candidates get the standard library only).

    Raises :class:`SandboxUnavailable` at construction when bubblewrap is missing, and on the
    first session when it cannot create namespaces here. Never runs anything unsandboxed.
    """

    def __init__(self, python: str | None = None, import_paths: Sequence[str] = ()) -> None:
        self.bwrap = find_bwrap()
        self.nsenter = find_nsenter() if needs_bridge() else None
        self.interpreter = Interpreter.find(python)
        paths = []
        for path in import_paths:
            real = os.path.realpath(path)
            if not os.path.isdir(real):
                raise SandboxError(f"import path {path!r} is not a directory")
            paths.append(real)
        self.import_paths = tuple(paths)
        for root in (*self.interpreter.roots, *self.import_paths):
            if root == WORK_DIR or root.startswith(WORK_DIR + "/"):
                raise SandboxError(f"{root} is under {WORK_DIR}, the sandbox's own working directory")
        #: Unique to this Sandbox object: every session's tag starts with it.
        self.tag_prefix = f"{TAG_PREFIX}-{os.getpid()}-{secrets.token_hex(4)}"
        self._counter = itertools.count()
        self._lock = threading.Lock()
        self._check_lock = threading.Lock()
        self._bridge: MountBridge | None = None
        self._checked = False
        self._finalizer = weakref.finalize(self, _close_bridge, [None])

    # -- sessions -----------------------------------------------------------------------
    def session(self, programs: Sequence[str], limits: Limits, call: dict[str, Any] | None = None,
                preload: Sequence[str] = ()) -> Session:
        """Start a sandbox holding ``programs`` (compiled once, run per test).

        ``call``: None for standard-input programs, else ``{"fn_name", "lookup", "int_keys"}``.
        ``preload``: modules the harness imports before forking tests (a prelude's imports).
        """
        self.ensure_checked()
        return self._start(programs, limits, call, preload)

    def ensure_checked(self) -> None:
        """Run :meth:`check` once per Sandbox."""
        if not self._checked:
            with self._check_lock:
                if not self._checked:
                    self.check()

    def check(self) -> None:
        """Start one trivial sandbox, turning a machine that cannot run sandboxes into a clear
        :class:`SandboxUnavailable` before any candidate is judged."""
        try:
            with self._start(["print('ok')"], Limits(timeout=10), None, ()) as probe:
                run = probe.run(0, "")
        except SandboxError as exc:
            raise SandboxUnavailable(
                f"bubblewrap is installed but cannot start a sandbox here: {exc}. It needs "
                "unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1; on "
                "Ubuntu 24.04+ an AppArmor profile allowing bwrap) and read access for uid "
                f"{SANDBOX_UID} to {self.interpreter.executable}"
            ) from None
        if run.stdout is None or run.stdout.strip() != "ok" or run.exit_code != 0:
            raise SandboxUnavailable(f"the sandbox probe did not run correctly: {run}")
        self._checked = True

    def _start(self, programs: Sequence[str], limits: Limits, call: dict[str, Any] | None,
               preload: Sequence[str]) -> Session:
        tag = f"{self.tag_prefix}-{next(self._counter)}"
        prefix: list[str] = []
        source_of: dict[str, str] = {}
        if self.nsenter is not None:
            bridge = self._get_bridge()
            prefix = bridge.enter_command(self.nsenter, SANDBOX_UID, SANDBOX_GID)
            source_of = bridge.source_of
        info_read, info_write = os.pipe()
        command = prefix + bwrap_arguments(
            self.bwrap, self.interpreter, limits, tag, info_write,
            extra_roots=self.import_paths, source_of=source_of,
        )
        header = {
            "programs": list(programs),
            "call": call,
            "limits": limits.for_harness(),
            "preload": list(preload),
            "paths": list(self.import_paths),
        }
        # stdout is capped by the file-size limit, stderr is a tail, the return value is a file too
        max_frames = 2 * limits.for_harness()["max_output"] + (1 << 20)
        return Session(command, (info_read, info_write), header, tag, limits.timeout, max_frames)

    def _get_bridge(self) -> MountBridge:
        with self._lock:
            if self._bridge is None or not self._bridge.alive():
                if self._bridge is not None:
                    self._bridge.close()
                sources = tuple(dict.fromkeys((*self.interpreter.roots, *self.import_paths)))
                self._bridge = MountBridge(sources, self.tag_prefix)
                self._finalizer.detach()
                self._finalizer = weakref.finalize(self, _close_bridge, [self._bridge])
            return self._bridge

    def close(self) -> None:
        """Stop the root bridge helper, if one was started. Sessions close themselves."""
        with self._lock:
            self._finalizer()
            self._bridge = None


def _close_bridge(holder: list[MountBridge | None]) -> None:
    for bridge in holder:
        if bridge is not None:
            bridge.close()
