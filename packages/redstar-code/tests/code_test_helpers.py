"""Helpers of redstar-code's tests: the held-out set's markers, leak checks on the host, and
running sandboxes as an unprivileged user (uid 65534) from a copy of the code that user can read,
wherever the checkout is (a clone in a mode-700 directory included)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATA = Path(__file__).with_name("data")
sys.path.insert(0, str(DATA))

from build_heldout import ESCAPE_PATHS, ESCAPE_PREFIX, MARKER  # noqa: E402

#: Short per-test limit: every hostile or slow candidate in these tests fails in well under it
#: or is killed at it, and correct ones take milliseconds.
TEST_TIMEOUT = 1.0


def processes_with(*needles: str) -> list[tuple[int, str]]:
    """(pid, command line) of host processes whose command line or environment holds a needle."""
    return processes_matching(re.compile("|".join(re.escape(n) for n in needles).encode()))


def sandbox_processes() -> list[tuple[int, str]]:
    """Processes of any sandbox session this test process started (bwrap, nsenter, the harness,
    the candidate and its children), by their session tag ``redstar-sbx-<pid>-<hex>-<n>``, or
    started by a hostile candidate of the held-out set (:data:`MARKER`). The long-lived root
    bridge helper (``...:bridge``) is not a session and does not match."""
    pattern = rf"redstar-sbx-{os.getpid()}-[0-9a-f]{{8}}-[0-9]+|{re.escape(MARKER)}"
    return processes_matching(re.compile(pattern.encode()))


def processes_matching(pattern: re.Pattern) -> list[tuple[int, str]]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        for name in ("cmdline", "environ"):
            try:
                data = Path(f"/proc/{entry}/{name}").read_bytes()
            except OSError:
                continue
            if pattern.search(data):
                try:
                    cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
                except OSError:
                    cmdline = "?"
                found.append((int(entry), cmdline[:200]))
                break
    return found


def escaped_files() -> list[str]:
    out = [p for p in ESCAPE_PATHS if os.path.lexists(p)]
    for place in ("/tmp", "/var/tmp", "/dev/shm", "/", str(Path.home())):
        with contextlib.suppress(OSError):
            out += [f"{place}/{n}" for n in os.listdir(place) if n.startswith(ESCAPE_PREFIX)]
    return sorted(set(out))


# -- running sandboxes as an unprivileged user ---------------------------------------------------

#: The unprivileged user the tests switch to when they run as root (``nobody``).
UNPRIVILEGED_UID = 65534
#: What the unprivileged driver imports; the copy holds these and what they import beyond the
#: standard library.
DRIVER_IMPORTS = ("redstar_code.checker", "redstar_code.sandbox", "redstar_code.testspec")

#: Run as the unprivileged user, with the copy's directory as ``sys.argv[1]``. Reads a JSON list of
#: requests on standard input, answers a JSON list (one line) on standard output:
#: ``{"session": {"programs", "runs": [[program, input, io]], "limits"}}`` -> a list of
#: ``{"run": Run fields}`` or ``{"died": message}``; ``{"check": {"code", "tests", "limits"}}`` ->
#: the CheckResult's fields; ``{"info": {}}`` -> how the sandbox is started.
DRIVER = r"""
import dataclasses, json, os, sys
sys.path.insert(0, sys.argv[1])
from redstar_code.checker import CodeChecker
from redstar_code.sandbox import HarnessDied, Limits, Sandbox
from redstar_code.testspec import parse_tests



def run_session(sandbox, body):
    runs = []
    with sandbox.session(body["programs"], Limits(**body["limits"])) as session:
        for program, test_input, io in body["runs"]:
            try:
                runs.append({"run": dataclasses.asdict(session.run(program, test_input, io=io))})
            except HarnessDied as exc:
                runs.append({"died": str(exc)})
    return runs


