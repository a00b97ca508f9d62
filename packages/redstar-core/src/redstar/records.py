"""The three records every stage passes along: Prompt, Sample and Verdict.

They are plain dataclasses so that plugins can build them without importing anything heavy, and
they round-trip through JSON (``to_dict``/``from_dict``) so that every table in a run directory is
a JSONL or Parquet file a person can open. The schema is documented in ``docs/records.md``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

DOMAINS_KNOWN = ("math", "code", "geo")

#: Reward of the rule-based verifiers, shared by SFT filtering and every RL algorithm.
REWARD_CORRECT = 1
REWARD_WRONG = 0
REWARD_NO_ANSWER = -1


class RecordError(ValueError):
    """A record is malformed. ``field`` names the offending key."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def prompt_id(domain: str, question: str, reference: str) -> str:
    """A stable id from the content, so that the same problem gets the same id in every run."""
    digest = hashlib.sha256(
        json.dumps([domain, question, reference], ensure_ascii=False).encode("utf-8")
    ).hexdigest()
    return f"{domain}-{digest[:16]}"


def _require(data: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    if key not in data:
        raise RecordError(f"missing required field {key!r}", field=key)
    value = data[key]
    kinds = _as_tuple(kind)
    # bool is an int in Python; a JSON `true` where a number belongs is still a mistake.
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        names = "/".join(k.__name__ for k in kinds)
        raise RecordError(
            f"field {key!r} must be {names}, got {type(value).__name__}", field=key
        )
    return value


def _optional(data: dict[str, Any], key: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
    if data.get(key) is None:
        return default
    return _require(data, key, kind)


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _known(cls: type, data: dict[str, Any]) -> None:
    allowed = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise RecordError(
            f"unknown field {unknown[0]!r} for {cls.__name__} (allowed: {', '.join(sorted(allowed))})",
            field=unknown[0],
        )


@dataclass
class Prompt:
    """One problem to sample responses for.

    ``reference`` is what the domain's verifier checks against, always a string: the gold answer
    (math), TACO's ``input_output`` JSON (code), or the correct choice letter (geo).
    ``difficulty`` is a level from 1 to 10 once a scorer has run (or the source knew it).
    ``image`` is a local path to a diagram for multimodal domains.
    """

    domain: str
    source: str
    question: str
    reference: str
    id: str = ""
    image: str | None = None
    difficulty: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.id:
            self.id = prompt_id(self.domain, self.question, self.reference)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Prompt:
        _known(cls, data)
        difficulty = _optional(data, "difficulty", (int, float))
        return cls(
            domain=_require(data, "domain", str),
            source=_require(data, "source", str),
            question=_require(data, "question", str),
            reference=_require(data, "reference", str),
            id=_optional(data, "id", str, ""),
            image=_optional(data, "image", str),
            difficulty=None if difficulty is None else float(difficulty),
            metadata=_optional(data, "metadata", dict, {}) or {},
        )


@dataclass
class Sample:
    """One response of a model to a prompt. ``index`` numbers the samples of a prompt from 0, so
    that ``(prompt_id, index)`` identifies a sample and a resumed run never duplicates one."""

    prompt_id: str
    index: int
    response: str
    model: str
    params: dict[str, Any] = field(default_factory=dict)
    finish_reason: str | None = None

    @property
    def id(self) -> str:
        return f"{self.prompt_id}#{self.index}"

    @property
    def truncated(self) -> bool:
        """True when generation stopped at the token limit rather than on its own."""
        return self.finish_reason == "length"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Sample:
        _known(cls, data)
        return cls(
            prompt_id=_require(data, "prompt_id", str),
            index=_require(data, "index", int),
            response=_require(data, "response", str),
            model=_require(data, "model", str),
            params=_optional(data, "params", dict, {}) or {},
            finish_reason=_optional(data, "finish_reason", str),
        )


@dataclass
class Verdict:
    """What a verifier decided about one response.

    ``reward`` is the rule reward: 1 correct, 0 wrong, -1 no valid answer in the required format.
    ``extracted`` is the final answer the verifier read from the response (None when there was
    none); evaluators use it for majority voting.
    """

    correct: bool
    reward: int
    reason: str
    extracted: str | None = None

    @classmethod
    def right(cls, extracted: str | None, reason: str = "correct") -> Verdict:
        return cls(True, REWARD_CORRECT, reason, extracted)

    @classmethod
    def wrong(cls, extracted: str | None, reason: str = "wrong answer") -> Verdict:
        return cls(False, REWARD_WRONG, reason, extracted)

    @classmethod
    def no_answer(cls, reason: str = "no valid answer") -> Verdict:
        return cls(False, REWARD_NO_ANSWER, reason, None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Verdict:
        _known(cls, data)
        return cls(
            correct=_require(data, "correct", bool),
            reward=_require(data, "reward", int),
            reason=_require(data, "reason", str),
            extracted=_optional(data, "extracted", str),
        )
