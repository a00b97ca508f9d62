"""What the root pyproject declares, enforced: ruff over the whole repository and mypy over every
path in :data:`TYPED_PATHS`. They run from the test suite, so the README's one test command (and
CI, which runs exactly that) checks them too."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: What mypy checks, relative to the repository root: every package that is clean, and tools/.
#: redstar-rl joins this list once it is clean (issue 27 item 3).
TYPED_PATHS = [
    "packages/redstar-core/src/redstar",
    "packages/redstar-geo/src/redstar_geo",
    "packages/redstar-code/src/redstar_code",
    "packages/redstar-math/src/redstar_math",
    "tools",
]


def tool(name):
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip(f"{name} is not installed in this environment (python3 tools/bootstrap.py --dev installs it)")
    return found


def test_ruff_finds_nothing():
    result = subprocess.run([tool("ruff"), "check", "."], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_mypy_finds_nothing():
    # One run over every path: each package's use of the others is checked against their source
    # in this checkout, not against whatever copy of them is installed.
    result = subprocess.run([tool("mypy"), *TYPED_PATHS], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
