import signal
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


@pytest.fixture
def ctrl_c_raises():
    """SIGINT raises KeyboardInterrupt during the test, as at a terminal, even where pytest was
    started with SIGINT ignored (a background job of a non-interactive shell inherits that, and
    Python then never installs its handler: the Ctrl-C tests would see nothing arrive)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)
