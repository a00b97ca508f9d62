"""Choosing which prompts to sample: the difficulty band, per-source caps and domain mixing.

The paper keeps prompts of difficulty 7-9 and blends domains (the code-math mix). Selection is
deterministic for a seed: prompts are ordered by a hash of (seed, prompt id), so adding prompts to
a source does not reshuffle the ones already chosen.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from redstar.errors import RedStarError
from redstar.records import Prompt


def _order_key(seed: int, prompt: Prompt) -> str:
    return hashlib.sha256(f"{seed}:{prompt.id}".encode()).hexdigest()


@dataclass
class SelectionReport:
    kept: list[Prompt]
    dropped: Counter = field(default_factory=Counter)  # reason -> count
    shortfall: dict[str, int] = field(default_factory=dict)  # domain -> prompts missing from its quota


def domain_quotas(mix: Mapping[str, float], total: int) -> dict[str, int]:
    """Split ``total`` across domains by ``mix`` (largest remainders, so quotas sum to total)."""
    weight = sum(mix.values())
    if weight <= 0:
        raise RedStarError("selection.mix needs at least one positive share")
    exact = {d: total * w / weight for d, w in mix.items()}
    quotas = {d: int(v) for d, v in exact.items()}
    for d in sorted(exact, key=lambda d: exact[d] - quotas[d], reverse=True)[: total - sum(quotas.values())]:
        quotas[d] += 1
    return quotas


def select(prompts: Sequence[Prompt], *, min_level: float, max_level: float, per_source: Mapping[str, int],
           mix: Mapping[str, float], total: int | None, seed: int = 0) -> SelectionReport:
    report = SelectionReport(kept=[])
    in_band = []
    for p in prompts:
        if p.difficulty is None:
            report.dropped["no difficulty"] += 1
        elif p.difficulty < min_level:
            report.dropped["too easy"] += 1
        elif p.difficulty > max_level:
            report.dropped["too hard"] += 1
        else:
            in_band.append(p)
    in_band.sort(key=lambda p: _order_key(seed, p))

    taken_per_source: Counter = Counter()
    capped = []
    for p in in_band:
        cap = per_source.get(p.source)
        if cap is not None and taken_per_source[p.source] >= cap:
            report.dropped["per-source cap"] += 1
            continue
        taken_per_source[p.source] += 1
        capped.append(p)

    if mix:
        by_domain: dict[str, list[Prompt]] = defaultdict(list)
        for p in capped:
            if p.domain in mix:
                by_domain[p.domain].append(p)
            else:
                report.dropped["domain not in mix"] += 1
        if total is None:
            # Without a total, the scarcest domain (relative to its share) sets the size.
            total = int(min(len(by_domain[d]) / w for d, w in mix.items() if w > 0) * sum(mix.values())) \
                if all(by_domain[d] for d, w in mix.items() if w > 0) else sum(len(v) for v in by_domain.values())
        quotas = domain_quotas(mix, total)
        for domain, quota in quotas.items():
            chosen = by_domain[domain][:quota]
            report.kept.extend(chosen)
            if len(chosen) < quota:
                report.shortfall[domain] = quota - len(chosen)
            report.dropped["over domain quota"] += len(by_domain[domain]) - len(chosen)
    else:
        limit = len(capped) if total is None else total
        report.kept = capped[:limit]
        report.dropped["over total"] += len(capped) - len(report.kept)
    report.dropped = Counter({k: v for k, v in report.dropped.items() if v})
    report.kept.sort(key=lambda p: _order_key(seed, p))
    return report


def samples_for_level(level: float | None, n: int, n_by_level: Mapping[int | str, int]) -> int:
    """Responses to draw for a prompt: the entry of ``n_by_level`` with the largest level not
    above the prompt's, else ``n`` (harder prompts get more, as in the paper)."""
    best = n
    best_level = None
    for key, count in n_by_level.items():
        k = float(key)
        if level is not None and k <= level and (best_level is None or k > best_level):
            best, best_level = count, k
    return best
