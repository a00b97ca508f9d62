"""Attacks through the kernel's own interfaces (issue 23), each run as the user running the tests
(root in CI, through the mount bridge) and as RedStar running as the unprivileged uid 65534:

- the caller's session keyring: read a secret planted there, add a key that outlives the run;
- System V IPC and POSIX message queues: state carried from one test of a candidate to the next;
- memory that is not mapped into an address space (memfds, System V segments), which escaped
  ``memory_mb``;
- the system-call filter: every call it denies, one test each, the socket families it refuses and
  the other ABIs (32-bit ``int 0x80``); and what a test program does need still works.
"""

from __future__ import annotations

import errno
import json
import os
import platform
import re
import secrets
from pathlib import Path

import pytest
from code_test_helpers import run_program

from redstar_code.sandbox import Limits, Sandbox, SandboxUnavailable
from redstar_code.sandbox.seccomp import ARCHES, DENIED, SOCKET_FAMILIES, current_arch

pytestmark = pytest.mark.usefixtures("no_leaks")
ARCH = current_arch()
ROOMY = Limits(timeout=10)
MIB = 1 << 20

#: Raw system calls by name, for the probes: ``call(name, *args)`` -> (result, errno).
SYSCALLS = f"""
import ctypes, json, os, struct
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
NR = {json.dumps(ARCH.numbers)}

def call(name, *args):
    ctypes.set_errno(0)
    result = libc.syscall(ctypes.c_long(NR[name]), *(ctypes.c_long(a) if isinstance(a, int) else a for a in args))
    return result, (ctypes.get_errno() if result < 0 else 0)
"""


# -- the caller's keyring ----------------------------------------------------------------------------

#: Everything a program could do with the session keyring it inherited: list it, read every key,
#: search it for the planted key by name, request that key, add a key of its own to each of its
#: keyrings, and read /proc/keys. Prints what it got.
KEYRING_SNOOP = SYSCALLS + r"""
import sys
name = sys.stdin.read().strip().encode()
buffer = ctypes.create_string_buffer(65536)
report = {"read": [], "added": []}
report["session"] = call("keyctl", 0, -3, 0)  # KEYCTL_GET_KEYRING_ID of the session keyring
size, error = call("keyctl", 11, -3, buffer, 65536)  # KEYCTL_READ: its keys' serials
report["list"] = [size, error]
serials = list(struct.unpack(f"{size // 4}i", buffer.raw[:size])) if size > 0 else []
found, _ = call("keyctl", 10, -3, b"user", name, 0)  # KEYCTL_SEARCH by name
requested, _ = call("request_key", b"user", name, None, 0)
for serial in serials + [found, requested]:
    if serial > 0:
        for operation in (6, 11):  # KEYCTL_DESCRIBE, KEYCTL_READ (the payload)
            length, error = call("keyctl", operation, serial, buffer, 65536)
            report["read"].append(buffer.raw[:max(length, 0)].decode("latin-1") if length > 0 else error)
for keyring in (-3, -4, -5):  # session, user, user session
    report["added"].append(call("add_key", b"user", b"added-by-the-candidate", b"x", 1, keyring))
try:
    report["proc_keys"] = open("/proc/keys").read()
except OSError as exc:
    report["proc_keys"] = str(exc)
print(json.dumps(report))
"""


def test_the_callers_keyring_is_out_of_reach(as_user):
    plant = {"description": f"redstar-planted-{secrets.token_hex(4)}", "payload": f"secret-{secrets.token_hex(8)}"}
    runs, keys = as_user.keyring_session([KEYRING_SNOOP], [(0, plant["description"] + "\n")], ROOMY, plant)
    run = runs[0]
    assert run.exit_code == 0, run.stderr
    report = json.loads(run.stdout)
    assert plant["payload"] not in run.stdout + run.stderr
    assert plant["description"] not in run.stdout + run.stderr
    assert [result for result, _ in report["added"] if result > 0] == []
    # the caller's keyring holds what it held before: the planted key, nothing added
    assert [key.rsplit(";", 1)[-1] for key in keys] == [plant["description"]]


