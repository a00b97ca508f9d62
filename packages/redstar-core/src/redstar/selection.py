"""Choosing which prompts to sample: the difficulty band, per-source and per-domain caps, and
domain mixing.

The paper keeps prompts of difficulty 7-9 and blends domains (the code-math mix). Each domain may
set its own band (``selection.domains.<domain>``); a domain that sets none uses the global one, so
plugins' defaults compose instead of colliding. Selection is deterministic for a seed: prompts are
ordered by a hash of (seed, prompt id), so adding prompts to a source does not reshuffle the ones
already chosen.

How shares combine (``selection.mix``), in the two ``mix_mode`` s:

- ``ratio`` (default): the selected set has exactly the mix's proportions. With ``total``, each
  domain's quota is its share of ``total``; without, the scarcest domain (relative to its share)
  sets the size, and the others are cut to match, which throws data away.
- ``cap``: a share is an upper bound, never a reason to drop another domain's prompts: with
  ``total``, each domain takes at most its share of ``total`` (a short domain leaves its room
  empty); without ``total``, every domain in the mix keeps all its prompts.

Shares are weights: each domain's part is its share divided by the sum of the shares, so shares
that add up to 1.05 give each domain a little less than it says. Quotas are whole prompts, split by
largest remainders: each domain gets the whole part of its exact quota, and the prompts left over
go one each to the domains with the largest fractions (so the quotas add up to the total, and a
domain's quota is never more than one prompt away from its exact share).

A domain may instead be given a count (``logic: {prompts: 40}``): it takes that many prompts
(fewer when it has fewer, reported as a shortfall) whatever the shares say, and the domains with
shares split what is left of ``total`` (or, without ``total``, are sized among themselves as
above). A count never costs another domain a prompt to rounding.
:func:`explain_mix` says, before anything is loaded, what the mix gives each domain.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from redstar.errors import RedStarError
from redstar.records import Prompt

if TYPE_CHECKING:
    from redstar.recipe import DomainSelection


def _order_key(seed: int, prompt: Prompt) -> str:
    return hashlib.sha256(f"{seed}:{prompt.id}".encode()).hexdigest()


MIX_MODES = ("ratio", "cap")


@dataclass(frozen=True)
class DomainRule:
    """What ``selection.domains.<domain>`` may set; None means "as the global setting"."""

    min_level: float | None = None
    max_level: float | None = None
    max_prompts: int | None = None


@dataclass
class SelectionReport:
    kept: list[Prompt]
    dropped: Counter = field(default_factory=Counter)  # reason -> count
    shortfall: dict[str, int] = field(default_factory=dict)  # domain -> prompts missing from its quota
    dropped_by_domain: dict[str, Counter] = field(default_factory=dict)  # domain -> reason -> count

    def drop(self, prompt: Prompt, reason: str, count: int = 1) -> None:
        self.dropped[reason] += count
        self.dropped_by_domain.setdefault(prompt.domain, Counter())[reason] += count


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
           mix: Mapping[str, float], total: int | None, seed: int = 0,
           domains: Mapping[str, DomainRule] | None = None, mix_mode: str = "ratio",
           counts: Mapping[str, int] | None = None) -> SelectionReport:
    """The prompts kept (in a seeded order) and why the others were dropped. ``mix`` holds the
    domains' shares and ``counts`` the domains given a number of prompts instead."""
    counts = counts or {}
    if mix_mode not in MIX_MODES:
        raise RedStarError(f"selection.mix_mode must be one of {', '.join(MIX_MODES)}, got {mix_mode!r}")
    domains = domains or {}
    report = SelectionReport(kept=[])
    in_band = []
    for p in prompts:
        rule = domains.get(p.domain, DomainRule())
        low = min_level if rule.min_level is None else rule.min_level
        high = max_level if rule.max_level is None else rule.max_level
        if p.difficulty is None:
            report.drop(p, "no difficulty")
        elif p.difficulty < low:
            report.drop(p, "too easy")
        elif p.difficulty > high:
            report.drop(p, "too hard")
        else:
            in_band.append(p)
    in_band.sort(key=lambda p: _order_key(seed, p))

    taken_per_source: Counter = Counter()
    taken_per_domain: Counter = Counter()
    capped = []
    for p in in_band:
        cap = per_source.get(p.source)
        if cap is not None and taken_per_source[p.source] >= cap:
            report.drop(p, "per-source cap")
            continue
        domain_cap = domains.get(p.domain, DomainRule()).max_prompts
        if domain_cap is not None and taken_per_domain[p.domain] >= domain_cap:
            report.drop(p, "per-domain cap")
            continue
        taken_per_source[p.source] += 1
        taken_per_domain[p.domain] += 1
        capped.append(p)

    if mix or counts:
        by_domain: dict[str, list[Prompt]] = defaultdict(list)
        for p in capped:
            if p.domain in mix or p.domain in counts:
                by_domain[p.domain].append(p)
            else:
                report.drop(p, "domain not in mix")
        quotas = dict(counts)
        if mix:
            rest = None if total is None else max(0, total - sum(counts.values()))
            quotas.update(_mix_quotas(mix, rest, by_domain, mix_mode))
        for domain, quota in quotas.items():
            chosen = by_domain[domain][:quota]
            report.kept.extend(chosen)
            if len(chosen) < quota and (mix_mode == "ratio" or domain in counts):
                report.shortfall[domain] = quota - len(chosen)
            for p in by_domain[domain][quota:]:
                report.drop(p, "over domain quota")
    else:
        limit = len(capped) if total is None else total
        report.kept = capped[:limit]
        for p in capped[limit:]:
            report.drop(p, "over total")
    report.dropped = Counter({k: v for k, v in report.dropped.items() if v})
    report.kept.sort(key=lambda p: _order_key(seed, p))
    return report


