"""The engine seam: results that come back in any order are put back in order, each job's seeds
travel with it, and Ctrl-C names the job it cut short."""

from __future__ import annotations

import pytest

from redstar.execution import Engine, EngineSampler, GenerateJob, LocalEngine, SamplerSpec
from redstar.interfaces import Completion, Sampler, SamplingParams
from redstar.records import Prompt, Verdict
from redstar.samplers.interrupted import SamplingInterrupted


class Backwards(Engine):
    """Finishes jobs last-first, as a cluster may; echoes what each job asked for."""

    def __init__(self):
        self.jobs = []

    def generate(self, spec, jobs):
        jobs = list(jobs)
        self.jobs += jobs
        for job in reversed(jobs):
            seeds = job.params.seeds or [[None] * job.params.n for _ in job.conversations]
            yield job, [[Completion(f"{conv[0]['content']}|{seed}") for seed in row]
                        for conv, row in zip(job.conversations, seeds)]

    def verify(self, jobs):
        for job in reversed(list(jobs)):
            yield job, [Verdict(response == prompt.reference, int(response == prompt.reference), "echo")
                        for response, prompt in job.items]


def test_engine_sampler_puts_chunks_back_in_order_with_their_seeds():
    engine = Backwards()
    sampler = EngineSampler(engine, SamplerSpec("any", "m"), chunk=3)
    conversations = [[{"role": "user", "content": f"q{i}"}] for i in range(8)]
    seeds = tuple((100 + i, 200 + i) for i in range(8))
    progress = []
    sampler.on_progress = lambda done, total: progress.append((done, total))
    out = sampler.generate(conversations, SamplingParams(n=2, seeds=seeds))
    assert [[c.text for c in row] for row in out] == [[f"q{i}|{100 + i}", f"q{i}|{200 + i}"] for i in range(8)]
    assert [len(j.conversations) for j in engine.jobs] == [3, 3, 2]
    assert progress[-1] == (16, 16) and len(progress) == 3


def test_engine_verifier_keeps_input_order_and_the_local_rendering():
    class Local:
        domain, instruction = "arith", "Box it."

        def messages(self, prompt):
            return [{"role": "user", "content": prompt.question + " " + self.instruction}]

    items = [(str(i % 3), Prompt(domain="arith", source="t", question=f"q{i}", reference="1")) for i in range(10)]
    verifier = Backwards().verifier(Local(), batch=4)
    assert [v.correct for v in verifier.verify_many(items)] == [i % 3 == 1 for i in range(10)]
    assert verifier.messages(items[0][1])[0]["content"] == "q0 Box it." and verifier.domain == "arith"


def test_local_engine_names_the_job_ctrl_c_cut_short():
    class HalfThenStop(Sampler):
        name = "half"

        def generate(self, conversations, params):
            raise SamplingInterrupted([[Completion("x"), None] for _ in conversations])

    engine = LocalEngine(build_sampler=lambda *a, **k: HalfThenStop("m"), verifiers=None)
    job = GenerateJob("key", [[{"role": "user", "content": "q"}]], SamplingParams(n=2))
    with pytest.raises(SamplingInterrupted) as stop:
        list(engine.generate(SamplerSpec("half", "m"), [job]))
    assert stop.value.job is job and stop.value.arrived == 1


def test_local_engine_builds_one_sampler_per_spec_and_closes_it():
    built, closed = [], []

    class Counting(Sampler):
        name = "counting"

        def generate(self, conversations, params):
            return [[Completion("a")] * params.n for _ in conversations]

        def close(self):
            closed.append(self)

    def build(kind, name, options, key, model):
        built.append((name, options.get("x"), model))
        return Counting(model)

    engine = LocalEngine(build_sampler=build, verifiers=None)
    jobs = [GenerateJob(i, [[{"role": "user", "content": "q"}]], SamplingParams()) for i in range(3)]
    for spec in (SamplerSpec("c", "m", {"x": 1}), SamplerSpec("c", "m", {"x": 1}), SamplerSpec("c", "m", {"x": 2})):
        assert [k.key for k, _ in engine.generate(spec, jobs)] == [0, 1, 2]
    engine.close()
    assert built == [("c", 1, "m"), ("c", 2, "m")] and len(closed) == 2


def test_the_engine_is_released_between_parts_of_a_run(tmp_path, arith_host, monkeypatch):
    """Sampler replicas (GPUs, or a model in memory) do not outlive curation: training gets the
    machine, and evaluation starts an engine of its own."""
    from redstar.pipeline import context
    from redstar.pipeline.runner import run_pipeline
    from redstar.progress import ProgressBoard
    from redstar.recipe import validate

    events = []
    real = context.engine_for

    def tracking(ctx):
        engine = real(ctx)
        events.append("start")
        close = engine.close
        engine.close = lambda: (events.append("close"), close())[1]
        return engine

    monkeypatch.setattr(context, "engine_for", tracking)
    recipe = validate({"name": "t", "models": {"teacher": "scripted-teacher", "student": "scripted-student"},
                       "sources": [{"name": "arith-gen", "options": {"count": 6}}],
                       "selection": {"min_level": 1, "max_level": 10}, "sampling": {"backend": "scripted", "n": 2},
                       "decontamination": {"enabled": False}, "sft": None})
    stages = []
    board = ProgressBoard(enabled=False)
    stage = board.stage
    board.stage = lambda name: (stages.append((name, list(events))), stage(name))[1]
    run_pipeline(recipe, tmp_path / "run", arith_host, board, until="report")
    engine_when = dict(stages)
    assert engine_when["verify"] == ["start"]  # sampling and verification share one engine
    assert engine_when["train"] == ["start", "close"]  # closed as curation ended
    assert events[-1] == "close"


def test_a_hung_verifier_is_interrupted_then_redone_or_named(arith_host, tmp_path):
    """A verification batch that runs past ``execution.task_timeout`` on the local engine is
    interrupted, its verifier built afresh and the batch redone; one that hangs every time
    stops the run with one line naming the batch and the verifier (never a hang)."""
    import time

    from arith_plugin import make_prompt

    from redstar.errors import RedStarError
    from redstar.execution import VerifyJob
    from redstar.plugins import instantiate
    from redstar.recipe import Execution
    from redstar.services import VerifierPool

    prompts = [make_prompt(2, i) for i in range(3)]
    items = [(f"\\boxed{{{2 + i}}}", p) for i, p in enumerate(prompts)]
    lines: list[str] = []

    def engine(**options):
        pool = VerifierPool(lambda domain: instantiate(arith_host.get("verifiers", domain), options))
        return LocalEngine(build_sampler=None, verifiers=pool, log=lines.append,
                           execution=Execution(task_timeout=0.5, max_retries=1))

    once = engine(hang_on="3", hang_once=str(tmp_path / "hung"))
    [(_, verdicts)] = list(once.verify([VerifyJob(prompts, items)]))
    assert [v.correct for v in verdicts] == [True, True, True]
    assert any("hung" in line and "redoing it" in line and "(verifier: arith)" in line for line in lines), lines

    started = time.monotonic()
    with pytest.raises(RedStarError) as stop:
        list(engine(hang_on="3").verify([VerifyJob(prompts, items)]))
    message = str(stop.value)
    assert "\n" not in message and "failed 2 times because it hung" in message, message
    assert f"starting at {prompts[0].id!r}" in message and "(verifier: arith)" in message, message
    assert time.monotonic() - started < 30  # two tries of 0.5 s, not the verifier's hour