# -- IPC state across tests ------------------------------------------------------------------------

#: Leaves its input in a System V shared memory segment, message queue and semaphore and a POSIX
#: message queue, after reporting what earlier tests of the same candidate left there.
IPC_STATE = r"""
import ctypes, json, os, sys
libc = ctypes.CDLL(None, use_errno=True)
token = sys.stdin.read().strip().encode()
KEY, IPC_CREAT, IPC_NOWAIT = 0x52454453, 0o1000, 0o4000
seen = {}

libc.shmat.restype = ctypes.c_void_p
shmid = libc.shmget(KEY, 4096, IPC_CREAT | 0o600)
if shmid >= 0:
    address = libc.shmat(shmid, None, 0)
    left = ctypes.string_at(address, 4096).rstrip(b"\0")
    seen["shm"] = left.decode()
    ctypes.memmove(address, left + token + b" ", len(left) + len(token) + 1)
else:
    seen["shm"] = os.strerror(ctypes.get_errno())

class Message(ctypes.Structure):
    _fields_ = [("mtype", ctypes.c_long), ("text", ctypes.c_char * 64)]

queue = libc.msgget(KEY, IPC_CREAT | 0o600)
if queue >= 0:
    message, left = Message(), []
    while libc.msgrcv(queue, ctypes.byref(message), 64, 0, IPC_NOWAIT) >= 0:
        left.append(message.text.decode())
    seen["msg"] = " ".join(left)
    for text in left + [token.decode()]:
        libc.msgsnd(queue, ctypes.byref(Message(1, text.encode())), 64, IPC_NOWAIT)
else:
    seen["msg"] = os.strerror(ctypes.get_errno())

class Operation(ctypes.Structure):
    _fields_ = [("num", ctypes.c_ushort), ("op", ctypes.c_short), ("flg", ctypes.c_short)]

semaphore = libc.semget(KEY, 1, IPC_CREAT | 0o600)
if semaphore >= 0:
    seen["sem"] = str(libc.semctl(semaphore, 0, 12))  # GETVAL: how many tests came before
    libc.semop(semaphore, ctypes.byref(Operation(0, 1, 0)), 1)
else:
    seen["sem"] = os.strerror(ctypes.get_errno())

class Attributes(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_long), ("maxmsg", ctypes.c_long), ("msgsize", ctypes.c_long),
                ("curmsgs", ctypes.c_long), ("reserved", ctypes.c_long * 4)]

mq = libc.mq_open(b"/redstar-state", os.O_CREAT | os.O_RDWR, 0o600, None)
if mq >= 0:
    attributes = Attributes()
    libc.mq_getattr(mq, ctypes.byref(attributes))
    seen["mq"] = str(attributes.curmsgs)
    libc.mq_send(mq, token, len(token), 0)
else:
    seen["mq"] = os.strerror(ctypes.get_errno())
print(json.dumps(seen))
"""


def test_no_ipc_state_carries_from_one_test_to_the_next(as_user):
    runs = as_user.session([IPC_STATE], [(0, "first\n"), (0, "second\n"), (0, "third\n")], ROOMY)
    seen = [json.loads(run.stdout) for run in runs]
    assert all(run.exit_code == 0 for run in runs), [run.stderr for run in runs]
    for later in seen[1:]:
        text = json.dumps(later)
        assert "first" not in text and "second" not in text, seen
        assert later["sem"] in ("0", os.strerror(errno.ENOSYS)), seen
        assert later["mq"] in ("0", os.strerror(errno.ENOSYS)), seen


# -- memory outside the address space ---------------------------------------------------------------

