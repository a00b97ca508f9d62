"""How the harness makes itself unreachable from the candidate, which runs with its uid (see the
package's docstring): it must be the PID namespace's init, and non-dumpable before it reads
anything; the program of a test is made dumpable again once it holds nothing of the harness's.

Then, before any candidate code exists, :func:`confine` gives it (and so every process of the
sandbox) a new, empty session keyring in place of the caller's, and installs the host's
system-call filter (``redstar_code.sandbox.seccomp``), which every process it forks inherits and
none can remove.
"""

from __future__ import annotations

import errno
import os
import signal

#: Types for the checker only: the harness imports nothing it does not run.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

PR_GET_DUMPABLE, PR_SET_DUMPABLE = 3, 4
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
PR_GET_NO_NEW_PRIVS = 39
KEYCTL_GET_KEYRING_ID, KEYCTL_JOIN_SESSION_KEYRING, KEY_SPEC_SESSION_KEYRING = 0, 1, -3

#: The C library, loaded by :func:`secure` (ctypes is imported only then).
_LIBC: Any = None


def secure() -> str | None:
    """Make this process unreachable from the candidate; None, or why it could not be done."""
    global _LIBC
    if os.getpid() != 1:
        return "the harness is not the PID namespace's init (bwrap --as-pid-1)"
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        import ctypes

        _LIBC = ctypes.CDLL(None, use_errno=True)
        if _LIBC.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0 or _LIBC.prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0:
            return "prctl(PR_SET_DUMPABLE, 0) failed: " + os.strerror(ctypes.get_errno())
    except Exception as exc:  # no ctypes in this Python: refuse rather than run exposed
        return f"cannot make the harness non-dumpable ({type(exc).__name__}: {exc})"
    return None


def make_dumpable() -> None:
    """For a test's program, once it holds nothing of the harness's: dumpable, as
    ``python solution.py`` would be."""
    if _LIBC.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0:
        raise OSError("prctl(PR_SET_DUMPABLE, 1) failed")


def confine(keyctl: int, program: bytes) -> str | None:
    """Join a new anonymous session keyring (``keyctl`` is the system call's number here), then
    install the seccomp filter ``program`` (``struct sock_filter`` instructions); None, or why it
    could not be done. The filter denies ``keyctl`` itself, so the keyring is joined first."""
    import ctypes

    c_long = ctypes.c_long
    _LIBC.syscall.restype = c_long
    joined = _LIBC.syscall(c_long(keyctl), c_long(KEYCTL_JOIN_SESSION_KEYRING), None)
    if joined < 0:
        error = ctypes.get_errno()
        hint = " (each sandbox holds one key of its user's quota: raise kernel.keys.maxkeys)" if error == errno.EDQUOT else ""
        return "cannot join a new session keyring: " + os.strerror(error) + hint
    if _LIBC.syscall(c_long(keyctl), c_long(KEYCTL_GET_KEYRING_ID), c_long(KEY_SPEC_SESSION_KEYRING), c_long(0)) != joined:
        return "the new session keyring is not this process's session keyring"
    if not program or len(program) % 8:
        return "no system-call filter to install"
    if _LIBC.prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1:
        return "no_new_privs is not set (bwrap sets it): the filter would need privileges"

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    instructions = ctypes.create_string_buffer(program, len(program))
    fprog = SockFprog(len(program) // 8, ctypes.addressof(instructions))
    if _LIBC.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        return "cannot install the system-call filter: " + os.strerror(ctypes.get_errno())
    return None
