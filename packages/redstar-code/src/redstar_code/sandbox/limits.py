"""Resource limits of one sandboxed test."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TypedDict

MIB = 1024 * 1024


class HarnessLimits(TypedDict):
    """The limits as the harness reads them from its header (bytes and counts as integers)."""

    timeout: float
    cpu: int
    memory: int
    max_output: int
    processes: int
    open_files: int


@dataclass(frozen=True)
class Limits:
    """Limits applied to every test run (each test is a fresh process).

    - ``timeout``: wall-clock seconds per test; the CPU-time limit is ``ceil(timeout) + 1``.
    - ``memory_mb``: address space of the test process (``RLIMIT_AS``).
    - ``max_output_mb``: the largest file it may write, its standard output included
      (``RLIMIT_FSIZE``); the writable working directory is a size-capped tmpfs.
    - ``max_processes``: processes and threads alive at once in the sandbox, the harness and the
      test's runner included (``RLIMIT_NPROC``, counted per sandbox).
    - ``max_open_files``: ``RLIMIT_NOFILE``.
    """

    timeout: float = 4.0
    memory_mb: int = 1024
    max_output_mb: int = 16
    max_processes: int = 32
    max_open_files: int = 256

    def __post_init__(self) -> None:
        for name in ("timeout", "memory_mb", "max_output_mb", "max_processes", "max_open_files"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"sandbox limit {name} must be a positive number, got {value!r}")
        if self.max_processes < 4:
            raise ValueError("sandbox limit max_processes must be at least 4 (harness, runner and the test)")

    @property
    def workdir_bytes(self) -> int:
        """Size of the tmpfs working directory: room for the output file plus scratch files."""
        return (2 * int(self.max_output_mb) + 32) * MIB

    def for_harness(self) -> HarnessLimits:
        return {
            "timeout": float(self.timeout),
            "cpu": math.ceil(self.timeout) + 1,
            "memory": int(self.memory_mb * MIB),
            "max_output": int(self.max_output_mb * MIB),
            "processes": int(self.max_processes),
            "open_files": int(self.max_open_files),
        }
