"""Plugins installed for real, for the tests of what RedStar does with a faulty one.

:func:`install` writes a distribution (``*.dist-info`` with a ``redstar`` entry point, and the
plugin's module) into a folder on ``sys.path``: ``importlib.metadata`` then finds the entry point
exactly as it finds one that pip installed, so the host loads the plugin through the same code
path a user's plugin takes. :data:`ADD_DOMAIN` is a complete small domain ("add": a source, a
scorer, a rule-based sampler, a verifier, a filter, a trainer, an evaluator); a test appends the
one mistake it is about (``ADD_DOMAIN + "HalfScorer.score = lambda self, prompts: 'many'"``).
"""

from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path

ADD_DOMAIN = '''
import re
import shutil

from redstar import hookimpl
from redstar.interfaces import Completion, Evaluator, Filter, Sampler, Scorer, Source, Trainer, TrainResult, Verifier
from redstar.records import Prompt, Verdict


def prompt(i):
    return Prompt(domain="add", source="add", question=f"What is {i} + {i}?", reference=str(2 * i), difficulty=5)


class AddSource(Source):
    name = "add"
    domain = "add"

    def load(self):
        for i in range(6):
            yield prompt(i)


class HalfScorer(Scorer):
    name = "half"

    def score(self, prompts):
        return [5.0 for _ in prompts]


class Adder(Sampler):
    name = "adder"

    def generate(self, conversations, params):
        out = []
        for conv in conversations:
            a = int(re.findall(r"\\d+", conv[-1]["content"])[0])
            out.append([Completion(f"<think>{a} and {a}, try {k}</think> Answer: {2 * a}") for k in range(params.n)])
        return out


class AddVerifier(Verifier):
    domain = "add"

    def extract(self, response):
        found = re.findall(r"Answer: (\\d+)", response)
        return found[-1] if found else None

    def verify(self, response, reference, metadata=None):
        answer = self.extract(response)
        if answer is None:
            return Verdict.no_answer()
        return Verdict.right(answer) if answer == reference else Verdict.wrong(answer)


class Quiet(Filter):
    name = "quiet"

    def check(self, response, prompt):
        return None


class CopyTrainer(Trainer):
    name = "copy"
    kind = "sft"

    def train(self, ctx):
        ctx.output_dir.mkdir(parents=True, exist_ok=True)
        (ctx.output_dir / "config.json").write_text("{}")
        return TrainResult(model_path=ctx.output_dir)


class AddBench(Evaluator):
    name = "add-bench"
    domain = "add"

    def load(self):
        return [prompt(100 + i) for i in range(3)]


@hookimpl
def redstar_register_sources(register):
    register(AddSource)


@hookimpl
def redstar_register_scorers(register):
    register(HalfScorer)


@hookimpl
def redstar_register_samplers(register):
    register(Adder)


@hookimpl
def redstar_register_verifiers(register):
    register(AddVerifier)


@hookimpl
def redstar_register_filters(register):
    register(Quiet)


@hookimpl
def redstar_register_trainers(register):
    register(CopyTrainer)


@hookimpl
def redstar_register_evaluators(register):
    register(AddBench)
'''

#: A run of the "add" domain that uses every component of it, up to curation.
ADD_RECIPE = """
name: add
models: {teacher: embedded:tiny-teacher, student: embedded:tiny-student}
sources: [{name: add}]
scoring: {scorer: half}
selection: {min_level: 1, max_level: 10}
decontamination: {enabled: false}
sampling: {backend: adder, n: 2, temperature: 1.0}
cleaning: {filters: [{name: quiet}]}
sft: {trainer: copy}
evaluation: {evaluators: [{name: add-bench}], backend: adder}
"""


def install(site: Path, entry: str, source: str, dist: str | None = None, version: str = "1.2.3") -> str:
    """Install the plugin module ``rs_<entry>`` with the entry point ``<entry> = rs_<entry>`` as
    the distribution ``redstar-<entry>`` (or ``dist``) in ``site``; returns the module's name."""
    module = f"rs_{entry}".replace("-", "_")
    dist = dist or f"redstar-{entry}"
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[redstar]\n{entry} = {module}\n")
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    sys.modules.pop(module, None)
    importlib.invalidate_caches()
    return module
