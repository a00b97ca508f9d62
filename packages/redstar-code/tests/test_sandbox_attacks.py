"""Attacks on the sandbox by hostile candidate programs (issue 11, items 1-3), each run twice:
with sandboxes started by this process (root in CI, through the mount bridge) and by RedStar
running as the unprivileged uid 65534, as most users run it.

1. the caller's environment (API keys, tokens) must not be readable anywhere inside: not in any
   visible process's ``environ`` or ``cmdline``, not in the candidate's own memory, and so not in
   a verdict's reason;
2. the candidate must not reach any other process it can see: no ``/proc/<pid>/fd``, ``mem`` or
   ``environ``, no ptrace, ``process_vm_readv`` or ``pidfd_getfd``, and so no forged verdict;
3. of the host's files, only what running Python needs is visible (the system directories, the
   interpreter, its standard library and shared libraries): no checkout, no virtual environment,
   no ``site-packages``.
"""

from __future__ import annotations

import contextlib
import json
import marshal
import os
import secrets
import subprocess
import sys
import threading
import time
from pathlib import Path
from unittest import mock

import pytest
from code_test_helpers import TEST_TIMEOUT, processes_with, run_program

from redstar_code.sandbox import Limits
from redstar_code.sandbox.command import SYSTEM_DIRS, WORK_DIR, harness_source

pytestmark = pytest.mark.usefixtures("no_leaks")
ROOT = Path(__file__).resolve().parents[3]
ROOMY = Limits(timeout=10)
#: Where installed packages live inside a standard library directory.
SITE_DIRS = ("site-packages", "dist-packages")

# -- 1. the host's environment --------------------------------------------------------------------

#: Dumps the environment and command line of every process it can see (threads too), and the
#: surroundings of every secret-looking name in its own memory (a fork of the harness).
ENV_SNOOP = r"""
import json, os, re, sys
me = str(os.getpid())
seen, denied, dumps = [], [], []
for pid in sorted(p for p in os.listdir('/proc') if p.isdigit()):
    try:
        tasks = os.listdir(f'/proc/{pid}/task')
    except OSError:
        tasks = []
    seen.append(pid)
    for path in [f'/proc/{pid}'] + [f'/proc/{pid}/task/{t}' for t in tasks]:
        for name in ('environ', 'cmdline'):
            try:
                dumps.append(open(f'{path}/{name}', 'rb').read().decode('latin-1'))
            except OSError as exc:
                denied.append(f'{path}/{name}')
dumps.append(json.dumps(dict(os.environ)))
# The names an attacker would look for, assembled here so that only real occurrences matter.
names = [n.encode() for n in ('REDSTAR_TEST' + '_SECRET', 'HF' + '_TOKEN', 'OPENAI' + '_API_KEY')]
regions = []
for line in open('/proc/self/maps'):
    span, perms = line.split()[:2]
    if perms.startswith('r'):
        start, end = (int(x, 16) for x in span.split('-'))
        regions.append((start, end))
memory = open('/proc/self/mem', 'rb', 0)
for start, end in regions:
    try:
        memory.seek(start)
        data = memory.read(end - start)
    except (OSError, OverflowError, ValueError):
        continue
    for needle in names:
        at = data.find(needle)
        while at != -1:
            dumps.append(data[at:at + 200].decode('latin-1'))
            at = data.find(needle, at + 1)
print(json.dumps({'seen': seen, 'denied': denied, 'dumps': dumps}))
# What a real attack would do: put what it found where the verdict's reason (the last line of
# standard error, cut at 200 characters) carries it.
pattern = '(?:' + '|'.join(n.decode() for n in names) + r')=[^\x00\s]+'
found = dict.fromkeys(m for d in dumps for m in re.findall(pattern, d))
sys.stderr.write(' '.join(found) + chr(10))
sys.exit(1)
"""


def planted_environment() -> dict[str, str]:
    return {name: f"planted-{name.lower()}-{secrets.token_hex(8)}"
            for name in ("REDSTAR_TEST_SECRET", "HF_TOKEN", "OPENAI_API_KEY")}


def test_the_callers_environment_is_invisible_inside(as_user):
    planted = planted_environment()
    run = run_program(as_user, ENV_SNOOP, limits=ROOMY, env=planted)
    report = json.loads(run.stdout)
    assert "1" in report["seen"] and len(report["seen"]) >= 2  # it looked at the harness and beyond
    everything = run.stdout + run.stderr
    assert [name for name, value in planted.items() if value in everything] == []


def test_the_callers_environment_never_reaches_a_verdict(as_user):
    planted = planted_environment()
    result = as_user.check(ENV_SNOOP, {"inputs": ["1\n"], "outputs": ["1\n"]}, ROOMY, env=planted)
    assert not result.passed and result.reason.startswith("runtime error on test 1 of 1")
    assert [name for name, value in planted.items() if value in result.reason] == []


