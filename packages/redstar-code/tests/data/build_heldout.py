"""Write heldout.jsonl: the verification set of redstar-code's tests and benchmark.

30 problems (10 families x 3 variants, standard-input and call-based) in TACO's input_output
format, each with candidate responses of known verdict:

- ``correct`` (reward 1), ``wrong`` (0), ``crash`` (0), ``no_code`` (-1, the block is never
  closed) for every problem;
- two more per problem, rotating through :data:`ROTATION`: ``too_slow`` and the hostile kinds
  (infinite loop, 4 GiB allocation, 200 children, a fork bomb after printing the right answer,
  writes outside the working directory, killing / stopping / killing-all from inside, exiting
  before printing, reading missing or host files, network) - all 0 - and ``daemon_after_output``
  (right answer, then a detached daemon; reward 1, and the daemon must not survive).

Hostile programs mark the processes they start with :data:`MARKER` and try to create files
named with :data:`ESCAPE_PREFIX`, so the tests can prove nothing leaked. Expected outputs are
computed by running the reference solution here (trusted code).

    python packages/redstar-code/tests/data/build_heldout.py
"""

from __future__ import annotations

import json
import math
from pathlib import Path

OUT = Path(__file__).with_name("heldout.jsonl")
MARKER = "redstar-heldout-marker"
ESCAPE_PREFIX = "redstar-escape"
#: Host paths the ``write_outside`` candidates try to create; none may exist afterwards.
ESCAPE_PATHS = (
    f"/tmp/{ESCAPE_PREFIX}-tmp",
    f"/var/tmp/{ESCAPE_PREFIX}-vartmp",
    f"/dev/shm/{ESCAPE_PREFIX}-shm",
    f"/root/{ESCAPE_PREFIX}-root",
    f"/usr/{ESCAPE_PREFIX}-usr",
    f"/{ESCAPE_PREFIX}-slash",
)


def block(code: str) -> str:
    return f"Let me think about it step by step.\n\n```python\n{code.strip()}\n```\n"


# -- families: (kind, fn_name, variants); each variant gives correct/wrong/crash code,
#    a reference function computing expected outputs, and inputs ------------------------------

def fam_sum_divisible(k: int) -> dict:
    code = f"n = int(input())\nnums = list(map(int, input().split()))\nprint(sum(x for x in nums if x % {k} == 0))\n"
    wrong = f"n = int(input())\nnums = list(map(int, input().split()))\nprint(sum(x for x in nums if x % {k} == 1))\n"
    crash = "n = int(input())\nnums = list(map(int, input().split()))\nprint(nums[n])\n"
    inputs = ["5\n1 2 3 4 5\n", f"3\n{k} {2 * k} {3 * k + 1}\n", "1\n0\n", "6\n-6 -5 10 12 15 7\n"]

    def ref(text):
        nums = list(map(int, text.split("\n")[1].split()))
        return f"{sum(x for x in nums if x % k == 0)}\n"

    return {"name": f"sum-divisible-by-{k}", "kind": "stdin", "code": code, "wrong": wrong, "crash": crash,
            "inputs": inputs, "ref": ref}


def fam_string_op(op: str) -> dict:
    body = {"reverse": "s[::-1]", "upper": "s.upper()", "dedupe": "''.join(dict.fromkeys(s))"}[op]
    wrong_body = {"reverse": "s", "upper": "s.lower()", "dedupe": "''.join(sorted(set(s)))"}[op]
    code = f"s = input()\nprint({body})\n"
    inputs = ["hello\n", "abcabc\n", "RedStar\n", "zz\n"]

    def ref(text):
        s = text.rstrip("\n")
        return {"reverse": s[::-1], "upper": s.upper(), "dedupe": "".join(dict.fromkeys(s))}[op] + "\n"

    return {"name": f"string-{op}", "kind": "stdin", "code": code, "wrong": f"s = input()\nprint({wrong_body})\n",
            "crash": "s = input()\nprint(s[len(s) + 5])\n", "inputs": inputs, "ref": ref}


