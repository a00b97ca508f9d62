"""Judging a candidate program against a problem's tests: the policy around the sandbox.

One candidate runs in one sandbox (all its tests in one harness process, each test in a fresh
child), smallest test first, stopping at the first failure. Expected outputs stay on this side:
the sandbox only ever sees inputs. Many candidates run in parallel, one sandbox per worker.
"""

from __future__ import annotations

import importlib.util
import os
import signal
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from redstar.errors import MissingDependencyError
from redstar_code import compare, taco_compat
from redstar_code.sandbox import HarnessDied, Limits, Run, Sandbox, Session
from redstar_code.testspec import TestSpec

MODES = ("strict", "taco")
#: TACO's prelude without numpy: what call-based programs get in strict mode (standard library
#: only, so the sandbox's interpreter can start without site-packages).
STDLIB_PRELUDE = taco_compat.PRELUDE.replace("import numpy as np\n", "")
STDLIB_PRELUDE_MODULES = tuple(m for m in taco_compat.PRELUDE_MODULES if m != "numpy")


@dataclass(frozen=True)
class CheckResult:
    """``passed`` when every test passed. ``reason`` says why not (``"wrong answer on test 2 of
    5"``); ``failed_test`` is the index of that test in the problem's own order."""

    passed: bool
    reason: str
    tests_run: int
    tests_total: int
    failed_test: int | None = None


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


