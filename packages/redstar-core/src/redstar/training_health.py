"""Did an RL stage train? Read from its per-step metrics file (every trainer writes one), so that
the summary and the report can say "did not train" instead of filing a stage that never moved
under "within noise".

A stage **did not train** when either holds:

- **its policy did not move**: the largest per-token KL to the reference it logged stayed below
  :data:`MIN_POLICY_KL` (1e-3 nats per token; at 150 tokens that is 0.15 nats over a whole
  response). The online trainers log ``kl`` (the rollout policy's, each rollout; OpenRLHF's and
  TRL's GRPO's the same) and ``policy_kl`` (the policy being updated, each step). DPO logs no
  per-token KL; its implicit rewards ``rewards/chosen`` and ``rewards/rejected`` are ``beta``
  times the whole response's log-ratio to the reference, so its drift is their largest absolute
  value over ``beta``, against :data:`MIN_DPO_DRIFT` (0.1 nats per response). GRPO with ``beta:
  0`` loads no reference and logs no KL: whether it moved is then unknown, not "no";
- **its reward stayed flat** (online RL only): the mean reward of its last quarter of rollouts
  minus that of its first quarter lies within two standard errors of 0 (the standard error from
  each rollout's reward spread and size, or, where the size is not logged, from the rollouts'
  scatter). With a single rollout the trend is not judged.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

#: Per-token KL to the reference (nats) below which an online policy did not move.
MIN_POLICY_KL = 1e-3
#: DPO's largest |implicit reward| / beta (nats per response) below which its policy did not move.
MIN_DPO_DRIFT = 0.1
#: Reward change within this many standard errors of 0 is flat.
FLAT_SE = 2.0

_REWARD_KEYS = (("rollout/reward_mean", "rollout/reward_std", "rollout/num_samples"),  # OpenRLHF
                ("reward", "reward_std", "responses"))  # the local loop, TRL's GRPO


def read_steps(metrics_file: str | Path) -> list[dict[str, float]]:
    """The metrics lines, one per step (a step logged twice after a resume: the later line)."""
    path = Path(metrics_file)
    if not path.exists():
        return []
    by_step: dict[Any, dict[str, float]] = {}
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        if line.strip():
            row = json.loads(line)
            by_step[row.get("step", i)] = row
    return [by_step[k] for k in sorted(by_step, key=lambda k: (not isinstance(k, (int, float)), k))]


def _rollouts(steps: Sequence[Mapping[str, float]]) -> list[tuple[float, float | None, float | None]]:
    """(mean, spread, responses) of each rollout's reward, in order: the local loop repeats a
    rollout's figures on each of its steps (``rollout`` tells them apart), OpenRLHF logs one step
    per rollout, GRPO one generation batch per step."""
    out: list[tuple[float, float | None, float | None]] = []
    seen = set()
    for row in steps:
        for mean_key, std_key, n_key in _REWARD_KEYS:
            if mean_key in row:
                rollout = row.get("rollout", row.get("step"))
                if rollout in seen:
                    break
                seen.add(rollout)
                out.append((row[mean_key], row.get(std_key), row.get(n_key)))
                break
    return out


def reward_trend(rollouts: Sequence[tuple[float, float | None, float | None]]) -> dict[str, Any]:
    """The change of the mean reward from the first quarter of rollouts to the last, its
    standard error, and whether it is flat (None where it cannot be judged)."""
    if len(rollouts) < 2:
        return {"reward_change": None, "reward_change_se": None, "reward_flat": None}
    k = max(1, len(rollouts) // 4)
    first, last = rollouts[:k], rollouts[-k:]
    change = sum(m for m, _, _ in last) / k - sum(m for m, _, _ in first) / k

    def variance(part: Sequence[tuple[float, float | None, float | None]]) -> float | None:
        sized = [(s, n) for _, s, n in part if s is not None and n]
        if len(sized) == len(part):
            return sum(s ** 2 / n for s, n in sized) / k ** 2
        if k >= 2:  # the spread of the rollouts' means themselves
            means = [m for m, _, _ in part]
            centre = sum(means) / k
            return sum((m - centre) ** 2 for m in means) / (k - 1) / k
        return None

    parts = [variance(first), variance(last)]
    if any(v is None for v in parts):
        return {"reward_change": change, "reward_change_se": None, "reward_flat": None}
    se = math.sqrt(sum(v for v in parts if v is not None))
    return {"reward_change": change, "reward_change_se": se, "reward_flat": abs(change) < FLAT_SE * se}


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def training_health(metrics_file: str | Path, tag: str, trainer: str, kind: str,
                    options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The health figures of one RL stage and the verdict: ``trained`` (False: did not train,
    None: could not tell, True: it moved and its reward did not stay flat) with ``reasons``."""
    steps = read_steps(metrics_file)
    health: dict[str, Any] = {"tag": tag, "trainer": trainer, "steps": len(steps)}
    reasons: list[str] = []
    if kind == "preference":
        beta = float((options or {}).get("beta", 0.3))
        chosen = [abs(r["rewards/chosen"]) for r in steps if "rewards/chosen" in r]
        rejected = [abs(r["rewards/rejected"]) for r in steps if "rewards/rejected" in r]
        drift = max(chosen + rejected) / beta if chosen + rejected else None
        margins = [r["rewards/margins"] for r in steps if "rewards/margins" in r]
        accuracy = [r["rewards/accuracies"] for r in steps if "rewards/accuracies" in r]
        health.update(drift=drift, margin_first=margins[0] if margins else None,
                      margin_last=margins[-1] if margins else None,
                      accuracy_first=accuracy[0] if accuracy else None, accuracy_last=accuracy[-1] if accuracy else None)
        moved = None if drift is None else drift >= MIN_DPO_DRIFT
        if moved is False:
            reasons.append(f"policy did not move: its largest |log-ratio| to the reference was {drift:.2g} nats "
                           f"per response (< {MIN_DPO_DRIFT})")
        flat = None
    else:
        kls = [abs(r[key]) for r in steps for key in ("kl", "policy_kl") if key in r]
        health["kl_max"] = max(kls) if kls else None
        health["kl_last"] = next((r["kl"] for r in reversed(steps) if "kl" in r), None)
        moved = None if not kls else max(kls) >= MIN_POLICY_KL
        if moved is False:
            reasons.append(f"policy did not move: its per-token KL to the reference peaked at {max(kls):.2g} nats "
                           f"(< {MIN_POLICY_KL})")
        rollouts = _rollouts(steps)
        health["rollouts"] = len(rollouts)
        health["reward_first"] = rollouts[0][0] if rollouts else None
        health["reward_last"] = rollouts[-1][0] if rollouts else None
        health.update(reward_trend(rollouts))
        flat = health["reward_flat"]
        if flat:
            reasons.append(f"reward flat: {health['reward_change']:+.3f} from its first to its last rollouts "
                           f"(standard error {health['reward_change_se']:.3f})")
        for name, keys in (("entropy", ("entropy", "entropy_loss")),
                           ("zero_variance_prompts", ("frac_reward_zero_std",)),
                           ("clip_fraction", ("clipfrac", "ppo_clip_ratio", "clip_ratio/region_mean")),
                           ("value_loss", ("value_loss", "critic_loss")), ("explained_variance", ("explained_variance",))):
            values = [r[k] for r in steps for k in keys if k in r]
            health[name] = _mean(values)
        entropy = [r[k] for r in steps for k in ("entropy", "entropy_loss") if k in r]
        health["entropy_first"], health["entropy_last"] = (entropy[0], entropy[-1]) if entropy else (None, None)
    health["trained"] = False if reasons else (None if moved is None and flat is None else True)
    health["reasons"] = reasons
    if reasons:
        health["verdict"] = f"{tag} ({trainer}) did not train: " + "; ".join(reasons)
    return health
