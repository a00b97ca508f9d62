"""The bubblewrap command line of a sandbox, and the programs it needs.

The sandbox of one candidate is a bubblewrap (``bwrap``) container with:

- a system-call filter and a new, empty session keyring, installed by the harness before any
  candidate code runs (``seccomp``; ``harness/guard.py``); ``/proc/keys`` shown empty;
- new user, PID, network, IPC, UTS and cgroup namespaces (``--unshare-all``), and user
  namespaces disabled inside (``--disable-userns``), so the candidate cannot mount a tmpfs of its
  own to eat memory or gain capabilities;
- uid and gid 65534 (``nobody``) inside, no capabilities, ``no_new_privs``;
- no bubblewrap process inside (``--as-pid-1``): the harness is the PID namespace's init, and
  bwrap itself starts with an empty environment, so nothing of the caller's environment exists
  in any process of the sandbox (see ``harness`` for how the harness guards itself);
- a read-only view of the system directories (``/usr``, ``/lib*``, ``/bin``, ``/sbin``) and of
  what the interpreter needs from its installation (the executable, the standard library and the
  shared libraries beside ``libpython``; its ``site-packages`` shown empty), nothing else of the
  host: no home directories, no ``/etc``, no ``/tmp``, no checkout, no virtual environment;
- ``/sandbox``, a size-capped tmpfs, as the only writable place (``/dev`` and ``/`` are read-only);
- loopback-less networking (no interface is up: every connection fails);
- ``--die-with-parent`` and ``--new-session``; the host kills the namespace's init when the
  candidate is done, which kills every process left in it.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from redstar_code.sandbox.errors import INSTALL_HINT, SandboxError, SandboxUnavailable
from redstar_code.sandbox.limits import Limits

SANDBOX_UID = 65534
SANDBOX_GID = 65534
#: Directories of the operating system bound read-only at the same path (when they exist).
SYSTEM_DIRS = ("/usr", "/lib", "/lib64", "/lib32", "/libx32", "/bin", "/sbin")
WORK_DIR = "/sandbox"
#: Shown empty: /proc/keys lists every key whose owner lets its own uid view it, which inside the
#: sandbox, where the caller's uid is the candidate's (RedStar not run as root), includes the
#: names of the caller's keys; /proc/key-users, the key counts of every user.
HIDDEN_PROC_FILES = ("/proc/keys", "/proc/key-users")
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
    return os.path.abspath(path)


def find_nsenter() -> str:
    path = shutil.which("nsenter")
    if path is None:
        raise SandboxUnavailable(
            "running as root, redstar-code starts the sandbox as uid 65534 through `nsenter`, which "
            "is not on PATH; install util-linux (`apt-get install util-linux`)"
        )
    return os.path.abspath(path)


#: Run with the candidate interpreter under ``-S -I`` (as the harness runs): where its standard
#: library and shared libraries are. ``sys.path`` then holds exactly the standard library (its zip,
#: its directory and ``lib-dynload``); a virtual environment's interpreter reports its base
#: interpreter, which runs the same standard library without showing the environment.
_LAYOUT_PROBE = r"""
import json, os, sys, sysconfig
real = os.path.realpath
executable = real(sys.executable)
base = real(getattr(sys, "_base_executable", "") or executable)
if base != executable and not (os.path.isfile(base) and os.access(base, os.X_OK)):
    base = executable
