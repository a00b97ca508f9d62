"""Running untrusted programs: a bubblewrap sandbox per candidate, a harness inside it that runs
each test in a fresh child process, and the host side that drives it with deadlines.

- :class:`Sandbox` (``box``): finds the tools and starts sessions;
- :class:`Session`, :class:`Run` (``session``): one candidate's sandbox and one test's outcome;
- :class:`Limits` (``limits``): time, memory, output, process and file limits;
- ``command``: the exact isolation (the bwrap command line); ``bridge``: starting it as an
  unprivileged user when RedStar runs as root; ``harness``: the program inside (a package of
  modules assembled into one program by ``command.harness_source``).
"""

from redstar_code.sandbox.box import TAG_PREFIX, Sandbox
from redstar_code.sandbox.errors import HarnessDied, SandboxError, SandboxUnavailable
from redstar_code.sandbox.limits import Limits
from redstar_code.sandbox.session import Run, Session

__all__ = ["TAG_PREFIX", "HarnessDied", "Limits", "Run", "Sandbox", "SandboxError", "SandboxUnavailable", "Session"]
