"""Checking programs against tests, in both comparison modes, through the real sandbox."""

from __future__ import annotations

import json

import pytest

from redstar_code.checker import CodeChecker
from redstar_code.sandbox import Limits
from redstar_code.testspec import parse_tests

pytestmark = pytest.mark.usefixtures("no_leaks")


def stdin_tests(pairs):
    return parse_tests(json.dumps({"inputs": [i for i, _ in pairs], "outputs": [o for _, o in pairs]}))


def call_tests(fn_name, pairs):
    return parse_tests(json.dumps({"fn_name": fn_name, "inputs": [i for i, _ in pairs], "outputs": [o for _, o in pairs]}))


DOUBLE = stdin_tests([("100000\n", "200000\n"), ("3\n", "6\n"), ("21\n", "42\n")])


@pytest.fixture(scope="module")
def taco_checker():
    instance = CodeChecker(Limits(timeout=2), mode="taco")
    yield instance
    instance.close()


def test_correct_program_passes_every_test(checker):
    result = checker.check("print(int(input()) * 2)", DOUBLE)
    assert result.passed and result.tests_run == 3 and result.reason == "passed all 3 tests"


def test_smallest_test_runs_first_and_the_first_failure_stops(checker):
    # wrong only on the largest input, which runs last
    result = checker.check("n = int(input())\nprint(n * 2 if n < 1000 else 0)", DOUBLE)
    assert not result.passed and result.tests_run == 3 and result.failed_test == 0
    # wrong everywhere: stops after the first (smallest) test
    result = checker.check("print(0)", DOUBLE)
    assert result.tests_run == 1 and result.failed_test == 1
    assert result.reason == "wrong answer on test 1 of 3"


def test_right_output_with_nonzero_exit_fails(checker):
    result = checker.check("print(int(input()) * 2)\nraise SystemExit(3)", DOUBLE)
    assert not result.passed and result.reason.startswith("runtime error on test 1 of 3 (exit code 3")
    crash = checker.check("print(int(input()) * 2)\n1 / 0", DOUBLE)
    assert "ZeroDivisionError" in crash.reason


def test_compile_error_runs_nothing(checker):
    result = checker.check("def broken(:\n    pass", DOUBLE)
    assert not result.passed and result.tests_run == 0 and result.reason.startswith("compile error: SyntaxError")


def test_program_sees_stdin_as_a_script_would(checker):
    spec = stdin_tests([("a b\r\nc\n", "['a b\\r', 'c'] 2\n")])
    program = "import sys\nlines = sys.stdin.read().split('\\n')[:2]\nprint(lines, len(lines))"
    assert checker.check(program, spec).passed
    assert checker.check("if __name__ == '__main__':\n    print(['a b\\r', 'c'], 2)", spec).passed


def test_threads_and_atexit_finish_before_output_is_judged(checker):
    program = (
        "import atexit, sys, threading\n"
        "sys.setrecursionlimit(10000)\n"
        "threading.stack_size(1 << 26)\n"
        "atexit.register(lambda: print('bye'))\n"
        "def depth(n):\n    return 0 if n == 0 else 1 + depth(n - 1)\n"
        "threading.Thread(target=lambda: print(depth(int(input())))).start()\n"
    )
    assert checker.check(program, stdin_tests([("5000\n", "5000\nbye\n")])).passed


def test_float_tolerance_is_opt_in(sandbox):
    spec = stdin_tests([("3\n", "0.333333333\n")])
    program = "print(round(1 / int(input()), 6))"
    strict = CodeChecker(Limits(timeout=2))
    tolerant = CodeChecker(Limits(timeout=2), float_tolerance=1e-5)
    try:
        assert not strict.check(program, spec).passed
        assert tolerant.check(program, spec).passed
    finally:
        strict.close()
        tolerant.close()


