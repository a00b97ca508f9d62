"""The sandbox's working directory: where a test's files are, emptying it between tests, and
reading what a test wrote through descriptors the harness opened itself (never through a path the
candidate may have replaced by a symbolic link)."""

from __future__ import annotations

import os
import stat

WORK = "/sandbox"
#: The harness's own files for a test (its standard streams and return value); mode 700.
PRIVATE = WORK + "/.harness"
#: The test's working directory.
RUN = WORK + "/run"
STDIN_FILE = PRIVATE + "/stdin"
STDOUT_FILE = PRIVATE + "/stdout"
STDERR_FILE = PRIVATE + "/stderr"
RETURN_FILE = PRIVATE + "/return.json"


def reset_work_directory() -> None:
    """Empty the working directory (whatever the candidate left anywhere in it) and re-create the
    harness's directories. Runs only while no other process exists, so nothing can race it."""
    os.chmod(WORK, 0o755)  # a candidate may have made it unreadable
    for entry in os.listdir(WORK):
        _remove(WORK + "/" + entry)
    os.mkdir(PRIVATE, 0o700)
    os.mkdir(RUN, 0o755)


def _remove(path: str) -> None:
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


def create(path: str) -> int:
    """A new, empty file at ``path`` for the child to write, open for this process to read."""
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)


def write_new(path: str, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def read_fd(fd: int) -> bytes:
    """Everything in the file open as ``fd`` (opened by this process, so a path the candidate
    replaced does not matter)."""
    if not _is_regular(fd):
        return b""
    os.lseek(fd, 0, os.SEEK_SET)
    chunks: list[bytes] = []
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def read_file(name: str, dir_fd: int) -> bytes | None:
    """The content of the regular file ``name`` in the directory open as ``dir_fd``, or None
    when there is none (a symbolic link, a FIFO or a directory counts as none)."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
    except OSError:
        return None
    try:
        if not _is_regular(fd):
            return None
        return read_fd(fd)
    finally:
        os.close(fd)


def _is_regular(fd: int) -> bool:
    return stat.S_ISREG(os.fstat(fd).st_mode)