def _mix_quotas(mix: Mapping[str, float], total: int | None, by_domain: Mapping[str, list[Prompt]],
                mode: str) -> dict[str, int]:
    if not any(w > 0 for w in mix.values()):
        return {d: 0 for d in mix}  # only counts matter (a share of 0 takes nothing)
    if mode == "cap":
        if total is None:
            return {d: len(by_domain.get(d, [])) for d, w in mix.items() if w > 0}
        return {d: q for d, q in domain_quotas(mix, total).items()}
    if total is None:
        # The scarcest domain (relative to its share) sets the size.
        shares = [(d, w) for d, w in mix.items() if w > 0]
        if all(by_domain.get(d) for d, _ in shares):
            total = int(min(len(by_domain[d]) / w for d, w in shares) * sum(mix.values()))
        else:
            total = sum(len(v) for v in by_domain.values())
    return domain_quotas(mix, total)


def samples_for_level(level: float | None, n: int, n_by_level: Mapping[float, int]) -> int:
    """Responses to draw for a prompt: the entry of ``n_by_level`` with the largest level not
    above the prompt's, else ``n`` (harder prompts get more, as in the paper)."""
    best = n
    best_level = None
    for key, count in n_by_level.items():
        k = float(key)
        if level is not None and k <= level and (best_level is None or k > best_level):
            best, best_level = count, k
    return best


def samples_for(prompt: Prompt, n: int, n_by_level: Mapping[float, int],
                domains: Mapping[str, DomainSelection] | None = None) -> int:
    """Responses to draw for ``prompt``: its domain's ``n``/``n_by_level`` under
    ``selection.domains`` when set, else the sampling section's."""
    rule = (domains or {}).get(prompt.domain)
    own_n = None if rule is None else rule.n
    own_by_level = None if rule is None else rule.n_by_level
    return samples_for_level(prompt.difficulty, n if own_n is None else own_n,
                             n_by_level if own_by_level is None else own_by_level)


def explain_mix(mix: Mapping[str, float], counts: Mapping[str, int], total: int | None,
                mode: str = "ratio") -> tuple[dict[str, str], list[str]]:
    """What ``selection.mix`` (shares ``mix``, counts ``counts``) gives each domain, from the
    recipe alone: ``(per_domain, notes)``, a phrase per domain of the mix (exact prompt counts
    where ``total`` fixes them, else how the number is found once the prompts are loaded) and
    notes on the whole mix. Rounding, and shares that do not add up to 1, are spelled out, so
    that no domain loses a prompt silently."""
    if not mix and not counts:
        limit = "" if total is None else f"; at most {total} in all (the first in the seeded order)"
        return {}, [f"no mix: every domain keeps all its prompts in its band{limit}"]
    per_domain = {d: f"{_prompts(n)} (a count: fewer if it has fewer in its band)" for d, n in counts.items()}
    positive = {d: w for d, w in mix.items() if w > 0}
    weight = sum(positive.values())
    per_domain.update({d: "no prompts (a share of 0)" for d, w in mix.items() if w <= 0})
    notes: list[str] = []
    rest = None if total is None else max(0, total - sum(counts.values()))
    if positive and rest is None:
        for d, w in positive.items():
            per_domain[d] = ("all its prompts in its band (without selection.total a share caps nothing)"
                             if mode == "cap" else
                             f"{w / weight:.1%} of the prompts selected by share; how many is set by the domain "
                             "with the fewest prompts for its share, known once the prompts are loaded")
    elif positive and rest is not None:
        quotas = domain_quotas(positive, rest)
        at_most = "at most " if mode == "cap" else ""
        for d, w in positive.items():
            exact = rest * w / weight
            rounded = "" if exact == quotas[d] else f", rounded {'up' if quotas[d] > exact else 'down'} from {exact:.2f}"
            per_domain[d] = f"{at_most}{_prompts(quotas[d])} ({w / weight:.1%} of {rest}{rounded})"
            if quotas[d] == 0:
                notes.append(f"{d} gets no prompt from its share {w:g}: give it a count ({{prompts: N}}) or a "
                             "larger share")
        if counts:
            notes.append(f"the shares split what the counts leave of selection.total: {total} - "
                         f"{sum(counts.values())} = {rest}")
    if positive and abs(weight - 1) > 1e-9:
        notes.append(f"the shares add up to {weight:g}, not 1: each domain's part is its share divided by {weight:g}")
    return per_domain, notes


def _prompts(n: int) -> str:
    return "1 prompt" if n == 1 else f"{n} prompts"
