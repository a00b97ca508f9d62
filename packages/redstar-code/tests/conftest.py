"""Shared fixtures: one sandbox-backed checker per test session (short time limit), and a
fixture asserting that nothing a sandbox started is left on the host."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

# pytest runs in importlib mode (see the workspace pyproject), which puts nothing on sys.path;
# the helpers module has a name no other package's tests use.
sys.path.insert(0, str(Path(__file__).parent))

from code_test_helpers import (
    DATA,
    TEST_TIMEOUT,
    CallerUser,
    UnprivilegedDriver,
    UnprivilegedUser,
    escaped_files,
    readable_directory,
    sandbox_processes,
    unprivileged_unavailable,
)


@pytest.fixture(scope="session")
def checker():
    from redstar_code.checker import CodeChecker
    from redstar_code.sandbox import Limits

    instance = CodeChecker(Limits(timeout=TEST_TIMEOUT))
    yield instance
    instance.close()


@pytest.fixture(scope="session")
def sandbox(checker):
    return checker.sandbox


@pytest.fixture(scope="session")
def unprivileged_driver():
    """RedStar as uid 65534, from a copy of its code in a directory every user can read (so the
    checkout may be private); skipped when this process cannot switch users (not root)."""
    why = unprivileged_unavailable()
    if why is not None:
        pytest.skip(why)
    lib = readable_directory("redstar-code-tests-")
    try:
        yield UnprivilegedDriver.prepare(lib)
    except RuntimeError as exc:
        pytest.skip(str(exc))
    finally:
        shutil.rmtree(lib, ignore_errors=True)


@pytest.fixture(params=["caller", "nobody"])
def as_user(request, checker):
    """Who starts the sandboxes: this process (``caller``: root in CI, through the mount bridge),
    or RedStar running as the unprivileged uid 65534 (``nobody``: bwrap started directly, as for
    most users)."""
    if request.param == "caller":
        return CallerUser(checker)
    return UnprivilegedUser(request.getfixturevalue("unprivileged_driver"))


@pytest.fixture
def no_leaks():
    """Asserts, after the test, that no process of any sandbox session started by this process
    (or by a hostile candidate) is alive and that no escape file exists on the host."""
    assert escaped_files() == [], "escape files exist before the test"
    yield
    assert sandbox_processes() == []
    assert escaped_files() == []
    assert not [n for n in os.listdir("/tmp") if f"redstar-sbx-{os.getpid()}" in n]


@pytest.fixture(scope="session")
def heldout() -> list[dict]:
    return [json.loads(line) for line in (DATA / "heldout.jsonl").read_text(encoding="utf-8").splitlines() if line]
