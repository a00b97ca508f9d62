r"""The ``llm-judge`` difficulty scorer: ask a language model for a level from 1 to 10.

Any registered sampler backend serves as the judge (``transformers`` on a laptop, ``vllm`` on a
GPU, ``openai`` for a served model). The model gets the fixed :data:`RUBRIC` as a system message
and the problem, and is asked to end with ``Level: N``; :func:`parse_level` also reads the
other ways models answer ("8/10", "**7**", "Difficulty: 6", a bare "9").

Replies that say no level are retried (``retries`` times, sampling at ``retry_temperature`` so a
greedy judge does not repeat itself). Prompts still without a level get ``fallback_level`` -
by default 5, the middle of the scale and below RedStar's default selection band (7-9), so an
unjudged problem is never selected as hard - and are reported: logged, kept in :attr:`report`,
and written to ``report_file`` when given.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from redstar.errors import RedStarError
from redstar.interfaces import Messages, SamplingParams, Scorer
from redstar.plugins import get_host, instantiate
from redstar.records import Prompt

log = logging.getLogger(__name__)

RUBRIC = """You rate the difficulty of math problems on a scale from 1 to 10:
1: one-step arithmetic or recall of a fact.
2: a short grade-school word problem (GSM8K).
3: a routine middle-school exercise (MATH Level 1).
4: a standard high-school exercise (MATH Level 2).
5: a multi-step high-school problem that needs a known technique (MATH Level 3).
6: a hard high-school problem or an easy competition problem (MATH Level 4, early AMC 10/12).
7: a competition problem that needs an insight (MATH Level 5, middle of the AMC 12).
8: a hard competition problem (end of the AMC 12, first half of the AIME).
9: a hard AIME problem or a national olympiad problem.
10: an IMO problem or harder.
Do not solve the problem. Give one short sentence of justification, then end with a line of the form
"Level: N"."""

NUMBER = r"(10(?:\.0+)?|[1-9](?:\.\d+)?)(?!\d)"
#: How a reply states a level, most explicit first; the last match of the first pattern that
#: matches wins (a judge may mention "Level 5 of MATH" before its verdict).
LEVEL_PATTERNS = [
    re.compile(r"(?i)\blevel\s*\**\s*(?:is|=|:)?\s*\**\s*" + NUMBER),
    re.compile(r"(?i)\bdifficulty(?:\s+(?:level|rating|score))?\s*\**\s*(?:is|=|:)?\s*\**\s*" + NUMBER),
    re.compile(r"(?i)(?<![\d.])" + NUMBER + r"\s*(?:/|out\s+of)\s*10\b"),
    re.compile(r"\\boxed\{\s*" + NUMBER + r"\s*\}"),
    re.compile(r"\*\*\s*" + NUMBER + r"\s*\*\*"),
    re.compile(r"^\s*" + NUMBER + r"\s*\.?\s*$"),
]


def parse_level(reply: str) -> float | None:
    """The level 1-10 a judge's reply states, or None. Text inside ``<think>`` is ignored when
    the reply closes it."""
    close = reply.rfind("</think>")
    text = reply[close + len("</think>"):] if close >= 0 else reply
    for pattern in LEVEL_PATTERNS:
        matches = pattern.findall(text)
        if matches:
            level = float(matches[-1])
            if 1 <= level <= 10:
                return level
    return None


class LLMJudgeScorer(Scorer):
    """Difficulty levels from a language model judging each problem against :data:`RUBRIC`.

    Args:
        model: The judge model, as the sampler takes it (a path, a hub id or ``embedded:NAME``).
        sampler: The registered sampler backend that runs the judge (``transformers``,
            ``vllm``, ``openai``...).
        sampler_options: The sampler's constructor options, e.g. ``{"device": "cuda"}``.
        temperature: The sampling temperature of the first attempt (0 is greedy).
        max_new_tokens: The most tokens of one reply.
        retries: How many more attempts a reply without a readable level gets.
        retry_temperature: The sampling temperature of those retries.
        fallback_level: The level (1 to 10) given to a problem whose every reply was
            unreadable; such problems are counted and reported.
        report_file: A JSON file to write every unreadable reply to (null writes none).
        seed: The seed of the judge's sampling.
    """

    name = "llm-judge"

    def __init__(self, model: str, sampler: str = "transformers", sampler_options: Mapping[str, Any] | None = None,
                 temperature: float = 0.0, max_new_tokens: int = 512, retries: int = 2,
                 retry_temperature: float = 0.7, fallback_level: float = 5.0, report_file: str | None = None,
                 seed: int = 0) -> None:
        if not 1 <= fallback_level <= 10:
            raise RedStarError(f"llm-judge: fallback_level must be within 1-10, got {fallback_level}")
        if retries < 0:
            raise RedStarError(f"llm-judge: retries must be 0 or more, got {retries}")
        self.model = model
        self.sampler = sampler
        self.sampler_options = dict(sampler_options or {})
        self.temperature = temperature
        self.max_new_tokens = max_new_tokens
        self.retries = retries
        self.retry_temperature = retry_temperature
        self.fallback_level = float(fallback_level)
        self.report_file = report_file
        self.seed = seed
        #: After :meth:`score`: counts and the replies that stated no level.
        self.report: dict[str, Any] = {}

    def conversation(self, prompt: Prompt) -> Messages:
        return [{"role": "system", "content": RUBRIC}, {"role": "user", "content": f"Problem:\n{prompt.question}"}]

    def score(self, prompts: Sequence[Prompt]) -> list[float]:
        if not prompts:
            return []
        backend = instantiate(get_host().get("samplers", self.sampler), {"model": self.model, **self.sampler_options})
        levels: list[float | None] = [None] * len(prompts)
        replies: list[list[str]] = [[] for _ in prompts]
        pending = list(range(len(prompts)))
        attempts = 0
        try:
            for attempt in range(1 + self.retries):
                attempts = attempt + 1
                params = SamplingParams(
                    n=1, temperature=self.temperature if attempt == 0 else self.retry_temperature,
                    max_new_tokens=self.max_new_tokens, seed=self.seed + attempt,
                )
                outputs = backend.generate([self.conversation(prompts[i]) for i in pending], params)
                for i, completions in zip(pending, outputs):
                    text = completions[0].text if completions else ""
                    replies[i].append(text)
                    levels[i] = parse_level(text)
                pending = [i for i in pending if levels[i] is None]
                if not pending:
                    break
        finally:
            backend.close()
        unparseable = [{"prompt_id": prompts[i].id, "replies": replies[i]} for i in pending]
        self.report = {
            "prompts": len(prompts), "attempts": attempts,
            "retried": sum(1 for r in replies if len(r) > 1), "unparseable": unparseable,
            "fallback_level": self.fallback_level,
        }
        if unparseable:
            log.warning("llm-judge: %d of %d replies stated no level after %d attempts; they get level %s "
                        "(first reply: %.200r)", len(unparseable), len(prompts), attempts, self.fallback_level,
                        unparseable[0]["replies"][-1])
        if self.report_file:
            path = Path(self.report_file)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(self.report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return [self.fallback_level if level is None else level for level in levels]
