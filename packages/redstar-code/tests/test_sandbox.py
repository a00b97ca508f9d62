"""The isolation itself: every hostile behaviour is contained and reported, and nothing (process
or file) survives a session. Each test asserts the outcome and, through ``no_leaks``, that no
process of the sandboxes or started by the candidate is left and no escape file exists.

Tests taking ``as_user`` run twice: with sandboxes started by this process (root in CI, through
the mount bridge) and by RedStar running as the unprivileged uid 65534, from a copy of the code
in a directory that user can read (so they pass wherever the checkout is). The attacks of issue
11 (environment, other processes, host files) are in ``test_sandbox_attacks.py``."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from code_test_helpers import (
    MARKER,
    TEST_TIMEOUT,
    UNPRIVILEGED_UID,
    others_can_traverse,
    processes_with,
    run_program,
    unprivileged_unavailable,
)

from redstar_code.sandbox import HarnessDied, Limits, Sandbox, SandboxUnavailable
from redstar_code.sandbox.command import SANDBOX_UID
from redstar_code.sandbox.session import GRACE

pytestmark = pytest.mark.usefixtures("no_leaks")
ROOT = Path(__file__).resolve().parents[3]
LIMITS = Limits(timeout=TEST_TIMEOUT)
#: For tests that expect a specific error rather than a timeout: they finish in well under a
#: second, but a loaded 2-core machine must not turn the error into a time-out.
ROOMY = Limits(timeout=10)


def run_one(user, program, test_input="", limits=LIMITS):
    return run_program(user, program, test_input, limits)


def test_candidate_runs_as_uid_65534_without_capabilities(as_user):
    run = run_one(as_user, (
        "import os\n"
        "status = dict(l.split(':', 1) for l in open('/proc/self/status').read().splitlines())\n"
        "caps = [status[k].strip() for k in ('CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb')]\n"
        "print(os.getuid(), os.geteuid(), os.getgid(), *sorted(set(caps)), status['NoNewPrivs'].strip())\n"
    ))
    assert run.exit_code == 0
    assert run.stdout.split() == ["65534", "65534", "65534", "0000000000000000", "1"]


def test_sandbox_processes_are_not_root_on_the_host(sandbox):
    """Seen from the host, the candidate's process belongs to uid 65534 when RedStar runs as
    root (so RLIMIT_NPROC holds), or to the invoking user otherwise."""
    seen = {}
    with sandbox.session(["import time\ntime.sleep(0.8)\nprint('done')"], LIMITS) as session:
        thread = threading.Thread(target=lambda: seen.setdefault("run", session.run(0, "")))
        thread.start()
        deadline = time.monotonic() + 0.7
        while time.monotonic() < deadline and "uids" not in seen:
            for pid, _ in processes_with(session.tag):
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                except OSError:
                    continue
                uids = {int(line.split()[1]) for line in status.splitlines() if line.startswith("Uid:")}
                seen.setdefault("uids", set()).update(uids)
            time.sleep(0.02)
        thread.join()
    assert seen["run"].stdout == "done\n"
    expected = SANDBOX_UID if os.geteuid() == 0 else os.geteuid()
    assert seen["uids"] == {expected}


def test_no_network(as_user):
    run = run_one(as_user, (
        "import socket\n"
        "for host in [('1.1.1.1', 80), ('127.0.0.1', 22), ('example.com', 80)]:\n"
        "    try:\n"
        "        socket.create_connection(host, timeout=0.5)\n"
        "        print('connected', host)\n"
        "    except OSError as exc:\n"
        "        print('blocked', type(exc).__name__)\n"
    ))
    assert run.exit_code == 0
    assert [line.split()[0] for line in run.stdout.splitlines()] == ["blocked"] * 3


def test_only_the_working_directory_is_writable(as_user, tmp_path):
    targets = ["/escape", "/tmp/escape", "/usr/escape", "/dev/shm/escape", "/dev/escape", "/proc/escape",
               "/sandbox/run/../../escape", str(tmp_path / "escape"), "relative.txt", "/sandbox/run/sub.txt"]
    run = run_one(as_user, (
        f"for path in {targets!r}:\n"
        "    try:\n"
        "        open(path, 'w').write('x')\n"
        "        print('wrote', path)\n"
        "    except OSError as exc:\n"
        "        print('refused', path)\n"
    ))
    wrote = [line.split(" ", 1)[1] for line in run.stdout.splitlines() if line.startswith("wrote")]
    assert wrote == ["relative.txt", "/sandbox/run/sub.txt"]
    assert not (tmp_path / "escape").exists()


def test_host_files_are_invisible(as_user, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("host secret")
    run = run_one(as_user, (
        "import os\n"
        f"for path in [{str(secret)!r}, '/etc/passwd', '/root/.bashrc', {str(ROOT / 'README.md')!r}]:\n"
        "    print(path, os.path.exists(path))\n"
        "print(sorted(os.listdir('/')))\n"
    ))
    lines = run.stdout.splitlines()
    assert all(line.endswith("False") for line in lines[:4])
    root_entries = ast.literal_eval(lines[4])
    assert "etc" not in root_entries and "home" not in root_entries
    # /tmp appears only as the path to the Python installation (a virtualenv under /tmp), whose
    # directories are bound read-only; the secret beside it stayed invisible above.
    python_under_tmp = any(str(p).startswith("/tmp/") for p in (sys.prefix, sys.base_prefix, sys.executable))
    assert "tmp" not in root_entries or python_under_tmp


def test_reading_a_file_that_does_not_exist_is_a_runtime_error(as_user):
    run = run_one(as_user, "print(open('/data/expected_output.txt').read())")
    assert run.exit_code == 1 and "FileNotFoundError" in run.stderr


def test_infinite_loop_is_stopped_at_the_time_limit(as_user):
    started = time.monotonic()
    run = run_one(as_user, "while True:\n    pass")
    assert run.timed_out and run.exit_code is None
    assert TEST_TIMEOUT <= run.seconds < TEST_TIMEOUT + GRACE
    if as_user.name == "caller":  # the unprivileged driver adds its own start-up
        assert time.monotonic() - started < TEST_TIMEOUT + GRACE + 5


def test_four_gib_allocation_fails_with_memory_error(as_user):
    run = run_one(as_user, "hog = []\nfor _ in range(4):\n    hog.append(bytearray(1 << 30))\nprint('allocated')",
                  limits=ROOMY)
    assert run.exit_code == 1 and "MemoryError" in run.stderr and run.stdout == ""


def test_two_hundred_children_hit_the_process_limit(as_user):
    run = run_one(as_user, (
        "import subprocess\n"
        f"children = [subprocess.Popen(['/bin/sh', '-c', 'sleep 60', '{MARKER}']) for _ in range(200)]\n"
        "print('spawned', len(children))\n"
    ), limits=ROOMY)
    assert run.exit_code == 1 and "Resource temporarily unavailable" in run.stderr
    assert "spawned" not in run.stdout


def test_fork_bomb_after_output_fails_and_dies(as_user):
    run = run_one(as_user, "import os\nprint(42, flush=True)\nwhile True:\n    os.fork()", limits=ROOMY)
    assert run.stdout.startswith("42\n") and run.exit_code == 1
    assert "BlockingIOError" in run.stderr


def test_killing_the_parent_fails_the_test_and_the_next_one_runs(as_user):
    """The candidate's parent is the test's runner (the harness itself, the namespace's init,
    ignores the candidate's signals): killing it fails the test, and the harness goes on."""
    programs = ["import os\nos.kill(os.getppid(), 9)\nprint(1)", "print(2)"]
    first, second = as_user.session(programs, [(0, ""), (1, "")], LIMITS)
    assert isinstance(first, HarnessDied) and "killed its parent" in str(first)
    assert second.stdout == "2\n" and second.exit_code == 0


def test_stopping_the_parent_fails_the_test_at_once(as_user):
    started = time.monotonic()
    programs = ["import os, signal\nos.kill(os.getppid(), signal.SIGSTOP)\nprint(1)", "print(2)"]
    first, second = as_user.session(programs, [(0, ""), (1, "")], ROOMY)
    assert isinstance(first, HarnessDied) and "stopped its parent" in str(first)
    assert second.stdout == "2\n"
    assert time.monotonic() - started < 8  # seen when it happens, not at the 10 s limit


def test_killing_every_process_it_can_see(as_user):
    first, second = as_user.session(["import os\nos.kill(-1, 9)\nprint(1)", "print(2)"], [(0, ""), (1, "")], LIMITS)
    assert isinstance(first, HarnessDied) and "killed its parent" in str(first)
    assert second.stdout == "2\n"


def test_the_harness_ignores_the_candidates_signals(as_user):
    """The harness is the PID namespace's init: the kernel drops what the candidate sends it."""
    program = (
        "import os, signal\n"
        "for sig in (signal.SIGKILL, signal.SIGSTOP, signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1):\n"
        "    os.kill(1, sig)\n"
        "print(os.getppid() != 1, 'alive')\n"
    )
    first, second = as_user.session([program, "print(2)"], [(0, ""), (1, "")], LIMITS)
    assert first.stdout == "True alive\n" and first.exit_code == 0
    assert second.stdout == "2\n"


def test_exit_before_output(as_user):
    run = run_one(as_user, "import sys\nsys.exit(0)\nprint(5)")
    assert run.exit_code == 0 and run.stdout == ""


def test_output_limit(as_user):
    run = run_one(as_user, "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)",
                  limits=Limits(timeout=TEST_TIMEOUT, max_output_mb=1))
    assert run.output_limit and run.exit_code != 0
    assert len(run.stdout) == 1024 * 1024


def test_leftovers_are_killed_and_files_removed_between_tests(as_user):
    daemon = (
        "import os, sys, time\n"
        "open('state.txt', 'w').write('from test 1')\n"
        "open('/sandbox/elsewhere.txt', 'w').write('from test 1')\n"
        "open('/sandbox/.harness/planted', 'w').write('from test 1')\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    while True:\n"
        "        open('daemon.txt', 'a').write('.')\n"
        "        time.sleep(0.01)\n"
        "print('started')\n"
    )
    probe = (
        "import os\n"
        "print(sorted(os.listdir('.')))\n"
        "print(sorted(os.listdir('/sandbox')), sorted(os.listdir('/sandbox/.harness')))\n"
        "print(sorted(p for p in os.listdir('/proc') if p.isdigit()))\n"
    )
    first, run = as_user.session([daemon, probe], [(0, ""), (1, "")], LIMITS)
    assert first.stdout == "started\n"
    files, work, pids = run.stdout.splitlines()
    assert files == "[]"
    assert work == "['.harness', 'run'] ['stderr', 'stdin', 'stdout']"
    assert len(json.loads(pids.replace("'", '"'))) == 3  # the harness (init), the test's runner, the probe


def test_links_planted_in_place_of_the_harness_files_change_nothing(as_user):
    """The harness reads a test's output through descriptors it opened itself, so a candidate
    that swaps its files and directories for symbolic links (to the harness's own standard
    streams, say) and locks the working directory gets its real output judged, and the next
    test a clean directory."""
    swapper = (
        "import os\n"
        "print('real', flush=True)\n"
        "for name in ('stdout', 'stderr', 'stdin'):\n"
        "    os.unlink(f'/sandbox/.harness/{name}')\n"
        "    os.symlink(f'/dev/{name}', f'/sandbox/.harness/{name}')\n"
        "os.rename('/sandbox/.harness', '/sandbox/moved')\n"
        "os.symlink('/dev', '/sandbox/.harness')\n"
        "os.rename('/sandbox/run', '/sandbox/run-moved')\n"
        "os.symlink('/proc/self/fd', '/sandbox/run')\n"
        "os.chmod('/sandbox/moved', 0)\n"
        "os.chmod('/sandbox', 0)\n"
    )
    probe = "import os\nprint(input(), sorted(os.listdir('/sandbox')), os.path.islink('/sandbox/.harness'))"
    first, second = as_user.session([swapper, probe], [(0, ""), (1, "next\n")], LIMITS)
    assert (first.stdout, first.exit_code) == ("real\n", 0)
    assert second.stdout == "next ['.harness', 'run'] False\n"


def test_the_candidate_holds_nothing_but_its_own_streams(as_user):
    program = (
        "import os\n"
        "fds = sorted(int(fd) for fd in os.listdir('/proc/self/fd'))[:-1]  # the last: this listing\n"
        "print(fds, [os.readlink(f'/proc/self/fd/{fd}') for fd in fds])\n"
    )
    run = run_one(as_user, program, "x\n")
    assert run.stdout == "[0, 1, 2] ['/sandbox/.harness/stdin', '/sandbox/.harness/stdout', '/sandbox/.harness/stderr']\n"


def test_expected_outputs_never_enter_the_sandbox(as_user):
    """A program that would pass only by finding the expected output anywhere it can look."""
    token = "expected-token-1f3c9a"
    tests = {"inputs": ["go\n"], "outputs": [token + "\n"]}
    snoop = (
        "import gc, os\n"
        "needle = 'expected-token-' + '1f3c9a'\n"
        "found = any(isinstance(o, (str, bytes)) and needle in str(o) for o in gc.get_objects())\n"
        "places = [f'/proc/{p}/{f}' for p in os.listdir('/proc') if p.isdigit() for f in ('cmdline', 'environ')]\n"
        "places += [os.path.join(r, n) for r, _, names in os.walk('/sandbox') for n in names]\n"
        "for path in places:\n"
        "    try:\n"
        "        found = found or needle.encode() in open(path, 'rb').read()\n"
        "    except OSError:\n"
        "        pass\n"
        "print(needle if found else f'not found in {len(places)} places')\n"
    )
    result = as_user.check(snoop, tests)
    assert not result.passed and result.reason.startswith("wrong answer")


def test_missing_bubblewrap_is_an_install_hint_not_a_fallback(monkeypatch):
    from redstar_code.verifier import CodeVerifier

    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(SandboxUnavailable, match="apt-get install -y bubblewrap"):
        Sandbox()
    with pytest.raises(SandboxUnavailable, match="bwrap"):
        CodeVerifier()


def test_too_old_bubblewrap_is_refused(monkeypatch, tmp_path):
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bubblewrap 0.6.1'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SandboxUnavailable, match="0.6.1 .* too old: redstar-code needs 0.8.0"):
        Sandbox()


def test_limits_are_validated():
    with pytest.raises(ValueError, match="timeout"):
        Limits(timeout=0)
    with pytest.raises(ValueError, match="max_processes"):
        Limits(max_processes=2)


def test_works_when_started_by_an_unprivileged_user(unprivileged_driver):
    """RedStar started by an ordinary user: bwrap runs directly (no bridge), and the process
    limit still holds inside its user namespace."""
    tests = {"inputs": ["2\n"], "outputs": ["4\n"]}
    limits = {"timeout": 10.0, "memory_mb": 1024, "max_output_mb": 16, "max_processes": 32, "max_open_files": 256}
    info, good, bomb = unprivileged_driver([
        {"info": {}},
        {"check": {"code": "print(int(input()) * 2)", "tests": tests, "limits": limits}},
        {"check": {"code": "import os\nwhile True:\n    os.fork()", "tests": tests, "limits": limits}},
    ])
    assert info["uid"] == UNPRIVILEGED_UID and info["bridge"] is False
    assert good["passed"] is True and bomb["passed"] is False
    assert "Resource temporarily unavailable" in bomb["reason"]


def test_the_unprivileged_tests_work_from_a_private_clone(tmp_path):
    """Issue 18: a clone in a directory only its owner can enter (mode 700, as ``mktemp -d`` and
    most home directories are). The unprivileged runs copy what they import to a directory every
    user can read, so they work from there too: here the code, the tests' helpers and pluggy come
    from such a clone, and nothing of this checkout or of its virtual environment is on the path."""
    why = unprivileged_unavailable()
    if why is not None:
        pytest.skip(why)
    import pluggy

    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    clone = private / "clone"
    shutil.copytree(ROOT / "packages" / "redstar-core" / "src", clone / "core-src")
    shutil.copytree(ROOT / "packages" / "redstar-code" / "src", clone / "code-src")
    shutil.copytree(Path(__file__).parent, clone / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(Path(pluggy.__file__).parent, clone / "site" / "pluggy")
    assert not others_can_traverse(clone)
    script = (
        "import json, shutil, sys\n"
        "import code_test_helpers as helpers\n"
        "import redstar_code\n"
        f"assert redstar_code.__file__.startswith({str(clone)!r})\n"
        "copied = helpers.module_locations()\n"
        f"assert copied and all(p.startswith({str(clone)!r}) for p in copied), copied\n"
        "lib = helpers.readable_directory('redstar-private-clone-')\n"
        "try:\n"
        "    driver = helpers.UnprivilegedDriver.prepare(lib)\n"
        "    tests = {'inputs': ['2\\n'], 'outputs': ['4\\n']}\n"
        "    print(json.dumps(driver([{'info': {}}, {'check': {'code': 'print(int(input()) * 2)', 'tests': tests,\n"
        "                                                      'limits': {'timeout': 10.0}}}])))\n"
        "finally:\n"
        "    shutil.rmtree(lib)\n"
    )
    path = [clone / "tests", clone / "core-src", clone / "code-src", clone / "site"]
    # -S: not this checkout's virtual environment (its site-packages and editable installs)
    done = subprocess.run([sys.executable, "-S", "-c", script], capture_output=True, text=True, timeout=300, cwd=clone,
                          env={"PATH": os.environ["PATH"], "PYTHONPATH": os.pathsep.join(map(str, path))})
    assert done.returncode == 0, done.stderr[-3000:]
    info, result = json.loads(done.stdout.strip().splitlines()[-1])
    assert info["uid"] == UNPRIVILEGED_UID and result["passed"] is True


def test_install_script_is_a_no_op_when_bwrap_is_present():
    script = ROOT / "tools" / "install_system_deps.sh"
    if not script.exists():
        pytest.skip("tools/install_system_deps.sh is not in this checkout")
    done = subprocess.run(["sh", str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "already installed" in done.stdout


def test_killing_redstar_itself_takes_its_sandboxes_down(tmp_path):
    """kill -9 of the process running RedStar mid-verification: bwrap's --die-with-parent kills
    each sandbox, and the root bridge helper exits when its standard input closes."""
    script = (
        "import sys, threading\n"
        "from redstar_code.sandbox import Limits, Sandbox\n"
        "sandbox = Sandbox()\n"
        "print(sandbox.tag_prefix, flush=True)\n"
        "def hang():\n"
        "    with sandbox.session(['while True:\\n    pass'], Limits(timeout=120)) as session:\n"
        "        session.run(0, '')\n"
        "threads = [threading.Thread(target=hang) for _ in range(2)]\n"
        "[t.start() for t in threads]\n"
        "[t.join() for t in threads]\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        prefix = proc.stdout.readline().strip()
        assert prefix.startswith("redstar-sbx-")
        # the two hanging sessions (tags -1 and -2; -0 was the start-up probe) are running: their
        # processes' command lines end with the tag (bwrap's, and the harness's and its forks')
        running = [f"{prefix}-{n}\0" for n in (1, 2)]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(processes_with(tag) for tag in running):
            time.sleep(0.05)
        assert all(processes_with(tag) for tag in running)
    finally:
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and processes_with(prefix):
        time.sleep(0.05)
    assert processes_with(prefix) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="the mount bridge is how root starts sandboxes")
def test_bridge_reaches_directories_under_its_own_root(tmp_path):
    """The bridge mounts a tmpfs on /tmp; a directory under /tmp (a virtualenv there, say) must
    still be bridged, not hidden by it."""
    from redstar_code.sandbox.bridge import BRIDGE_ROOT, MountBridge

    inside = Path(BRIDGE_ROOT) / f"redstar-bridge-test-{os.getpid()}"
    inside.mkdir()
    try:
        (inside / "probe.txt").write_text("found\n")
        inside.chmod(0o755)
        (inside / "probe.txt").chmod(0o644)
        bridge = MountBridge((str(inside),), "redstar-bridge-test")
        try:
            nsenter = shutil.which("nsenter")
            assert nsenter
            done = subprocess.run([*bridge.enter_command(nsenter, SANDBOX_UID, SANDBOX_UID), "cat",
                                   f"{bridge.source_of[str(inside)]}/probe.txt"], capture_output=True, text=True,
                                  timeout=TEST_TIMEOUT)
            assert (done.returncode, done.stdout) == (0, "found\n"), done.stderr
        finally:
            bridge.close()
    finally:
        shutil.rmtree(inside)