def test_no_process_started_for_a_sandbox_has_the_callers_environment(sandbox):
    """Seen from the host: bwrap (and nsenter, as root) start with an empty environment, so no
    process of the sandbox ever held the caller's variables, visible inside or not."""
    planted = planted_environment()
    seen: dict[int, str] = {}
    with mock.patch.dict(os.environ, planted), sandbox.session(["import time\ntime.sleep(1)"], ROOMY) as session:
        thread = threading.Thread(target=session.run, args=(0, ""))
        thread.start()
        deadline = time.monotonic() + 0.8
        while time.monotonic() < deadline:
            for pid, cmdline in processes_with(session.tag):
                # OSError: gone, or not readable by this user (the non-dumpable harness, unless root)
                with contextlib.suppress(OSError):
                    seen[pid] = cmdline + "\n" + Path(f"/proc/{pid}/environ").read_bytes().decode("latin-1")
            time.sleep(0.02)
        thread.join()
    assert any(text.split()[0].endswith("bwrap") for text in seen.values())  # the host-side bwrap was seen
    assert [pid for pid, text in seen.items() if any(value in text for value in planted.values())] == []


def test_the_harness_refuses_to_run_where_it_cannot_protect_itself():
    """Outside a sandbox (not the namespace's init) the harness answers with an error, never
    ready: it does not run candidates where it cannot make itself unreachable."""
    header = marshal.dumps({"programs": ["print(1)"], "call": None, "limits": {}, "preload": [], "paths": []})
    done = subprocess.run([sys.executable, "-S", "-I", "-c", harness_source(), "test"],
                          input=b"%d\n" % len(header) + header, capture_output=True, timeout=60)
    answer = json.loads(done.stdout.splitlines()[0])
    assert answer["ready"] is False and "init" in answer["error"]


# -- 2. other processes ---------------------------------------------------------------------------

#: Tries every way to reach another visible process (the harness, the test's runner, anything):
#: prints a JSON report with the successes under "reached".
PROCESS_PROBE = r"""
import ctypes, json, os
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
libc.ptrace.restype = ctypes.c_long
libc.syscall.restype = ctypes.c_long

class IOVec(ctypes.Structure):
    _fields_ = [('base', ctypes.c_void_p), ('len', ctypes.c_size_t)]

PTRACE_ATTACH, PTRACE_DETACH, PTRACE_SEIZE = 16, 17, 0x4206
SYS_PIDFD_GETFD = 438  # the same number on every architecture
me = os.getpid()
report = {'pids': [], 'reached': [], 'parent': os.getppid()}
for pid in sorted(int(p) for p in os.listdir('/proc') if p.isdigit()):
    if pid == me:
        continue
    report['pids'].append(pid)
    reached = lambda what: report['reached'].append(f'{pid}: {what}')
    try:
        fds = [int(fd) for fd in os.listdir(f'/proc/{pid}/fd')]
        reached(f'listed fds {fds}')
    except OSError:
        fds = list(range(10))
    for fd in fds:
        for mode in (os.O_RDONLY, os.O_WRONLY):
            try:
                os.close(os.open(f'/proc/{pid}/fd/{fd}', mode | os.O_NONBLOCK))
                reached(f'opened fd {fd} mode {mode}')
            except OSError:
                pass
    for name in ('mem', 'environ', 'maps'):
        try:
            open(f'/proc/{pid}/{name}', 'rb').read(1)
            reached(f'read {name}')
        except OSError:
            pass
    for request in (PTRACE_ATTACH, PTRACE_SEIZE):
        if libc.ptrace(request, pid, None, None) == 0:
            reached(f'ptrace request {request}')
            if request == PTRACE_ATTACH:
                os.waitpid(pid, 0x40000000)  # __WALL
            libc.ptrace(PTRACE_DETACH, pid, None, None)
    buffer = ctypes.create_string_buffer(8)
    local, remote = IOVec(ctypes.addressof(buffer), 8), IOVec(0x10000, 8)
    if libc.process_vm_readv(pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0) >= 0 or ctypes.get_errno() == 14:
        reached('process_vm_readv')  # EFAULT: allowed in, the address was just wrong
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        pidfd = None
    if pidfd is not None:
        for fd in range(5):
            stolen = libc.syscall(SYS_PIDFD_GETFD, pidfd, fd, 0)
            if stolen >= 0:
                reached(f'pidfd_getfd {fd}')
                os.close(stolen)
        os.close(pidfd)
print(json.dumps(report))
"""


def test_no_other_process_can_be_reached(as_user):
    run = run_program(as_user, PROCESS_PROBE, limits=ROOMY)
    assert run.exit_code == 0, run.stderr
    report = json.loads(run.stdout)
    # it saw the harness (the namespace's init) and its own parent, the test's runner
    assert 1 in report["pids"] and report["parent"] in report["pids"]
    assert report["reached"] == []


