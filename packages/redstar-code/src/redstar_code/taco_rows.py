"""TACO rows as stored (hub dataset ``BAAI/TACO``, or local JSONL/Parquet in the same schema)
turned into code prompts.

Fields read: ``question`` (required), ``input_output`` (required: the tests, see
:mod:`redstar_code.testspec`), ``starter_code``, ``difficulty``, ``skill_types``, ``tags``,
``solutions`` (JSON list of reference programs; counted only), and when present ``name``,
``source``, ``url``, ``time_limit``, ``memory_limit``. ``skill_types`` and ``tags`` may be lists or
strings holding a list (TACO stores ``"['Sorting']"``).

Difficulty: TACO's labels become RedStar levels (:data:`TACO_LEVELS`). The five labels split the
1-10 scale into equal buckets of 1.8 and take each bucket's midpoint, rounded: EASY 2, MEDIUM 4,
MEDIUM_HARD 6, HARD 7, VERY_HARD 9. The paper's 7-9 selection therefore keeps HARD and VERY_HARD.
UNKNOWN_DIFFICULTY gives no level (a model-based scorer, or the ``given`` scorer's default,
decides).
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping
from typing import Any

from redstar.records import Prompt
from redstar_code.testspec import TestSpecError, parse_tests

TACO_LEVELS: dict[str, float | None] = {
    "EASY": 2.0,
    "MEDIUM": 4.0,
    "MEDIUM_HARD": 6.0,
    "HARD": 7.0,
    "VERY_HARD": 9.0,
    "UNKNOWN_DIFFICULTY": None,
}
STDIN_HINT = "Use Standard Input format"
CALL_HINT = "Use Call-Based format"
METADATA_FIELDS = ("name", "source", "url", "time_limit", "memory_limit")


class RowError(ValueError):
    """A malformed row; ``field`` names the column."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def prompt_from_row(row: Mapping[str, Any], source: str, levels: Mapping[str, float | None] = TACO_LEVELS) -> Prompt:
    """One TACO row as a code :class:`~redstar.records.Prompt`. Raises :class:`RowError`."""
    question = row.get("question")
    if not isinstance(question, str) or not question.strip():
        raise RowError("missing or empty (the problem statement)", "question")
    reference = row.get("input_output")
    if not isinstance(reference, str):
        raise RowError(f"must be TACO's JSON string of tests, got {type(reference).__name__}", "input_output")
    try:
        spec = parse_tests(reference)
    except TestSpecError as exc:
        raise RowError(str(exc), exc.field) from None
    starter = row.get("starter_code") or ""
    if not isinstance(starter, str):
        raise RowError(f"must be a string, got {type(starter).__name__}", "starter_code")
    label = row.get("difficulty") or "UNKNOWN_DIFFICULTY"
    if not isinstance(label, str) or label.upper() not in levels:
        raise RowError(f"unknown TACO difficulty {label!r} (known: {', '.join(levels)})", "difficulty")
    label = label.upper()
    metadata: dict[str, Any] = {
        "fn_name": spec.fn_name,
        "kind": spec.kind,
        "tests": len(spec),
        "starter_code": starter,
        "taco_difficulty": label,
        "skill_types": _string_list(row.get("skill_types"), "skill_types"),
        "tags": _string_list(row.get("tags"), "tags"),
        "solutions": _count_solutions(row.get("solutions")),
    }
    for key in METADATA_FIELDS:
        if row.get(key) is not None:
            metadata[key] = row[key]
    return Prompt(
        domain="code",
        source=source,
        question=format_question(question, starter, spec.fn_name),
        reference=reference,
        difficulty=levels[label],
        metadata=metadata,
    )


def format_question(question: str, starter_code: str, fn_name: str | None) -> str:
    """The statement as TACO prompts it: the question, the starter code, then the format hint
    (call-based when there is a function name or starter code). When a call-based problem has
    no starter code, the function's name is stated, since nothing else would tell it."""
    parts = [question.rstrip()]
    if starter_code.strip():
        parts.append(f"```python\n{starter_code.rstrip()}\n```")
    if fn_name or starter_code.strip():
        hint = CALL_HINT
        if fn_name and not starter_code.strip():
            hint += f": write a function named `{fn_name}`; each test calls it and checks its return value."
        parts.append(hint)
    else:
        parts.append(STDIN_HINT)
    return "\n\n".join(parts)


def _string_list(value: Any, field: str) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            try:
                value = ast.literal_eval(value)
            except (ValueError, SyntaxError):
                raise RowError(f"must be a list of strings (or its text), got {value[:80]!r}", field) from None
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise RowError(f"must be a list of strings, got {value!r}"[:200], field)
    return list(value)


def _count_solutions(value: Any) -> int:
    if value is None or value == "":
        return 0
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise RowError("must be a JSON list of programs", "solutions") from None
    if not isinstance(value, list):
        raise RowError(f"must be a list of programs, got {type(value).__name__}", "solutions")
    return len(value)
