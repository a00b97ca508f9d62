"""The RL estimators against values computed by hand."""

from __future__ import annotations

import math
import threading

import pytest
import torch

from redstar_rl.advantages import (
    clipped_policy_loss,
    clipped_value_loss,
    discounted_returns,
    gae,
    kl_estimate,
    masked_mean,
    masked_whiten,
    token_rewards,
)

X = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
MASK = torch.tensor([[1, 1, 0], [1, 0, 0]])


def close(actual, expected):
    torch.testing.assert_close(actual, torch.tensor(expected, dtype=actual.dtype), atol=1e-6, rtol=1e-6)


def test_masked_mean_counts_only_real_tokens():
    assert masked_mean(X, MASK).item() == pytest.approx(7 / 3)
    close(masked_mean(X, MASK, dim=-1), [1.5, 4.0])
    close(masked_mean(X, torch.zeros_like(MASK), dim=-1), [0.0, 0.0])


def test_masked_whiten_uses_the_masked_population():
    # Real values 1, 2, 4: mean 7/3, variance 14/9.
    s = math.sqrt(14)
    close(masked_whiten(X, MASK), [[-4 / s, -1 / s, 0.0], [5 / s, 0.0, 0.0]])
    close(masked_whiten(X, MASK, shift_mean=False), [[-4 / s + 7 / 3, -1 / s + 7 / 3, 0.0], [5 / s + 7 / 3, 0.0, 0.0]])


def test_masked_whiten_normalises_over_the_global_batch():
    """Two 'processes' whitening their shards with a summing all-reduce get exactly the
    whitening of the whole batch, not each shard's own."""
    torch.manual_seed(0)
    x = torch.randn(6, 5)
    mask = (torch.rand(6, 5) > 0.3).long()
    shards = [(x[:2], mask[:2]), (x[2:], mask[2:])]
    barrier = threading.Barrier(2)
    slots: list = [None, None]
    outputs: list = [None, None]

    def all_reduce_sum(rank):
        def reduce(tensor):
            slots[rank] = tensor
            barrier.wait()
            total = slots[0] + slots[1]
            barrier.wait()
            return total
        return reduce

    def run(rank):
        outputs[rank] = masked_whiten(*shards[rank], reduce=all_reduce_sum(rank))

    threads = [threading.Thread(target=run, args=(rank,)) for rank in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    torch.testing.assert_close(torch.cat(outputs), masked_whiten(x, mask))
    assert not torch.allclose(outputs[0], masked_whiten(*shards[0]))


def test_kl_estimators():
    logp, ref = torch.tensor([math.log(0.5)]), torch.tensor([math.log(0.25)])
    assert kl_estimate(logp, ref, "k1").item() == pytest.approx(math.log(2))
    assert kl_estimate(logp, ref, "k2").item() == pytest.approx(0.5 * math.log(2) ** 2)
    assert kl_estimate(logp, ref, "k3").item() == pytest.approx(0.5 - 1 + math.log(2))
    assert kl_estimate(ref, ref, "k3").item() == 0.0
    with pytest.raises(ValueError):
        kl_estimate(logp, ref, "k4")


def test_token_rewards_put_the_score_on_the_last_real_token():
    kl = torch.tensor([[0.1, 0.2, 0.3], [0.5, 0.5, 0.5]])
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    close(token_rewards(torch.tensor([1.0, -1.0]), kl, mask, kl_coef=0.1),
          [[-0.01, -0.02, 0.97], [-0.05, -1.05, 0.0]])


def test_discounted_returns_are_rewards_to_go():
    rewards = torch.tensor([[0.0, 0.0, 1.0], [1.0, 2.0, 7.0]])
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]])  # the 7 is padding and must not count
    close(discounted_returns(rewards, mask, gamma=0.5), [[0.25, 0.5, 1.0], [2.0, 2.0, 0.0]])
    close(discounted_returns(rewards, mask, gamma=1.0), [[1.0, 1.0, 1.0], [3.0, 2.0, 0.0]])


def test_gae_by_hand():
    rewards = torch.tensor([[0.0, 0.0, 1.0]])
    values = torch.tensor([[0.5, 0.25, 0.5]])
    mask = torch.ones(1, 3)
    advantages, returns = gae(rewards, values, mask, gamma=1.0, lam=0.5)
    close(advantages, [[0.0, 0.5, 0.5]])
    close(returns, [[0.5, 0.75, 1.0]])
    # lam = 1: Monte-Carlo returns minus the values.
    advantages, returns = gae(rewards, values, mask, gamma=1.0, lam=1.0)
    close(advantages, [[0.5, 0.75, 0.5]])
    close(returns, [[1.0, 1.0, 1.0]])


def test_gae_ends_the_episode_at_the_last_real_token():
    rewards = torch.tensor([[0.0, 1.0, 5.0]])
    values = torch.tensor([[0.2, 0.4, 9.0]])
    advantages, returns = gae(rewards, values, torch.tensor([[1, 1, 0]]), gamma=1.0, lam=1.0)
    close(advantages, [[0.8, 0.6, 0.0]])
    close(returns, [[1.0, 1.0, 0.0]])


def test_clipped_policy_loss_by_hand():
    ratios = torch.tensor([[1.5, 0.5, 1.1, 0.5]])
    advantages = torch.tensor([[1.0, 1.0, -1.0, -1.0]])
    mask = torch.tensor([[1, 1, 1, 1]])
    loss, clipfrac = clipped_policy_loss(ratios.log(), torch.zeros(1, 4), advantages, mask, clip_range=0.2)
    # 1.5 with A>0 is clipped to 1.2; 0.5 with A>0 keeps its (worse) value; 1.1 is inside the
    # range; 0.5 with A<0 is clipped to 0.8.
    close(loss, [[-1.2, -0.5, 1.1, 0.8]])
    assert clipfrac.item() == pytest.approx(0.5)
    loss, _ = clipped_policy_loss(ratios.log(), torch.zeros(1, 4), advantages, torch.tensor([[1, 0, 0, 0]]))
    close(loss, [[-1.2, 0.0, 0.0, 0.0]])


def test_clipped_value_loss_by_hand():
    values = torch.tensor([[1.0, 0.0, 0.6]])
    old = torch.tensor([[0.5, 0.5, 0.5]])
    returns = torch.tensor([[2.0, 0.0, 1.0]])
    loss, clipfrac = clipped_value_loss(values, old, returns, torch.ones(1, 3), clip_range=0.2)
    # Clipped values 0.7, 0.3, 0.6: the larger squared error wins.
    close(loss, [[0.5 * 1.3**2, 0.5 * 0.3**2, 0.5 * 0.4**2]])
    assert clipfrac.item() == pytest.approx(2 / 3)
