"""How a synthetic code problem is written out: its steps in words, the question with its
example, the teacher's explicit program and reasoning (``long_cot``) and the student base's
compressed program (``short_answer``)."""

from __future__ import annotations

from collections.abc import Sequence

from redstar_code.synthetic_problem import (
    CALL,
    SCALAR,
    STDIN,
    Arith,
    BranchStage,
    MapStage,
    Stage,
    _as_numbers,
)

#: Steps are numbered by ordinal words in the statement, the plan and the program's comments:
#: natural, and a unique token by which a small model finds the step it is working on.
ORDINALS = ("First", "Second", "Third", "Fourth", "Fifth", "Sixth", "Seventh", "Eighth", "Ninth", "Tenth")


def _statement(shape: str, stages: Sequence[Stage], aggregate: str | None, after: Sequence[Arith]) -> list[str]:
    """The steps in words, one clause per step."""
    if shape == SCALAR:
        return [step.words("it") for step in after]
    steps = [stage.words() for stage in stages]
    steps.append("add them up" if aggregate == "sum" else "count them")
    steps.extend(step.words("the total") for step in after)
    return steps


def _numbered(steps: list[str]) -> str:
    """ "First, add 7 to it. Second, multiply it by 3." """
    return " ".join(f"{ordinal}, {step}." for ordinal, step in zip(ORDINALS, steps))


def _question(shape: str, io: str, fn_name: str | None, steps: list[str], example: int | list[int],
              expected: int) -> str:
    what = f"Take {'an integer n' if shape == SCALAR else 'a list of integers'}. {_numbered(steps)}"
    if io == STDIN:
        if shape == SCALAR:
            how = "Read n from standard input and print the result."
            example_text = f"Example input:\n{example}\nExample output:\n{expected}"
        else:
            how = ("The input has the count of numbers on the first line and the numbers on the second line. "
                   "Print the result.")
            numbers = _as_numbers(example)
            example_text = f"Example input:\n{len(numbers)}\n{' '.join(map(str, numbers))}\nExample output:\n{expected}"
    else:
        arg = "n" if shape == SCALAR else "nums"
        how = f"Write a function {fn_name}({arg}) that returns the result."
        example_text = f"Example: {fn_name}({example!r}) returns {expected}."
    return f"{what}\n{how}\n{example_text}"


def _explicit_program(shape: str, io: str, fn_name: str | None, stages: Sequence[Stage], aggregate: str | None,
                      after: Sequence[Arith]) -> str:
    """The teacher's program: one statement per step, each under a comment naming its step
    ("# Second"), and an explicit loop."""
    lines: list[str] = []
    ordinals = iter(ORDINALS)
    pad = "    " if io == CALL else ""
    if shape == SCALAR:
        lines.append(f"def {fn_name}(n):" if io == CALL else "n = int(input())")
        for step in after:
            lines += [f"{pad}# {next(ordinals)}", f"{pad}n = {step.expr('n')}"]
        lines.append(f"{pad}return n" if io == CALL else "print(n)")
        return "\n".join(lines) + "\n"
    if io == CALL:
        lines.append(f"def {fn_name}(nums):")
    else:
        lines.append("k = int(input())")
        lines.append("nums = list(map(int, input().split()))")
    lines.append(f"{pad}total = 0")
    lines.append(f"{pad}for x in nums:")
    indent = pad + "    "
    for stage in stages:
        lines.append(f"{indent}# {next(ordinals)}")
        if isinstance(stage, MapStage):
            lines.append(f"{indent}x = {stage.then.expr('x')}")
        elif isinstance(stage, BranchStage):
            lines.append(f"{indent}if {stage.test.expr('x')}:")
            lines.append(f"{indent}    x = {stage.then.expr('x')}")
            lines.append(f"{indent}else:")
            lines.append(f"{indent}    x = {stage.otherwise.expr('x')}")
        else:
            lines.append(f"{indent}if {stage.test.expr('x')}:")
            indent += "    "
    lines.append(f"{indent}# {next(ordinals)}")
    lines.append(f"{indent}total = total + {'x' if aggregate == 'sum' else '1'}")
    for step in after:
        lines += [f"{pad}# {next(ordinals)}", f"{pad}total = {step.expr('total')}"]
    lines.append(f"{pad}return total" if io == CALL else "print(total)")
    return "\n".join(lines) + "\n"


def _nested(expr: str, steps: Sequence[Arith]) -> str:
    for step in steps:
        expr = step.expr(f"({expr})" if " " in expr else expr)
    return expr


def _compact_program(shape: str, io: str, fn_name: str | None, stages: Sequence[Stage], aggregate: str | None,
                     after: Sequence[Arith]) -> str:
    """The student base's program: the steps compressed into nested expressions."""
    if shape == SCALAR:
        if io == CALL:
            return f"def {fn_name}(n):\n    return {_nested('n', after)}\n"
        return f"print({_nested('int(input())', after)})\n"
    lines = [] if io == CALL else ["input()", "nums = list(map(int, input().split()))"]
    for stage in stages:
        if isinstance(stage, MapStage):
            lines.append(f"nums = [{stage.then.expr('x')} for x in nums]")
        elif isinstance(stage, BranchStage):
            lines.append(f"nums = [{stage.then.expr('x')} if {stage.test.expr('x')} else {stage.otherwise.expr('x')} "
                         "for x in nums]")
        else:
            lines.append(f"nums = [x for x in nums if {stage.test.expr('x')}]")
    result = _nested("sum(nums)" if aggregate == "sum" else "len(nums)", after)
    if io == CALL:
        return f"def {fn_name}(nums):\n" + "".join(f"    {line}\n" for line in lines) + f"    return {result}\n"
    return "\n".join(lines) + f"\nprint({result})\n"


def _long_cot(shape: str, steps: list[str], trace: str, expected: int, program: str) -> str:
    intro = ("The input is one integer; I apply the steps in order." if shape == SCALAR else
             "The input is a list of numbers; I can do every step in one loop with a running total.")
    plan = "\n".join(f"{ordinal}, {step}." for ordinal, step in zip(ORDINALS, steps))
    check = f"Wait, let me check the example: {trace}. It gives {expected}, as expected."
    return f"<think>\n{intro}\n{plan}\n{check}\n</think>\n\n```python\n{program}```"