def keyring_session(sandbox, body):
    # A session started by a process whose session keyring holds a planted key (a new keyring of
    # this process's own, so the test runner's is not touched); with what that keyring holds
    # afterwards ("type;uid;gid;perm;description" per key).
    import ctypes, struct
    from redstar_code.sandbox.seccomp import current_arch

    numbers = current_arch().numbers
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    long = ctypes.c_long

    def call(name, *args):
        result = libc.syscall(long(numbers[name]), *(long(a) if isinstance(a, int) else a for a in args))
        if result < 0:
            raise OSError(ctypes.get_errno(), f"{name}{args[:1]}")
        return result

    call("keyctl", 1, None)  # KEYCTL_JOIN_SESSION_KEYRING, a new anonymous one
    description, payload = body["plant"]["description"].encode(), body["plant"]["payload"].encode()
    call("add_key", b"user", description, payload, len(payload), -3)  # KEY_SPEC_SESSION_KEYRING
    runs = run_session(sandbox, body)
    buffer = ctypes.create_string_buffer(65536)
    size = call("keyctl", 11, -3, buffer, 65536)  # KEYCTL_READ: the keyring's key serials
    keys = []
    for serial in struct.unpack(f"{size // 4}i", buffer.raw[:size]):
        length = call("keyctl", 6, serial, buffer, 65536)  # KEYCTL_DESCRIBE
        keys.append(buffer.raw[:length].rstrip(b"\0").decode())
    return {"runs": runs, "keys": keys}


requests = json.load(sys.stdin)
sandbox = Sandbox()
checkers = {}
answers = []
for request in requests:
    (kind, body), = request.items()
    if kind == "info":
        answers.append({"uid": os.getuid(), "bridge": sandbox.nsenter is not None,
                        "python": sandbox.interpreter.executable, "prefix": sandbox.tag_prefix})
    elif kind == "session":
        answers.append(run_session(sandbox, body))
    elif kind == "keyring":
        answers.append(keyring_session(sandbox, body))
    elif kind == "check":
        key = json.dumps(body["limits"], sort_keys=True)
        if key not in checkers:
            checkers[key] = CodeChecker(Limits(**body["limits"]), workers=1)
        result = checkers[key].check(body["code"], parse_tests(json.dumps(body["tests"])))
        answers.append(dataclasses.asdict(result))
    else:
        raise SystemExit(f"unknown request {kind!r}")
for checker in checkers.values():
    checker.close()
sandbox.close()
print(json.dumps(answers))
"""


def others_can_traverse(path: str | Path) -> bool:
    """Whether every directory from ``/`` down to ``path`` lets other users through (o+x)."""
    current = Path(os.path.realpath(path))
    for directory in (current, *current.parents):
        try:
            if not os.stat(directory).st_mode & stat.S_IXOTH:
                return False
        except OSError:
            return False
    return True


def readable_directory(prefix: str) -> Path:
    """A new directory (mode 755) that every user can reach and read: under the first temporary
    directory whose whole path lets others through, so neither a private checkout nor a private
    ``TMPDIR`` matters."""
    for base in (tempfile.gettempdir(), "/tmp", "/var/tmp", "/dev/shm"):
        if os.path.isdir(base) and others_can_traverse(base):
            path = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
            path.chmod(0o755)
            return path
    raise RuntimeError("no temporary directory that other users can reach (tried TMPDIR, /tmp, /var/tmp, /dev/shm)")


def module_locations(imports: tuple[str, ...] = DRIVER_IMPORTS, python: str = sys.executable) -> list[str]:
    """The files or directories of the top-level modules beyond the standard library that
    importing ``imports`` loads (``redstar``, ``redstar_code``, ``pluggy``...), found by a fresh
    ``python`` with this process's ``sys.path``."""
    script = (
        "import importlib, json, sys\n"
        "before = set(sys.modules)\n"
        f"for name in {list(imports)!r}:\n"
        "    importlib.import_module(name)\n"
        "found = set()\n"
        "for name in set(sys.modules) - before:\n"
        "    top = name.partition('.')[0]\n"
        "    path = getattr(sys.modules.get(top), '__file__', None)\n"
        "    if top in sys.stdlib_module_names or path is None:\n"
        "        continue\n"
        "    if path.rsplit('/', 1)[-1].startswith('__init__.'):\n"
        "        path = path.rsplit('/', 1)[0]\n"
        "    found.add(path)\n"
        "print(json.dumps(sorted(found)))\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if os.path.isabs(p)))
    done = subprocess.run([python, "-c", script], capture_output=True, text=True, timeout=120, env=env, cwd="/")
    if done.returncode != 0:
        raise RuntimeError(f"could not list the modules to copy: {done.stderr}")
    return json.loads(done.stdout)


def copy_modules(locations: list[str], dest: Path) -> None:
    """Copy each module (file or package directory) into ``dest``, readable by everyone."""
    for location in locations:
        source = Path(location)
        if source.is_dir():
            shutil.copytree(source, dest / source.name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, dest / source.name)
    for root, _, files in os.walk(dest):
        os.chmod(root, 0o755)
        for name in files:
            os.chmod(os.path.join(root, name), 0o644)


def switch_command(uid: int = UNPRIVILEGED_UID) -> list[str]:
    return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]


