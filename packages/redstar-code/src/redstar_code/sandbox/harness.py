"""The program that runs inside the sandbox and executes a candidate's tests.

This file is not imported by RedStar: its source is handed to ``python -S -I -c`` inside the
bubblewrap sandbox (so it must use the standard library only, and nothing else from the package).
One harness process serves one candidate: it compiles the candidate's program(s) once, then runs
one test per command, each in a fresh process forked from itself (through a runner, see
:func:`run_test`), so a test costs two forks instead of an interpreter start, and no state leaks
from one test into the next.

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

Protection from the candidate, which runs with the same uid as this process:

- this process is the PID namespace's init (bwrap ``--as-pid-1``): the kernel drops every
  signal a process of the namespace sends it without a handler, SIGKILL and SIGSTOP included, so
  SIGINT is reset to its default (ignored) as well;
- it makes itself non-dumpable (``prctl(PR_SET_DUMPABLE, 0)``) before it reads anything: its
  ``/proc/1/fd``, ``mem``, ``environ`` and ptrace, ``process_vm_readv`` or ``pidfd_getfd`` on
  it then need CAP_SYS_PTRACE, which nothing in the sandbox has. It refuses to run when it cannot;
- the candidate never holds the control pipes (fds 0 and 1): the runner and the program replace
  them and close every other descriptor before candidate code runs; the program is made
  dumpable again only after that (the runner stays non-dumpable);
- between tests, once every other process is gone, the working directory is emptied and its
  directories re-created; the test's standard streams are files this process opens itself, and it
  reads outputs through its own descriptors (never through a path the candidate may have
  replaced by a symbolic link).
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
PR_GET_DUMPABLE, PR_SET_DUMPABLE = 3, 4
#: While a test runs, orphans of the candidate (whose parent is now this init) are reaped this often.
REAP_INTERVAL = 0.05
#: Exit status of a child whose set-up failed before candidate code ran (a harness bug, not the
#: candidate's fault; reported as such).
SETUP_FAILED = 253


def main():
    problem = _secure()
    control = sys.stdin.buffer
    header = _receive(control)
    if header is None:
        return
    if problem is not None:
        _send({"ready": False, "error": problem})
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
    codes, errors = [], []
    for source in header["programs"]:
        try:
            codes.append(compile(source, "solution.py", "exec", dont_inherit=True))
            errors.append(None)
        except (SyntaxError, ValueError, MemoryError, RecursionError, OverflowError) as exc:
            codes.append(None)
            errors.append(_describe_compile_error(exc))
    _send({"ready": True, "compile_errors": errors})
    while True:
        command = _receive(control)
        if command is None:
            return
        program = command["program"]
        meta, frames = run_test(codes[program], header["programs"][program], command, header["limits"], header.get("call"))
        _send(meta, frames)


_LIBC = None


def _secure():
    """Make this process unreachable from the candidate (see the module's docstring); None, or
    why it could not be done."""
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
    killed), ``signal``, ``timeout``, ``output_limit``, ``output_missing``, ``seconds``, ``lost``
    (None, or ``"killed"`` / ``"stopped"`` when the program killed or stopped its parent, the
    test's runner); and the frames: standard output (or ``output.txt``), the tail of standard
    error, and for call-based tests the JSON envelope of the return value (``{"ok": true,
    "value": ...}`` or ``{"ok": false, "type": ...}``; empty when the call did not complete).

    The program runs in a child of a *runner*, itself a child of this process: the runner waits
    for it and reports its wait status through a pipe. The program can kill or stop its parent
    (the runner; this process, the namespace's init, ignores it), which is reported as ``lost``.
    """
    _reset_work_directory()
    io_mode = command["io"]
    opened = []
    try:
        if call is None:
            data = command["input"].encode("utf-8", "surrogateescape")
            target = RUN + "/input.txt" if io_mode == "files" else STDIN_FILE
            _write_new(target, data, 0o644)
        stdin_path = STDIN_FILE if (io_mode == "stdin" and call is None) else "/dev/null"
        streams = [os.open(stdin_path, os.O_RDONLY | os.O_NOFOLLOW), _create(STDOUT_FILE), _create(STDERR_FILE)]
        opened += streams
        returned_fd = _create(RETURN_FILE) if call is not None else None
        run_fd = os.open(RUN, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        opened += [fd for fd in (returned_fd, run_fd) if fd is not None]
        status_read, status_write = os.pipe()
        opened.append(status_read)
        started = time.monotonic()
        try:
            runner = os.fork()
        except BaseException:
            os.close(status_write)
            raise
        if runner == 0:  # never returns
            _runner(code, source, command, limits, call, streams, status_write)
        os.close(status_write)
        ended, timed_out = _wait(runner, limits["timeout"])
        seconds = time.monotonic() - started
        # Whatever the candidate left running (daemons, orphans, a fork bomb) dies here, before
        # anything is read and before the next test starts: kill(-1) from the namespace's init
        # reaches every other process of the namespace.
        _kill_all_others()
        status, lost = None, None
        if ended is not None:
            status, lost = _program_status(ended, status_read)
        if io_mode == "files":
            stdout = _read_file("output.txt", run_fd)
        else:
            stdout = _read_fd(streams[1])
        stderr = _read_fd(streams[2])
        returned = _read_fd(returned_fd) if returned_fd is not None else b""
    finally:
        for fd in opened:
            os.close(fd)
    meta = {
        "exit": os.WEXITSTATUS(status) if status is not None and os.WIFEXITED(status) else None,
        "signal": os.WTERMSIG(status) if status is not None and os.WIFSIGNALED(status) else None,
        "timeout": timed_out,
        "lost": lost,
        "seconds": round(seconds, 4),
        "output_missing": stdout is None,
        "output_limit": stdout is not None and len(stdout) >= limits["max_output"],
    }
    return meta, [stdout or b"", stderr[-STDERR_TAIL:], returned]


def _runner(code, source, command, limits, call, streams, status_write):
    """The test's runner (a fork of the harness, non-dumpable like it): let go of the control
    pipes and every descriptor but the test's, start the program, kill whatever the program left
    once it ends (``kill(-1)`` spares the runner and the namespace's init), and report the
    program's wait status."""
    try:
        null = os.open("/dev/null", os.O_RDWR)
        for target in (0, 1, 2):
            os.dup2(null, target)
        keep = {0, 1, 2, status_write, *streams}
        for fd in _open_descriptors():
            if fd not in keep:
                _close_quietly(fd)
        pid = os.fork()
        if pid == 0:  # the program: never returns
            _close_quietly(status_write)
            _child(code, source, command, limits, call, streams)
        for fd in streams:
            os.close(fd)
        _, status = os.waitpid(pid, 0)
        # The program is done: what it left (a fork bomb's children still printing their
        # tracebacks, daemons) stops now, not once the harness has heard of it.
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.write(status_write, b"%d\n" % status)
    except BaseException:
        os._exit(SETUP_FAILED)
    os._exit(0)


def _open_descriptors():
    return [int(name) for name in os.listdir("/proc/self/fd")]


def _close_quietly(fd):
    try:
        os.close(fd)
    except OSError:
        pass


def _program_status(ended, status_read):
    """The program's wait status and how its runner ended (None: normally), from the runner's
    wait status ``ended`` and its report."""
    if os.WIFSTOPPED(ended):
        return None, "stopped"
    if os.WIFEXITED(ended) and os.WEXITSTATUS(ended) == SETUP_FAILED:
        return SETUP_FAILED << 8, None  # reported as the program's exit status, as a child's set-up failure
    report = b""
    if os.WIFEXITED(ended) and os.WEXITSTATUS(ended) == 0:
        os.set_blocking(status_read, False)
        try:
            report = os.read(status_read, 64)
        except BlockingIOError:
            report = b""
    if not report.endswith(b"\n"):
        return None, "killed"
    return int(report), None


def _create(path):
    """A new, empty file at ``path`` for the child to write, open for this process to read."""
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)


def _write_new(path, data, mode):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _wait(runner, timeout):
    """Wait at most ``timeout`` seconds for the runner to end or be stopped, reaping the orphans
    that this init inherits meanwhile. Returns (its wait status, or None when time ran out;
    timed_out)."""
    deadline = time.monotonic() + timeout
    try:
        handle = os.pidfd_open(runner)
    except (AttributeError, OSError):
        handle = None  # kernels before 5.3: poll
    try:
        while True:
            done, status = os.waitpid(runner, os.WNOHANG | os.WUNTRACED)
            if done:
                return status, False
            status = _reap(runner)
            if status is not None:
                return status, False
            left = deadline - time.monotonic()
            if left <= 0:
                return None, True
            if handle is not None:
                select.select([handle], [], [], min(left, REAP_INTERVAL))
            else:
                time.sleep(min(left, 0.002))
    finally:
        if handle is not None:
            os.close(handle)


def _kill_all_others():
    me = os.getpid()
    for _ in range(2000):
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _reap()
        if not [p for p in os.listdir("/proc") if p.isdigit() and int(p) != me]:
            return
        time.sleep(0.0005)
    raise RuntimeError("processes of the candidate survived SIGKILL")


def _reap(target=None):
    """Reap every exited child; the wait status of ``target`` when it was one of them."""
    found = None
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return found
        if pid == 0:
            return found
        if pid == target:
            found = status


def _child(code, source, command, limits, call, streams):
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
_KEEP_ALIVE = []


def _prepare_child(limits, streams):
    _KEEP_ALIVE.extend([sys.stdin, sys.stdout, sys.stderr, sys.__stdin__, sys.__stdout__, sys.__stderr__])
    os.chdir(RUN)
    # The control pipes (0 and 1) are replaced and every other descriptor closed before
    # candidate code runs: the candidate never holds the harness's channel to the host.
    for target, fd in enumerate(streams):
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
    # As `python solution.py` would be: dumpable (it holds nothing of the harness's any more)
    # and interrupted by SIGINT.
    if _LIBC.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0:
        raise OSError("prctl(PR_SET_DUMPABLE, 1) failed")
    signal.signal(signal.SIGINT, signal.default_int_handler)
    # Fresh standard streams configured as CPython configures them for a script whose output
    # is a file (UTF-8 locale, no newline translation on input, block-buffered stdout).
    sys.stdin = sys.__stdin__ = open(0, encoding="utf-8", errors="strict", newline="\n", closefd=False)
    sys.stdout = sys.__stdout__ = open(1, "w", encoding="utf-8", errors="strict", newline="\n", closefd=False)
    sys.stderr = sys.__stderr__ = open(2, "w", encoding="utf-8", errors="backslashreplace", newline="\n",
                                           buffering=1, closefd=False)
    sys.argv = ["solution.py"]


def _print_exception():
    import traceback  # only a crashing test pays for importing it

    # One write for the whole traceback (the stream is line-buffered, and flushes once per
    # write call): a process killed while printing, such as a fork bomb's child when the test
    # ends, leaves its traceback whole or absent, never a dangling first line.
    try:
        sys.stderr.write(traceback.format_exc())
        sys.stderr.flush()
    except BaseException:
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


def _reset_work_directory():
    """Empty the working directory (whatever the candidate left anywhere in it) and re-create the
    harness's directories. Runs only while no other process exists, so nothing can race it."""
    os.chmod(WORK, 0o755)  # a candidate may have made it unreadable
    for entry in os.listdir(WORK):
        _remove(WORK + "/" + entry)
    os.mkdir(PRIVATE, 0o700)
    os.mkdir(RUN, 0o755)


def _remove(path):
    """Remove a file or a directory tree without following any symbolic link."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISDIR(mode):
        os.chmod(path, 0o700)  # a candidate may have made its directory unreadable
        for entry in os.listdir(path):
            _remove(path + "/" + entry)
        os.rmdir(path)
    else:
        os.unlink(path)


def _read_fd(fd):
    """Everything in the file open as ``fd`` (opened by this process, so a path the candidate
    replaced does not matter)."""
    if not _is_regular(fd):
        return b""
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _read_file(name, dir_fd):
    """The content of the regular file ``name`` in the directory open as ``dir_fd``, or None
    when there is none (a symbolic link, a FIFO or a directory counts as none)."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
    except OSError:
        return None
    try:
        if not _is_regular(fd):
            return None
        return _read_fd(fd)
    finally:
        os.close(fd)


def _is_regular(fd):
    return stat.S_ISREG(os.fstat(fd).st_mode)


if __name__ == "__main__":
    main()
