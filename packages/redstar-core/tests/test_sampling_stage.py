"""The sampling stage keeps what a Ctrl-C'd backend already returned, and refuses a backend that
returns copies at a temperature that asks for sampling."""


import pytest

from redstar import hookimpl
from redstar.interfaces import Completion, Sampler
from redstar.pipeline.run_tables import sample_rows
from redstar.pipeline.runner import run_pipeline
from redstar.progress import ProgressBoard
from redstar.recipe import load_recipe
from redstar.samplers.diversity import IdenticalSamplesError
from redstar.samplers.interrupted import SamplingInterrupted

RECIPE = """
name: sampling-stage
models: {teacher: t, student: s}
sources: [{name: arith-gen, options: {count: COUNT}}]
selection: {min_level: 1, max_level: 10}
sampling: {backend: BACKEND, n: 2, chunk_size: 100}
decontamination: {enabled: false}
sft: null
"""


class HalfThenCtrlC(Sampler):
    """Every prompt's first completion arrives; then Ctrl-C."""

    name = "half-then-ctrl-c"

    def generate(self, conversations, params):
        raise SamplingInterrupted([[Completion("<think>x</think> \\boxed{1}", "stop"), None] for _ in conversations])


class Copies(Sampler):
    """n copies of one long text per prompt: what a server that ignores temperature returns."""

    name = "copies"

    def generate(self, conversations, params):
        text = "<think>" + "the same reasoning every time " * 5 + "</think> \\boxed{3}"
        return [[Completion(text, "stop") for _ in range(params.n)] for _ in conversations]


class Samplers:
    @hookimpl
    def redstar_register_samplers(self, register):
        register(HalfThenCtrlC)
        register(Copies)


def run(tmp_path, host, backend, count=6):
    path = tmp_path / "r.yaml"
    path.write_text(RECIPE.replace("BACKEND", backend).replace("COUNT", str(count)))
    return run_pipeline(load_recipe(path), tmp_path / "run", host, ProgressBoard(enabled=False), until="curate")


def test_ctrl_c_keeps_every_completion_that_arrived(tmp_path, arith_host, register_plugin):
    register_plugin(Samplers(), name="samplers")
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, arith_host, "half-then-ctrl-c")
    rows = list(sample_rows(tmp_path / "run"))
    assert len(rows) == 6 and {r["index"] for r in rows} == {0}


def test_identical_samples_at_temperature_one_stop_the_run_before_they_are_stored(tmp_path, arith_host,
                                                                                   register_plugin):
    register_plugin(Samplers(), name="samplers")
    with pytest.raises(IdenticalSamplesError, match="copies"):
        run(tmp_path, arith_host, "copies")
    assert list(sample_rows(tmp_path / "run")) == []