def unprivileged_python(uid: int = UNPRIVILEGED_UID) -> str | None:
    """A Python 3.10+ that ``uid`` can run: the base installation of this one when it can, else
    the system's. Never a virtual environment's (it lives in the checkout, maybe a private one)."""
    candidates = [getattr(sys, "_base_executable", "") or sys.executable, "/usr/bin/python3", "/usr/local/bin/python3"]
    for python in dict.fromkeys(os.path.realpath(c) for c in candidates):
        if not os.path.isfile(python):
            continue
        try:
            done = subprocess.run([*switch_command(uid), python, "-I", "-S", "-c",
                                   "import os, subprocess, sys\n"
                                   "subprocess.run([sys.executable, '-I', '-S', '-c', ''], check=True)\n"
                                   "print(sys.version_info >= (3, 10), os.readlink('/proc/self/exe'))\n"],
                                  capture_output=True, text=True, timeout=60, cwd="/", env={"PATH": "/usr/bin:/bin"})
        except (OSError, subprocess.SubprocessError):
            continue
        # the very file asked for must be what runs, and start itself again (as a sandbox does)
        if done.returncode == 0 and done.stdout.split() == ["True", python]:
            return python
    return None


def unprivileged_unavailable() -> str | None:
    """Why this process cannot run sandboxes as the unprivileged user (None: it can)."""
    if os.geteuid() != 0:
        return "needs root to switch to an unprivileged user (this run is unprivileged already)"
    if shutil.which("setpriv") is None:
        return "needs setpriv (util-linux) to switch users"
    return None


