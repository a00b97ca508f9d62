"""The resource limits of a test's process, from the host's ``limits`` (see
``redstar_code.sandbox.limits.Limits.for_harness``)."""

from __future__ import annotations

import resource

#: Types for the checker only: the harness imports nothing it does not run.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def apply(limits: dict[str, Any]) -> None:
    """Set the test's resource limits on this process (soft and hard: the program cannot raise
    them): address space, CPU time (the hard limit a second later, so SIGXCPU comes first),
    file size (its output), processes, open files, and no core files."""
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
