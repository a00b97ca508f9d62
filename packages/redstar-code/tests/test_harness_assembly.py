"""The harness is several modules (``redstar_code/sandbox/harness/``) assembled into the one
program the sandbox runs under ``python -S -I -c``."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest
from code_test_helpers import run_program

from redstar_code.sandbox import Limits, SandboxError
from redstar_code.sandbox.command import (
    HARNESS_DIR,
    HARNESS_PACKAGE,
    MAX_ARGUMENT_BYTES,
    assemble_harness,
    harness_source,
)


def test_the_assembled_harness_fits_one_command_line_argument():
    assert len(harness_source().encode("utf-8")) < MAX_ARGUMENT_BYTES
    compile(harness_source(), "<harness>", "exec")


def test_each_module_comes_after_the_modules_it_imports(tmp_path):
    (tmp_path / "main.py").write_text("from .b import VALUE\nfrom . import a\n\ndef main():\n    print(VALUE + a.VALUE)\n")
    (tmp_path / "a.py").write_text("from .b import VALUE as B\nVALUE = B * 10\n")
    (tmp_path / "b.py").write_text("VALUE = 4\n")
    done = subprocess.run([sys.executable, "-S", "-I", "-c", assemble_harness(tmp_path), "tag"],
                          capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (0, "44\n", "")


def test_an_import_cycle_is_refused(tmp_path):
    (tmp_path / "main.py").write_text("from . import a\n")
    (tmp_path / "a.py").write_text("from . import main\n")
    with pytest.raises(SandboxError, match="cycle"):
        assemble_harness(tmp_path)


def test_the_harness_modules_use_the_standard_library_only():
    allowed = set(sys.stdlib_module_names) | {"__future__"}
    for path in HARNESS_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            assert [n for n in names if n.partition(".")[0] not in allowed] == [], path.name


@pytest.mark.usefixtures("no_leaks")
def test_the_candidate_cannot_import_the_harness(as_user):
    program = (
        "import sys\n"
        f"print(sorted(n for n in sys.modules if n.startswith({HARNESS_PACKAGE!r})))\n"
        f"import {HARNESS_PACKAGE}\n"
    )
    run = run_program(as_user, program, limits=Limits(timeout=10))
    assert run.stdout == "[]\n" and "ModuleNotFoundError" in run.stderr