class CodeChecker:
    """Runs candidate programs against :class:`~redstar_code.testspec.TestSpec` tests.

    ``mode``: ``"strict"`` (RedStar's comparison, :mod:`redstar_code.compare`) or ``"taco"``
    (TACO's checker reproduced, :mod:`redstar_code.taco_compat`; needs numpy).
    ``float_tolerance``: strict mode only; None compares numbers exactly.
    ``workers``: candidates checked at once by :meth:`check_many` (default: the usable cores).
    ``python`` / ``import_paths``: see :class:`~redstar_code.sandbox.Sandbox`; in taco mode
    candidates may import numpy too (only numpy's own directory is shown in the sandbox).
    """

    def __init__(self, limits: Limits | None = None, mode: str = "strict", float_tolerance: float | None = None,
                 workers: int | None = None, python: str | None = None,
                 import_paths: Sequence[str] | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        if float_tolerance is not None and (float_tolerance < 0 or mode == "taco"):
            raise ValueError("float_tolerance must be >= 0, and applies to mode='strict' only")
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.limits = limits or Limits()
        self.mode = mode
        self.float_tolerance = float_tolerance
        self.workers = workers or default_workers()
        packages: tuple[str, ...] = ()
        if mode == "taco":
            _require_numpy()
            packages = ("numpy",)  # numpy alone, not the rest of the environment it is installed in
        self.sandbox = Sandbox(python=python, import_paths=tuple(dict.fromkeys(import_paths or ())), packages=packages)

    def close(self) -> None:
        self.sandbox.close()

    # -- many ---------------------------------------------------------------------------
    def check_many(self, items: Sequence[tuple[str, TestSpec]]) -> list[CheckResult]:
        """Check (code, tests) pairs in parallel; results in input order."""
        if not items:
            return []
        self.sandbox.ensure_checked()
        if self.workers == 1 or len(items) == 1:
            return [self.check(code, spec) for code, spec in items]
        with ThreadPoolExecutor(max_workers=min(self.workers, len(items)), thread_name_prefix="redstar-code") as pool:
            return list(pool.map(lambda item: self.check(*item), items))

    # -- one ----------------------------------------------------------------------------
    def check(self, code: str, spec: TestSpec) -> CheckResult:
        if spec.call_based:
            return self._check_call(code, spec)
        if self.mode == "taco":
            return self._check_stdin_taco(code, spec)
        return self._check_stdin(code, spec)

    def _check_stdin(self, code: str, spec: TestSpec) -> CheckResult:
        total = len(spec)
        with self.sandbox.session([code], self.limits) as session:
            if session.compile_errors[0]:
                return CheckResult(False, f"compile error: {session.compile_errors[0]}", 0, total)
            for n, index in enumerate(spec.run_order(), start=1):
                try:
                    run = session.run(0, spec.inputs[index])
                except HarnessDied as exc:
                    return _died(exc, n, total, index)
                problem = _process_problem(run)
                if problem is None and not compare.stdout_matches(run.stdout or "", spec.outputs[index], self.float_tolerance):
                    problem = "wrong answer"
                if problem is not None:
                    return _failed(problem, n, total, index)
        return CheckResult(True, _passed(total), total, total)

    def _check_call(self, code: str, spec: TestSpec) -> CheckResult:
        total = len(spec)
        taco = self.mode == "taco"
        prelude = taco_compat.PRELUDE if taco else STDLIB_PRELUDE
        call = {"fn_name": spec.fn_name, "lookup": "taco" if taco else "auto", "int_keys": "taco" if taco else "auto"}
        # json: the harness serialises return values with it
        preload = (*(taco_compat.PRELUDE_MODULES if taco else STDLIB_PRELUDE_MODULES), "json")
        with self.sandbox.session([prelude + code], self.limits, call=call, preload=preload) as session:
            if session.compile_errors[0]:
                error = _shift_line(session.compile_errors[0], prelude.count("\n"))
                return CheckResult(False, f"compile error: {error}", 0, total)
            for n, index in enumerate(spec.run_order(), start=1):
                try:
                    run = session.run(0, list(spec.inputs[index]))
                except HarnessDied as exc:
                    return _died(exc, n, total, index)
                problem = _process_problem(run)
                if problem is None:
                    returned = run.returned
                    if returned is None:
                        problem = "no return value"
                    elif not returned["ok"]:
                        problem = _unusable_return(returned)
                    else:
                        problem = self._compare_return(returned["value"], spec.outputs[index])
                if problem is not None:
                    return _failed(problem, n, total, index)
        return CheckResult(True, _passed(total), total, total)

    def _compare_return(self, value: Any, expected: Any) -> str | None:
        """None when the returned ``value`` matches, else what is wrong. The value is the
        candidate's: should comparing it fail in any way, that is its failed test."""
        try:
            if self.mode == "taco":
                matches = taco_compat.return_matches(value, expected)
            else:
                matches = compare.return_matches(value, expected, self.float_tolerance)
        except Exception as exc:
            return f"unusable return value (comparing it raised {type(exc).__name__})"
        return None if matches else "wrong answer"

    def _check_stdin_taco(self, code: str, spec: TestSpec) -> CheckResult:
        """TACO's flow (see :mod:`redstar_code.taco_compat`): the plain program; when every test
        ends with return code 1, the wrapped one."""
        total = len(spec)
        programs = [taco_compat.stdin_program(code), taco_compat.wrapped_program(code)]
        with self.sandbox.session(programs, self.limits, preload=taco_compat.PRELUDE_MODULES) as session:
            try:
                outcome = self._taco_pass(session, 0, spec)
                if outcome == "all returncode:1":
                    outcome = self._taco_pass(session, 1, spec)
            except HarnessDied as exc:
                return CheckResult(False, f"the program killed or stopped its test harness ({exc})", 0, total)
        if outcome == "passed":
            return CheckResult(True, _passed(total) + " (TACO's checker)", total, total)
        assert not isinstance(outcome, str), "only the plain program (0) answers 'all returncode:1'"
        n, index, status = outcome
        return _failed(status, n, total, index, suffix=" (TACO's checker)")

    def _taco_pass(self, session: Session, program: int, spec: TestSpec) -> str | tuple[int, int, str]:
        """Run every test with one program. ``"passed"``; ``"all returncode:1"`` (plain program
        only: TACO then tries the wrapped one); or the first failing test (n, index, status)."""
        compiles = session.compile_errors[program] is None
        outcomes: list[tuple[int, int, str]] = []
        for n, index in enumerate(spec.run_order(), start=1):
            status = self._taco_test(session, program, spec, index) if compiles else "returncode:1"
            outcomes.append((n, index, status))
            if status == "passed":
                continue
            # TACO goes on to the wrapped program only when every test ended with return code 1,
            # so a return code 1 is not final yet while no test has passed.
            if program == 0 and status == "returncode:1" and all(s == "returncode:1" for _, _, s in outcomes):
                continue
            break
        if all(s == "passed" for _, _, s in outcomes) and len(outcomes) == len(spec):
            return "passed"
        if program == 0 and len(outcomes) == len(spec) and all(s == "returncode:1" for _, _, s in outcomes):
            return "all returncode:1"
        return next(o for o in outcomes if o[2] != "passed")

    def _taco_test(self, session: Session, program: int, spec: TestSpec, index: int) -> str:
        expected = spec.outputs[index]
        run = session.run(program, spec.inputs[index])
        if run.timed_out:
            return "timeout"
        if run.exit_code == 0:
            return "passed" if taco_compat.stdout_matches(_text_mode(run.stdout), expected) else "false"
        retry = session.run(program, spec.inputs[index], io="files")
        if retry.timed_out:
            return f"returncode:{_returncode(run)}"
        if retry.exit_code != 0 or retry.stdout is None:
            return f"returncode:{_returncode(retry)}"
        return "passed" if taco_compat.stdout_matches(_text_mode(retry.stdout), expected) else "false"


def _returncode(run: Run) -> int:
    """subprocess's returncode: negative signal number when killed."""
    if run.exit_code is not None:
        return run.exit_code
    return -(run.signal or signal.SIGKILL)


def _text_mode(text: str | None) -> str:
    """TACO reads output through ``subprocess.run(text=True)``, which translates newlines."""
    return (text or "").replace("\r\n", "\n").replace("\r", "\n")


def _process_problem(run: Run) -> str | None:
    """What went wrong with the process itself, whatever it printed (None: it exited cleanly)."""
    if run.timed_out:
        return "time limit exceeded"
    if run.signal == signal.SIGXCPU:
        return "time limit exceeded (CPU)"
    if run.output_limit:
        return "output limit exceeded"
    if run.signal is not None:
        try:
            return f"killed by {signal.Signals(run.signal).name}"
        except ValueError:
            return f"killed by signal {run.signal}"
    if run.exit_code != 0:
        last = run.stderr.strip().splitlines()[-1:] if run.stderr.strip() else []
        detail = f": {last[0][:200]}" if last else ""
        return f"runtime error (exit code {run.exit_code}{detail})"
    return None


def _unusable_return(returned: dict[str, Any]) -> str:
    if "error" in returned:
        return f"unusable return value ({returned['error']})"
    return f"returned a {returned['type']}, which cannot be compared"


def _passed(total: int) -> str:
    return "passed the only test" if total == 1 else f"passed all {total} tests"


def _failed(problem: str, n: int, total: int, index: int, suffix: str = "") -> CheckResult:
    """``"runtime error (exit code 1: ...)"`` -> ``"runtime error on test 2 of 5 (exit code 1: ...)"``:
    the category first, so that reasons group in summaries."""
    category, paren, detail = problem.partition(" (")
    reason = f"{category} on test {n} of {total}{suffix}" + (f" ({detail}" if paren else "")
    return CheckResult(False, reason, n, total, index)


def _died(exc: HarnessDied, n: int, total: int, index: int) -> CheckResult:
    return _failed(f"the program killed or stopped its test harness ({exc})", n, total, index)


def _shift_line(message: str, offset: int) -> str:
    """Compile errors of prelude + program: report the line in the candidate's own code."""
    marker = "(line "
    if marker in message and message.endswith(")"):
        head, _, number = message.rpartition(marker)
        try:
            return f"{head}{marker}{max(1, int(number[:-1]) - offset)})"
        except ValueError:
            return message
    return message


def _require_numpy() -> None:
    if importlib.util.find_spec("numpy") is None:
        raise MissingDependencyError(
            "mode='taco' reproduces TACO's checker, whose prelude imports numpy; "
            "install it with `pip install redstar-code[taco]`"
        )
