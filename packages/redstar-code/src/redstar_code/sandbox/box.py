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
    package_binds,
)
from redstar_code.sandbox.errors import SandboxError, SandboxUnavailable
from redstar_code.sandbox.limits import Limits
from redstar_code.sandbox.seccomp import build_filter, current_arch
from redstar_code.sandbox.session import Session

#: The prefix of every sandbox tag (in its processes' environment and command line).
TAG_PREFIX = "redstar-sbx"


class Sandbox:
    """Starts sandboxed harness sessions (see :mod:`redstar_code.sandbox.command` for what the
    isolation is). Thread-safe: many sessions may run at once.

    ``python``: the interpreter that runs candidates (default: the one running RedStar; for a
    virtual environment, its base interpreter, since candidates get its standard library only);
    ``import_paths``: host directories whose packages candidates may import (shown whole,
    read-only; default none, so candidates get the standard library only);
    ``packages``: installed packages candidates may import (``"numpy"``): only each package's
    own directory (and its ``<name>.libs`` of bundled libraries) is shown, not its neighbours.

    Raises :class:`SandboxUnavailable` at construction when bubblewrap is missing or the
    system-call filter does not know this machine's architecture, and on the first session when
    it cannot create namespaces or install the filter here. Never runs anything unsandboxed.
    """

    def __init__(self, python: str | None = None, import_paths: Sequence[str] = (),
                 packages: Sequence[str] = ()) -> None:
        self.bwrap = find_bwrap()
        arch = current_arch()  # SandboxUnavailable where the system-call filter is unknown
        #: The system-call filter every sandbox installs (see redstar_code.sandbox.seccomp).
        self.seccomp = build_filter(arch)
        self.keyctl = arch.numbers["keyctl"]
        self.nsenter = find_nsenter() if needs_bridge() else None
        self.interpreter = Interpreter.find(python)
        paths = []
        for path in import_paths:
            real = os.path.realpath(path)
            if not os.path.isdir(real):
                raise SandboxError(f"import path {path!r} is not a directory")
            paths.append(real)
        binds = [(path, path) for path in paths]
        for name in packages:
            parent, shown = package_binds(name)
            paths.append(parent)
            binds += [(path, path) for path in shown]
        #: Directories appended to the candidates' ``sys.path``.
        self.import_paths = tuple(dict.fromkeys(paths))
        #: ``(host source, path inside)`` pairs shown besides the interpreter's.
        self.extra_binds = tuple(dict.fromkeys(binds))
        for _, target in (*self.interpreter.binds, *self.extra_binds):
            if target in ("/", WORK_DIR) or target.startswith((WORK_DIR + "/", "/proc/", "/dev/")):
                raise SandboxError(f"{target} cannot be shown in the sandbox (it is / or one of the "
                                   f"sandbox's own directories: {WORK_DIR}, /proc, /dev)")
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
        translate = None
        if self.nsenter is not None:
            bridge = self._get_bridge()
            prefix = bridge.enter_command(self.nsenter, SANDBOX_UID, SANDBOX_GID)
            translate = bridge.translate
        info_read, info_write = os.pipe()
        command = prefix + bwrap_arguments(
            self.bwrap, self.interpreter, limits, tag, info_write,
            extra_binds=self.extra_binds, translate=translate,
        )
        header = {
            "programs": list(programs),
            "call": call,
            "limits": limits.for_harness(),
            "preload": list(preload),
            "paths": list(self.import_paths),
            "keyctl": self.keyctl,
            "seccomp": self.seccomp,
        }
        # stdout is capped by the file-size limit, stderr is a tail, the return value is a file too
        max_frames = 2 * limits.for_harness()["max_output"] + (1 << 20)
        # bwrap (and nsenter) start with an empty environment: nothing of the caller's (API keys,
        # tokens) reaches any process started for the sandbox. Their command line holds the tag.
        return Session(command, (info_read, info_write), header, tag, limits.timeout, max_frames, env={})

    def _get_bridge(self) -> MountBridge:
        with self._lock:
            if self._bridge is None or not self._bridge.alive():
                if self._bridge is not None:
                    self._bridge.close()
                sources = [*self.interpreter.roots]
                sources += [source if os.path.isdir(source) else os.path.dirname(source)
                            for source, _ in self.extra_binds]
                self._bridge = MountBridge(tuple(dict.fromkeys(sources)), self.tag_prefix)
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
