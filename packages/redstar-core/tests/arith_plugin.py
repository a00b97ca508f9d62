"""A small, complete third-party plugin used by core's tests: an "arith" domain with a source,
a verifier, an evaluator and a scripted teacher.

The scripted teacher (``scripted`` sampler) is a deterministic program, not a language model: it
answers ``a + b`` correctly, wrongly, without a boxed answer, or in a loop, chosen by a hash of
(prompt, sample index). It exists so the pipeline's bookkeeping (resume, selection, cleaning,
pairing) can be tested with known outcomes; the end-to-end tests in ``tests/`` use real models.
"""

from __future__ import annotations

import hashlib
import os
import re
import time

from redstar import hookimpl
from redstar.interfaces import Completion, Evaluator, Sampler, Source, Verifier
from redstar.records import Prompt, Verdict


def make_prompt(a: int, b: int, source: str = "arith-gen", pad: int = 0) -> Prompt:
    level = min(10, 1 + len(str(a)) + len(str(b)))
    # ``pad`` spaces after the answer make a long reference (as code's tests are) that means the same
    return Prompt(domain="arith", source=source, question=f"What is {a} + {b}?", reference=str(a + b) + " " * pad,
                  difficulty=level, metadata={"group": f"level {level}"})


class ArithSource(Source):
    name = "arith-gen"
    domain = "arith"

    def __init__(self, count: int = 40, seed: int = 0, pad: int = 0) -> None:
        self.count, self.seed, self.pad = count, seed, pad

    def load(self):
        for i in range(self.count):
            a = (i * 7919 + self.seed * 104729) % (10 ** (1 + i % 5))
            b = (i * 15485863 + self.seed) % (10 ** (1 + (i // 5) % 5))
            yield make_prompt(a, b, pad=self.pad)


class ArithVerifier(Verifier):
    """The boxed answer against the sum.

    Args:
        hang_on: A reference (a sum) on whose responses ``verify`` hangs (sleeps an hour): a
            verifier stuck on one prompt.
        hang_once: A marker file: with ``hang_on``, hang only the first time (the file is
            created then), as a verifier that got stuck once would.
    """

    domain = "arith"
    instruction = "Put the answer in \\boxed{}."

    def __init__(self, hang_on: str | None = None, hang_once: str | None = None) -> None:
        self.hang_on, self.hang_once = hang_on, hang_once

    def extract(self, response):
        found = re.findall(r"\\boxed\{([^{}]*)\}", response)
        return found[-1].strip() if found else None

    def verify(self, response, reference, metadata=None):
        if self.hang_on is not None and reference.strip() == self.hang_on and (
                self.hang_once is None or _first(self.hang_once)):
            time.sleep(3600)
        answer = self.extract(response)
        if answer is None:
            return Verdict.no_answer()
        return Verdict.right(answer) if answer == reference.strip() else Verdict.wrong(answer)


class ArithHeldout(Evaluator):
    name = "arith-heldout"
    domain = "arith"

    def __init__(self, count: int = 6, start: int = 1000) -> None:
        self.count, self.start = count, start

    def load(self):
        return [make_prompt(self.start + i, 2000 + 3 * i, source="heldout") for i in range(self.count)]


def _first(marker: str) -> bool:
    """True the first time only (the marker file is created then), across processes."""
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        return True
    except FileExistsError:
        return False


def _kind(text: str, index: int) -> int:
    return int(hashlib.sha256(f"{text}|{index}".encode()).hexdigest(), 16) % 6


class ScriptedTeacher(Sampler):
    """Deterministic answers of four kinds; ``delay`` seconds per call makes kill tests possible."""

    name = "scripted"

    def __init__(self, model: str, delay: float = 0.0) -> None:
        super().__init__(model)
        self.delay = delay
        self.calls = 0

    def generate(self, conversations, params):
        self.calls += 1
        if self.delay:
            time.sleep(self.delay)
        out = []
        for conv in conversations:
            text = conv[-1]["content"]
            a, b = map(int, re.findall(r"\d+", text)[:2])
            completions = []
            for i in range(params.n):
                kind = _kind(text + os.environ.get("ARITH_SALT", ""), i + 100 * self.calls)
                if kind <= 2:
                    body = f"<think>{a} plus {b}. Wait, let me verify: {a + b} - {b} = {a}.</think> \\boxed{{{a + b}}}"
                elif kind == 3:
                    body = f"<think>{a} plus {b} is about {a + b + 1}.</think> \\boxed{{{a + b + 1}}}"
                elif kind == 4:
                    body = f"<think>I think it is {a + b}</think> so the answer is {a + b}"
                else:
                    body = "<think>" + "again and again " * 60 + "</think> \\boxed{" + str(a + b) + "}"
                completions.append(Completion(body, "stop"))
            out.append(completions)
        return out


@hookimpl
def redstar_register_sources(register):
    register(ArithSource)


@hookimpl
def redstar_register_verifiers(register):
    register(ArithVerifier)


@hookimpl
def redstar_register_evaluators(register):
    register(ArithHeldout)


@hookimpl
def redstar_register_samplers(register):
    register(ScriptedTeacher)


@hookimpl
def redstar_default_recipe():
    return {"sources": [{"name": "arith-gen", "options": {"count": 30}}],
            "selection": {"domains": {"arith": {"min_level": 1, "max_level": 10}}},
            "evaluation": {"evaluators": [{"name": "arith-heldout", "options": {}}]}}