#: Holds as much as it can in memfds and in System V segments (each filled through a mapping that
#: is dropped again, so the address-space limit never sees more than one at a time).
MEMORY_HOG = r"""
import ctypes, json, os
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
CHUNK, COUNT = 12 << 20, 12
held = {"memfd": 0, "shm": 0, "errors": []}
block = b"x" * (1 << 20)
fds = []
for _ in range(COUNT):
    try:
        fd = os.memfd_create("hog")
        for _ in range(CHUNK >> 20):
            os.write(fd, block)
        fds.append(fd)
        held["memfd"] += CHUNK
    except OSError as exc:
        held["errors"].append(str(exc))
        break
for _ in range(COUNT):
    shmid = libc.shmget(0, CHUNK, 0o1000 | 0o600)
    if shmid < 0:
        held["errors"].append(os.strerror(ctypes.get_errno()))
        break
    address = libc.shmat(shmid, None, 0)
    if address in (None, ctypes.c_void_p(-1).value):
        held["errors"].append(os.strerror(ctypes.get_errno()))
        break
    ctypes.memset(address, 1, CHUNK)
    libc.shmdt(ctypes.c_void_p(address))
    held["shm"] += CHUNK
print(json.dumps(held))
"""


def test_memfds_and_system_v_segments_hold_no_more_than_the_memory_limit(as_user):
    limit_mb = 64
    run = run_program(as_user, MEMORY_HOG, limits=Limits(timeout=10, memory_mb=limit_mb, max_output_mb=16))
    assert run.exit_code == 0, run.stderr
    held = json.loads(run.stdout)
    assert held["memfd"] + held["shm"] <= limit_mb * MIB, held


# -- the system-call filter -------------------------------------------------------------------------

#: Calls every denied system call with every argument -1 (invalid for each: without the filter they
#: fail with their own errors, EFAULT, EINVAL, EBADF, EPERM..., or succeed harmlessly) and reports
#: the errno of each.
DENIED_PROBE = SYSCALLS + f"""
report = {{}}
for name in {list(DENIED)!r}:
    if name in NR:
        report[name] = call(name, -1, -1, -1, -1, -1, -1)[1]
print(json.dumps(report))
"""

_probe_reports: dict[str, dict[str, int]] = {}


def denied_probe(user) -> dict[str, int]:
    """The probe's report, once per user kind (one sandbox run for every denied call)."""
    if user.name not in _probe_reports:
        run = run_program(user, DENIED_PROBE, limits=ROOMY)
        assert run.exit_code == 0, run.stderr
        _probe_reports[user.name] = json.loads(run.stdout)
    return _probe_reports[user.name]


@pytest.mark.parametrize("name", [name for name in DENIED if name in ARCH.numbers])
def test_the_filter_denies(as_user, name):
    assert errno.errorcode.get(denied_probe(as_user)[name]) == "ENOSYS"


#: Opens a socket of each family and reports the errno (0: opened).
SOCKET_PROBE = r"""
import json, socket
report = {}
for family in (1, 2, 10, 16, 15, 17, 21, 30, 31, 38, 40):  # allowed, then AF_KEY, AF_PACKET, AF_RDS, AF_TIPC, AF_BLUETOOTH, AF_ALG, AF_VSOCK
    for kind in (socket.SOCK_DGRAM, socket.SOCK_SEQPACKET, socket.SOCK_RAW, socket.SOCK_STREAM):
        try:
            socket.socket(family, kind).close()
            report[family] = 0
            break
        except OSError as exc:
            report[family] = exc.errno
print(json.dumps(report))
"""


def test_only_unix_internet_and_netlink_sockets_open(as_user):
    run = run_program(as_user, SOCKET_PROBE, limits=ROOMY)
    assert run.exit_code == 0, run.stderr
    report = {int(family): error for family, error in json.loads(run.stdout).items()}
    assert [family for family in SOCKET_FAMILIES.values() if report[family] != 0] == []
    refused = {family: error for family, error in report.items() if family not in SOCKET_FAMILIES.values()}
    assert refused and set(refused.values()) == {errno.EAFNOSUPPORT}, refused


#: getpid through the 32-bit ABI (int 0x80, eax 20), from machine code in an executable mapping:
#: another ABI's calls must not slip past a filter that reads x86-64 numbers.
INT80_GETPID = r"""
import ctypes, mmap, os
code = bytes([0xB8, 20, 0, 0, 0, 0xCD, 0x80, 0xC3])  # mov eax, 20; int 0x80; ret
page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
page.write(code)
function = ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(page)))
print(function(), os.getpid())
"""


