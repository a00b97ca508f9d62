"""The bar: on the held-out set (30 problems, 180 candidates: correct, wrong, crashing, too slow,
no code, and every hostile kind), every verdict is right and nothing leaks."""

from __future__ import annotations

import pytest

from redstar.records import Prompt
from redstar_code.verifier import CodeVerifier

pytestmark = pytest.mark.usefixtures("no_leaks")


def candidates(rows, problems=None):
    items, expected = [], []
    for row in rows[:problems]:
        prompt = Prompt(domain="code", source="heldout", question=row["id"], reference=row["input_output"])
        for candidate in row["candidates"]:
            items.append((candidate["response"], prompt))
            expected.append((row["id"], candidate["kind"], candidate["reward"]))
    return items, expected


def test_every_verdict_is_right(heldout):
    items, expected = candidates(heldout)
    kinds = {kind for _, kind, _ in expected}
    assert len(heldout) == 30 and len(items) == 180 and len(kinds) == 18
    # 2 s per test: hostile and slow candidates are stopped by it, correct ones take milliseconds
    verifier = CodeVerifier(timeout=2.0)
    try:
        verdicts = verifier.verify_many(items)
    finally:
        verifier.close()
    wrong = [(name, kind, want, v.reward, v.reason)
             for (name, kind, want), v in zip(expected, verdicts) if v.reward != want]
    assert wrong == []


def test_taco_mode_agrees_on_a_subset(heldout):
    """TACO's checker reaches the same verdicts on these candidates (the subset keeps it quick:
    taco mode imports numpy in every sandbox)."""
    items, expected = candidates(heldout, problems=4)
    verifier = CodeVerifier(timeout=2.0, mode="taco")
    try:
        verdicts = verifier.verify_many(items)
    finally:
        verifier.close()
    assert [(name, kind, v.reward) for (name, kind, _), v in zip(expected, verdicts)] == [
        (name, kind, want) for name, kind, want in expected
    ]
