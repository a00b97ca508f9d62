import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def arith_host(register_plugin, redstar_host):
    """A fresh host with the test-only "arith" domain plugin registered."""
    import arith_plugin

    register_plugin(arith_plugin, name="arith")
    return redstar_host
