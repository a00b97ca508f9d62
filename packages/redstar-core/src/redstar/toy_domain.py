"""A toy domain for testing plugins that are not domains: a sampler, a scorer, a cleaning filter,
a pipeline stage each need prompts, a verifier and a teacher to run in, and none of them should
need a real domain (or a model) installed for its tests.

The ``toy`` domain asks for sums (``What is 12 + 7?``, difficulty 1-10 by the number of digits)
and wants a last line ``Answer: N``. Its teacher, the ``toy-teacher`` sampler, is a program, not
a model: each completion is drawn from its own seed (``params.seeds``), right about 60% of the
time, wrong 25%, without an answer 15%, and always right at temperature 0. The ``redstar.testing``
fixture ``toy_domain`` registers all of it and writes recipes that run it on the embedded tiny
models' names, so ``redstar run --until curate`` finishes in seconds.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from redstar import hookimpl
from redstar.interfaces import Completion, Evaluator, Messages, Sampler, SamplingParams, Source, Verifier
from redstar.records import Prompt, Verdict

DOMAIN = "toy"
ANSWER = re.compile(r"Answer:\s*(-?\d+)")


def toy_prompt(a: int, b: int, source: str = "toy") -> Prompt:
    level = min(10, len(str(a)) + len(str(b)) - 1)
    return Prompt(domain=DOMAIN, source=source, question=f"What is {a} + {b}?", reference=str(a + b),
                  difficulty=float(level), metadata={"group": f"level {level}"})


class ToySource(Source):
    """``count`` sums of growing size (difficulty 1-10)."""

    name = "toy"
    domain = DOMAIN

    def __init__(self, count: int = 20) -> None:
        if count < 1:
            raise ValueError(f"count must be at least 1, got {count}")
        self.count = count

    def load(self) -> Iterator[Prompt]:
        for i in range(self.count):
            digits = 1 + i % 6
            yield toy_prompt(10 ** (digits - 1) + 7 * i, 3 + 11 * i)


class ToyVerifier(Verifier):
    domain = DOMAIN
    instruction = "End with a last line 'Answer: N'."

    def extract(self, response: str) -> str | None:
        found = ANSWER.findall(response)
        return found[-1] if found else None

    def verify(self, response: str, reference: str, metadata: Mapping[str, Any] | None = None) -> Verdict:
        answer = self.extract(response)
        if answer is None:
            return Verdict.no_answer()
        return Verdict.right(answer) if answer == reference else Verdict.wrong(answer)


class ToyTeacher(Sampler):
    """Answers ``What is a + b?`` from each completion's own seed (see the module docstring)."""

    name = "toy-teacher"

    def generate(self, conversations: Sequence[Messages], params: SamplingParams) -> list[list[Completion]]:
        out = []
        for c, conversation in enumerate(conversations):
            content = conversation[-1]["content"]
            text = content if isinstance(content, str) else " ".join(p.get("text", "") for p in content)
            a, b = (int(x) for x in re.findall(r"\d+", text)[:2])
            seeds = params.seeds[c] if params.seeds is not None else [(params.seed or 0) + k for k in range(params.n)]
            out.append([self._one(a, b, seed, params) for seed in seeds[: params.n]])
            if self.on_progress is not None:
                self.on_progress((c + 1) * params.n, len(conversations) * params.n)
        return out

    @staticmethod
    def _one(a: int, b: int, seed: int, params: SamplingParams) -> Completion:
        draw = random.Random(seed).random() if params.temperature > 0 else 0.0
        steps = f"<think>{a} plus {b}: add the units, carry, add the tens ({seed % 997}).</think>\n"
        if draw < 0.6:
            return Completion(f"{steps}Answer: {a + b}")
        if draw < 0.85:
            return Completion(f"{steps}Answer: {a + b + 1 + seed % 9}")
        return Completion(f"{steps}It is about {a + b}.")


class ToyBench(Evaluator):
    """Six held-out sums."""

    name = "toy-bench"
    domain = DOMAIN

    def __init__(self, path: str | None = None, limit: int | None = None) -> None:
        self.path, self.limit = path, limit

    def load(self) -> list[Prompt]:
        return [toy_prompt(500 + i, 250 + 3 * i, source=self.name) for i in range(6)][: self.limit]


class ToyPlugin:
    """The toy domain as a plugin object (``register_plugin(ToyPlugin(), name="toy")``)."""

    @hookimpl
    def redstar_register_sources(self, register: Any) -> None:
        register(ToySource)

    @hookimpl
    def redstar_register_verifiers(self, register: Any) -> None:
        register(ToyVerifier)

    @hookimpl
    def redstar_register_samplers(self, register: Any) -> None:
        register(ToyTeacher)

    @hookimpl
    def redstar_register_evaluators(self, register: Any) -> None:
        register(ToyBench)


#: The recipe :meth:`ToyDomain.recipe` starts from: curation of the toy domain, no training.
TOY_RECIPE: dict[str, Any] = {
    "name": "toy",
    "models": {"teacher": "embedded:tiny-teacher", "student": "embedded:tiny-student"},
    "sources": [{"name": "toy", "options": {"count": 20}}],
    "selection": {"min_level": 1, "max_level": 10},
    "decontamination": {"enabled": False},
    "sampling": {"backend": "toy-teacher", "n": 2},
    "sft": None,
    "evaluation": {"evaluators": []},
}


def _merged(base: dict[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in changes.items():
        out[key] = _merged(out[key], value) if isinstance(value, Mapping) and isinstance(out.get(key), dict) \
            else value
    return out


class ToyDomain:
    """What the ``toy_domain`` fixture returns: ``recipe(path, **changes)`` writes a recipe of the
    toy domain (:data:`TOY_RECIPE` with ``changes`` merged in, mappings key by key) and returns
    its path."""

    def recipe(self, path: str | Path, **changes: Any) -> Path:
        path = Path(path)
        path.write_text(yaml.safe_dump(_merged(TOY_RECIPE, changes), sort_keys=False), encoding="utf-8")
        return path
