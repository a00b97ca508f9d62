"""Training text for the tiny embedded models, in exactly the conversation format the pipeline
sends: user content ``f"{question}\\n{instruction}"`` with the domain verifier's instruction, the
chat template of :mod:`redstar.tiny`, and the answer as the assistant turn.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from redstar_code.synthetic import CodeProblem
from redstar_math.synthetic import SyntheticMathProblem

#: The verifiers' instructions as the brief fixes them; :func:`instructions` prefers the
#: verifiers' own attributes when those packages are importable, so the two can never drift
#: apart silently (the build report records which were used, and a test compares them).
MATH_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."
CODE_INSTRUCTION = ("Please reason step by step, then give your complete Python 3 solution in a single "
                    "```python code block.")


def instructions() -> dict[str, str]:
    found = {"math": MATH_INSTRUCTION, "code": CODE_INSTRUCTION}
    try:
        from redstar_math.verifier import MathVerifier

        found["math"] = MathVerifier.instruction
    except ImportError:
        pass
    try:
        from redstar_code.verifier import CodeVerifier

        found["code"] = CodeVerifier.instruction
    except ImportError:
        pass
    return found


def user_message(question: str, instruction: str) -> list[dict[str, str]]:
    """The conversation :meth:`redstar.interfaces.Verifier.messages` builds for a prompt."""
    return [{"role": "user", "content": f"{question}\n{instruction}".strip()}]


@dataclass
class Example:
    """One training sequence: token ids and labels (-100 where no loss is taken)."""

    input_ids: list[int]
    labels: list[int]


def chat_example(tokenizer, question: str, instruction: str, answer: str) -> Example:
    """Tokenise a conversation; only the assistant's answer and its end-of-turn token carry loss."""
    prompt = user_message(question, instruction)
    prompt_ids = tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=True)
    full = tokenizer.apply_chat_template(prompt + [{"role": "assistant", "content": answer}], tokenize=True)
    prompt_ids, full = _ids(prompt_ids), _ids(full)
    if full[: len(prompt_ids)] != prompt_ids:
        raise ValueError("chat template does not extend the generation prompt; cannot mask the prompt")
    # The template ends the turn with "<|im_end|>\n"; the newline after the end token is not
    # something the model must learn to produce (generation stops at <|im_end|>).
    end = len(full) - 1 if tokenizer.convert_ids_to_tokens(full[-1]) != tokenizer.eos_token else len(full)
    full = full[:end]
    labels = [-100] * len(prompt_ids) + full[len(prompt_ids):]
    return Example(full, labels)


def text_example(tokenizer, text: str) -> Example:
    ids = _ids(tokenizer(text)["input_ids"])
    return Example(ids, list(ids))


def _ids(value) -> list[int]:
    # apply_chat_template(tokenize=True) returns a BatchEncoding in transformers 5, a list in 4.
    if hasattr(value, "keys"):
        value = value["input_ids"]
    return list(value)


def teacher_conversations(math: Sequence[SyntheticMathProblem], code: Sequence[CodeProblem],
                          instr: dict[str, str]) -> list[tuple[str, str, str]]:
    """(question, instruction, answer) in the teacher's slow-thinking style."""
    return ([(p.question, instr["math"], p.long_cot) for p in math]
            + [(p.question, instr["code"], p.long_cot) for p in code])


def student_conversations(math: Sequence[SyntheticMathProblem], code: Sequence[CodeProblem],
                          instr: dict[str, str]) -> list[tuple[str, str, str]]:
    """(question, instruction, answer) in the student base's fast-thinking style: the answer with
    no work shown, although the instruction asks for reasoning (as a base model would)."""
    return ([(p.question, instr["math"], p.short_answer) for p in math]
            + [(p.question, instr["code"], p.short_answer) for p in code])


def equations(problem: SyntheticMathProblem) -> list[str]:
    """A problem's computation, one equation per step ("68 + 26 = 94")."""
    out, value = [], problem.start
    for operation in problem.operations:
        result = operation.apply(value)
        out.append(f"{value} {operation.op} {operation.operand} = {result}")
        value = result
    return out


def arithmetic_texts(problems: Sequence[SyntheticMathProblem], seed: int, per_text: int = 4) -> list[str]:
    """Bare calculator tapes, one problem's chain of equations per line
    ("68 + 26 = 94, 94 - 44 = 50, ..."), shuffled and grouped ``per_text`` to a training text:
    arithmetic drill with no story around it, for both models."""
    tapes = [", ".join(equations(p)) for p in problems]
    random.Random(seed).shuffle(tapes)
    return ["\n".join(tapes[i:i + per_text]) for i in range(0, len(tapes), per_text)]


def worked_solutions(problems: Sequence[SyntheticMathProblem | CodeProblem]) -> list[str]:
    """Plain text, not a conversation: a question followed by its solution worked out step by step,
    as a textbook prints it ("Solution:\nMax starts with 63 shells.\nFirst, he loses 42: 63 - 42 =
    21. ..."). This is the student base's pretraining knowledge - the kind of text a real base model
    has read - taken from the same generator as the teacher's Long-CoT, less the slow-thinking
    parts: no ``<think>`` block, no self-check ("Wait, let me verify ..."), and never in the chat
    format. In a conversation the base answers at once (its chat data is
    :func:`student_conversations`); Long-CoT SFT has to teach it to think first, and to check."""
    return [f"{p.question}\nSolution:\n{plain_steps(p.long_cot)}" for p in problems]


def plain_steps(long_cot: str) -> str:
    """A Long-CoT answer without its ``<think>`` tags and self-check lines."""
    lines = [line for line in long_cot.splitlines()
             if line not in ("<think>", "</think>") and not line.startswith("Wait, let me")]
    return "\n".join(line for i, line in enumerate(lines) if line or (i and lines[i - 1]))
