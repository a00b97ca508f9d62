"""The program that runs inside the sandbox and executes a candidate's tests.

RedStar never imports these modules to run them: :func:`redstar_code.sandbox.command.harness_source`
assembles their sources into one program for ``python -S -I -c`` inside the bubblewrap sandbox,
where each becomes a module of the package ``_redstar_harness`` (so they use the standard library
only, and import each other relatively: ``from . import workdir``). This file holds no code: the
assembled program creates the package itself.

One harness process serves one candidate: it compiles the candidate's program(s) once, then runs
one test per command, each in a fresh process forked from itself (through a runner, see
:mod:`.runner`), so a test costs two forks instead of an interpreter start, and no state leaks
from one test into the next.

- :mod:`.main`: the harness's loop (the first message, then one test per message);
- :mod:`.protocol`: the messages between the host and the harness;
- :mod:`.guard`: how the harness makes itself unreachable from the candidate;
- :mod:`.runner`: one test, run in a fresh child through a runner, with the wall-clock deadline;
- :mod:`.program`: what happens in that child: limits applied, the program or call run as
  ``python solution.py`` would;
- :mod:`.limits`: the resource limits of a test's process;
- :mod:`.workdir`: the working directory, emptied between tests, and reading outputs safely.

Protection from the candidate, which runs with the same uid as the harness:

- the harness is the PID namespace's init (bwrap ``--as-pid-1``): the kernel drops every
  signal a process of the namespace sends it without a handler, SIGKILL and SIGSTOP included, so
  SIGINT is reset to its default (ignored) as well;
- it makes itself non-dumpable (``prctl(PR_SET_DUMPABLE, 0)``) before it reads anything: its
  ``/proc/1/fd``, ``mem``, ``environ`` and ptrace, ``process_vm_readv`` or ``pidfd_getfd`` on
  it then need CAP_SYS_PTRACE, which nothing in the sandbox has. It refuses to run when it cannot;
- the candidate never holds the control pipes (fds 0 and 1): the runner and the program replace
  them and close every other descriptor before candidate code runs; the program is made
  dumpable again only after that (the runner stays non-dumpable);
- between tests, once every other process is gone, the working directory is emptied and its
  directories re-created; the test's standard streams are files the harness opens itself, and it
  reads outputs through its own descriptors (never through a path the candidate may have
  replaced by a symbolic link).
"""
