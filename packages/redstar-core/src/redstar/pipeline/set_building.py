"""Building one partition's share of the SFT and preference sets: the part of the build stage
that runs on the engine (in this process, or as a Ray task per partition).

The build stage (:mod:`redstar.pipeline.datasets`) cleans the samples and spreads the rows it
keeps over hash partitions by prompt, so all samples of a prompt meet in one; each partition is
then a :class:`~redstar.execution.BuildJob`, and :func:`build_partition` turns its rows into
SFT rows (the correct, clean, distinct responses of each prompt, in sample order) and preference
pairs (a positive against a negative of the same prompt), prompt by prompt in selection order.
It needs no plugin: the prompts come with their messages already rendered (and their images
already copied into the run directory) by the driver, so the result is the same bytes wherever
it runs.
"""

from __future__ import annotations

import io
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from redstar.execution.base import BuildJob, BuildPrompt
from redstar.tables import dumps_line

#: The count that a duplicate positive adds to (a cleaning drop reason, counted per domain).
DUPLICATE = "duplicate response"


def negatives(candidates: list[dict[str, Any]], policy: str) -> list[dict[str, Any]]:
    """The negatives a prompt's pairs draw from, in order, under ``preference.negatives``."""
    wrong = [s for s in candidates if s["reward"] == 0]
    invalid = [s for s in candidates if s["reward"] == -1]
    if policy == "wrong_only":
        return wrong
    if policy == "wrong_first":
        return wrong + invalid
    return candidates


def build_partition(options: Mapping[str, Any], prompts: Sequence[BuildPrompt], lines: Iterable[bytes | str],
                    write_sft: Callable[[str], Any], write_preference: Callable[[str], Any]) -> dict[str, dict[str, int]]:
    """Write the SFT rows and preference pairs of ``prompts`` (in their order) from the partition's
    cleaned rows (``lines``, JSON: ``prompt_id``, ``index``, ``response``, ``correct``,
    ``reward``, ``clean``) as JSON lines, with ``options`` the recipe's ``preference`` section
    (``pairs_per_prompt``, ``negatives``). Returns per domain ``sft_rows``,
    ``preference_pairs``, ``prompts_with_positive`` and the :data:`DUPLICATE` positives dropped."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in lines:
        if line.strip():
            row = json.loads(line)
            groups[row["prompt_id"]].append(row)
    pairs, policy = int(options["pairs_per_prompt"]), str(options["negatives"])
    counts: dict[str, dict[str, int]] = {}
    for prompt_id, domain, difficulty, messages in prompts:
        if prompt_id not in groups:
            continue
        tally = counts.setdefault(domain, {"sft_rows": 0, "preference_pairs": 0, "prompts_with_positive": 0,
                                           DUPLICATE: 0})
        group = sorted(groups.pop(prompt_id), key=lambda r: r["index"])
        positives, seen = [], set()
        for r in group:
            if r["correct"] and r["clean"]:
                if r["response"] in seen:
                    tally[DUPLICATE] += 1
                    continue
                seen.add(r["response"])
                positives.append(r)
        sft_rows = [{"prompt_id": prompt_id, "domain": domain, "difficulty": difficulty,
                     "messages": list(messages) + [{"role": "assistant", "content": r["response"]}]} for r in positives]
        wrong = negatives([r for r in group if not r["correct"]], policy)
        pref_rows = []
        for k in range(min(pairs, len(wrong)) if positives else 0):
            chosen, rejected = positives[k % len(positives)], wrong[k]
            pref_rows.append({"prompt_id": prompt_id, "domain": domain, "prompt": messages,
                              "chosen": [{"role": "assistant", "content": chosen["response"]}],
                              "rejected": [{"role": "assistant", "content": rejected["response"]}]})
        write_sft("".join(dumps_line(row) for row in sft_rows))
        write_preference("".join(dumps_line(row) for row in pref_rows))
        tally["sft_rows"] += len(sft_rows)
        tally["preference_pairs"] += len(pref_rows)
        tally["prompts_with_positive"] += bool(sft_rows)
    return counts


def build_file(options: Mapping[str, Any], job: BuildJob) -> dict[str, dict[str, int]]:
    """:func:`build_partition` of ``job`` in this process: its rows read from ``job.rows`` a line
    at a time, its sets written to ``job.sft`` and ``job.preference``."""
    with job.rows.open("rb") as rows, job.sft.open("w", encoding="utf-8") as sft, \
            job.preference.open("w", encoding="utf-8") as preference:
        return build_partition(options, job.prompts, rows, sft.write, preference.write)


def build_bytes(options: Mapping[str, Any], prompts: Sequence[BuildPrompt],
                rows: bytes) -> tuple[bytes, bytes, dict[str, dict[str, int]]]:
    """:func:`build_partition` of a partition sent whole (a Ray task): its SFT and preference
    lines as UTF-8, and its counts."""
    sft, preference = io.StringIO(), io.StringIO()
    counts = build_partition(options, prompts, rows.splitlines(), sft.write, preference.write)
    return sft.getvalue().encode("utf-8"), preference.getvalue().encode("utf-8"), counts
