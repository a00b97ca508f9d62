"""One candidate's sandbox: a bwrap container with the harness inside, driven over pipes.

The host sends the programs once and then one test input at a time; the harness answers with
what the program did (:class:`Run`). Messages to the harness are marshal-encoded (the host is
trusted); what comes back is parsed as JSON plus raw byte frames only, never trusted further
(the harness shares the candidate's uid; it is built so that the candidate cannot reach the pipe,
and the host does not rely on that alone). Every read and write has a deadline, so a harness
that stops answering costs at most the time limit plus :data:`GRACE`. A program that kills or
stops its parent (the test's runner) raises :class:`HarnessDied` for that test; the harness
itself goes on. :meth:`Session.close` kills the namespace's init, the harness (which takes every
process of the sandbox with it), and waits until the namespace is gone, so nothing outlives a
session.
"""

from __future__ import annotations

import contextlib
import json
import marshal
import os
import re
import select
import signal
import subprocess
import time
from dataclasses import dataclass
from typing import Any

from redstar_code.sandbox.errors import HarnessDied, SandboxError

#: Seconds beyond a test's time limit the host waits for the harness (forking, reading files).
GRACE = 2.0
STARTUP_TIMEOUT = 30.0
TEARDOWN_TIMEOUT = 10.0
STDERR_CAP = 64 * 1024


@dataclass(frozen=True)
class Run:
    """What one test run did. ``exit_code`` is None when the process was killed (``signal``) or
    ran out of time (``timed_out``). ``stdout`` is the program's standard output (or, for runs
    with ``io="files"``, the content of ``output.txt``; None when that file was not written).
    ``returned`` is, for call-based runs that returned, ``{"ok": True, "value": ...}``,
    ``{"ok": False, "type": name}`` when the value is not JSON-serialisable, or ``{"ok": False,
    "error": why}`` when what came back cannot be read (see :func:`read_envelope`)."""

    exit_code: int | None
    signal: int | None
    timed_out: bool
    output_limit: bool
    stdout: str | None
    stderr: str
    seconds: float
    returned: dict[str, Any] | None = None

    @property
    def clean_exit(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and not self.output_limit

    @classmethod
    def from_harness(cls, meta: dict[str, Any], frames: list[bytes]) -> Run:
        """Build from the harness's answer; raises ValueError/KeyError/TypeError when the
        metadata is malformed. A return envelope that cannot be read is ``{"ok": False,
        "error": why}`` (see :func:`read_envelope`), the candidate's failure, not an exception."""
        stdout, stderr, returned = frames
        return cls(
            exit_code=_optional_int(meta["exit"]), signal=_optional_int(meta["signal"]),
            timed_out=bool(meta["timeout"]), output_limit=bool(meta["output_limit"]),
            stdout=None if meta["output_missing"] else stdout.decode("utf-8", "replace"),
            stderr=stderr.decode("utf-8", "replace"), seconds=float(meta["seconds"]),
            returned=read_envelope(returned),
        )


def _optional_int(value: Any) -> int | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise TypeError(f"expected an int or null, got {value!r}")


#: How deep lists and objects may nest in a return value. Far beyond any real answer, and far
#: below the depth at which decoding or comparing it (both recursive) could exhaust the host's
#: stack wherever it runs.
MAX_RETURN_DEPTH = 100
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = bytes(byte for byte in range(256) if byte not in b"[]{}")
_NESTING = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}
_BLOCK = 64


def read_envelope(data: bytes) -> dict[str, Any] | None:
    """The return envelope a call-based test's harness sent (None when there is none):
    ``{"ok": True, "value": ...}`` or ``{"ok": False, "type": name}``; and for anything else
    ``{"ok": False, "error": why}``. The data is the candidate's to write (its process can replace
    the harness's file), so this never raises: it must be UTF-8 JSON, nested at most
    :data:`MAX_RETURN_DEPTH` deep (checked before decoding), with numbers Python converts."""
    if not data:
        return None
    try:
        text = data.decode("utf-8")  # strictly: json.loads would guess UTF-16/32 from bytes
    except UnicodeDecodeError:
        return _unusable("not UTF-8")
    try:
        if _nested_deeper(text, MAX_RETURN_DEPTH + 1):  # the envelope is one level more
            return _unusable(f"nested more than {MAX_RETURN_DEPTH} levels deep")
        envelope = json.loads(text)
    except (ValueError, RecursionError, MemoryError) as exc:
        return _unusable(f"not JSON: {type(exc).__name__}: {str(exc)[:100]}")
    if not (isinstance(envelope, dict) and isinstance(envelope.get("ok"), bool)):
        return _unusable("not a return envelope")
    if envelope["ok"] and "value" not in envelope:
        return _unusable("no value")
    if not envelope["ok"] and not isinstance(envelope.get("type"), str):
        return _unusable("no type name")
    return envelope


