"""Sampling the tiny models and checking their answers, for the build report and experiments.

Checks use the real verifiers (``redstar_math.verifier.MathVerifier``,
``redstar_code.verifier.CodeVerifier``) when those are installed; otherwise a stand-in with the
same contract: the last ``\\boxed{}`` compared exactly with the reference (math), or the last
```python block run in a plain subprocess against the TACO tests (code). Which one ran is
recorded in every report.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import torch
from tiny.data import user_message

BOXED = re.compile(r"\\boxed\{([^{}]*)\}")
PYTHON_BLOCK = re.compile(r"```python\n(.*?)```", re.S)


@dataclass
class Item:
    """A problem to ask: domain, question, reference (answer or TACO JSON), level."""

    domain: str
    question: str
    reference: str
    level: int
    metadata: dict | None = None


@dataclass
class Outcome:
    item: Item
    response: str
    finished: bool
    correct: bool
    reward: int
    follows_format: bool


def generate(model, tokenizer, conversations: Sequence[list[dict] | str], *, max_new_tokens: int, do_sample: bool,
             temperature: float = 1.0, batch_size: int = 32, seed: int = 0) -> list[tuple[str, bool]]:
    """(text, finished) per conversation (or plain-text prompt, a ``str``), with plain
    ``model.generate``; finished is False when generation hit ``max_new_tokens``."""
    tokenizer.padding_side = "left"
    prompts = [c if isinstance(c, str) else tokenizer.apply_chat_template(c, add_generation_prompt=True, tokenize=False)
               for c in conversations]
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    results: list[tuple[str, bool] | None] = [None] * len(prompts)
    torch.manual_seed(seed)
    eos = tokenizer.eos_token_id
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        enc = tokenizer([prompts[i] for i in chunk], return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.no_grad():
            out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=do_sample,
                                 temperature=temperature if do_sample else None, top_p=1.0 if do_sample else None,
                                 top_k=0 if do_sample else None, pad_token_id=tokenizer.pad_token_id,
                                 eos_token_id=eos)
        for row, i in enumerate(chunk):
            new = out[row, enc["input_ids"].shape[1]:].tolist()
            finished = eos in new
            if finished:
                new = new[: new.index(eos)]
            results[i] = (tokenizer.decode(new, skip_special_tokens=False).replace(tokenizer.pad_token, ""), finished)
    return results  # type: ignore[return-value]


_HARNESS = r"""
import contextlib, io, json, sys
job = json.loads(sys.stdin.read())
tests = json.loads(job["input_output"])
fn_name = tests.get("fn_name")
passed = []
for given, expected in zip(tests["inputs"], tests["outputs"]):
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            if fn_name:
                namespace = {"__name__": "solution"}
                exec(job["code"], namespace)
                ok = namespace[fn_name](*given) == expected
            else:
                sys.stdin = io.StringIO(given)
                exec(job["code"], {"__name__": "__main__"})
                ok = out.getvalue().split() == expected.split()
    except BaseException:
        ok = False
    passed.append(bool(ok))
