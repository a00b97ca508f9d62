"""Write redstar_code/data/taco_sample.jsonl: small programming problems written for RedStar in
TACO's row schema (question, solutions, starter_code, input_output, difficulty, skill_types,
tags, name, source). Expected outputs are computed by running each problem's reference solution
on its inputs, here, in this trusted script; the test suite re-checks every solution in the
sandbox.

    python packages/redstar-code/scripts/build_taco_sample.py
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "src" / "redstar_code" / "data" / "taco_sample.jsonl"

STDIN_PROBLEMS = [
    {
        "name": "sum-of-two",
        "difficulty": "EASY",
        "skill_types": [],
        "tags": ["Mathematics"],
        "question": "Read two integers a and b on one line and print their sum.\n\n-----Input-----\nOne line with a and b (-10^9 <= a, b <= 10^9).\n\n-----Output-----\nPrint a + b.\n\n-----Examples-----\nInput\n2 3\n\nOutput\n5",
        "solution": "a, b = map(int, input().split())\nprint(a + b)\n",
        "inputs": ["2 3\n", "-5 5\n", "1000000000 1000000000\n", "-7 -8\n"],
    },
    {
        "name": "triangular-numbers",
        "difficulty": "EASY",
        "skill_types": [],
        "tags": ["Mathematics"],
        "question": "The k-th triangular number is 1 + 2 + ... + k. For each of t test cases, read k and print the k-th triangular number.\n\n-----Input-----\nThe first line holds t (1 <= t <= 100); each of the next t lines holds k (1 <= k <= 10^9).\n\n-----Output-----\nFor each test case, print the answer on its own line.\n\n-----Examples-----\nInput\n2\n1\n4\n\nOutput\n1\n10",
        "solution": "t = int(input())\nfor _ in range(t):\n    k = int(input())\n    print(k * (k + 1) // 2)\n",
        "inputs": ["2\n1\n4\n", "3\n10\n100\n1000000000\n", "1\n7\n"],
    },
    {
        "name": "distinct-values",
        "difficulty": "MEDIUM",
        "skill_types": ["Data structures"],
        "tags": ["Sorting"],
        "question": "Given n integers, print how many different values they contain.\n\n-----Input-----\nThe first line holds n (1 <= n <= 2*10^5), the second the n integers.\n\n-----Output-----\nPrint the number of distinct values.\n\n-----Examples-----\nInput\n5\n2 3 2 2 3\n\nOutput\n2",
        "solution": "input()\nprint(len(set(input().split())))\n",
        "inputs": ["5\n2 3 2 2 3\n", "1\n42\n", "6\n1 2 3 4 5 6\n", "4\n-1 1 -1 1\n"],
    },
    {
        "name": "transpose",
        "difficulty": "MEDIUM",
        "skill_types": [],
        "tags": ["Implementation"],
        "question": "Read an r x c matrix and print its transpose (c rows of r numbers, separated by single spaces).\n\n-----Input-----\nThe first line holds r and c (1 <= r, c <= 100); then r lines of c integers.\n\n-----Output-----\nThe transposed matrix.\n\n-----Examples-----\nInput\n2 3\n1 2 3\n4 5 6\n\nOutput\n1 4\n2 5\n3 6",
        "solution": "r, c = map(int, input().split())\nm = [input().split() for _ in range(r)]\nfor j in range(c):\n    print(' '.join(m[i][j] for i in range(r)))\n",
        "inputs": ["2 3\n1 2 3\n4 5 6\n", "1 1\n9\n", "3 1\n1\n2\n3\n"],
    },
    {
        "name": "longest-increasing-subsequence",
        "difficulty": "MEDIUM_HARD",
        "skill_types": ["Dynamic programming"],
        "tags": ["Binary search"],
        "question": "Print the length of the longest strictly increasing subsequence of a sequence of n integers.\n\n-----Input-----\nThe first line holds n (1 <= n <= 2*10^5), the second the sequence.\n\n-----Output-----\nPrint the length.\n\n-----Examples-----\nInput\n6\n5 1 4 2 3 6\n\nOutput\n4",
        "solution": "from bisect import bisect_left\ninput()\ntails = []\nfor x in map(int, input().split()):\n    i = bisect_left(tails, x)\n    if i == len(tails):\n        tails.append(x)\n    else:\n        tails[i] = x\nprint(len(tails))\n",
        "inputs": ["6\n5 1 4 2 3 6\n", "1\n7\n", "5\n5 4 3 2 1\n", "8\n1 3 2 4 3 5 4 6\n"],
    },
    {
        "name": "connected-components",
        "difficulty": "HARD",
        "skill_types": ["Graph algorithms"],
        "tags": ["Disjoint set union"],
        "question": "An undirected graph has n vertices (numbered 1..n) and m edges. Print its number of connected components.\n\n-----Input-----\nThe first line holds n and m (1 <= n <= 10^5, 0 <= m <= 2*10^5); each of the next m lines holds an edge u v.\n\n-----Output-----\nPrint the number of connected components.\n\n-----Examples-----\nInput\n5 3\n1 2\n2 3\n4 5\n\nOutput\n2",
        "solution": "import sys\ndata = sys.stdin.read().split()\nn, m = int(data[0]), int(data[1])\nparent = list(range(n + 1))\ndef find(x):\n    while parent[x] != x:\n        parent[x] = parent[parent[x]]\n        x = parent[x]\n    return x\ncomponents = n\nfor i in range(m):\n    a, b = find(int(data[2 + 2 * i])), find(int(data[3 + 2 * i]))\n    if a != b:\n        parent[a] = b\n        components -= 1\nprint(components)\n",
        "inputs": ["5 3\n1 2\n2 3\n4 5\n", "1 0\n", "4 0\n", "4 4\n1 2\n2 3\n3 4\n4 1\n"],
    },
    {
        "name": "balanced-brackets",
        "difficulty": "HARD",
        "skill_types": ["Data structures"],
        "tags": ["Stack"],
        "question": "For each of t strings made of the characters ()[]{}, print YES if its brackets are balanced and NO otherwise.\n\n-----Input-----\nThe first line holds t; each of the next t lines holds one string (possibly empty).\n\n-----Output-----\nt lines, each YES or NO.\n\n-----Examples-----\nInput\n3\n([]{})\n([)]\n((\n\nOutput\nYES\nNO\nNO",
        "solution": "t = int(input())\npairs = {')': '(', ']': '[', '}': '{'}\nfor _ in range(t):\n    stack = []\n    ok = True\n    for ch in input().strip():\n        if ch in '([{':\n            stack.append(ch)\n        elif not stack or stack.pop() != pairs[ch]:\n            ok = False\n            break\n    print('YES' if ok and not stack else 'NO')\n",
        "inputs": ["3\n([]{})\n([)]\n((\n", "2\n\n{[()()]}\n", "1\n]\n"],
    },
    {
        "name": "cheapest-route",
        "difficulty": "VERY_HARD",
        "skill_types": ["Graph algorithms"],
        "tags": ["Shortest paths"],
        "question": "A directed graph has n cities and m one-way roads with travel costs. Print the cheapest cost from city 1 to city n, or -1 if city n cannot be reached.\n\n-----Input-----\nThe first line holds n and m (2 <= n <= 10^5, 0 <= m <= 2*10^5); each of the next m lines holds u v w (1 <= w <= 10^9).\n\n-----Output-----\nPrint the cheapest cost or -1.\n\n-----Examples-----\nInput\n3 3\n1 2 1\n2 3 1\n1 3 5\n\nOutput\n2",
        "solution": "import sys, heapq\ndata = sys.stdin.read().split()\nn, m = int(data[0]), int(data[1])\nadj = [[] for _ in range(n + 1)]\nfor i in range(m):\n    u, v, w = int(data[2 + 3 * i]), int(data[3 + 3 * i]), int(data[4 + 3 * i])\n    adj[u].append((v, w))\ndist = [None] * (n + 1)\nheap = [(0, 1)]\nwhile heap:\n    d, u = heapq.heappop(heap)\n    if dist[u] is not None:\n        continue\n    dist[u] = d\n    for v, w in adj[u]:\n        if dist[v] is None:\n            heapq.heappush(heap, (d + w, v))\nprint(-1 if dist[n] is None else dist[n])\n",
        "inputs": ["3 3\n1 2 1\n2 3 1\n1 3 5\n", "2 0\n", "4 4\n1 2 5\n2 4 5\n1 3 1\n3 4 20\n", "3 2\n2 1 1\n3 2 1\n"],
    },
    {
        "name": "fizzbuzz",
        "difficulty": "UNKNOWN_DIFFICULTY",
        "skill_types": [],
        "tags": ["Implementation"],
        "question": "Print the numbers from 1 to n, one per line, but print Fizz instead of multiples of 3, Buzz instead of multiples of 5 and FizzBuzz instead of multiples of both.\n\n-----Input-----\nOne integer n (1 <= n <= 1000).\n\n-----Output-----\nn lines.\n\n-----Examples-----\nInput\n5\n\nOutput\n1\n2\nFizz\n4\nBuzz",
        "solution": "n = int(input())\nfor i in range(1, n + 1):\n    print('FizzBuzz' if i % 15 == 0 else 'Fizz' if i % 3 == 0 else 'Buzz' if i % 5 == 0 else i)\n",
        "inputs": ["5\n", "1\n", "15\n"],
    },
]

CALL_PROBLEMS = [
    {
        "name": "reverse-words",
        "difficulty": "EASY",
        "skill_types": [],
        "tags": ["String algorithms"],
        "question": "Write a function that returns the words of a sentence in reverse order, joined by single spaces.\n\nExample: reverse_words(\"the sky is blue\") returns \"blue is sky the\".",
        "starter_code": "def reverse_words(sentence):\n\t",
        "fn_name": "reverse_words",
        "solution": "def reverse_words(sentence):\n    return ' '.join(reversed(sentence.split()))\n",
        "inputs": [["the sky is blue"], ["hello"], ["  many   spaces here "]],
        "wrap": True,
    },
    {
        "name": "two-sum",
        "difficulty": "MEDIUM",
        "skill_types": ["Data structures"],
        "tags": ["Hashing"],
        "question": "Given an array of integers nums and an integer target, return the indices of the two numbers that add up to target, smaller index first. Exactly one solution exists.\n\nExample: nums = [2, 7, 11, 15], target = 9 gives [0, 1].",
        "starter_code": "class Solution:\n    def twoSum(self, nums: List[int], target: int) -> List[int]:\n        ",
        "fn_name": "twoSum",
        "solution": "class Solution:\n    def twoSum(self, nums, target):\n        seen = {}\n        for i, x in enumerate(nums):\n            if target - x in seen:\n                return [seen[target - x], i]\n            seen[x] = i\n",
        "inputs": [[[2, 7, 11, 15], 9], [[3, 2, 4], 6], [[3, 3], 6], [[-1, -2, -3, -4, -5], -8]],
        "wrap": False,
    },
    {
        "name": "maximum-subarray",
        "difficulty": "MEDIUM_HARD",
        "skill_types": ["Dynamic programming"],
        "tags": ["Kadane"],
        "question": "Return the largest sum of a non-empty contiguous subarray of nums.\n\nExample: max_subarray([-2, 1, -3, 4, -1, 2, 1, -5, 4]) returns 6.",
        "starter_code": "",
        "fn_name": "max_subarray",
        "solution": "def max_subarray(nums):\n    best = current = nums[0]\n    for x in nums[1:]:\n        current = max(x, current + x)\n        best = max(best, current)\n    return best\n",
        "inputs": [[[-2, 1, -3, 4, -1, 2, 1, -5, 4]], [[1]], [[-3, -1, -2]], [[5, 4, -1, 7, 8]]],
        "wrap": True,
    },
    {
        "name": "edit-distance",
        "difficulty": "HARD",
        "skill_types": ["Dynamic programming"],
        "tags": ["Strings"],
        "question": "Return the minimum number of single-character insertions, deletions and substitutions that turn word a into word b.\n\nExample: edit_distance(\"horse\", \"ros\") returns 3.",
        "starter_code": "def edit_distance(a, b):\n\t",
        "fn_name": "edit_distance",
        "solution": "def edit_distance(a, b):\n    prev = list(range(len(b) + 1))\n    for i, ca in enumerate(a, 1):\n        cur = [i]\n        for j, cb in enumerate(b, 1):\n            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))\n        prev = cur\n    return prev[-1]\n",
        "inputs": [["horse", "ros"], ["", "abc"], ["intention", "execution"], ["same", "same"]],
        "wrap": True,
    },
    {
        "name": "grid-paths",
        "difficulty": "VERY_HARD",
        "skill_types": ["Dynamic programming"],
        "tags": ["Combinatorics"],
        "question": "A grid is given as a list of strings, '.' for a free cell and '#' for a wall. Moving only right or down from the top-left to the bottom-right cell, return the number of paths modulo 1000000007 (0 when a corner is a wall).\n\nExample: count_paths([\"..\", \"..\"]) returns 2.",
        "starter_code": "",
        "fn_name": "count_paths",
        "solution": "def count_paths(grid):\n    mod = 10 ** 9 + 7\n    w = len(grid[0])\n    ways = [0] * w\n    ways[0] = 1 if grid[0][0] == '.' else 0\n    for r, row in enumerate(grid):\n        for c in range(w):\n            if row[c] == '#':\n                ways[c] = 0\n            elif c > 0:\n                ways[c] = (ways[c] + ways[c - 1]) % mod\n    return ways[-1]\n",
        "inputs": [[["..", ".."]], [["...", ".#.", "..."]], [["#."]], [["." * 30] * 30]],
        "wrap": False,
    },
    {
        "name": "min-and-max",
        "difficulty": "EASY",
        "skill_types": [],
        "tags": ["Implementation"],
        "question": "Return the smallest and the largest element of a non-empty list, as a pair (smallest, largest).\n\nExample: min_max([3, 1, 2]) returns (1, 3).",
        "starter_code": "def min_max(values):\n\t",
        "fn_name": "min_max",
        "solution": "def min_max(values):\n    return min(values), max(values)\n",
        "inputs": [[[3, 1, 2]], [[5]], [[-1, -10, 4, 4]]],
        "wrap": True,
    },
]


def run_stdin(program: str, text: str) -> str:
    out = io.StringIO()
    old = sys.stdin
    sys.stdin = io.StringIO(text)
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(program, "solution", "exec"), {"__name__": "__main__"})
    finally:
        sys.stdin = old
    return out.getvalue()


def run_call(program: str, fn_name: str, args: list) -> object:
    namespace: dict = {"List": list}
    exec(compile(program, "solution", "exec"), namespace)
    target = namespace["Solution"]() if "Solution" in namespace else None
    function = getattr(target, fn_name) if target is not None else namespace[fn_name]
    value = function(*args)
    return list(value) if isinstance(value, tuple) else value


def row(problem: dict, tests: dict, starter: str = "") -> dict:
    return {
        "question": problem["question"],
        "solutions": json.dumps([problem["solution"]]),
        "starter_code": starter,
        "input_output": json.dumps(tests),
        "difficulty": problem["difficulty"],
        "skill_types": json.dumps(problem["skill_types"]),
        "tags": json.dumps(problem["tags"]),
        "name": problem["name"],
        "source": "redstar-sample",
    }


def main() -> None:
    rows = []
    for p in STDIN_PROBLEMS:
        outputs = [run_stdin(p["solution"], text) for text in p["inputs"]]
        rows.append(row(p, {"inputs": p["inputs"], "outputs": outputs}))
    for p in CALL_PROBLEMS:
        values = [run_call(p["solution"], p["fn_name"], args) for args in p["inputs"]]
        # TACO stores many return values wrapped in a one-element list; keep both forms.
        outputs = [[v] for v in values] if p["wrap"] else values
        rows.append(row(p, {"fn_name": p["fn_name"], "inputs": p["inputs"], "outputs": outputs}, p["starter_code"]))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(f"wrote {len(rows)} problems to {OUT}")


if __name__ == "__main__":
    main()
