"""The code domain's verifier: extract the program, run it against the problem's TACO tests in the
sandbox, and reward 1 (every test passed), 0 (a test failed) or -1 (no complete Python code
block in the response)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from redstar.errors import InputError
from redstar.interfaces import Verifier
from redstar.records import Prompt, Verdict
from redstar_code.checker import CheckResult, CodeChecker
from redstar_code.extraction import extract_code
from redstar_code.sandbox import Limits
from redstar_code.testspec import TestSpec, TestSpecError, parse_tests

INSTRUCTION = (
    "Please reason step by step, then give your complete Python 3 solution in a single ```python code block."
)


class CodeVerifier(Verifier):
    """Runs the last ```python block of a response against TACO's ``input_output`` tests. Its
    options sit under the recipe's ``verifiers.code``.

    Args:
        timeout: Wall-clock seconds one test may run before it counts as failed (4, TACO's
            value).
        memory_mb: The memory one test may use, in MiB.
        max_output_mb: The most output one test may write, in MiB.
        max_processes: The most processes (and threads) one test may run at once.
        mode: How outputs are compared: ``strict`` (RedStar's comparison) or ``taco`` (TACO's
            own checker, for its published numbers; docs/code.md lists the differences).
        float_tolerance: In ``strict`` mode, the absolute or relative difference by which
            numbers may differ and still match; null compares the text exactly.
        workers: How many candidates ``verify_many`` verifies at once (null: the usable cores).
        python: The Python interpreter inside the sandbox (null: this interpreter).
        import_paths: Extra directories of packages that candidates may import (each is shown
            to the sandbox whole).

    Needs bubblewrap (``bwrap``); constructing the verifier fails with an install hint without it.
    A malformed reference (not TACO's ``input_output`` JSON) raises
    :class:`~redstar.errors.InputError` naming the field.
    """

    domain = "code"
    instruction = INSTRUCTION

    def __init__(self, timeout: float = 4.0, memory_mb: int = 1024, max_output_mb: int = 16,
                 max_processes: int = 32, mode: str = "strict", float_tolerance: float | None = None,
                 workers: int | None = None, python: str | None = None,
                 import_paths: Sequence[str] | None = None) -> None:
        limits = Limits(timeout=timeout, memory_mb=memory_mb, max_output_mb=max_output_mb,
                        max_processes=max_processes)
        self.checker = CodeChecker(limits, mode=mode, float_tolerance=float_tolerance, workers=workers,
                                   python=python, import_paths=import_paths)

    def extract(self, response: str) -> str | None:
        return extract_code(response)

    def verify(self, response: str, reference: str, metadata: Mapping[str, Any] | None = None) -> Verdict:
        spec = _tests(reference)
        code = extract_code(response)
        if code is None:
            return _no_code()
        return _verdict(code, self.checker.check(code, spec))

    def verify_many(self, items: Sequence[tuple[str, Prompt]]) -> list[Verdict]:
        """Verify in parallel (``workers`` sandboxes at once); verdicts in input order."""
        specs = [_tests(prompt.reference) for _, prompt in items]  # bad references fail before any run
        codes = [extract_code(response) for response, _ in items]
        todo = [(i, code, spec) for i, (code, spec) in enumerate(zip(codes, specs)) if code is not None]
        results = self.checker.check_many([(code, spec) for _, code, spec in todo])
        verdicts = [_no_code() for _ in items]
        for (i, code, _), result in zip(todo, results):
            verdicts[i] = _verdict(code, result)
        return verdicts

    def close(self) -> None:
        """Release the sandbox helper process (when running as root)."""
        self.checker.close()


def _no_code() -> Verdict:
    return Verdict.no_answer("no complete ```python code block")


def _tests(reference: str) -> TestSpec:
    try:
        return parse_tests(reference)
    except TestSpecError as exc:
        raise InputError("<reference>", f"not TACO input_output tests: {exc}", field=exc.field) from None


def _verdict(code: str, result: CheckResult) -> Verdict:
    return Verdict.right(code, result.reason) if result.passed else Verdict.wrong(code, result.reason)