#: Prints garbage and loops forever, but first tries to answer every test itself through the
#: harness's pipes to the host (reading the next inputs from the harness's standard input, writing
#: answers in the harness's protocol to its standard output): the attack of issue 11, item 2.
FORGER = r"""
import json, marshal, os, sys

def forge(out, text):
    answer = f'{2 * int(text)}\n'.encode()
    meta = {'exit': 0, 'signal': None, 'timeout': False, 'lost': None, 'seconds': 0.01,
            'output_missing': False, 'output_limit': False, 'frames': [len(answer), 0, 0]}
    os.write(out, json.dumps(meta).encode() + b'\n' + answer)

me = os.getpid()
for pid in sorted(p for p in os.listdir('/proc') if p.isdigit() and int(p) != me):
    try:
        commands = os.fdopen(os.open(f'/proc/{pid}/fd/0', os.O_RDONLY), 'rb')
        answers = os.open(f'/proc/{pid}/fd/1', os.O_WRONLY)
    except OSError:
        continue
    forge(answers, sys.stdin.read())
    while True:
        line = commands.readline()
        if not line:
            break
        forge(answers, marshal.loads(commands.read(int(line)))['input'])
print('garbage', flush=True)
while True:
    pass
"""


def test_a_candidate_cannot_answer_for_the_harness(as_user):
    tests = {"inputs": ["1\n", "2\n", "3\n", "4\n"], "outputs": ["2\n", "4\n", "6\n", "8\n"]}
    result = as_user.check(FORGER, tests, Limits(timeout=TEST_TIMEOUT))
    assert not result.passed
    assert result.reason == "time limit exceeded on test 1 of 4"


# -- 3. the host's files --------------------------------------------------------------------------

#: Lists every path visible outside the system directories, /proc and /dev (one JSON list of
#: [kind, path]).
FILE_LISTING = r"""
import json, os, stat
system = %r
found = []
def kind(path):
    mode = os.lstat(path).st_mode
    return 'd' if stat.S_ISDIR(mode) else 'l' if stat.S_ISLNK(mode) else 'f'
for root, dirs, files in os.walk('/'):
    if root in ('/proc', '/dev') or root in system:
        dirs[:] = []
        continue
    for name in dirs + files:
        path = os.path.join(root, name)
        found.append([kind(path), path])
print(json.dumps(found))
"""


def interpreter_layout(python: str) -> tuple[list[str], list[str]]:
    """What the sandbox needs of ``python`` by definition: its standard library (``sys.path``
    under ``-S -I``) and the directories of its shared libraries (``LIBDIR``, ``<prefix>/lib``),
    from the host's view."""
    done = subprocess.run(
        [python, "-S", "-I", "-c",
         "import json, os, sys, sysconfig\n"
         "paths = [os.path.realpath(p) for p in sys.path if os.path.isabs(p) and os.path.exists(p)]\n"
         "libdirs = [sysconfig.get_config_var('LIBDIR') or '/nonexistent', sys.base_prefix + '/lib']\n"
         "print(json.dumps([paths, [os.path.realpath(d) for d in libdirs]]))"],
        capture_output=True, text=True, timeout=60, check=True,
    )
    paths, libdirs = json.loads(done.stdout)
    return paths, libdirs


def within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def test_only_what_python_needs_of_the_host_is_visible(as_user):
    info = as_user.info()
    python = info["python"]
    run = run_program(as_user, FILE_LISTING % (SYSTEM_DIRS,), limits=ROOMY)
    assert run.exit_code == 0, run.stderr
    visible = {path: kind for kind, path in json.loads(run.stdout)}
    stdlib, libdirs = interpreter_layout(python)
    needed = [python, *stdlib]
    hidden = [f"{d}/{name}" for d in stdlib for name in SITE_DIRS]

    def allowed(path: str, kind: str) -> bool:
        if path in ("/proc", "/dev") or within(path, WORK_DIR) or any(within(path, d) for d in SYSTEM_DIRS):
            return True
        if any(within(path, h) for h in hidden):
            return path in hidden  # the installation's packages: an empty directory at most
        if any(within(path, n) for n in needed):
            return True
        if os.path.dirname(path) in libdirs and (path.endswith(".so") or ".so." in path) and kind == "f":
            return True  # the installation's shared libraries (libpython)
        # a directory on the way to one of those, holding nothing else
        return kind == "d" and any(within(n, path) for n in [*needed, *libdirs])

    assert [p for p, k in sorted(visible.items()) if not allowed(p, k)] == []
    assert python in visible or any(within(python, d) for d in SYSTEM_DIRS)
    # by name, what the issue saw: the checkout, its virtual environment, site-packages, /etc
    assert [p for p in visible if within(p, str(ROOT)) or within(p, sys.prefix)] == []
    assert [p for p in visible if any(f"/{name}/" in p for name in SITE_DIRS)
            and not any(within(p, d) for d in SYSTEM_DIRS)] == []
    assert "/etc" not in visible and "/home" not in visible
    for path in ("/tmp", "/root", "/home"):  # at most the way to the Python installation
        inside = [p for p in visible if within(p, path) and p != path]
        assert all(any(within(n, p) or within(p, n) for n in [*needed, *libdirs]) for p in inside)
