"""An RL step's own prompts (``rl[].prompts``): the model it starts from is sampled, judged, and
only the prompts it sometimes solves reach the trainer; the same responses give the student's own
preference pairs; the step is recorded, counted in the funnel, resumed without redrawing, and
checked against the trainer before a run starts.

The starting model is sampled with the evaluation backend, here the arith plugin's scripted
sampler (right, wrong, no answer or a loop by a hash), so every prompt's pass rate is known from
the stored responses; the trainers are recorders that keep the file they were given."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace

import pytest

from redstar import hookimpl
from redstar.errors import RecipeError
from redstar.interfaces import Trainer, TrainResult
from redstar.pipeline.runner import run_pipeline
from redstar.progress import ProgressBoard
from redstar.recipe import validate
from redstar.samplers.interrupted import SamplingInterrupted
from redstar.tables import ShardedTable

SEEN: dict[str, list[dict]] = {}


class RecordOnline(Trainer):
    """An online trainer that keeps the rows it was handed and returns its starting model."""

    name = "record-online"
    kind = "online"

    def __init__(self, temperature: float = 0.7, max_new_tokens: int = 16) -> None:
        self.temperature, self.max_new_tokens = temperature, max_new_tokens

    def train(self, ctx):
        SEEN[self.name] = [json.loads(line) for line in Path(ctx.data_file).read_text().splitlines()]
        return TrainResult(model_path=Path(ctx.model))


class RecordPairs(RecordOnline):
    name = "record-pairs"
    kind = "preference"


class RecordSFT(RecordOnline):
    name = "record-sft"
    kind = "sft"


class Stopping:
    """The scripted sampler, interrupted (Ctrl-C) on its second call while ``armed``."""

    armed = False

    @staticmethod
    def plugin():
        import arith_plugin

        class StoppingSampler(arith_plugin.ScriptedTeacher):
            name = "stopping"

            def generate(self, conversations, params):
                out = super().generate(conversations, params)
                if Stopping.armed and self.calls == 2:
                    half = [row[:1] + [None] * (len(row) - 1) for row in out]
                    raise SamplingInterrupted(half)
                return out

        return StoppingSampler


class Plugin:
    @hookimpl
    def redstar_register_trainers(self, register):
        register(RecordOnline)
        register(RecordPairs)
        register(RecordSFT)

    @hookimpl
    def redstar_register_samplers(self, register):
        register(Stopping.plugin())


@pytest.fixture
def host(arith_host, register_plugin):
    register_plugin(Plugin(), name="recorders")
    SEEN.clear()
    return arith_host


def recipe(student, backend="scripted", **over):
    data = {
        "name": "rl-prompts",
        "models": {"teacher": "scripted", "student": str(student)},
        "sources": [{"name": "arith-gen", "options": {"count": 24}}],
        "selection": {"min_level": 1, "max_level": 10},
        "sampling": {"backend": "scripted", "n": 2},
        "sft": None,
        "rl": [{"trainer": "record-online", "prompts": {"n": 4}},
               {"trainer": "record-pairs", "prompts": {"n": 4}, "pairs": "student"}],
        "evaluation": {"evaluators": [{"name": "arith-heldout", "options": {"count": 2}}], "backend": backend},
    }
    data.update(over)
    return validate(data)


def stored(out: Path, tag: str) -> dict[str, list[dict]]:
    by_prompt: dict[str, list[dict]] = defaultdict(list)
    for row in ShardedTable(out / "rl-prompts" / tag / "samples").rows():
        by_prompt[row["prompt_id"]].append(row)
    return by_prompt


def test_the_trainer_gets_the_prompts_its_starting_model_sometimes_solves(tmp_path, host, tiny_lm):
    out = tmp_path / "run"
    summary = run_pipeline(recipe(tiny_lm), out, host, ProgressBoard(enabled=False), until="train")
    online = [json.loads(line) for line in (out / "online.jsonl").read_text().splitlines()]
    responses = stored(out, "record-online")
    assert set(responses) == {row["prompt_id"] for row in online}
    assert all(sorted(r["index"] for r in rows) == [0, 1, 2, 3] for rows in responses.values())
    rates = {pid: sum(r["reward"] == 1 for r in rows) / 4 for pid, rows in responses.items()}
    mixed = [row["prompt_id"] for row in online if 0 < rates[row["prompt_id"]] < 1]
    assert 0 < len(mixed) < len(online)  # the scripted model solves some prompts always, some never
    # The trainer got exactly those, in the run's order, as online rows.
    assert [row["prompt_id"] for row in SEEN["record-online"]] == mixed
    assert SEEN["record-online"][0].keys() == online[0].keys()

    counts = json.loads((out / "state.json").read_text())["stages"]["train:rl:0:prompts"]["counts"]
    assert counts["prompts"] == len(online) and counts["samples"] == 4 * len(online)
    assert counts["kept"] == len(mixed)
    assert counts["all_right"] == sum(r == 1 for r in rates.values())
    assert counts["all_wrong"] == sum(r == 0 for r in rates.values())
    assert counts["pass_rate"] == pytest.approx(sum(rates.values()) / len(rates))
    # It joins the run's funnel, after the stages' own prompt rows.
    assert ["rl[0]: prompts its starting model sometimes solves", len(mixed)] in summary["funnel"]
    assert ["rl[0]: prompts its starting model sometimes solves", len(mixed)] in summary["funnel_by_domain"]["arith"]
    assert summary["funnel"][-1][0] == "rl[1]: prompts its starting model sometimes solves"


def test_the_students_own_pairs_are_its_right_and_wrong_answers(tmp_path, host, tiny_lm):
    out = tmp_path / "run"
    run_pipeline(recipe(tiny_lm), out, host, ProgressBoard(enabled=False), until="train")
    responses = stored(out, "record-pairs")
    pairs = SEEN["record-pairs"]
    assert pairs and len(pairs) == json.loads((out / "state.json").read_text())["stages"][
        "train:rl:1:prompts"]["counts"]["pairs"]
    for pair in pairs:
        rows = {r["response"]: r["reward"] for r in responses[pair["prompt_id"]]}
        assert rows[pair["chosen"][0]["content"]] == 1.0 and rows[pair["rejected"][0]["content"]] < 1.0
        assert pair["prompt"][-1]["role"] == "user"
    # One pair (preference.pairs_per_prompt) for every prompt it sometimes solved, and only those.
    mixed = {pid for pid, rows in responses.items() if 0 < sum(r["reward"] == 1 for r in rows) < 4}
    assert [p["prompt_id"] for p in pairs] == sorted(mixed, key=[p["prompt_id"] for p in pairs].index)
    assert {p["prompt_id"] for p in pairs} == mixed


def test_an_interrupted_prompts_step_resumes_drawing_only_the_missing_responses(tmp_path, host, tiny_lm):
    out = tmp_path / "run"
    rl = [{"trainer": "record-online", "prompts": {"n": 4}}]
    Stopping.armed = True
    try:
        with pytest.raises(KeyboardInterrupt):
            run_pipeline(recipe(tiny_lm, backend="stopping", rl=rl), out, host, ProgressBoard(enabled=False),
                         until="train")
    finally:
        Stopping.armed = False
    partial = stored(out, "record-online")
    drawn = sum(len(rows) for rows in partial.values())
    assert 0 < drawn < 4 * 24 and "record-online" not in SEEN
    run_pipeline(recipe(tiny_lm, backend="stopping", rl=rl), out, host, ProgressBoard(enabled=False), until="train")
    done = stored(out, "record-online")
    # Every response once; those that arrived before the interrupt were kept, not drawn again.
    assert all(sorted(r["index"] for r in rows) == [0, 1, 2, 3] for rows in done.values())
    assert {(pid, r["index"], r["response"]) for pid, rows in partial.items() for r in rows} <= \
        {(pid, r["index"], r["response"]) for pid, rows in done.items() for r in rows}
    assert "record-online" in SEEN
    # A rerun with nothing changed loads the step: nothing sampled again.
    SEEN.clear()
    run_pipeline(recipe(tiny_lm, backend="stopping", rl=rl), out, host, ProgressBoard(enabled=False), until="train")
    assert stored(out, "record-online") == done


def test_prompts_and_pairs_are_checked_against_the_trainer_before_the_run(tmp_path, host, tiny_lm):
    cases = [([{"trainer": "record-sft", "prompts": {"n": 2}}], "rl[0].prompts", "online and preference trainers"),
             ([{"trainer": "record-online", "prompts": {"n": 2}, "pairs": "student"}], "rl[0].pairs",
              "preference trainers"),
             ([{"trainer": "record-pairs", "pairs": "student"}], "rl[0].pairs", "set prompts")]
    for rl, key, words in cases:
        with pytest.raises(RecipeError, match=words) as caught:
            run_pipeline(recipe(tiny_lm, rl=rl), tmp_path / "run", host, ProgressBoard(enabled=False))
        assert caught.value.key == key
        assert not (tmp_path / "run" / "samples").exists()  # found before any stage ran
    with pytest.raises(Exception, match="low < high"):
        recipe(tiny_lm, rl=[{"trainer": "record-online", "prompts": {"pass_rate": [1, 0]}}])


def test_the_prompts_are_sampled_at_the_rl_temperature():
    """Its own settings first, then the trainer's options (the RL temperature), then defaults."""
    from redstar.pipeline.rl_prompts import _params

    ctx = SimpleNamespace(recipe=SimpleNamespace(evaluation=SimpleNamespace(max_new_tokens=99)))
    step = validate({"models": {"teacher": "t", "student": "s"},
                     "rl": [{"trainer": "record-online", "prompts": {"n": 3}, "options": {"temperature": 0.9}},
                            {"trainer": "record-online", "prompts": {"n": 3, "temperature": 0.5}},
                            {"trainer": "record-pairs", "prompts": {"n": 3}}]}).rl
    first = _params(ctx, step[0], RecordOnline(temperature=0.9))
    assert (first.n, first.temperature, first.top_p, first.max_new_tokens) == (3, 0.9, 1.0, 16)
    assert _params(ctx, step[1], RecordOnline()).temperature == 0.5
    # A trainer without the option: the defaults (DPO has no temperature; evaluation's length).
    class Bare(Trainer):
        name, kind = "bare", "preference"

        def train(self, ctx):
            raise AssertionError

    bare = _params(ctx, step[2], Bare())
    assert (bare.temperature, bare.max_new_tokens) == (1.0, 99)
