"""Shared fixtures: one sandbox-backed checker per test session (short time limit), and a
fixture asserting that nothing a sandbox started is left on the host."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

# pytest runs in importlib mode (see the workspace pyproject), which puts nothing on sys.path;
# the helpers module has a name no other package's tests use.
sys.path.insert(0, str(Path(__file__).parent))

from code_test_helpers import DATA, TEST_TIMEOUT, escaped_files, sandbox_processes


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
