"""Where a tiny teacher's code answers go wrong: part by part against the reference Long-CoT.

    . .venv/bin/activate
    python tools/tiny/diagnose_code.py [--model DIR] [--per-level 10] [--json out.json]

Asks the model (greedy, as the build report's held-out measurement does) the held-out code
problems, checks each answer with the code verifier, and compares its parts with the problem's
own ``long_cot`` (the text the teacher was trained to write):

- **plan**: the step lines inside ``<think>`` (copied from the question, one per step);
- **check**: the line "Wait, let me check the example: ... It gives N, as expected.";
- **program**: the ```python block (one commented statement per step).

For each level it prints the verified accuracy, the format rate, the fraction of answers whose
plan / check / program is exactly the reference one, and where the first mistake of a wrong
answer is: in the plan, in the program after a right plan, or nowhere textual (a program that
differs from the reference but still passes). Program mistakes after a right plan are classified
by their first differing line (the I/O or ``def`` header, a step's operator or constant, a
filter's test, the aggregation, the ``return``/``print``).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import TypedDict

ROOT = Path(__file__).resolve().parents[2]
for path in (ROOT / "tools", ROOT / "packages/redstar-math/src", ROOT / "packages/redstar-code/src"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import torch  # noqa: E402
from tiny import data  # noqa: E402
from tiny.evaluate import Checker, Item, ask, follows_format  # noqa: E402

from redstar_code.synthetic import generate_heldout_code_problems  # noqa: E402

DEFAULT_MODEL = ROOT / "packages/redstar-core/src/redstar/assets/models/tiny-teacher"
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


class Parts(TypedDict):
    intro: str | None
    plan: list[str]
    check: str | None
    program: str | None


def parts(text: str) -> Parts:
    """intro, plan lines, check line and program of a slow-style code answer (None where absent)."""
    think = text.split("</think>")[0].replace("<think>\n", "", 1)
    lines = [line for line in think.splitlines() if line]
    check = next((line for line in lines if line.startswith("Wait,")), None)
    before = lines[: lines.index(check)] if check in lines else lines
    block = BLOCK.search(text.split("</think>")[-1])
    return {"intro": before[0] if before else None, "plan": before[1:], "check": check,
            "program": block.group(1) if block else None}


def program_line_kind(line: str) -> str:
    s = line.strip()
    if s.startswith(("def ", "k = int(input())", "nums = list(", "n = int(input())")):
        return "header / input"
    if s.startswith(("return", "print")):
        return "return / print"
    if s.startswith("# "):
        return "step comment"
    if s.startswith("if ") or s == "else:":
        return "test (if)"
    if s.startswith("total = total + 1") or s.startswith("total = total + x") or s == "total = 0":
        return "aggregation"
    if s.startswith("for "):
        return "loop"
    if s.startswith(("x = ", "n = ", "total = ")):
        return "step arithmetic"
    return "other"


def first_difference(got: list[str], want: list[str]) -> tuple[int, str, str]:
    for i, (a, b) in enumerate(zip(got, want)):
        if a != b:
            return i, a, b
    n = min(len(got), len(want))
    return n, got[n] if n < len(got) else "<end>", want[n] if n < len(want) else "<end>"


def diagnose(model_dir: Path, per_level: int, levels=range(1, 11), max_new_tokens: int = 384) -> dict:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    problems = generate_heldout_code_problems(per_level, seed=0, levels=levels)
    items = [Item("code", p.question, p.input_output, p.level, {"fn_name": p.fn_name} if p.fn_name else {})
             for p in problems]
    start = time.time()
    outcomes = ask(model, tokenizer, items, data.instructions(), Checker(), slow=True,
                   max_new_tokens=max_new_tokens, do_sample=False)
    seconds = time.time() - start
    rows: dict[int, Counter] = defaultdict(Counter)
    program_errors: Counter = Counter()
    plan_errors: Counter = Counter()
    examples: list[dict] = []
    for problem, outcome in zip(problems, outcomes):
        got, want = parts(outcome.response), parts(problem.long_cot)
        row = rows[problem.level]
        row["n"] += 1
        row["correct"] += outcome.correct
        row["format"] += follows_format(outcome.response, "code", slow=True)
        row["truncated"] += not outcome.finished
        plan_ok = got["plan"] == want["plan"]
        check_ok = got["check"] == want["check"]
        program_ok = got["program"] == want["program"]
        row["plan_exact"] += plan_ok
        row["check_exact"] += check_ok
        row["program_exact"] += program_ok
        # The check's final value ("It gives N") right, whatever its trace.
        row["check_value"] += bool(got["check"] and want["check"]
                                   and got["check"].rsplit("It gives", 1)[-1] == want["check"].rsplit("It gives", 1)[-1])
        if outcome.correct:
            row["correct_plan_wrong"] += not plan_ok
            row["correct_check_wrong"] += not check_ok
            continue
        if not plan_ok:
            row["fail_in_plan"] += 1
            i, a, b = first_difference(got["plan"], want["plan"])
            plan_errors[_plan_error_kind(a, b)] += 1
            row["fail_in_plan_program_follows_question"] += program_ok
        elif got["program"] is None:
            row["fail_no_program"] += 1
        else:
            row["fail_in_program_after_right_plan"] += 1
            row["fail_in_program_check_wrong"] += not check_ok
            assert want["program"] is not None, "the teacher's answer always ends with its program"
            i, a, b = first_difference(got["program"].splitlines(), want["program"].splitlines())
            program_errors[program_line_kind(b)] += 1
            if len(examples) < 12:
                examples.append({"level": problem.level, "line": i, "got": a, "want": b})
    table = {level: dict(row) for level, row in sorted(rows.items())}
    return {"model": str(model_dir), "per_level": per_level, "seconds": round(seconds), "by_level": table,
            "plan_error_kinds": dict(plan_errors), "program_error_kinds": dict(program_errors),
            "program_error_examples": examples}


def _plan_error_kind(got: str, want: str) -> str:
    if got == "<end>" or want == "<end>":
        return "step missing or extra"
    gnum, wnum = re.findall(r"\d+", got), re.findall(r"\d+", want)
    gwords, wwords = re.sub(r"\d+", "#", got), re.sub(r"\d+", "#", want)
    if gwords == wwords:
        return "constant copied wrong"
    if gnum == wnum:
        return "wording (operation or test) wrong"
    return "both"


def render(result: dict) -> str:
    cols = ["n", "correct", "format", "truncated", "plan_exact", "check_exact", "check_value", "program_exact",
            "fail_in_plan", "fail_in_program_after_right_plan", "fail_in_program_check_wrong", "correct_check_wrong"]
    lines = ["| level | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    total: Counter = Counter()
    for level, row in result["by_level"].items():
        total.update(row)
        lines.append(f"| L{level} | " + " | ".join(str(row.get(c, 0)) for c in cols) + " |")
    lines.append("| all | " + " | ".join(str(total.get(c, 0)) for c in cols) + " |")
    lines += ["", f"plan error kinds: {result['plan_error_kinds']}",
              f"program error kinds (first differing line, after a right plan): {result['program_error_kinds']}"]
    for ex in result["program_error_examples"]:
        lines.append(f"  L{ex['level']} line {ex['line']}: got {ex['got']!r}, want {ex['want']!r}")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    p.add_argument("--per-level", type=int, default=10)
    p.add_argument("--levels", default="1-10")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    lo, _, hi = args.levels.partition("-")
    result = diagnose(args.model, args.per_level, range(int(lo), int(hi or lo) + 1))
    print(f"{result['model']}: {result['per_level']} held-out problems per level, greedy, {result['seconds']} s")
    print(render(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
