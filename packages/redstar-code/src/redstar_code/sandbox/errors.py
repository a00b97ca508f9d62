"""What can go wrong around the sandbox, as opposed to inside it (a candidate's failures are
verdicts, not exceptions)."""

from __future__ import annotations

from redstar.errors import MissingDependencyError, RedStarError

INSTALL_HINT = (
    "install bubblewrap: `sudo apt-get install -y bubblewrap` (Debian/Ubuntu), "
    "`sudo dnf install bubblewrap` (Fedora), or run tools/install_system_deps.sh as root"
)


class SandboxUnavailable(MissingDependencyError):
    """The isolation tool is missing or cannot create namespaces here. RedStar never falls back
    to running model-written code unsandboxed; the message says what to install or enable."""


class SandboxError(RedStarError):
    """The sandbox could not be started (a problem of this machine, not of the candidate)."""


class HarnessDied(Exception):
    """The test's harness failed: the candidate killed or stopped the process running its test
    (its parent), or the harness stopped answering before the deadline. Verdicts treat this as a
    failed test."""
