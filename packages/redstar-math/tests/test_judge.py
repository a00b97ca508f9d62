"""The llm-judge scorer: reply parsing, retries and fallback, with a canned backend and with a
real tiny transformers model."""

import json

import pytest

from redstar import hookimpl
from redstar.errors import RedStarError
from redstar.interfaces import Completion, Sampler
from redstar.records import Prompt
from redstar_math.judge import RUBRIC, LLMJudgeScorer, parse_level


@pytest.mark.parametrize(
    ("reply", "level"),
    [
        ("Requires a known identity.\nLevel: 8", 8.0),
        ("This is an AIME-style problem. 8/10", 8.0),
        ("**7**", 7.0),
        ("Difficulty: 6", 6.0),
        ("9", 9.0),
        ("I would say 7 out of 10.", 7.0),
        ("Similar to MATH Level 5 but shorter.\n\nLevel: 6", 6.0),  # the verdict, not the comparison
        ("**Level:** 10", 10.0),
        ("Level: 7.5", 7.5),
        ("<think>Level 2? no, harder.</think>\nLevel: 9", 9.0),
        ("\\boxed{4}", 4.0),
    ],
)
def test_level_is_read_from_common_reply_styles(reply, level):
    assert parse_level(reply) == level


@pytest.mark.parametrize("reply", ["", "I cannot rate this.", "Level: 11", "Level: 0", "3/5 stars", "levels vary"])
def test_replies_without_a_valid_level_are_none(reply):
    assert parse_level(reply) is None


class CannedReplySampler(Sampler):
    """A test double for a generation backend: replies from a fixed script, in call order, so
    the judge's retry and fallback logic can be checked without a model."""

    name = "canned-replies"
    script: list[list[str]] = []
    seen: list[tuple[list, float]] = []

    def __init__(self, model: str) -> None:
        super().__init__(model)

    def generate(self, conversations, params):
        replies = type(self).script.pop(0)
        type(self).seen.append((list(conversations), params.temperature))
        assert len(replies) == len(conversations)
        return [[Completion(text)] for text in replies]


class CannedPlugin:
    @hookimpl
    def redstar_register_samplers(self, register):
        register(CannedReplySampler)


def prompts(n):
    return [Prompt(domain="math", source="t", question=f"Problem {i}: compute {i} + {i}.", reference=str(2 * i))
            for i in range(n)]


def test_unparseable_replies_are_retried_then_fall_back_and_are_reported(register_plugin, tmp_path):
    register_plugin(CannedPlugin(), name="canned")
    CannedReplySampler.script = [
        ["Level: 8", "hmm, hard to say", "no idea"],  # first attempt, greedy
        ["I think 6/10", "still unsure"],  # retry for the two unparseable ones
        ["nothing"],
    ]
    CannedReplySampler.seen = []
    report = tmp_path / "judge.json"
    scorer = LLMJudgeScorer(model="any", sampler="canned-replies", retries=2, fallback_level=5,
                            report_file=str(report))
    assert scorer.score(prompts(3)) == [8.0, 6.0, 5.0]
    assert [t for _, t in CannedReplySampler.seen] == [0.0, 0.7, 0.7]
    first_conversation = CannedReplySampler.seen[0][0][0]
    assert first_conversation[0] == {"role": "system", "content": RUBRIC}
    assert "Problem 0" in first_conversation[1]["content"]
    assert scorer.report["attempts"] == 3 and scorer.report["retried"] == 2
    assert scorer.report["unparseable"] == [{"prompt_id": prompts(3)[2].id, "replies": ["no idea", "still unsure", "nothing"]}]
    assert json.loads(report.read_text())["unparseable"][0]["replies"][-1] == "nothing"


def test_bad_options_and_unknown_backend(register_plugin):
    with pytest.raises(RedStarError, match="fallback_level"):
        LLMJudgeScorer(model="m", fallback_level=0)
    with pytest.raises(RedStarError, match="no-such-backend"):
        LLMJudgeScorer(model="m", sampler="no-such-backend").score(prompts(1))


def test_real_tiny_model_as_judge(redstar_host, tiny_lm):
    """A randomly initialised tiny model (seeded, so its replies are fixed) states no level:
    every prompt is retried once, gets the fallback level, and is reported - through the real
    transformers backend."""
    scorer = LLMJudgeScorer(model=str(tiny_lm), sampler="transformers", sampler_options={"device": "cpu"},
                            max_new_tokens=6, retries=1, fallback_level=4)
    batch = prompts(2)
    assert scorer.score(batch) == [4.0, 4.0]
    assert scorer.report["attempts"] == 2
    assert [r["prompt_id"] for r in scorer.report["unparseable"]] == [p.id for p in batch]
    assert all(len(r["replies"]) == 2 for r in scorer.report["unparseable"])
