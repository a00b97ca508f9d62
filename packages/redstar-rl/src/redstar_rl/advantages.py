"""The estimators of policy-gradient RL on token sequences, as pure tensor functions.

Shapes: ``[batch, T]`` over the response tokens of each sample, with ``mask`` 1 on real tokens
(the response up to and including its end-of-sequence token) and 0 on padding. Response masks
are prefixes: once a row's mask is 0 it stays 0.

Normalisation is over the *global* batch: ``reduce`` (default: none) sums a tensor over all
processes, so the mean and variance are those of every token of every process, not of one
process's shard.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

Reduce = Callable[[Tensor], Tensor]

KL_ESTIMATORS = ("k1", "k2", "k3")

#: REINFORCE++'s baselines, named as OpenRLHF's ``--algo.advantage.estimator``: ``reinforce``
#: subtracts nothing per prompt (the whitening over the rollout is the only, global, baseline);
#: ``reinforce_baseline`` first subtracts each prompt's mean score.
REINFORCE_ESTIMATORS = ("reinforce", "reinforce_baseline")


def _identity(x: Tensor) -> Tensor:
    return x


def masked_mean(x: Tensor, mask: Tensor, dim: int | None = None) -> Tensor:
    """Mean of ``x`` where ``mask`` is 1 (over everything, or along ``dim``); 0 where nothing is
    masked in."""
    mask = mask.to(x.dtype)
    if dim is None:
        return (x * mask).sum() / mask.sum().clamp(min=1)
    return (x * mask).sum(dim) / mask.sum(dim).clamp(min=1)


def masked_whiten(x: Tensor, mask: Tensor, *, shift_mean: bool = True, reduce: Reduce | None = None,
                  eps: float = 1e-8) -> Tensor:
    """``(x - mean) / std`` over the masked-in elements of the global batch (population variance);
    with ``shift_mean=False`` the mean is added back (only the scale changes). Masked-out
    elements come back as 0."""
    reduce = reduce or _identity
    m = mask.to(x.dtype)
    count = reduce(m.sum())
    mean = reduce((x * m).sum()) / count.clamp(min=1)
    var = reduce((((x - mean) * m) ** 2).sum()) / count.clamp(min=1)
    out = (x - mean) * torch.rsqrt(var + eps)
    if not shift_mean:
        out = out + mean
    return out * m


def kl_estimate(logprobs: Tensor, ref_logprobs: Tensor, kind: str = "k1") -> Tensor:
    """Per-token estimate of KL(policy || reference) from the sampled tokens' log-probabilities
    (Schulman's estimators): ``k1 = log p - log q``; ``k2 = (log p - log q)^2 / 2``;
    ``k3 = q/p - 1 - log(q/p)`` (non-negative, unbiased)."""
    log_ratio = logprobs - ref_logprobs
    if kind == "k1":
        return log_ratio
    if kind == "k2":
        return 0.5 * log_ratio**2
    if kind == "k3":
        return torch.expm1(-log_ratio) + log_ratio
    raise ValueError(f"kl estimator must be one of {', '.join(KL_ESTIMATORS)}, got {kind!r}")


def last_token_index(mask: Tensor) -> Tensor:
    """Index of each row's last real token (0 for a row with none)."""
    return (mask.long().sum(-1) - 1).clamp(min=0)


def token_rewards(scores: Tensor, kl: Tensor, mask: Tensor, kl_coef: float) -> Tensor:
    """The reward of each token: ``-kl_coef * kl`` on every real token, plus the sequence's
    score (the verifier's 1/0/-1) on its last token. Rows without tokens get nothing."""
    rewards = -kl_coef * kl * mask.to(kl.dtype)
    has_tokens = mask.sum(-1) > 0
    rows = torch.arange(scores.shape[0], device=scores.device)
    rewards[rows, last_token_index(mask)] += scores.to(rewards.dtype) * has_tokens
    return rewards


def group_mean_baseline(scores: Tensor, group_size: int) -> Tensor:
    """``scores`` minus the mean score of their group, where groups are ``group_size``
    consecutive entries (the responses to one prompt)."""
    if scores.numel() % group_size:
        raise ValueError(f"{scores.numel()} scores do not split into groups of {group_size}")
    grouped = scores.reshape(-1, group_size)
    return (grouped - grouped.mean(-1, keepdim=True)).reshape(-1)


def reinforce_advantages(scores: Tensor, kl: Tensor, mask: Tensor, *, kl_coef: float, gamma: float,
                         estimator: str = "reinforce", group_size: int = 1, reduce: Reduce | None = None
                         ) -> Tensor:
    """REINFORCE++'s advantages, as OpenRLHF 0.11.2 computes them
    (``RemoteExperienceMaker.compute_advantages_and_returns``): the sequence scores (minus each
    prompt's mean with ``reinforce_baseline``; a prompt's responses are ``group_size`` consecutive
    rows), folded with the per-token KL penalty into token rewards, summed into discounted
    rewards-to-go, whitened over the whole rollout."""
    if estimator not in REINFORCE_ESTIMATORS:
        raise ValueError(f"estimator must be one of {', '.join(REINFORCE_ESTIMATORS)}, got {estimator!r}")
    if estimator == "reinforce_baseline":
        scores = group_mean_baseline(scores, group_size)
    returns = discounted_returns(token_rewards(scores, kl, mask, kl_coef), mask, gamma)
    return masked_whiten(returns, mask, reduce=reduce)


def ppo_advantages(scores: Tensor, kl: Tensor, values: Tensor, mask: Tensor, *, kl_coef: float, gamma: float,
                   lam: float, reduce: Reduce | None = None) -> tuple[Tensor, Tensor]:
    """PPO's whitened GAE advantages and its returns (the critic's targets), as OpenRLHF 0.11.2
    computes them with ``--algo.advantage.estimator gae``."""
    advantages, returns = gae(token_rewards(scores, kl, mask, kl_coef), values, mask, gamma, lam)
    return masked_whiten(advantages, mask, reduce=reduce), returns


def discounted_returns(rewards: Tensor, mask: Tensor, gamma: float = 1.0) -> Tensor:
    """Reward-to-go ``G_t = r_t + gamma * G_{t+1}`` within each row's real tokens."""
    m = mask.to(rewards.dtype)
    rewards = rewards * m
    returns = torch.zeros_like(rewards)
    running = rewards.new_zeros(rewards.shape[0])
    # Padding follows the real tokens and its rewards are zeroed, so it adds nothing to a return.
    for t in reversed(range(rewards.shape[1])):
        running = rewards[:, t] + gamma * running
        returns[:, t] = running
    return returns * m


def gae(rewards: Tensor, values: Tensor, mask: Tensor, gamma: float = 1.0, lam: float = 1.0) -> tuple[Tensor, Tensor]:
    """Generalised advantage estimation. ``values[:, t]`` is the critic's value of the state
    before token ``t``; the value after the last real token is 0 (the episode ends there).

    ``delta_t = r_t + gamma * V_{t+1} - V_t``, ``A_t = delta_t + gamma * lam * A_{t+1}``; the
    returns (the critic's targets) are ``A_t + V_t``. Both come back masked.
    """
    m = mask.to(rewards.dtype)
    rewards, values = rewards * m, values * m
    advantages = torch.zeros_like(rewards)
    running = rewards.new_zeros(rewards.shape[0])
    length = rewards.shape[1]
    for t in reversed(range(length)):
        next_value = values[:, t + 1] if t + 1 < length else torch.zeros_like(running)
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        running = delta + gamma * lam * running
        advantages[:, t] = running
    advantages = advantages * m
    return advantages, (advantages + values) * m


def clipped_policy_loss(logprobs: Tensor, old_logprobs: Tensor, advantages: Tensor, mask: Tensor,
                        clip_range: float = 0.2) -> tuple[Tensor, Tensor]:
    """PPO's clipped surrogate, per token: ``max(-A * r, -A * clip(r, 1-e, 1+e))`` with
    ``r = exp(logp - logp_old)``; and the fraction of real tokens where clipping was active."""
    ratio = torch.exp(logprobs - old_logprobs)
    unclipped = -advantages * ratio
    clipped = -advantages * ratio.clamp(1.0 - clip_range, 1.0 + clip_range)
    loss = torch.maximum(unclipped, clipped) * mask.to(logprobs.dtype)
    clipfrac = masked_mean((clipped > unclipped).to(logprobs.dtype), mask)
    return loss, clipfrac


def clipped_value_loss(values: Tensor, old_values: Tensor, returns: Tensor, mask: Tensor,
                       clip_range: float = 0.2) -> tuple[Tensor, Tensor]:
    """PPO's clipped value loss, per token: ``0.5 * max((V - R)^2, (V_clip - R)^2)`` with
    ``V_clip = V_old + clip(V - V_old, -e, e)``; and the fraction of tokens where the clipped
    term was the larger."""
    clipped_values = old_values + (values - old_values).clamp(-clip_range, clip_range)
    unclipped = (values - returns) ** 2
    clipped = (clipped_values - returns) ** 2
    loss = 0.5 * torch.maximum(unclipped, clipped) * mask.to(values.dtype)
    clipfrac = masked_mean((clipped > unclipped).to(values.dtype), mask)
    return loss, clipfrac