@pytest.mark.skipif(ARCH.name != "x86_64", reason="the 32-bit ABI of x86-64")
def test_the_32_bit_abi_is_denied(as_user):
    run = run_program(as_user, INT80_GETPID, limits=ROOMY)
    if run.signal is not None:
        pytest.skip(f"no 32-bit ABI in this kernel (int 0x80 killed the program with signal {run.signal})")
    result, pid = map(int, run.stdout.split())
    assert result == -errno.ENOSYS and pid > 0


def test_the_x32_abi_is_denied(as_user):
    if ARCH.x32_bit is None:
        pytest.skip("x32 is an x86-64 ABI")
    program = SYSCALLS + f"print(libc.syscall(ctypes.c_long({ARCH.x32_bit} | NR['getpid'])), ctypes.get_errno())\n"
    run = run_program(as_user, program, limits=ROOMY)
    assert run.stdout.split() == ["-1", str(errno.ENOSYS)]


#: What test programs do use still works under the filter: threads, processes, a subprocess,
#: asyncio (a socketpair), name resolution (netlink), files, time, randomness.
EVERYDAY = r"""
import asyncio, concurrent.futures, os, random, socket, subprocess, sys, tempfile, threading, time
with concurrent.futures.ThreadPoolExecutor(4) as pool:
    assert sum(pool.map(lambda x: x * x, range(100))) == 328350
pid = os.fork()
if pid == 0:
    os._exit(7)
assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 7
assert subprocess.run([sys.executable, "-c", "print(6 * 7)"], capture_output=True, text=True).stdout == "42\n"
assert asyncio.run(asyncio.sleep(0, result="slept")) == "slept"
try:
    socket.getaddrinfo("localhost", 80)
except socket.gaierror:
    pass  # no /etc/hosts in the sandbox: a resolution error, not a denied call
with tempfile.TemporaryFile() as handle:
    handle.write(b"data")
    handle.seek(0)
    assert handle.read() == b"data"
assert time.monotonic() > 0 and os.urandom(8) and random.random() < 1
import ctypes  # a callback into Python from C (libffi's closures)
values = (ctypes.c_int * 3)(3, 1, 2)
order = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int))(lambda a, b: a[0] - b[0])
ctypes.CDLL(None).qsort(values, 3, ctypes.sizeof(ctypes.c_int), order)
assert list(values) == [1, 2, 3]
print("ok")
"""


def test_what_test_programs_use_still_works(as_user):
    run = run_program(as_user, EVERYDAY, limits=ROOMY)
    assert (run.stdout, run.exit_code) == ("ok\n", 0), run.stderr


@pytest.mark.parametrize("program", [b"", b"\0" * 8], ids=["none", "invalid"])
def test_a_harness_that_cannot_install_its_filter_refuses_to_run(program):
    sandbox = Sandbox()
    sandbox.seccomp = program
    try:
        with pytest.raises(SandboxUnavailable, match="system-call filter"):
            sandbox.ensure_checked()
    finally:
        sandbox.close()


def test_an_architecture_without_a_filter_has_no_sandbox(monkeypatch):
    monkeypatch.setattr(platform, "machine", lambda: "s390x")
    with pytest.raises(SandboxUnavailable, match="s390x"):
        Sandbox()


def test_the_filter_tables_match_the_kernel_headers():
    """The numbers are the kernel's, where its headers are installed (linux-libc-dev)."""
    headers = {"x86_64": "/usr/include/x86_64-linux-gnu/asm/unistd_64.h", "aarch64": "/usr/include/asm-generic/unistd.h"}
    checked = 0
    for name, path in headers.items():
        if not os.path.exists(path):
            continue
        defined = {m[0]: int(m[1]) for m in re.findall(r"#define __NR(?:3264)?_(\w+)\s+(\d+)", Path(path).read_text())}
        table = ARCHES[name].numbers
        assert {n: table[n] for n in table if n in defined} == {n: defined[n] for n in table if n in defined}
        assert [n for n in table if n not in defined] == []
        checked += 1
    if not checked:
        pytest.skip("no kernel headers here")