sys.__stdout__.write("\nRESULT " + json.dumps(passed) + "\n")
"""


def run_code(code: str, input_output: str, timeout: float = 5.0) -> bool:
    """Stand-in code check: all TACO tests pass in a plain subprocess (no sandbox)."""
    try:
        done = subprocess.run([sys.executable, "-c", _HARNESS], input=json.dumps({"code": code, "input_output": input_output}),
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False
    marker = done.stdout.rfind("RESULT ")
    if marker < 0:
        return False
    passed = json.loads(done.stdout[marker + len("RESULT "):])
    return bool(passed) and all(passed)


class Checker:
    """Verdicts for (response, item) pairs, through the real verifiers when installed."""

    def __init__(self) -> None:
        self.math = self.code = None
        try:
            from redstar_math.verifier import MathVerifier

            self.math = MathVerifier()
        except ImportError:
            pass
        try:
            from redstar_code.verifier import CodeVerifier

            self.code = CodeVerifier()
        except ImportError:
            pass

    @property
    def description(self) -> dict[str, str]:
        return {"math": "redstar_math.verifier.MathVerifier" if self.math else "stand-in: exact match of the last \\boxed{}",
                "code": "redstar_code.verifier.CodeVerifier" if self.code else "stand-in: TACO tests in a plain subprocess"}

    def check(self, response: str, item: Item) -> tuple[bool, int]:
        """(correct, reward) with reward 1 / 0 / -1 as the verifiers define it."""
        verifier = self.math if item.domain == "math" else self.code
        if verifier is not None:
            from redstar.records import Prompt

            prompt = Prompt(domain=item.domain, source="tiny-build", question=item.question, reference=item.reference,
                            metadata=item.metadata or {})
            verdict = verifier.verify(response, prompt.reference, prompt.metadata)
            return verdict.correct, verdict.reward
        if item.domain == "math":
            answers = BOXED.findall(response)
            if not answers:
                return False, -1
            return (answers[-1].strip() == item.reference, 1 if answers[-1].strip() == item.reference else 0)
        blocks = PYTHON_BLOCK.findall(response)
        if not blocks:
            return False, -1
        ok = run_code(blocks[-1], item.reference)
        return ok, 1 if ok else 0


def follows_format(response: str, domain: str, slow: bool) -> bool:
    """Whether a response has the shape of its style: ``<think>...</think>`` then the answer
    (slow), or the answer alone (fast)."""
    answer = r"The answer is \\boxed\{[^{}]+\}\." if domain == "math" else r"```python\n.*```"
    if slow:
        return re.fullmatch(r"<think>\n.*\n</think>\n\n" + answer, response, re.S) is not None
    return re.fullmatch(answer, response, re.S) is not None


#: Where a worked solution in plain text ends: its first answer (plain text has no end-of-turn).
FIRST_ANSWER = {"math": re.compile(r"\\boxed\{[^{}]*\}\.?"), "code": re.compile(r"```python\n.*?```", re.S)}


def ask(model, tokenizer, items: Sequence[Item], instructions: dict[str, str], checker: Checker, *, slow: bool,
        max_new_tokens: int, do_sample: bool, temperature: float = 1.0, seed: int = 0,
        batch_size: int = 32, plain: bool = False) -> list[Outcome]:
    """Ask each item as the pipeline does (a chat turn with the domain's instruction), or with
    ``plain=True`` as plain text, ``"{question}\\nSolution:\\n"``, the layout of the student's
    pretraining worked solutions - what it knows, outside a conversation."""
    if plain:
        prompts: list = [f"{item.question}\nSolution:\n" for item in items]
    else:
        prompts = [user_message(item.question, instructions[item.domain]) for item in items]
    texts = generate(model, tokenizer, prompts, max_new_tokens=max_new_tokens, do_sample=do_sample,
                     temperature=temperature, seed=seed, batch_size=batch_size)
    if plain:
        texts = [_through_first_answer(text, finished, item.domain) for (text, finished), item in zip(texts, items)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        verdicts = list(pool.map(lambda pair: checker.check(pair[0][0], pair[1]), zip(texts, items)))
    return [Outcome(item, text, finished, correct, reward, follows_format(text, item.domain, slow))
            for item, (text, finished), (correct, reward) in zip(items, texts, verdicts)]


def _through_first_answer(text: str, finished: bool, domain: str) -> tuple[str, bool]:
    found = FIRST_ANSWER[domain].search(text)
    return (text[: found.end()], True) if found else (text, finished)


def by_level(outcomes: Sequence[Outcome]) -> dict[str, dict[int, dict[str, float]]]:
    """domain -> level -> {n, accuracy, format, truncated, no_answer} (fractions)."""
    table: dict[str, dict[int, list[Outcome]]] = defaultdict(lambda: defaultdict(list))
    for outcome in outcomes:
        table[outcome.item.domain][outcome.item.level].append(outcome)
    return {
        domain: {
            level: {
                "n": len(group),
                "accuracy": round(sum(o.correct for o in group) / len(group), 3),
                "format": round(sum(o.follows_format for o in group) / len(group), 3),
                "truncated": round(sum(not o.finished for o in group) / len(group), 3),
                "no_answer": round(sum(o.reward == -1 for o in group) / len(group), 3),
            }
            for level, group in sorted(levels.items())
        }
        for domain, levels in table.items()
    }
