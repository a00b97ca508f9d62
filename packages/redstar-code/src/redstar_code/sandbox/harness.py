"""The program that runs inside the sandbox and executes a candidate's tests.

This file is not imported by RedStar: its source is handed to ``python -S -I -c`` inside the
bubblewrap sandbox (so it must use the standard library only, and nothing else from the package).
One harness process serves one candidate: it compiles the candidate's program(s) once, then runs
one test per command, each in a fresh child forked from itself, so a test costs a fork instead of
an interpreter start, and no state leaks from one test into the next.

Protocol. Host -> harness: messages as ``<length>\n<marshal bytes>`` (trusted data, and
``marshal`` is built in, so the harness imports nothing slow such as ``json``).
Harness -> host: a line of JSON with small fields, then the raw bytes of the ``frames`` it
announces (``[stdout, stderr, returned]`` lengths), so large outputs need no escaping.

- first message: ``{"programs": [source, ...], "call": None | {...}, "limits": {...},
  "preload": [module, ...], "paths": [dir, ...]}``; answer ``{"ready": true,
  "compile_errors": [null | "SyntaxError: ...", ...]}``
- then per test: ``{"program": i, "io": "stdin" | "files", "input": ...}``; answer: the run's
  outcome (see :func:`run_test`).

End of input ends the harness. Expected outputs never reach this process: the host compares.
"""

import builtins
import marshal
import os
import resource
import select
import signal
import stat
import sys
import time

WORK = "/sandbox"
PRIVATE = WORK + "/.harness"
RUN = WORK + "/run"
STDIN_FILE = PRIVATE + "/stdin"
STDOUT_FILE = PRIVATE + "/stdout"
STDERR_FILE = PRIVATE + "/stderr"
RETURN_FILE = PRIVATE + "/return.json"
STDERR_TAIL = 2000
#: Exit status of a child whose set-up failed before candidate code ran (a harness bug, not the
#: candidate's fault; reported as such).
SETUP_FAILED = 253


def main():
    control = sys.stdin.buffer
    header = _receive(control)
    for path in header.get("paths", []):
        sys.path.append(path)
    # Modules every test would import (TACO's prelude): imported once here, inherited by each
    # forked child, so each test's own import is a dictionary lookup.
    for name in header.get("preload", []):
        try:
            __import__(name)
        except Exception:
            pass
    codes, errors = [], []
    for source in header["programs"]:
        try:
            codes.append(compile(source, "solution.py", "exec", dont_inherit=True))
            errors.append(None)
        except (SyntaxError, ValueError, MemoryError, RecursionError, OverflowError) as exc:
            codes.append(None)
            errors.append(_describe_compile_error(exc))
    os.makedirs(PRIVATE, exist_ok=True)
    os.makedirs(RUN, exist_ok=True)
    _send({"ready": True, "compile_errors": errors})
    while True:
        command = _receive(control)
        if command is None:
            return
        program = command["program"]
        meta, frames = run_test(codes[program], header["programs"][program], command, header["limits"], header.get("call"))
        _send(meta, frames)


def _receive(control):
    line = control.readline()
    if not line:
        return None
    return marshal.loads(control.read(int(line)))


def _send(meta, frames=()):
    meta["frames"] = [len(frame) for frame in frames]
    out = sys.stdout.buffer
    out.write(_json(meta).encode("ascii") + b"\n")
    for frame in frames:
        out.write(frame)
    out.flush()


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _json(value):
    """JSON for the small metadata fields (None, bools, numbers, short strings, lists, dicts)."""
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + "".join(_json_char(ch) for ch in value) + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_json(v) for v in value) + "]"
    return "{" + ",".join(_json(str(k)) + ":" + _json(v) for k, v in value.items()) + "}"


def _json_char(ch):
    if ch in _ESCAPES:
        return _ESCAPES[ch]
    code = ord(ch)
    if 0x20 <= code < 0x7F:
        return ch
    if code > 0xFFFF:  # a surrogate pair, as JSON spells characters beyond the BMP
        code -= 0x10000
        return "\\u%04x\\u%04x" % (0xD800 + (code >> 10), 0xDC00 + (code & 0x3FF))
    return "\\u%04x" % code


def _describe_compile_error(exc):
    where = f" (line {exc.lineno})" if isinstance(exc, SyntaxError) and exc.lineno else ""
    return f"{type(exc).__name__}: {exc.msg if isinstance(exc, SyntaxError) else exc}{where}"


def run_test(code, source, command, limits, call):
    """Run one test in a fresh child and report what it did: ``exit`` (status, or None when
    killed), ``signal``, ``timeout``, ``output_limit``, ``output_missing``, ``seconds``; and the
    frames: standard output (or ``output.txt``), the tail of standard error, and for call-based
    tests the JSON envelope of the return value (``{"ok": true, "value": ...}`` or
    ``{"ok": false, "type": ...}``; empty when the call did not complete)."""
    _empty_run_directory()
    for path in (STDOUT_FILE, STDERR_FILE, RETURN_FILE):
        _remove(path)
    io_mode = command["io"]
    if call is None:
        data = command["input"].encode("utf-8", "surrogateescape")
        target = RUN + "/input.txt" if io_mode == "files" else STDIN_FILE
        with open(target, "wb") as handle:
            handle.write(data)
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        _child(code, source, command, limits, call)
    status, timed_out = _wait(pid, limits["timeout"])
    seconds = time.monotonic() - started
    # Whatever the candidate left running (daemons, orphans, a fork bomb) dies here, before the
    # next test starts: kill(-1) reaches every process of this PID namespace except this one
    # and the namespace's init.
    _kill_all_others()
    output_file = RUN + "/output.txt" if io_mode == "files" else STDOUT_FILE
    stdout = _read_bytes(output_file)
    stderr = _read_bytes(STDERR_FILE) or b""
    returned = (_read_bytes(RETURN_FILE) or b"") if call is not None else b""
    meta = {
        "exit": os.WEXITSTATUS(status) if status is not None and os.WIFEXITED(status) else None,
        "signal": os.WTERMSIG(status) if status is not None and os.WIFSIGNALED(status) else None,
        "timeout": timed_out,
        "seconds": round(seconds, 4),
        "output_missing": stdout is None,
        "output_limit": stdout is not None and len(stdout) >= limits["max_output"],
    }
    return meta, [stdout or b"", stderr[-STDERR_TAIL:], returned]


