"""Starting sandboxes as an unprivileged user when RedStar itself runs as root.

Why: bubblewrap started by root maps the sandbox's uid to root outside, and the kernel does not
enforce ``RLIMIT_NPROC`` for root, so a fork bomb would not be stopped. RedStar therefore starts
bwrap as uid 65534 (``nsenter -S 65534 -G 65534``), where the process limit holds. That user may
not be able to reach the Python installation (a pyenv under ``/root``, mode 700), and bwrap 0.8
resolves bind sources with the caller's permissions. The bridge is one helper process, started
once, holding a private mount namespace in which each needed directory is bind-mounted (read-only)
under a world-traversable tmpfs; bwrap runs inside that namespace and binds from there. Nothing
changes in the host's own mount table, and the helper exits when RedStar closes its standard
input or dies.
"""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import sys
import time

from redstar_code.sandbox.errors import SandboxError

BRIDGE_ROOT = "/tmp"
START_TIMEOUT = 30.0

_HELPER = r"""
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 32, 4096, 16384, 1 << 18

def mount(source, target, fstype, flags, data=None):
    enc = lambda s: None if s is None else s.encode()
    if libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {source} on {target}: {os.strerror(err)}")

if libc.unshare(0x00020000) != 0:  # CLONE_NEWNS
    err = ctypes.get_errno()
    raise OSError(err, f"unshare(CLONE_NEWNS): {os.strerror(err)}")
mount(None, "/", None, MS_REC | MS_PRIVATE)
root = sys.argv[1]
# Hold every source open first: the tmpfs below hides whatever lies under root (a virtualenv
# in /tmp, say), and a bind from /proc/self/fd/N still reaches the directory underneath.
handles = [os.open(source, os.O_PATH) for source in sys.argv[3:]]
mount("redstar-bridge", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
for index, handle in enumerate(handles):
    target = f"{root}/{index}"
    os.mkdir(target, 0o755)
    mount(f"/proc/self/fd/{handle}", target, None, MS_BIND | MS_REC)
    mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
sys.stdout.write("ready\n")
sys.stdout.flush()
sys.stdin.buffer.read()
"""


class MountBridge:
    """The helper process and where each bridged directory appears inside its namespace."""

    def __init__(self, sources: tuple[str, ...], tag: str) -> None:
        self.sources = sources
        self.source_of = {src: f"{BRIDGE_ROOT}/{i}" for i, src in enumerate(sources)}
        self._proc = subprocess.Popen(
            [sys.executable, "-S", "-I", "-c", _HELPER, BRIDGE_ROOT, f"{tag}:bridge", *sources],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd="/",
            start_new_session=True, env={},
        )
        stdout = self._proc.stdout
        assert stdout is not None, "stdout=PIPE gives the helper's output stream"
        ready, _, _ = select.select([stdout], [], [], START_TIMEOUT)
        line = stdout.readline() if ready else b""
        if line.strip() != b"ready":
            self._proc.kill()
            _, err = self._proc.communicate()
            detail = err.decode("utf-8", "replace").strip()
            raise SandboxError(f"could not prepare the sandbox's mount bridge (running as root): {detail or 'no answer'}")

    def translate(self, source: str) -> str:
        """Where bwrap finds ``source`` inside the bridge: a bridged directory, or a file directly
        in one."""
        if source in self.source_of:
            return self.source_of[source]
        parent, name = os.path.split(source)
        if parent in self.source_of:
            return f"{self.source_of[parent]}/{name}"
        raise SandboxError(f"{source} was not prepared in the sandbox's mount bridge")

    @property
    def pid(self) -> int:
        return self._proc.pid

    def alive(self) -> bool:
        return self._proc.poll() is None

    def enter_command(self, nsenter: str, uid: int, gid: int) -> list[str]:
        """The prefix that runs a command inside the bridge's mount namespace as uid/gid."""
        return [nsenter, f"--mount=/proc/{self._proc.pid}/ns/mnt", "-S", str(uid), "-G", str(gid), "--"]

    def close(self) -> None:
        proc = self._proc
        if proc.stdin and not proc.stdin.closed:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        deadline = time.monotonic() + 5.0
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream and not stream.closed:
                stream.close()


def needs_bridge() -> bool:
    """Root starts sandboxes through the bridge (see the module's docstring)."""
    return os.geteuid() == 0
