"""The bubblewrap command line of a sandbox, and the programs it needs.

The sandbox of one candidate is a bubblewrap (``bwrap``) container with:

- new user, PID, network, IPC, UTS and cgroup namespaces (``--unshare-all``), and user
  namespaces disabled inside (``--disable-userns``), so the candidate cannot mount a tmpfs of its
  own to eat memory or gain capabilities;
- uid and gid 65534 (``nobody``) inside, no capabilities, ``no_new_privs``;
- a read-only view of the system directories (``/usr``, ``/lib*``, ``/bin``, ``/sbin``) and of the
  Python installation, nothing else of the host: no home directories, no ``/etc``, no ``/tmp``;
- ``/sandbox``, a size-capped tmpfs, as the only writable place (``/dev`` and ``/`` are read-only);
- loopback-less networking (no interface is up: every connection fails);
- ``--die-with-parent`` and ``--new-session``; the host kills the namespace's init when the
  candidate is done, which kills every process left in it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from redstar_code.sandbox.errors import INSTALL_HINT, SandboxUnavailable
from redstar_code.sandbox.limits import Limits

SANDBOX_UID = 65534
SANDBOX_GID = 65534
#: Directories of the operating system bound read-only at the same path (when they exist).
SYSTEM_DIRS = ("/usr", "/lib", "/lib64", "/lib32", "/libx32", "/bin", "/sbin")
WORK_DIR = "/sandbox"
#: Marks every process of a sandbox (environment and command line), so leaks can be found.
TAG_VARIABLE = "REDSTAR_SANDBOX"


#: ``--disable-userns`` (no user namespaces inside the sandbox) arrived in bubblewrap 0.8.0.
MIN_BWRAP_VERSION = (0, 8, 0)


def find_bwrap() -> str:
    """The path of ``bwrap`` (0.8.0 or newer), or :class:`SandboxUnavailable` saying how to
    install it."""
    path = shutil.which("bwrap")
    if path is None:
        raise SandboxUnavailable(
            "redstar-code runs model-written programs only inside a bubblewrap sandbox, and `bwrap` "
            f"is not on PATH; {INSTALL_HINT}"
        )
    try:
        text = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30).stdout
        version = tuple(int(part) for part in text.split()[-1].split(".")[:3])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        raise SandboxUnavailable(f"{path} --version did not report a bubblewrap version") from None
    if version < MIN_BWRAP_VERSION:
        raise SandboxUnavailable(
            f"bubblewrap {'.'.join(map(str, version))} at {path} is too old: redstar-code needs "
            f"{'.'.join(map(str, MIN_BWRAP_VERSION))} or newer (for --disable-userns); "
            "Debian 12 and Ubuntu 24.04 ship it"
        )
    return path


def find_nsenter() -> str:
    path = shutil.which("nsenter")
    if path is None:
        raise SandboxUnavailable(
            "running as root, redstar-code starts the sandbox as uid 65534 through `nsenter`, which "
            "is not on PATH; install util-linux (`apt-get install util-linux`)"
        )
    return path


@dataclass(frozen=True)
class Interpreter:
    """The Python that runs candidates: ``executable`` (a path that is valid inside the sandbox
    too) and ``roots``, the host directories it needs besides the system directories."""

    executable: str
    roots: tuple[str, ...]

    @classmethod
    def find(cls, python: str | None = None) -> Interpreter:
        """The interpreter running RedStar (default), or ``python`` (a path or a command name)."""
        if python is None:
            executable = os.path.realpath(sys.executable)
            base = os.path.realpath(sys.base_prefix)
        else:
            found = shutil.which(python) or python
            if not os.path.exists(found):
                raise SandboxUnavailable(f"sandbox interpreter {python!r} not found")
            executable = os.path.realpath(found)
            try:
                base = subprocess.run(
                    [executable, "-S", "-I", "-c", "import sys, os; print(os.path.realpath(sys.base_prefix))"],
                    capture_output=True, text=True, timeout=60, check=True,
                ).stdout.strip()
            except (OSError, subprocess.SubprocessError) as exc:
                raise SandboxUnavailable(f"sandbox interpreter {python!r} does not run: {exc}") from None
        roots = [base]
        if not _is_within(executable, base):
            roots.append(os.path.dirname(executable))
        return cls(executable, tuple(r for r in roots if not _is_system_path(r)))


def _is_within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _is_system_path(path: str) -> bool:
    return any(_is_within(path, d) for d in SYSTEM_DIRS)


def system_mounts() -> list[str]:
    """``--ro-bind`` or ``--symlink`` arguments reproducing the host's system directories
    (merged-/usr systems have ``/lib`` etc. as symlinks into ``/usr``)."""
    args: list[str] = []
    for path in SYSTEM_DIRS:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    return args


def bwrap_arguments(
    bwrap: str,
    interpreter: Interpreter,
    limits: Limits,
    tag: str,
    info_fd: int,
    extra_roots: tuple[str, ...] = (),
    source_of: dict[str, str] | None = None,
) -> list[str]:
    """The full command that starts the harness in a fresh sandbox.

    ``extra_roots`` are further host directories made readable (import paths); ``source_of``
    maps a host directory to the path bwrap must bind it from (the root bridge's copy), when
    the sandbox user cannot reach the original.
    """
    source_of = source_of or {}
    args = [
        bwrap,
        "--unshare-all", "--unshare-user", "--disable-userns",
        "--die-with-parent", "--new-session",
        "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_GID),
        "--hostname", "sandbox",
        "--clearenv",
        "--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin",
        "--setenv", "HOME", f"{WORK_DIR}/run",
        "--setenv", "TMPDIR", f"{WORK_DIR}/run",
        "--setenv", "LANG", "C.UTF-8",
        # numeric libraries otherwise start a thread per core, which max_processes would refuse
        "--setenv", "OMP_NUM_THREADS", "1",
        "--setenv", "OPENBLAS_NUM_THREADS", "1",
        "--setenv", "MKL_NUM_THREADS", "1",
        "--setenv", TAG_VARIABLE, tag,
        *system_mounts(),
    ]
    for root in (*interpreter.roots, *extra_roots):
        args += ["--ro-bind", source_of.get(root, root), root]
    args += [
        "--proc", "/proc",
        "--dev", "/dev", "--remount-ro", "/dev",
        "--size", str(limits.workdir_bytes), "--tmpfs", WORK_DIR,
        "--chdir", WORK_DIR,
        "--remount-ro", "/",
        "--info-fd", str(info_fd),
        "--",
        interpreter.executable, "-S", "-I", "-c", harness_source(), tag,
    ]
    return args


_HARNESS_SOURCE: str | None = None


def harness_source() -> str:
    global _HARNESS_SOURCE
    if _HARNESS_SOURCE is None:
        _HARNESS_SOURCE = (Path(__file__).with_name("harness.py")).read_text(encoding="utf-8")
    return _HARNESS_SOURCE