class UnprivilegedDriver:
    """Starts RedStar as uid 65534 from a readable copy of the code (see :data:`DRIVER`)."""

    def __init__(self, lib: Path, python: str, uid: int = UNPRIVILEGED_UID) -> None:
        self.lib = lib
        self.python = python
        self.uid = uid

    @classmethod
    def prepare(cls, lib: Path, imports: tuple[str, ...] = DRIVER_IMPORTS) -> UnprivilegedDriver:
        """Copy what the driver imports into ``lib`` (a directory every user can read)."""
        python = unprivileged_python()
        if python is None:
            raise RuntimeError(f"no Python 3.10+ that uid {UNPRIVILEGED_UID} can run")
        copy_modules(module_locations(imports), lib)
        (lib / "redstar_test_driver.py").write_text(DRIVER, encoding="utf-8")
        (lib / "redstar_test_driver.py").chmod(0o644)
        return cls(lib, python)

    def __call__(self, requests: list[dict], env: dict[str, str] | None = None, timeout: float = 300) -> list:
        """Answer ``requests`` as the unprivileged user; ``env``: extra variables of the process
        that starts the sandboxes. Checks afterwards that none of its sandboxes' processes is left."""
        environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.lib), **(env or {})}
        proc = subprocess.Popen(
            # -I -S: nothing but the standard library and the copy (no site-packages, no checkout)
            [*switch_command(self.uid), self.python, "-I", "-S", str(self.lib / "redstar_test_driver.py"), str(self.lib)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd="/", env=environment,
        )
        try:
            out, err = proc.communicate(json.dumps(requests), timeout=timeout)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        prefix = f"redstar-sbx-{proc.pid}-"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and processes_with(prefix):
            time.sleep(0.05)
        assert processes_with(prefix) == [], "processes of the unprivileged driver's sandboxes are left"
        if proc.returncode != 0:
            raise RuntimeError(f"the unprivileged driver failed (exit {proc.returncode}): {err[-3000:]}")
        return json.loads(out.strip().splitlines()[-1])


def run_driver_here(requests: list[dict], timeout: float = 300) -> list:
    """Answer ``requests`` with the driver (see :data:`DRIVER`) run as this process's user, in a
    process of its own (for what must not touch the test runner itself, such as its keyring)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "PYTHONPATH": os.pathsep.join(p for p in sys.path if os.path.isabs(p))}
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, "/nonexistent"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd="/", env=env)
    try:
        out, err = proc.communicate(json.dumps(requests), timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    prefix = f"redstar-sbx-{proc.pid}-"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and processes_with(prefix):
        time.sleep(0.05)
    assert processes_with(prefix) == [], "processes of the driver's sandboxes are left"
    if proc.returncode != 0:
        raise RuntimeError(f"the driver failed (exit {proc.returncode}): {err[-3000:]}")
    return json.loads(out.strip().splitlines()[-1])


def keyring_request(programs: list[str], runs: list[tuple], limits, plant: dict[str, str]) -> dict:
    import dataclasses

    steps = [[program, test_input, io[0] if io else "stdin"] for program, test_input, *io in runs]
    return {"keyring": {"programs": programs, "runs": steps, "limits": dataclasses.asdict(limits), "plant": plant}}


def keyring_answer(answer: dict) -> tuple[list, list[str]]:
    from redstar_code.sandbox import HarnessDied, Run

    runs = [Run(**a["run"]) if "run" in a else HarnessDied(a["died"]) for a in answer["runs"]]
    return runs, answer["keys"]


class CallerUser:
    """Sandboxes started by this test process itself (root in CI: through the mount bridge)."""

    name = "caller"

    def __init__(self, checker) -> None:
        self.checker = checker
        self.sandbox = checker.sandbox

    def session(self, programs: list[str], runs: list[tuple], limits, env: dict[str, str] | None = None) -> list:
        """Run ``(program, input[, io])`` steps in one session: a Run, or the HarnessDied raised."""
        from unittest import mock

        from redstar_code.sandbox import HarnessDied

        results: list = []
        with mock.patch.dict(os.environ, env or {}), self.sandbox.session(programs, limits) as session:
            for program, test_input, *io in runs:
                try:
                    results.append(session.run(program, test_input, io=io[0] if io else "stdin"))
                except HarnessDied as exc:
                    results.append(exc)
        return results

    def check(self, code: str, tests: dict, limits=None, env: dict[str, str] | None = None):
        from unittest import mock

        from redstar_code.checker import CodeChecker
        from redstar_code.testspec import parse_tests

        spec = parse_tests(json.dumps(tests))
        with mock.patch.dict(os.environ, env or {}):
            if limits is None or limits == self.checker.limits:
                return self.checker.check(code, spec)
            checker = CodeChecker(limits, workers=1)
            try:
                return checker.check(code, spec)
            finally:
                checker.close()

    def info(self) -> dict:
        return {"uid": os.getuid(), "bridge": self.sandbox.nsenter is not None,
                "python": self.sandbox.interpreter.executable, "prefix": self.sandbox.tag_prefix}

    def keyring_session(self, programs: list[str], runs: list[tuple], limits, plant: dict[str, str]):
        """Like :meth:`session`, started by a process (of this user) whose session keyring holds
        the key ``plant`` ({"description", "payload"}); returns (runs, what that keyring holds
        afterwards)."""
        return keyring_answer(run_driver_here([keyring_request(programs, runs, limits, plant)])[0])


class UnprivilegedUser:
    """Sandboxes started by RedStar running as uid 65534 (see :class:`UnprivilegedDriver`)."""

    name = "nobody"

    def __init__(self, driver: UnprivilegedDriver) -> None:
        self.driver = driver

    def session(self, programs: list[str], runs: list[tuple], limits, env: dict[str, str] | None = None) -> list:
        import dataclasses

        from redstar_code.sandbox import HarnessDied, Run

        steps = [[program, test_input, io[0] if io else "stdin"] for program, test_input, *io in runs]
        request = {"session": {"programs": programs, "runs": steps, "limits": dataclasses.asdict(limits)}}
        answers = self.driver([request], env=env)[0]
        return [Run(**a["run"]) if "run" in a else HarnessDied(a["died"]) for a in answers]

    def check(self, code: str, tests: dict, limits=None, env: dict[str, str] | None = None):
        import dataclasses

        from redstar_code.checker import CheckResult
        from redstar_code.sandbox import Limits

        request = {"check": {"code": code, "tests": tests, "limits": dataclasses.asdict(limits or Limits(timeout=TEST_TIMEOUT))}}
        return CheckResult(**self.driver([request], env=env)[0])

    def info(self) -> dict:
        return self.driver([{"info": {}}])[0]

    def keyring_session(self, programs: list[str], runs: list[tuple], limits, plant: dict[str, str]):
        return keyring_answer(self.driver([keyring_request(programs, runs, limits, plant)])[0])


def run_program(user, program: str, test_input: str = "", limits=None, io: str = "stdin",
                env: dict[str, str] | None = None):
    """One run of ``program`` in a fresh session as ``user``; raises the HarnessDied if any."""
    from redstar_code.sandbox import HarnessDied, Limits

    result = user.session([program], [(0, test_input, io)], limits or Limits(timeout=TEST_TIMEOUT), env=env)[0]
    if isinstance(result, HarnessDied):
        raise result
    return result
