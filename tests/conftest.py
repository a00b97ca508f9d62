import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "packages" / "redstar-core" / "tests"))
sys.path.append(str(Path(__file__).parent))

import head_start  # noqa: E402 - redstar-core's test helper, found through the line above
from test_lint import TYPED_PATHS, tool_path  # noqa: E402 - this folder, appended above


def pytest_collection_finish(session: pytest.Session) -> None:
    """mypy over the whole repository takes over a minute: it starts as soon as collection shows
    test_lint.py will run, in the background (head_start.py), and the test reads its report."""
    mypy = tool_path("mypy")
    if mypy is not None:
        head_start.start(session, "mypy", head_start.selects("test_lint.py"),
                         lambda work: [mypy, *TYPED_PATHS], cwd=ROOT)


def pytest_sessionfinish(session: pytest.Session) -> None:
    head_start.stop_all()
