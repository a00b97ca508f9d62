"""How the harness makes itself unreachable from the candidate, which runs with its uid (see the
package's docstring): it must be the PID namespace's init, and non-dumpable before it reads
anything; the program of a test is made dumpable again once it holds nothing of the harness's."""

from __future__ import annotations

import os
import signal

#: Types for the checker only: the harness imports nothing it does not run.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

PR_GET_DUMPABLE, PR_SET_DUMPABLE = 3, 4

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
