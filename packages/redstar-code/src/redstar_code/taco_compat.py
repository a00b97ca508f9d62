"""TACO's own checker, reproduced for ``mode="taco"`` (to compare with TACO's published numbers).

Re-implemented from the behaviour of ``metrics/testing_util.py`` in FlagOpen/TACO (read at
commit 2ba6235); docs/code.md lists where RedStar's default (``strict``) mode differs and why.
What TACO does, as reproduced here:

- Standard input: the program runs as a script with TACO's import prelude (which imports numpy)
  and ``stdin = sys.stdin; stdout = sys.stdout`` inserted before its first statement that is
  not an import (:func:`stdin_program`). A test passes when the run exits 0 and
  :func:`stdout_matches` accepts the output. When the run exits non-zero, TACO runs it again
  reading ``input.txt`` and writing ``output.txt`` (for problems with file I/O). When *every*
  test ended with return code 1, TACO runs the tests again with the program wrapped in a
  function ``code()`` (:func:`wrapped_program`), which rescues programs with a top-level
  ``return``.
- Call-based: the prelude plus the program; the function is a method of ``Solution()`` when the
  text ``class Solution`` occurs in the program, else a module attribute; a dict first argument
  gets integer keys (replacing the whole argument list, as TACO does); :func:`return_matches`.
"""

from __future__ import annotations

import math
from typing import Any

#: TACO's import prelude (its ``synthesize_*_code`` functions), numpy included.
PRELUDE = (
    "import sys\nimport time\nimport itertools\n"
    "from itertools import accumulate, product, permutations, combinations\n"
    "import collections\nfrom collections import Counter, OrderedDict, deque, defaultdict, ChainMap\n"
    "from functools import lru_cache\nimport math\n"
    "from math import sqrt, sin, cos, tan, ceil, fabs, floor, gcd, exp, log, log2\n"
    "import fractions\nfrom typing import List, Tuple\nimport numpy as np\n"
    "import random\nimport heapq\nfrom heapq import *\n"
)
PRELUDE_MODULES = ("sys", "time", "itertools", "collections", "functools", "math", "fractions", "typing",
                   "numpy", "random", "heapq")
STREAM_ALIASES = "\nstdin = sys.stdin\nstdout = sys.stdout\n"

_IMPORT_STAR, _IMPORT, _OTHER = 2, 1, 0


def _line_kind(line: str) -> int:
    if "import *" in line:
        return _IMPORT_STAR
    if line.startswith(("from ", "import ")):
        return _IMPORT
    return _OTHER


def stdin_program(code: str) -> str:
    """The script TACO runs for a standard-input program."""
    out, started = [], False
    for line in code.split("\n"):
        if _line_kind(line) == _OTHER and not started:
            out.append(PRELUDE + STREAM_ALIASES + line + "\n")
            started = True
        else:
            out.append(line + "\n")
    return "".join(out)


def wrapped_program(code: str) -> str:
    """TACO's fallback: every line from the first statement on, indented by a tab into
    ``def code():`` (``import *`` lines hoisted above it), then a call of ``code()``."""
    lines = code.split("\n")
    kinds = [_line_kind(line) for line in lines]
    star_imports = "\n".join(line.lstrip("\t") for line, kind in zip(lines, kinds) if kind == _IMPORT_STAR)
    out, started = [], False
    for line, kind in zip(lines, kinds):
        if kind == _OTHER and not started:
            out.append(PRELUDE + star_imports + STREAM_ALIASES + "def code():\n\t" + line + "\n")
            started = True
        elif kind != _IMPORT_STAR:
            out.append(("\t" if started else "") + line + "\n")
    return "".join(out) + "\ncode()\n"


def call_program(code: str) -> str:
    return PRELUDE + code


def stdout_matches(actual: str, expected: str) -> bool:
    """TACO's ``compare_std_results`` for a script's output (a string) against the expected
    text, with its quirks: after the plain check (both stripped, lines compared as they are),
    the float check converts each *character* of the output, and the set checks compare the
    character sets of output tokens with the token sets of expected lines."""
    if actual.strip() == expected.strip():
        return True
    lines = [line.strip() for line in expected.split("\n") if line]
    try:
        got = [float(ch) for ch in actual]
        want = [float(line) for line in lines]
        if len(got) == len(want) and all(_allclose(a, b) for a, b in zip(got, want)):
            return True
    except ValueError:
        pass
    line_tokens = [set(line.split()) for line in lines]
    output_tokens = set(actual.split())
    matched = {frozenset(token) for token in output_tokens} == {frozenset(tokens) for tokens in line_tokens}
    try:
        rounded_got = {frozenset(round(float(ch), 3) for ch in token) for token in output_tokens}
        rounded_want = {frozenset(round(float(t), 3) for t in tokens) for tokens in line_tokens}
        matched = matched or rounded_got == rounded_want
    except ValueError:
        pass
    return matched


def _allclose(a: float, b: float) -> bool:
    """numpy.allclose's default rule for one pair: ``|a - b| <= 1e-8 + 1e-5 * |b|``."""
    if math.isnan(a) or math.isnan(b):
        return False
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= 1e-8 + 1e-5 * abs(b)


def return_matches(actual: Any, expected: Any) -> bool:
    """TACO's call-based rule: equal, or the expected value is a non-empty list whose first
    element is equal (whatever the list's length). TACO turns a dict expected value with integer
    keys into a one-element list holding it."""
    if isinstance(expected, dict) and _int_keyed(expected):
        expected = [expected]
    if actual == expected:
        return True
    return isinstance(expected, list) and bool(expected) and actual == expected[0]


def _int_keyed(value: dict) -> bool:
    try:
        for key in value:
            int(key)
    except (TypeError, ValueError):
        return False
    return True
