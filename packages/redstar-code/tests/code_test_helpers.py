"""Helpers of redstar-code's tests: the held-out set's markers and leak checks on the host."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

DATA = Path(__file__).with_name("data")
sys.path.insert(0, str(DATA))

from build_heldout import ESCAPE_PATHS, ESCAPE_PREFIX, MARKER  # noqa: E402

#: Short per-test limit: every hostile or slow candidate in these tests fails in well under it
#: or is killed at it, and correct ones take milliseconds.
TEST_TIMEOUT = 1.0


def processes_with(*needles: str) -> list[tuple[int, str]]:
    """(pid, command line) of host processes whose command line or environment holds a needle."""
    return processes_matching(re.compile("|".join(re.escape(n) for n in needles).encode()))


def sandbox_processes() -> list[tuple[int, str]]:
    """Processes of any sandbox session this test process started (bwrap, nsenter, the harness,
    the candidate and its children), by their session tag ``redstar-sbx-<pid>-<hex>-<n>``, or
    started by a hostile candidate of the held-out set (:data:`MARKER`). The long-lived root
    bridge helper (``...:bridge``) is not a session and does not match."""
    pattern = rf"redstar-sbx-{os.getpid()}-[0-9a-f]{{8}}-[0-9]+|{re.escape(MARKER)}"
    return processes_matching(re.compile(pattern.encode()))


def processes_matching(pattern: re.Pattern) -> list[tuple[int, str]]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        for name in ("cmdline", "environ"):
            try:
                data = Path(f"/proc/{entry}/{name}").read_bytes()
            except OSError:
                continue
            if pattern.search(data):
                try:
                    cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
                except OSError:
                    cmdline = "?"
                found.append((int(entry), cmdline[:200]))
                break
    return found


def escaped_files() -> list[str]:
    out = [p for p in ESCAPE_PATHS if os.path.lexists(p)]
    for place in ("/tmp", "/var/tmp", "/dev/shm", "/", str(Path.home())):
        try:
            out += [f"{place}/{n}" for n in os.listdir(place) if n.startswith(ESCAPE_PREFIX)]
        except OSError:
            pass
    return sorted(set(out))
