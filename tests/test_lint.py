"""What the root pyproject declares, enforced: ruff over the whole repository and mypy over every
path in :data:`TYPED_PATHS`. They run from the test suite, so the README's one test command (and
CI, which runs exactly that) checks them too."""

import shutil
import subprocess
import sys
from pathlib import Path

import head_start
import pytest

ROOT = Path(__file__).resolve().parents[1]

#: What mypy checks, relative to the repository root: every package that is clean, and tools/.
#: redstar-rl joins this list once it is clean (issue 27 item 3).
TYPED_PATHS = [
    "packages/redstar-core/src/redstar",
    "packages/redstar-geo/src/redstar_geo",
    "packages/redstar-code/src/redstar_code",
    "packages/redstar-math/src/redstar_math",
    "packages/redstar-rl/src/redstar_rl",
    "tools",
]


def tool_path(name):
    return shutil.which(name, path=str(Path(sys.executable).parent))


def tool(name):
    found = tool_path(name)
    if found is None:
        pytest.skip(f"{name} is not installed in this environment (python3 tools/bootstrap.py --dev installs it)")
    return found


def test_ruff_finds_nothing():
    result = subprocess.run([tool("ruff"), "check", "."], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_mypy_finds_nothing():
    # One run over every path: each package's use of the others is checked against their source
    # in this checkout, not against whatever copy of them is installed. conftest.py starts it
    # when collection ends (head_start.py); it runs here where it did not start.
    job = head_start.wait("mypy", timeout=900)
    if job is not None:
        returncode, output = job.process.returncode, job.output()
    else:
        done = subprocess.run([tool("mypy"), *TYPED_PATHS], cwd=ROOT, capture_output=True, text=True, timeout=900)
        returncode, output = done.returncode, done.stdout + done.stderr
    assert returncode == 0, output[-6000:]
