"""The row-seeded logits processor samples the tempered, top-p distribution exactly (Gumbel-max),
row by row from each row's own seed."""

from __future__ import annotations

import torch
from transformers import TopPLogitsWarper

from redstar.samplers.seeded import row_sampler


def test_draws_follow_the_tempered_top_p_distribution() -> None:
    logits = torch.tensor([[2.0, 1.0, 0.5, 0.0, -1.0, -3.0]])
    draws = 20000
    scores = row_sampler(list(range(draws)), 0.7, 0.9, "cpu")(None, logits.expand(draws, -1).clone())
    frequency = torch.bincount(scores.argmax(-1), minlength=6).double() / draws
    expected = torch.softmax(TopPLogitsWarper(0.9)(None, logits / 0.7), -1)[0].double()
    # Fixed seeds make this deterministic; 5 standard errors of slack keeps it honest.
    slack = 5 * (expected * (1 - expected) / draws).sqrt() + 1e-9
    assert bool(((frequency - expected).abs() <= slack).all()), (frequency, expected)
    assert frequency[expected == 0].sum() == 0  # top-p's cut tokens are never drawn
    assert not torch.isnan(scores).any()


def test_a_row_depends_on_its_seed_only() -> None:
    logits = torch.zeros(3, 50)
    together = row_sampler([7, 8, 9], 1.0, 1.0, "cpu")(None, logits.clone())
    alone = row_sampler([8], 1.0, 1.0, "cpu")(None, logits[:1].clone())
    assert torch.equal(together[1], alone[0])
    assert not torch.equal(together[0], together[1])
