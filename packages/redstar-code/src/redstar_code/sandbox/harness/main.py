"""The harness's loop: protect itself, read the first message (the programs, limits and
modules), compile the programs once, then run one test per message until the host's input ends
(see :mod:`.protocol`)."""

from __future__ import annotations

import sys

from . import guard, protocol
from .runner import run_test

#: Types for the checker only: the harness imports nothing it does not run.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import CodeType


def main() -> None:
    problem = guard.secure()
    control = sys.stdin.buffer
    header = protocol.receive(control)
    if header is None:
        return
    if problem is None:
        problem = guard.confine(header["keyctl"], header["seccomp"])
    if problem is not None:
        protocol.send({"ready": False, "error": problem})
        return
    for path in header.get("paths", []):
        sys.path.append(path)
    # Modules every test would import (TACO's prelude): imported once here, inherited by each
    # forked child, so each test's own import is a dictionary lookup.
    for name in header.get("preload", []):
        try:
            __import__(name)
        except Exception:
            pass
    codes: list[CodeType | None] = []
    errors: list[str | None] = []
    for source in header["programs"]:
        try:
            codes.append(compile(source, "solution.py", "exec", dont_inherit=True))
            errors.append(None)
        except (SyntaxError, ValueError, MemoryError, RecursionError, OverflowError) as exc:
            codes.append(None)
            errors.append(_describe_compile_error(exc))
    protocol.send({"ready": True, "compile_errors": errors})
    while True:
        command = protocol.receive(control)
        if command is None:
            return
        program = command["program"]
        meta, frames = run_test(codes[program], header["programs"][program], command, header["limits"], header.get("call"))
        protocol.send(meta, frames)


def _describe_compile_error(exc: BaseException) -> str:
    where = f" (line {exc.lineno})" if isinstance(exc, SyntaxError) and exc.lineno else ""
    return f"{type(exc).__name__}: {exc.msg if isinstance(exc, SyntaxError) else exc}{where}"