def test_call_based_module_function_and_solution_method(checker):
    spec = call_tests("add", [([1, 2], [3]), ([-1, 1], 0)])
    assert checker.check("def add(a, b):\n    return a + b", spec).passed
    assert checker.check("class Solution:\n    def add(self, a: int, b: int) -> int:\n        return a + b", spec).passed
    missing = checker.check("def plus(a, b):\n    return a + b", spec)
    assert not missing.passed and "NameError" in missing.reason


def test_call_based_tuples_count_as_lists_and_prelude_is_available(checker):
    spec = call_tests("pair", [([[3, 1, 2]], [[1, 3]]), ([[5]], [5, 5])])
    program = "def pair(values: List[int]) -> Tuple[int, int]:\n    return min(values), max(values)"
    assert checker.check(program, spec).passed


def test_call_based_integer_keys_and_unserialisable_values(checker):
    spec = call_tests("lookup", [([{"1": "a", "2": "b"}, 2], "b")])
    assert checker.check("def lookup(table, key):\n    return table[key]", spec).passed
    odd = checker.check("def lookup(table, key):\n    return {key}", spec)
    assert not odd.passed and "returned a set" in odd.reason


def test_call_based_exit_inside_function_is_no_return_value(checker):
    spec = call_tests("f", [([1], 1)])
    result = checker.check("import sys\ndef f(x):\n    sys.exit(0)", spec)
    assert not result.passed and "exit code" in result.reason


def test_compile_errors_report_the_candidates_own_line(checker):
    spec = call_tests("f", [([1], 1)])
    result = checker.check("def f(x):\n    return x\nx = = 1", spec)
    assert result.reason.startswith("compile error") and "(line 3)" in result.reason


def test_check_many_keeps_order(checker):
    programs = ["print(0)", "print(int(input()) * 2)", "while True: pass", "print(int(input()) * 2)"]
    results = checker.check_many([(p, DOUBLE) for p in programs])
    assert [r.passed for r in results] == [False, True, False, True]
    assert results[2].reason.startswith("time limit exceeded")


def test_taco_mode_accepts_what_taco_accepts(taco_checker, checker):
    spec = stdin_tests([("3\n", "6\n")])
    program = "print('', int(input()) * 2)"  # prints " 6": TACO strips the whole output, strict does not
    assert taco_checker.check(program, spec).passed
    assert not checker.check(program, spec).passed


def test_taco_mode_prelude_and_numpy(taco_checker):
    program = "n = int(input())\nprint(int(np.sum(np.arange(n + 1))), gcd(n, 4))"
    assert taco_checker.check(program, stdin_tests([("4\n", "10 4\n")])).passed


def test_taco_mode_wrapped_fallback_for_top_level_return(taco_checker, checker):
    program = "t = int(input())\nif t == 0:\n    print('zero')\n    return\nprint(t * 2)"
    spec = stdin_tests([("0\n", "zero\n"), ("4\n", "8\n")])
    assert taco_checker.check(program, spec).passed
    assert checker.check(program, spec).reason.startswith("compile error")


def test_taco_mode_file_io_fallback(taco_checker, checker):
    program = "data = open('input.txt').read().split()\nopen('output.txt', 'w').write(str(sum(map(int, data))))"
    spec = stdin_tests([("1 2 3\n", "6\n")])
    assert taco_checker.check(program, spec).passed
    assert not checker.check(program, spec).passed


def test_taco_mode_first_element_rule_for_call_based(taco_checker, checker):
    spec = call_tests("first", [([[7, 8]], [7, 8])])
    program = "def first(values):\n    return values[0]"
    assert taco_checker.check(program, spec).passed
    assert not checker.check(program, spec).passed


def test_taco_mode_fails_what_taco_fails(taco_checker):
    assert not taco_checker.check("print(0)", DOUBLE).passed
    crash = taco_checker.check("1 / 0", DOUBLE)
    assert not crash.passed and "returncode:1" in crash.reason


def test_bad_options():
    with pytest.raises(ValueError, match="mode"):
        CodeChecker(mode="lenient")
    with pytest.raises(ValueError, match="float_tolerance"):
        CodeChecker(mode="taco", float_tolerance=0.1)