def _nested_deeper(text: str, limit: int) -> bool:
    """Whether brackets and braces outside JSON strings nest deeper than ``limit``, in linear
    time and without recursion (malformed text may be over-counted: it fails to decode anyway).
    The brackets are taken in blocks: a block can take the depth past the limit only when the
    depth before it plus its opening brackets does, and only such a block is walked one by one."""
    # UTF-8 spells other characters with bytes >= 0x80 only: every bracket byte is a bracket
    brackets = _JSON_STRING.sub("", text).encode("utf-8").translate(None, _NOT_BRACKET)
    depth = 0
    for start in range(0, len(brackets), _BLOCK):
        block = brackets[start:start + _BLOCK]
        opening = block.count(b"[") + block.count(b"{")
        if depth + opening <= limit:
            depth += 2 * opening - len(block)
            continue
        for bracket in block:
            depth += _NESTING[bracket]
            if depth > limit:
                return True
    return False


def _unusable(why: str) -> dict[str, Any]:
    return {"ok": False, "error": why}


class Session:
    """A started sandbox. Use as a context manager, or call :meth:`close`."""

    def __init__(self, command: list[str], info_pipe: tuple[int, int], header: dict[str, Any], tag: str,
                 test_timeout: float, max_frame_bytes: int, env: dict[str, str] | None = None) -> None:
        """Start ``command`` (bwrap, reporting on ``info_pipe``'s write end) with the environment
        ``env`` (empty by default: never the caller's), send ``header`` and wait for the harness
        to be ready."""
        self.tag = tag
        self.test_timeout = test_timeout
        self.max_frame_bytes = max_frame_bytes
        self._stderr = bytearray()
        self._buffer = bytearray()
        self._init_pidfd: int | None = None
        self._init_pid: int | None = None
        self._closed = False
        self._info_fd, info_write = info_pipe
        try:
            self._proc = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                pass_fds=[info_write], cwd="/", start_new_session=True, env=dict(env or {}),
            )
        except OSError as exc:
            os.close(self._info_fd)
            raise SandboxError(f"could not start the sandbox ({command[0]}): {exc}") from None
        finally:
            os.close(info_write)
        stdin, stdout, stderr = self._proc.stdin, self._proc.stdout, self._proc.stderr
        assert stdin is not None and stdout is not None and stderr is not None, "all three are PIPE"
        self._to_harness, self._from_harness, self._harness_errors = stdin, stdout, stderr
        for stream in (stdin, stdout, stderr):
            os.set_blocking(stream.fileno(), False)
        try:
            self._read_init_pid(time.monotonic() + STARTUP_TIMEOUT)
            self._write(header, time.monotonic() + STARTUP_TIMEOUT)
            ready, _ = self._read(time.monotonic() + STARTUP_TIMEOUT)
        except HarnessDied:
            message = self.stderr_text() or "no message"
            self.close()
            raise SandboxError(f"the sandbox did not start: {message}") from None
        if not ready.get("ready"):
            self.close()
            if isinstance(ready.get("error"), str):
                raise SandboxError(f"the sandbox harness refused to run: {ready['error']}")
            raise SandboxError(f"the sandbox harness answered {ready!r} instead of ready")
        self.compile_errors: list[str | None] = ready["compile_errors"]

    # -- running tests ------------------------------------------------------------------
    def run(self, program: int, test_input: Any, io: str = "stdin") -> Run:
        """Run one test: ``test_input`` is the text for standard input (or for ``input.txt``
        with ``io="files"``), or the argument list of a call-based test. Raises
        :class:`HarnessDied` when the harness does not answer in time."""
        if self._closed:
            raise HarnessDied("the session is closed")
        deadline = time.monotonic() + self.test_timeout + GRACE
        self._write({"program": program, "io": io, "input": test_input}, deadline)
        meta, frames = self._read(deadline)
        if meta.get("lost") in ("killed", "stopped"):
            raise HarnessDied(f"the program {meta['lost']} its parent, the process running its test")
        try:
            return Run.from_harness(meta, frames)
        except Exception as exc:  # whatever the answer holds, it fails this test, never the batch
            raise HarnessDied(f"the harness sent a malformed answer ({type(exc).__name__}: {str(exc)[:200]})") from None

    # -- pipes with deadlines -----------------------------------------------------------
    def _write(self, message: dict[str, Any], deadline: float) -> None:
        payload = marshal.dumps(message)
        data = memoryview(b"%d\n" % len(payload) + payload)
        fd = self._to_harness.fileno()
        while data:
            self._wait_for(fd, writable=True, deadline=deadline)
            try:
                written = os.write(fd, data)
            except BlockingIOError:
                continue
            except (BrokenPipeError, OSError) as exc:
                raise HarnessDied(f"the harness stopped reading ({exc})") from None
            data = data[written:]

    def _read(self, deadline: float) -> tuple[dict[str, Any], list[bytes]]:
        """One answer: a JSON line, then the byte frames it announces."""
        line = self._read_until(lambda buf: buf.find(b"\n") + 1, deadline)
        try:
            meta = json.loads(line)
            sizes = meta.pop("frames")
            if not isinstance(sizes, list) or not all(isinstance(n, int) and n >= 0 for n in sizes):
                raise ValueError("bad frame sizes")
        except (ValueError, KeyError, TypeError, AttributeError):
            raise HarnessDied(f"the harness sent garbage: {line[:200]!r}") from None
        if sum(sizes) > self.max_frame_bytes:
            raise HarnessDied(f"the harness announced {sum(sizes)} bytes, more than the limits allow")
        frames = [self._read_until(lambda buf, n=n: n if len(buf) >= n else 0, deadline) if n else b""
                  for n in sizes]
        return meta, frames

    def _read_until(self, complete, deadline: float) -> bytes:
        """Read until ``complete(buffer)`` returns how many bytes to take (0: not yet)."""
        fd = self._from_harness.fileno()
        while True:
            size = complete(self._buffer)
            if size:
                taken = bytes(self._buffer[:size])
                del self._buffer[:size]
                return taken
            self._wait_for(fd, writable=False, deadline=deadline)
            try:
                chunk = os.read(fd, 1 << 20)
            except BlockingIOError:
                continue
            if not chunk:
                raise HarnessDied("the harness exited")
            self._buffer += chunk

    def _wait_for(self, fd: int, writable: bool, deadline: float) -> None:
        """Block until ``fd`` is ready, draining stderr meanwhile; HarnessDied at the deadline."""
        err = self._harness_errors.fileno()
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise HarnessDied("the harness did not answer before the deadline")
            readers = [err] if err >= 0 else []
            if not writable:
                readers.append(fd)
            r, w, _ = select.select(readers, [fd] if writable else [], [], left)
            if err in r:
                try:
                    chunk = os.read(err, 65536)
                except BlockingIOError:
                    chunk = None
                if chunk:
                    if len(self._stderr) < STDERR_CAP:
                        self._stderr += chunk[: STDERR_CAP - len(self._stderr)]
                elif chunk == b"":
                    err = -1
            if (writable and w) or (not writable and fd in r):
                return

    def _read_init_pid(self, deadline: float) -> None:
        """bwrap writes the host PID of the namespace's init to the info fd, then closes it."""
        data = b""
        try:
            while True:
                left = deadline - time.monotonic()
                ready, _, _ = select.select([self._info_fd], [], [], max(0.0, left))
                if not ready:
                    raise HarnessDied("bwrap did not report its sandbox")
                chunk = os.read(self._info_fd, 4096)
                if not chunk:
                    break
                data += chunk
        finally:
            os.close(self._info_fd)
        if not data:
            raise HarnessDied("bwrap exited before creating the sandbox")
        self._init_pid = int(json.loads(data)["child-pid"])
        try:
            self._init_pidfd = os.pidfd_open(self._init_pid)
        except ProcessLookupError:
            self._init_pidfd = None  # already gone: nothing left to kill
        except (AttributeError, OSError):
            self._init_pidfd = -1  # no pidfd support: fall back to kill(pid)

    def stderr_text(self) -> str:
        return bytes(self._stderr).decode("utf-8", "replace").strip()

    # -- teardown -----------------------------------------------------------------------
    def close(self) -> None:
        """Kill the sandbox and wait until its PID namespace (every process in it) is gone."""
        if self._closed:
            return
        self._closed = True
        proc = self._proc
        with contextlib.suppress(OSError):
            self._to_harness.close()
        self._kill_namespace()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        try:
            proc.wait(timeout=TEARDOWN_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        self._wait_namespace_gone()
        for stream in (self._from_harness, self._harness_errors):
            with contextlib.suppress(OSError):
                stream.close()

    def _kill_namespace(self) -> None:
        if self._init_pidfd is None or self._init_pid is None:
            return
        try:
            if self._init_pidfd >= 0:
                signal.pidfd_send_signal(self._init_pidfd, signal.SIGKILL)
            else:
                os.kill(self._init_pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def _wait_namespace_gone(self) -> None:
        # The init's pidfd becomes readable only after the kernel has killed and reaped every
        # other process of its PID namespace.
        if self._init_pidfd is not None and self._init_pidfd >= 0:
            select.select([self._init_pidfd], [], [], TEARDOWN_TIMEOUT)
            os.close(self._init_pidfd)
        elif self._init_pidfd == -1 and self._init_pid is not None:
            deadline = time.monotonic() + TEARDOWN_TIMEOUT
            while time.monotonic() < deadline and os.path.exists(f"/proc/{self._init_pid}"):
                time.sleep(0.005)
        self._init_pidfd = None

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
