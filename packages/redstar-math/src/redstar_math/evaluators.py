r"""Math benchmarks: MATH-hard, MATH-500, OlympiadBench, College Math, AIME24, AMC23 and GSM8K.

Each evaluator takes ``path`` (the full test set, e.g.
``/work/shared/data/benchmarks/<name>/test.jsonl``: the files of Qwen2.5-Math's
``evaluation/data``, whose fields it reads) and ``limit`` (the first N problems). Without ``path``
it loads the small sample shipped in ``redstar_math/data`` (10-14 problems; sources and licences in
``data/NOTICE.md``), which is enough to run a pipeline end to end but not to report a score.

Prompts carry ``metadata["group"]`` (subject, level or contest) so reports break scores down.
RedStar's evaluation stage samples the model, verifies with :class:`~redstar_math.verifier.MathVerifier`
and computes pass@1 over ``n`` samples, majority vote and truncation counts.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

from redstar.errors import InputError, RedStarError
from redstar.interfaces import Evaluator
from redstar.records import Prompt
from redstar_math.extract import gsm8k_gold
from redstar_math.rows import answer_field, check_limit, rows_of, text_field
from redstar_math.sources import math_level


def sample_path(file_name: str) -> Path:
    """Where a shipped sample lives inside the installed package."""
    return Path(str(resources.files("redstar_math") / "data" / file_name))


class _Benchmark(Evaluator):
    """Shared loading: the full set from ``path`` or the shipped sample, filtered, limited.

    Args:
        path: The benchmark's full set, a local table or a hub dataset id; null evaluates on
            the sample shipped with redstar-math.
        limit: Evaluate only the first this many problems (null evaluates them all).
    """

    domain = "math"
    sample: ClassVar[str]
    question_field: ClassVar[str] = "problem"
    answer_key: ClassVar[str] = "answer"

    def __init__(self, path: str | None = None, limit: int | None = None) -> None:
        self.path = str(path) if path is not None else None
        self.limit = check_limit(limit)

    @property
    def spec(self) -> str:
        return self.path if self.path is not None else str(sample_path(self.sample))

    def load(self) -> list[Prompt]:
        prompts: list[Prompt] = []
        spec = self.spec
        for line, row in rows_of(spec, "test"):
            if self.limit is not None and len(prompts) >= self.limit:
                break
            if not self.keep(spec, line, row):
                continue
            question = text_field(spec, line, row, self.question_field)
            prompts.append(Prompt(domain="math", source=self.name, question=question,
                                  reference=self.gold(spec, line, row), metadata=self.metadata(row)))
        if not prompts:
            raise RedStarError(f"{self.name}: no problems in {spec}")
        return prompts

    def keep(self, spec: str, line: int | None, row: dict[str, Any]) -> bool:
        return True

    def gold(self, spec: str, line: int | None, row: dict[str, Any]) -> str:
        return _unwrap_dollars(answer_field(spec, line, row, self.answer_key))

    def metadata(self, row: dict[str, Any]) -> dict[str, Any]:
        return {}


def _unwrap_dollars(answer: str) -> str:
    """``$\\frac{1}{2}$`` -> ``\\frac{1}{2}``; the verifier ignores ``$`` anyway, but reports
    and voting read better without."""
    stripped = answer.strip()
    if len(stripped) > 1 and stripped.startswith("$") and stripped.endswith("$") and stripped.count("$") == 2:
        return stripped[1:-1].strip()
    return stripped


class MathHardEvaluator(_Benchmark):
    """MATH-hard: the Level 5 problems of the MATH test set (1324 of 5000), grouped by subject.
    ``path`` is the full MATH test set; rows of other levels are skipped by design."""

    name = "math-hard"
    sample = "math_hard_sample.jsonl"

    def keep(self, spec: str, line: int | None, row: dict[str, Any]) -> bool:
        return math_level(spec, line, row) == 5

    def metadata(self, row: dict[str, Any]) -> dict[str, Any]:
        return {"group": row.get("type"), "unique_id": row.get("unique_id")}


class Math500Evaluator(_Benchmark):
    """MATH-500 (the PRM800K test split of MATH), grouped by level."""

    name = "math500"
    sample = "math500_sample.jsonl"

    def metadata(self, row: dict[str, Any]) -> dict[str, Any]:
        return {"group": f"Level {row.get('level')}", "subject": row.get("subject"), "unique_id": row.get("unique_id")}


class OlympiadBenchEvaluator(_Benchmark):
    """OlympiadBench, English text-only open-ended math (675 problems); gold = ``final_answer[0]``,
    grouped by subfield."""

    name = "olympiadbench"
    sample = "olympiadbench_sample.jsonl"
    question_field = "question"

    def gold(self, spec: str, line: int | None, row: dict[str, Any]) -> str:
        answers = row.get("final_answer")
        if not isinstance(answers, list) or not answers or not isinstance(answers[0], str):
            raise InputError(spec, "field 'final_answer' must be a non-empty list of strings", line=line,
                             field="final_answer")
        return _unwrap_dollars(answers[0])

    def metadata(self, row: dict[str, Any]) -> dict[str, Any]:
        return {"group": row.get("subfield"), "unit": row.get("unit"), "answer_type": row.get("answer_type")}


class CollegeMathEvaluator(_Benchmark):
    """College Math (MathScale, 2818 problems), grouped by topic (algebra, calculus, ...)."""

    name = "college-math"
    sample = "college_math_sample.jsonl"
    question_field = "question"

    def metadata(self, row: dict[str, Any]) -> dict[str, Any]:
        topic = str(row.get("data_topic", ""))
        return {"group": topic.removeprefix("college_math."), "license": row.get("license")}


CONTEST = re.compile(r"(\d{4})_(AIME_I{1,2}|AMC_\d+[AB])")


def _contest(row: dict[str, Any]) -> str | None:
    match = CONTEST.search(str(row.get("url", "")))
    return match.group(2).replace("_", " ") if match else None


class AIME24Evaluator(_Benchmark):
    """AIME 2024 I and II (30 problems; integer answers 0-999), grouped by contest."""

    name = "aime24"
    sample = "aime24_sample.jsonl"

    def metadata(self, row: dict[str, Any]) -> dict[str, Any]:
        return {"group": _contest(row)}


class AMC23Evaluator(_Benchmark):
    """AMC 12 2023 (40 problems). Answers are stored as floats (``27.0``) and become ``"27"``."""

    name = "amc23"
    sample = "amc23_sample.jsonl"

    def metadata(self, row: dict[str, Any]) -> dict[str, Any]:
        return {"group": _contest(row)}


class GSM8KEvaluator(_Benchmark):
    """GSM8K test (1319 problems); gold = the number after ``####``."""

    name = "gsm8k"
    sample = "gsm8k_sample.jsonl"
    question_field = "question"

    def gold(self, spec: str, line: int | None, row: dict[str, Any]) -> str:
        gold = gsm8k_gold(text_field(spec, line, row, "answer"))
        if gold is None:
            raise InputError(spec, "no '#### answer' at the end of the solution", line=line, field="answer")
        return gold


ALL_EVALUATORS = (MathHardEvaluator, Math500Evaluator, OlympiadBenchEvaluator, CollegeMathEvaluator,
                  AIME24Evaluator, AMC23Evaluator, GSM8KEvaluator)
