"""A test's program: the child the runner forks, which sets itself up (standard streams, limits,
working directory) and runs the candidate as ``python solution.py`` would, or calls its function
and writes the JSON envelope of the return value."""

from __future__ import annotations

import builtins
import os
import signal
import sys

from . import guard
from . import limits as rlimits
from .workdir import RETURN_FILE, RUN

#: Types for the checker only: the harness imports nothing it does not run.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import CodeType, ModuleType
    from typing import Any, NoReturn

#: Exit status of a child whose set-up failed before candidate code ran (a harness bug, not the
#: candidate's fault; reported as such).
SETUP_FAILED = 253


def child(code: CodeType | None, source: str, command: dict[str, Any], limits: dict[str, Any],
          call: dict[str, Any] | None, streams: Sequence[int]) -> NoReturn:
    """The program's process (a fork of the runner): never returns."""
    try:
        _prepare_child(limits, streams)
    except BaseException:
        os._exit(SETUP_FAILED)
    if code is None:
        os._exit(1)
    if call is None:
        status = _run_program(code)
    else:
        status = _run_call(code, source, command["input"], call)
    os._exit(status)


#: The harness's own stream objects, kept alive in the child: were they garbage-collected when
#: sys.stdin/stdout are replaced, their finalizers would close fds 0-2, now the test's streams.
_KEEP_ALIVE: list[Any] = []


def _prepare_child(limits: dict[str, Any], streams: Sequence[int]) -> None:
    _KEEP_ALIVE.extend([sys.stdin, sys.stdout, sys.stderr, sys.__stdin__, sys.__stdout__, sys.__stderr__])
    os.chdir(RUN)
    # The control pipes (0 and 1) are replaced and every other descriptor closed before
    # candidate code runs: the candidate never holds the harness's channel to the host.
    for target, fd in enumerate(streams):
        os.dup2(fd, target)
    os.closerange(3, 65536)
    rlimits.apply(limits)
    # As `python solution.py` would be: dumpable (it holds nothing of the harness's any more)
    # and interrupted by SIGINT.
    guard.make_dumpable()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    # Fresh standard streams configured as CPython configures them for a script whose output
    # is a file (UTF-8 locale, no newline translation on input, block-buffered stdout).
    sys.stdin = sys.__stdin__ = open(0, encoding="utf-8", errors="strict", newline="\n", closefd=False)  # type: ignore[misc]
    sys.stdout = sys.__stdout__ = open(1, "w", encoding="utf-8", errors="strict", newline="\n", closefd=False)  # type: ignore[misc]
    sys.stderr = sys.__stderr__ = open(2, "w", encoding="utf-8", errors="backslashreplace", newline="\n",  # type: ignore[misc]
                                           buffering=1, closefd=False)
    sys.argv = ["solution.py"]
    # The harness's own modules are not the program's to import (``python solution.py`` has no
    # such package); the functions running now hold their modules themselves.
    package = __name__.rpartition(".")[0]
    for name in [n for n in sys.modules if package and (n == package or n.startswith(package + "."))]:
        del sys.modules[name]


def _print_exception() -> None:
    import traceback  # only a crashing test pays for importing it

    # One write for the whole traceback (the stream is line-buffered, and flushes once per
    # write call): a process killed while printing, such as a fork bomb's child when the test
    # ends, leaves its traceback whole or absent, never a dangling first line.
    try:
        sys.stderr.write(traceback.format_exc())
        sys.stderr.flush()
    except BaseException:
        traceback.print_exc()


def _fresh_main() -> ModuleType:
    module = type(sys)("__main__")
    module.__dict__["__builtins__"] = builtins
    sys.modules["__main__"] = module
    return module


def _run_program(code: CodeType) -> int:
    """Run a program as ``python solution.py`` would, and return its exit status."""
    module = _fresh_main()
    try:
        exec(code, module.__dict__)
        status = 0
    except SystemExit as exc:
        status = _exit_status(exc)
    except BaseException:
        _print_exception()
        status = 1
    return _finish(status)


def _run_call(code: CodeType, source: str, args: list[Any], call: dict[str, Any]) -> int:
    module = _fresh_main()
    try:
        exec(code, module.__dict__)
        function = _locate(module, call["fn_name"], call["lookup"], source)
        value = function(*_convert_arguments(args, call["int_keys"]))
    except SystemExit as exc:
        return _finish(_exit_status(exc) or 1)
    except BaseException:
        _print_exception()
        return _finish(1)
    import json  # preloaded by the host for call-based problems

    try:
        envelope = json.dumps({"ok": True, "value": value})
    except (TypeError, ValueError, RecursionError, OverflowError):
        envelope = json.dumps({"ok": False, "type": type(value).__name__})
    try:
        with open(RETURN_FILE, "w", encoding="utf-8") as handle:
            handle.write(envelope)
    except OSError:  # larger than the output limit (RLIMIT_FSIZE): the harness reports that
        _print_exception()
        return _finish(1)
    return _finish(0)


def _locate(module: ModuleType, name: str, lookup: str, source: str) -> Any:
    """``auto``: a method of ``class Solution`` when the class has it, else a module-level
    function. ``taco``: TACO's rule, decided by the text ``class Solution`` in the program."""
    solution: Any = module.__dict__.get("Solution")
    if lookup == "taco":
        owner = solution() if "class Solution" in source else module
        return getattr(owner, name)
    if isinstance(solution, type) and hasattr(solution, name):
        return getattr(solution(), name)
    if name in module.__dict__:
        return module.__dict__[name]
    raise NameError(f"the program defines no function {name!r} (nor a method of class Solution)")


def _convert_arguments(args: list[Any], int_keys: str) -> list[Any]:
    """JSON object keys are strings; problems whose arguments are integer-keyed dicts need them
    back as integers."""
    if int_keys == "taco":  # TACO: only a dict first argument, replacing the whole list
        try:
            if isinstance(args[0], dict):
                args = [{int(k): v for k, v in args[0].items()}]
        except Exception:
            pass
        return args
    converted = []
    for arg in args:
        if isinstance(arg, dict) and arg and all(_is_int_text(k) for k in arg):
            arg = {int(k): v for k, v in arg.items()}
        converted.append(arg)
    return converted


def _is_int_text(text: str) -> bool:
    body = text[1:] if text[:1] == "-" else text
    return body.isdigit() and body.isascii()


def _exit_status(exc: SystemExit) -> int:
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    try:
        print(code, file=sys.stderr)
    except BaseException:
        pass
    return 1


def _finish(status: int) -> int:
    """What the interpreter does on the way out: wait for non-daemon threads, run atexit
    handlers, flush the standard streams (a failed stdout flush exits with 120)."""
    threading = sys.modules.get("threading")
    if threading is not None:
        try:
            threading._shutdown()
        except BaseException:
            pass
    try:
        import atexit

        atexit._run_exitfuncs()
    except BaseException:
        pass
    try:
        sys.stdout.flush()
    except BaseException:
        status = status or 120
    try:
        sys.stderr.flush()
    except BaseException:
        pass
    return status