def _wait(pid, timeout):
    """Wait for the child at most ``timeout`` seconds; kill it when it overruns."""
    deadline = time.monotonic() + timeout
    try:
        handle = os.pidfd_open(pid)
    except (AttributeError, OSError):
        handle = None
    if handle is not None:
        try:
            ready, _, _ = select.select([handle], [], [], max(0.0, deadline - time.monotonic()))
        finally:
            os.close(handle)
        timed_out = not ready
    else:  # kernels before 5.3: poll
        timed_out = True
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return status, False
            time.sleep(0.002)
    if timed_out:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    _, status = os.waitpid(pid, 0)
    return (None if timed_out else status), timed_out


def _kill_all_others():
    me = os.getpid()
    for _ in range(2000):
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _reap()
        if not [p for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, me)]:
            return
        time.sleep(0.0005)


def _reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _child(code, source, command, limits, call):
    try:
        _prepare_child(command["io"], limits, call is None)
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
_KEEP_ALIVE = []


def _prepare_child(io_mode, limits, reads_stdin):
    _KEEP_ALIVE.extend([sys.stdin, sys.stdout, sys.stderr, sys.__stdin__, sys.__stdout__, sys.__stderr__])
    os.chdir(RUN)
    stdin_path = STDIN_FILE if (io_mode == "stdin" and reads_stdin) else "/dev/null"
    fds = [
        os.open(stdin_path, os.O_RDONLY),
        os.open(STDOUT_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
        os.open(STDERR_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
    ]
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    os.closerange(3, 65536)
    cpu = int(limits["cpu"])
    for kind, soft, hard in (
        (resource.RLIMIT_AS, limits["memory"], limits["memory"]),
        (resource.RLIMIT_CPU, cpu, cpu + 1),
        (resource.RLIMIT_FSIZE, limits["max_output"], limits["max_output"]),
        (resource.RLIMIT_NPROC, limits["processes"], limits["processes"]),
        (resource.RLIMIT_NOFILE, limits["open_files"], limits["open_files"]),
        (resource.RLIMIT_CORE, 0, 0),
    ):
        resource.setrlimit(kind, (soft, hard))
    # Fresh standard streams configured as CPython configures them for a script whose output
    # is a file (UTF-8 locale, no newline translation on input, block-buffered stdout).
    sys.stdin = sys.__stdin__ = open(0, encoding="utf-8", errors="strict", newline="\n", closefd=False)
    sys.stdout = sys.__stdout__ = open(1, "w", encoding="utf-8", errors="strict", newline="\n", closefd=False)
    sys.stderr = sys.__stderr__ = open(2, "w", encoding="utf-8", errors="backslashreplace", newline="\n",
                                           buffering=1, closefd=False)
    sys.argv = ["solution.py"]


def _print_exception():
    import traceback  # only a crashing test pays for importing it

    traceback.print_exc()


def _fresh_main():
    module = type(sys)("__main__")
    module.__dict__["__builtins__"] = builtins
    sys.modules["__main__"] = module
    return module


def _run_program(code):
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


def _run_call(code, source, args, call):
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
    with open(RETURN_FILE, "w", encoding="utf-8") as handle:
        handle.write(envelope)
    return _finish(0)


def _locate(module, name, lookup, source):
    """``auto``: a method of ``class Solution`` when the class has it, else a module-level
    function. ``taco``: TACO's rule, decided by the text ``class Solution`` in the program."""
    solution = module.__dict__.get("Solution")
    if lookup == "taco":
        owner = solution() if "class Solution" in source else module
        return getattr(owner, name)
    if isinstance(solution, type) and hasattr(solution, name):
        return getattr(solution(), name)
    if name in module.__dict__:
        return module.__dict__[name]
    raise NameError(f"the program defines no function {name!r} (nor a method of class Solution)")


def _convert_arguments(args, int_keys):
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


def _is_int_text(text):
    body = text[1:] if text[:1] == "-" else text
    return body.isdigit() and body.isascii()


def _exit_status(exc):
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


def _finish(status):
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


def _empty_run_directory():
    for entry in os.listdir(RUN):
        _remove(RUN + "/" + entry)


def _remove(path):
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            os.chmod(path, 0o700)  # a candidate may have made its directory unreadable
            for entry in os.listdir(path):
                _remove(path + "/" + entry)
            os.rmdir(path)
        else:
            os.unlink(path)
    except FileNotFoundError:
        pass


def _read_bytes(path):
    """The file's content, or None when it does not exist (or is not a regular file)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        if not _is_regular(handle.fileno()):
            return None
        return handle.read()


def _is_regular(fd):
    return stat.S_ISREG(os.fstat(fd).st_mode)


if __name__ == "__main__":
    main()