# LIBDIR as built, and the lib directory of the prefix found at run time (a relocated build such
# as python-build-standalone's reports its build machine's LIBDIR)
libdirs = [sysconfig.get_config_var("LIBDIR") or "", os.path.join(sys.base_prefix, "lib")]
print(json.dumps({
    "executable": base,
    "paths": [real(p) for p in sys.path if os.path.isabs(p) and os.path.exists(p)],
    "libdirs": list(dict.fromkeys(real(d) for d in libdirs if d and os.path.isdir(d))),
}))
"""

#: Names of the package directories inside a standard library directory, hidden in the sandbox.
SITE_DIRS = ("site-packages", "dist-packages")


@dataclass(frozen=True)
class Interpreter:
    """The Python that runs candidates, and exactly what of its installation the sandbox shows.

    ``executable``: a path valid inside the sandbox too (for a virtual environment, its base
    interpreter: candidates get the standard library only, which is the base's).
    ``binds``: ``(host source, path inside)`` pairs outside the system directories: the
    executable, the standard library directories and the shared libraries directly in the
    installation's ``LIBDIR`` and ``<prefix>/lib`` (``libpython``; a conda installation's
    OpenSSL, libffi...).
    ``hidden``: the installation's package directories (``site-packages``) inside those
    standard library directories, shown empty.
    """

    executable: str
    binds: tuple[tuple[str, str], ...]
    hidden: tuple[str, ...] = ()

    @classmethod
    def find(cls, python: str | None = None) -> Interpreter:
        """The interpreter running RedStar (default), or ``python`` (a path or a command name)."""
        if python is None:
            found = sys.executable
        else:
            found = shutil.which(python) or python
            if not os.path.exists(found):
                raise SandboxUnavailable(f"sandbox interpreter {python!r} not found")
        try:
            layout = json.loads(subprocess.run(
                [os.path.realpath(found), "-S", "-I", "-c", _LAYOUT_PROBE],
                capture_output=True, text=True, timeout=60, check=True, env={}, cwd="/",
            ).stdout)
        except (OSError, subprocess.SubprocessError, ValueError) as exc:
            raise SandboxUnavailable(f"sandbox interpreter {found!r} does not run: {exc}") from None
        return cls.from_layout(layout["executable"], layout["paths"], layout["libdirs"])

    @classmethod
    def from_layout(cls, executable: str, paths: list[str], libdirs: list[str]) -> Interpreter:
        binds: dict[str, str] = {}  # path inside -> host source

        def show(source: str, target: str) -> None:
            if not _is_system_path(target) and target not in binds:
                binds[target] = source

        show(executable, executable)
        hidden = []
        for path in paths:
            show(path, path)
            if os.path.isdir(path) and not _is_system_path(path):
                hidden += [f"{path}/{name}" for name in SITE_DIRS if os.path.isdir(f"{path}/{name}")]
        for libdir in libdirs:
            if _is_system_path(libdir):
                continue
            for name in sorted(os.listdir(libdir)):
                path = f"{libdir}/{name}"
                if (name.endswith(".so") or ".so." in name) and os.path.isfile(path):
                    show(os.path.realpath(path), path)
        return cls(executable, tuple((source, target) for target, source in binds.items()), tuple(hidden))

    @property
    def roots(self) -> tuple[str, ...]:
        """The host directories holding what is shown (a bound directory, or a file's directory)."""
        return tuple(dict.fromkeys(
            source if os.path.isdir(source) else os.path.dirname(source) for source, _ in self.binds
        ))


def package_binds(name: str) -> tuple[str, tuple[str, ...]]:
    """For an installed top-level package ``name``: the directory to put on the candidates'
    ``sys.path``, and what of it to show: the package's own directory (or module file) and its
    bundled shared libraries (``<name>.libs``, where wheels repaired by auditwheel keep them),
    nothing else of that directory (a virtual environment's other packages stay hidden)."""
    if not name.isidentifier():
        raise SandboxError(f"package {name!r}: give a top-level module name, such as 'numpy'")
    spec = importlib.util.find_spec(name)
    if spec is None:
        raise SandboxError(f"package {name!r} is not installed here")
    if spec.submodule_search_locations:
        location = os.path.realpath(next(iter(spec.submodule_search_locations)))
    elif spec.origin and os.path.isfile(spec.origin):
        location = os.path.realpath(spec.origin)
    else:
        raise SandboxError(f"package {name!r} has no files to show (a built-in or namespace module)")
    parent = os.path.dirname(location)
    shown = [location]
    if os.path.isdir(f"{parent}/{name}.libs"):
        shown.append(f"{parent}/{name}.libs")
    return parent, tuple(shown)


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
    extra_binds: tuple[tuple[str, str], ...] = (),
    translate: Callable[[str], str] | None = None,
) -> list[str]:
    """The full command that starts the harness in a fresh sandbox.

    ``extra_binds`` are further ``(host source, path inside)`` pairs made readable (import
    paths and packages); they are bound after the interpreter's hidden package directories are
    emptied, so an import path may be one of those. ``translate`` maps a host source to the path
    bwrap must bind it from (the root bridge's view), when the sandbox user cannot reach the
    original.
    """
    translate = translate or (lambda source: source)
    args = [
        bwrap,
        "--unshare-all", "--unshare-user", "--disable-userns",
        "--die-with-parent", "--new-session",
        # No bubblewrap process inside: the harness is the PID namespace's init, so the kernel
        # drops the candidate's signals to it, and the only other processes are the candidate's.
        "--as-pid-1",
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
    for source, target in interpreter.binds:
        args += ["--ro-bind", translate(source), target]
    for path in interpreter.hidden:
        args += ["--perms", "0555", "--size", "4096", "--tmpfs", path]
    for source, target in extra_binds:
        args += ["--ro-bind", translate(source), target]
    for path in interpreter.hidden:
        args += ["--remount-ro", path]
    args += ["--proc", "/proc"]
    for path in HIDDEN_PROC_FILES:
        if os.path.exists(path):  # (a kernel without keyrings has neither)
            args += ["--ro-bind", "/dev/null", path]
    args += [
        "--dev", "/dev", "--remount-ro", "/dev",
        "--size", str(limits.workdir_bytes), "--tmpfs", WORK_DIR,
        "--chdir", WORK_DIR,
        "--remount-ro", "/",
        "--info-fd", str(info_fd),
        "--",
        interpreter.executable, "-S", "-I", "-c", harness_source(), tag,
    ]
    return args


#: The harness's modules (``redstar_code/sandbox/harness/``) and the package they form inside.
HARNESS_DIR = Path(__file__).with_name("harness")
HARNESS_PACKAGE = "_redstar_harness"
#: Linux refuses a single command-line argument longer than this (MAX_ARG_STRLEN, 32 pages).
MAX_ARGUMENT_BYTES = 32 * 4096

#: Turns the modules into a package of modules inside the sandbox, then runs the harness. The
#: sources travel as the ``-c`` argument, as one program did before the harness was split: the
#: sandbox needs no view of RedStar's files, and the candidate cannot change what pid 1 runs.
_BOOTSTRAP = """\
# RedStar's sandbox harness: the modules of redstar_code/sandbox/harness/, run as the package {package}.
import sys


def _load(package, modules):
    root = type(sys)(package)
    root.__path__ = []
    root.__package__ = package
    sys.modules[package] = root
    for name, source in modules:
        module = type(sys)(package + "." + name)
        module.__package__ = package
        module.__file__ = "<harness/" + name + ".py>"
        sys.modules[module.__name__] = module
        setattr(root, name, module)
        exec(compile(source, module.__file__, "exec", dont_inherit=True), module.__dict__)
    return root


_load({package!r}, {modules!r}).main.main()
"""

_HARNESS_SOURCE: str | None = None


def harness_source() -> str:
    """The program the sandbox runs (``python -S -I -c <this> <tag>``): the harness's modules,
    each loaded after the ones it imports."""
    global _HARNESS_SOURCE
    if _HARNESS_SOURCE is None:
        _HARNESS_SOURCE = assemble_harness(HARNESS_DIR)
    return _HARNESS_SOURCE


def assemble_harness(directory: Path, package: str = HARNESS_PACKAGE) -> str:
    """One program holding the modules of ``directory`` (all but ``__init__.py``), loaded in an
    order where each module comes after those it imports relatively (``from . import x``,
    ``from .x import y``). Raises SandboxError for an import cycle or a program too long for a
    command-line argument."""
    sources = {path.stem: path.read_text(encoding="utf-8")
               for path in sorted(directory.glob("*.py")) if path.name != "__init__.py"}
    needs = {name: _relative_imports(source, set(sources)) for name, source in sources.items()}
    order: list[str] = []
    while len(order) < len(sources):
        ready = [name for name in sorted(sources) if name not in order and needs[name] <= set(order)]
        if not ready:
            raise SandboxError(f"the harness's modules import each other in a cycle: {sorted(set(sources) - set(order))}")
        order += ready
    if "main" not in sources:
        raise SandboxError(f"{directory} has no main.py")
    program = _BOOTSTRAP.format(package=package, modules=[(name, sources[name]) for name in order])
    if len(program.encode("utf-8")) >= MAX_ARGUMENT_BYTES:
        raise SandboxError(f"the assembled harness is {len(program.encode('utf-8'))} bytes, more than one "
                           f"command-line argument may hold ({MAX_ARGUMENT_BYTES})")
    return program


def _relative_imports(source: str, known: set[str]) -> set[str]:
    """The sibling modules ``source`` imports (``from . import a`` and ``from .a import b``)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.partition(".")[0])
            else:
                found.update(alias.name for alias in node.names)
    return found & known