def fam_pair_product(fn: str) -> dict:
    code = f"def {fn}(nums):\n    nums = sorted(nums)\n    return max(nums[0] * nums[1], nums[-1] * nums[-2])\n"
    wrong = f"def {fn}(nums):\n    nums = sorted(nums)\n    return nums[-1] * nums[-2]\n"
    crash = f"def {fn}(nums):\n    return nums[0] * nums[1] // (nums[0] - nums[0])\n"
    inputs = [[[1, 2, 3]], [[-10, -3, 5, 6]], [[0, 0]], [[7, -8, 2, -9]]]

    def ref(args):
        nums = sorted(args[0])
        return max(nums[0] * nums[1], nums[-1] * nums[-2])

    return {"name": f"max-pair-product-{fn}", "kind": "call", "fn_name": fn, "code": code, "wrong": wrong,
            "crash": crash, "inputs": inputs, "ref": ref, "wrap": fn != "best_pair"}


def fam_gcd_cases(op: str) -> dict:
    expr = {"gcd": "math.gcd(a, b)", "lcm": "a * b // math.gcd(a, b)", "mod": "a % b"}[op]
    wrong = {"gcd": "min(a, b)", "lcm": "a * b", "mod": "b % a"}[op]
    head = "import math\nt = int(input())\nfor _ in range(t):\n    a, b = map(int, input().split())\n"
    inputs = ["2\n12 18\n7 5\n", "1\n100 10\n", "3\n9 6\n14 21\n1 1\n"]

    def ref(text):
        lines = text.split("\n")
        out = []
        for line in lines[1:1 + int(lines[0])]:
            a, b = map(int, line.split())
            out.append({"gcd": math.gcd(a, b), "lcm": a * b // math.gcd(a, b), "mod": a % b}[op])
        return "".join(f"{v}\n" for v in out)

    return {"name": f"cases-{op}", "kind": "stdin", "code": head + f"    print({expr})\n",
            "wrong": head + f"    print({wrong})\n", "crash": head + "    print(a // 0)\n", "inputs": inputs, "ref": ref}


def fam_vowels(fn: str) -> dict:
    code = f"class Solution:\n    def {fn}(self, s):\n        return sum(ch in 'aeiouAEIOU' for ch in s)\n"
    wrong = f"class Solution:\n    def {fn}(self, s):\n        return sum(ch in 'aeiou' for ch in s)\n"
    crash = f"class Solution:\n    def {fn}(self, s):\n        return len(s) + undefined_name\n"
    inputs = [["hello"], ["AEIOU xyz"], [""], ["Programming In Python"]]

    def ref(args):
        return sum(ch in "aeiouAEIOU" for ch in args[0])

    return {"name": f"vowels-{fn}", "kind": "call", "fn_name": fn, "code": code, "wrong": wrong, "crash": crash,
            "inputs": inputs, "ref": ref, "wrap": True}


def fam_grid_paths(size: int) -> dict:
    code = "r, c = map(int, input().split())\nimport math\nprint(math.comb(r + c - 2, r - 1))\n"
    wrong = "r, c = map(int, input().split())\nimport math\nprint(math.comb(r + c, r))\n"
    crash = "r, c = map(int, input().split())\nimport math\nprint(math.comb(r + c - 2, r - 1) / 0)\n"
    inputs = [f"{size} {size}\n", "1 1\n", f"2 {size + 1}\n", f"{size + 2} 3\n"]

    def ref(text):
        r, c = map(int, text.split())
        return f"{math.comb(r + c - 2, r - 1)}\n"

    return {"name": f"grid-paths-{size}", "kind": "stdin", "code": code, "wrong": wrong, "crash": crash,
            "inputs": inputs, "ref": ref}


def fam_fib_mod(m: int) -> dict:
    code = f"def fib_mod(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, (a + b) % {m}\n    return a\n"
    wrong = f"def fib_mod(n):\n    a, b = 0, 1\n    for _ in range(n - 1):\n        a, b = b, (a + b) % {m}\n    return a\n"
    crash = "def fib_mod(n):\n    return fib_mod(n - 1) + fib_mod(n - 2)\n"
    inputs = [[1], [10], [50], [200]]

    def ref(args):
        a, b = 0, 1
        for _ in range(args[0]):
            a, b = b, (a + b) % m
        return a

    return {"name": f"fib-mod-{m}", "kind": "call", "fn_name": "fib_mod", "code": code, "wrong": wrong,
            "crash": crash, "inputs": inputs, "ref": ref, "wrap": m % 2 == 0}


def fam_row_sums(sep: str) -> dict:
    joiner = {"space": "' '", "newline": "'\\n'", "comma": "','"}[sep]
    code = f"r, c = map(int, input().split())\nrows = [sum(map(int, input().split())) for _ in range(r)]\nprint({joiner}.join(map(str, rows)))\n"
    wrong = f"r, c = map(int, input().split())\nrows = [max(map(int, input().split())) for _ in range(r)]\nprint({joiner}.join(map(str, rows)))\n"
    crash = "r, c = map(int, input().split())\nrows = [sum(map(int, input().split())) for _ in range(r + 1)]\nprint(rows)\n"
    inputs = ["2 2\n1 2\n3 4\n", "1 3\n5 5 5\n", "3 1\n-1\n0\n1\n"]

    def ref(text):
        lines = text.split("\n")
        r = int(lines[0].split()[0])
        sums = [sum(map(int, lines[1 + i].split())) for i in range(r)]
        return {"space": " ", "newline": "\n", "comma": ","}[sep].join(map(str, sums)) + "\n"

    return {"name": f"row-sums-{sep}", "kind": "stdin", "code": code, "wrong": wrong, "crash": crash,
            "inputs": inputs, "ref": ref}


def fam_min_max(fn: str) -> dict:
    code = f"def {fn}(values):\n    return min(values), max(values)\n"
    wrong = f"def {fn}(values):\n    return max(values), min(values)\n"
    crash = f"def {fn}(values):\n    return min(values), max(values), values[len(values)]\n"
    inputs = [[[3, 1, 2]], [[5]], [[-1, -10, 4, 4]], [[0, 100, 50]]]

    def ref(args):
        return [min(args[0]), max(args[0])]

    return {"name": f"min-max-{fn}", "kind": "call", "fn_name": fn, "code": code, "wrong": wrong, "crash": crash,
            "inputs": inputs, "ref": ref, "wrap": True}


def fam_primes(limit_offset: int) -> dict:
    code = "n = int(input())\nfor p in range(2, n + 1):\n    if all(p % d for d in range(2, int(p ** 0.5) + 1)):\n        print(p)\n"
    wrong = "n = int(input())\nfor p in range(2, n):\n    if all(p % d for d in range(2, int(p ** 0.5) + 1)):\n        print(p)\n"
    crash = "n = int(input())\nprint(int('prime'))\n"
    inputs = [f"{10 + limit_offset}\n", "2\n", f"{29 + limit_offset}\n", "1\n"]

    def ref(text):
        n = int(text)
        return "".join(f"{p}\n" for p in range(2, n + 1) if all(p % d for d in range(2, int(p ** 0.5) + 1)))

    return {"name": f"primes-{limit_offset}", "kind": "stdin", "code": code, "wrong": wrong, "crash": crash,
            "inputs": inputs, "ref": ref}


FAMILIES = [
    *(fam_sum_divisible(k) for k in (2, 3, 7)),
    *(fam_string_op(op) for op in ("reverse", "upper", "dedupe")),
    *(fam_pair_product(fn) for fn in ("max_pair", "best_pair", "product_of_two")),
    *(fam_gcd_cases(op) for op in ("gcd", "lcm", "mod")),
    *(fam_vowels(fn) for fn in ("countVowels", "vowelCount", "count_vowels")),
    *(fam_grid_paths(s) for s in (3, 5, 8)),
    *(fam_fib_mod(m) for m in (7, 1000, 1000000007)),
    *(fam_row_sums(sep) for sep in ("space", "newline", "comma")),
    *(fam_min_max(fn) for fn in ("min_max", "lowest_highest", "bounds")),
    *(fam_primes(o) for o in (0, 3, 8)),
]


# -- slow and hostile candidates -------------------------------------------------------------

def _answer_then(problem: dict, tail: str) -> str:
    """A standard-input program that prints the right answer, then runs ``tail``. Call-based
    programs have no output to print first: ``tail`` runs when the module loads."""
    if problem["kind"] == "stdin":
        return problem["code"] + tail
    return tail + problem["code"]


def hostile(kind: str, problem: dict) -> tuple[str, int]:
    """(program, expected reward) of a slow or hostile candidate for ``problem``."""
    marker_child = f"['/bin/sh', '-c', 'sleep 120', '{MARKER}']"
    if kind == "too_slow":  # right answer, far too slowly (CPU-bound)
        return _prefix(problem, "for _ in range(10 ** 10):\n    pass\n"), 0
    if kind == "infinite_loop":
        return _prefix(problem, "while True:\n    pass\n"), 0
    if kind == "memory_4gib":
        return _prefix(problem, "hog = []\nfor _ in range(8):\n    hog.append(bytearray(512 * 1024 * 1024))\n"), 0
    if kind == "spawn_200_children":
        return _prefix(problem, f"import subprocess\nchildren = [subprocess.Popen({marker_child}) for _ in range(200)]\n"), 0
    if kind == "fork_bomb_after_output":
        return _answer_then(problem, "import os, sys\nsys.stdout.flush()\nwhile True:\n    os.fork()\n"), 0
    if kind == "write_outside":
        attempts = "".join(
            f"try:\n    open({p!r}, 'w').write('escaped')\n    escaped += 1\nexcept OSError:\n    pass\n"
            for p in ESCAPE_PATHS
        )
        return _prefix(problem, "escaped = 0\n" + attempts + "raise SystemExit(f'wrote {escaped} files outside')\n"), 0
    if kind == "kill_parent":
        return _prefix(problem, "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n"), 0
    if kind == "stop_parent":
        return _answer_then(problem, "import os, signal\nos.kill(os.getppid(), signal.SIGSTOP)\n"), 0
    if kind == "kill_everything":
        return _prefix(problem, "import os, signal\nos.kill(-1, signal.SIGKILL)\n"), 0
    if kind == "exit_before_output":
        return _prefix(problem, "import sys\nsys.exit(0)\n"), 0
    if kind == "read_missing_file":
        return _prefix(problem, "data = open('/data/tests/expected_output.txt').read()\n"), 0
    if kind == "read_host_files":
        return _prefix(problem, "secret = open('/root/.bashrc').read() + open('/etc/passwd').read()\nprint(secret)\n"), 0
    if kind == "network":
        return _prefix(problem, "import socket\nsocket.create_connection(('1.1.1.1', 80), timeout=2).sendall(b'x')\n"), 0
    if kind == "daemon_after_output":
        daemon = (
            "import os, sys, time\nsys.stdout.flush()\n"
            "if os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
            f"        os.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(120)', '{MARKER}'])\n"
            "    os._exit(0)\n"
        )
        return _answer_then(problem, daemon), 1
    raise ValueError(kind)


def _prefix(problem: dict, statements: str) -> str:
    return statements + problem["code"]


ROTATION = (
    "too_slow", "infinite_loop", "memory_4gib", "spawn_200_children", "fork_bomb_after_output",
    "write_outside", "kill_parent", "stop_parent", "kill_everything", "exit_before_output",
    "read_missing_file", "read_host_files", "network", "daemon_after_output", "too_slow",
)


def build() -> list[dict]:
    rows = []
    for number, problem in enumerate(FAMILIES):
        if problem["kind"] == "stdin":
            outputs = [problem["ref"](text) for text in problem["inputs"]]
            tests = {"inputs": problem["inputs"], "outputs": outputs}
        else:
            values = [problem["ref"](args) for args in problem["inputs"]]
            outputs = [[v] for v in values] if problem["wrap"] else values
            tests = {"fn_name": problem["fn_name"], "inputs": problem["inputs"], "outputs": outputs}
        candidates = [
            {"kind": "correct", "reward": 1, "response": block(problem["code"])},
            {"kind": "wrong", "reward": 0, "response": block(problem["wrong"])},
            {"kind": "crash", "reward": 0, "response": block(problem["crash"])},
            {"kind": "no_code", "reward": -1,
             "response": "I will write it:\n```python\n" + problem["code"] + "\n(and the answer got cut off"},
        ]
        for kind in (ROTATION[(2 * number) % len(ROTATION)], ROTATION[(2 * number + 1) % len(ROTATION)]):
            program, reward = hostile(kind, problem)
            candidates.append({"kind": kind, "reward": reward, "response": block(program)})
        rows.append({"id": problem["name"], "input_output": json.dumps(tests), "candidates": candidates})
    return rows


def main() -> None:
    rows = build()
    OUT.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    kinds: dict[str, int] = {}
    for r in rows:
        for c in r["candidates"]:
            kinds[c["kind"]] = kinds.get(c["kind"], 0) + 1
    print(f"wrote {len(rows)} problems, {sum(kinds.values())} candidates to {OUT}: {kinds}")


if __name__ == "__main__":
    main()
