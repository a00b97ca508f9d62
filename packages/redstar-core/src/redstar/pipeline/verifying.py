"""The verification stage: each sample is judged by its domain's verifier.

Verdicts are appended to ``verdicts.jsonl`` keyed by sample id, with a digest of the response
text they judged, so a resumed run verifies only samples it has not judged yet, and a verdict
is reused only for the very text it judged (a sample redrawn under the same id is judged again). Cleaning is applied later, when the datasets are built, so that
changing a cleaning threshold does not re-run verification (which for code means re-running
programs).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping
from typing import Any

from redstar.pipeline.context import RunContext
from redstar.pipeline.stage import FunnelRow, Outcome, Stage
from redstar.records import Prompt, Sample, Verdict
from redstar.tables import JsonlAppender

VERIFY_BATCH = 64


def response_digest(text: str) -> str:
    """What a verdict row records of the text it judged (``surrogatepass``: a response may hold a
    lone surrogate, and it still needs a digest)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _verify(ctx: RunContext, inputs: Mapping[str, Any]) -> Outcome:
    prompts: list[Prompt] = inputs["select"]
    samples: list[Sample] = inputs["sample"]
    by_id = {p.id: p for p in prompts}
    with JsonlAppender(ctx.run.path("verdicts.jsonl")) as table:
        judged = {s.id: response_digest(s.response) for s in samples}
        verdicts: dict[str, Verdict] = {}
        # Later rows win: a sample judged again (its text changed) appends a newer verdict.
        for row in table.rows:
            if row.get("response_sha256") == judged.get(row["sample_id"]):
                verdicts[row["sample_id"]] = Verdict.from_dict({k: row[k] for k in ("correct", "reward", "reason", "extracted")})
        todo = [s for s in samples if s.id not in verdicts]
        with ctx.board.task("verifying", len(samples)) as update:
            update(len(samples) - len(todo))
            for start in range(0, len(todo), VERIFY_BATCH):
                batch = todo[start:start + VERIFY_BATCH]
                results = ctx.verifiers.verify([(s.response, by_id[s.prompt_id]) for s in batch])
                rows = []
                for s, v in zip(batch, results):
                    verdicts[s.id] = v
                    rows.append({"sample_id": s.id, "prompt_id": s.prompt_id, "index": s.index,
                                 "response_sha256": judged[s.id], **v.to_dict()})
                table.append(rows)
                update(len(samples) - len(todo) + start + len(batch))
    wanted = {s.id for s in samples}
    verdicts = {k: v for k, v in verdicts.items() if k in wanted}
    return Outcome(verdicts, _counts(samples, verdicts, by_id))


def _counts(samples: list[Sample], verdicts: dict[str, Verdict], by_id: dict[str, Prompt]) -> dict[str, Any]:
    rewards = Counter(v.reward for v in verdicts.values())
    by_level: dict[str, list[int]] = {}
    by_domain: dict[str, dict[str, int]] = {}
    for s in samples:
        level = by_id[s.prompt_id].difficulty
        key = "?" if level is None else str(int(round(level)))
        by_level.setdefault(key, []).append(int(verdicts[s.id].correct))
        counts = by_domain.setdefault(by_id[s.prompt_id].domain, {"verified": 0, "correct": 0, "wrong": 0, "no_answer": 0})
        counts["verified"] += 1
        counts[{1: "correct", 0: "wrong", -1: "no_answer"}[verdicts[s.id].reward]] += 1
    return {
        "verified": len(verdicts),
        "correct": rewards[1],
        "wrong": rewards[0],
        "no_answer": rewards[-1],
        "by_domain": by_domain,
        "pass_rate_by_level": {k: sum(v) / len(v) for k, v in sorted(by_level.items())},
    }


#: Incremental: it always runs and judges only the samples without a verdict for their text.
VERIFY = Stage("verify", "curate", _verify, reads=("select", "sample"), depends_on=lambda recipe: recipe.verifiers,
               outputs=("verdicts.jsonl",), funnel=(FunnelRow("samples correct", "correct", "samples"),))
