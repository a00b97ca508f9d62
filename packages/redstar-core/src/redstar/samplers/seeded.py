"""Sampling where each row of a batch draws from its own seed.

``model.generate(do_sample=True)`` draws every row's token from one torch random stream, so what
a row gets depends on which rows share its batch and in what order: a resumed run (other
prompts, other batches) cannot draw what the interrupted one would have. Here the randomness
moves into a logits processor: it applies temperature and top-p exactly as transformers' own
warpers do, then adds Gumbel noise drawn from a ``torch.Generator`` per row, seeded with that
row's seed; ``generate`` then decodes greedily. The argmax of log-probabilities plus Gumbel
noise is an exact sample from the (tempered, top-p) categorical distribution (the Gumbel-max
trick), and row ``r``'s ``t``-th token depends only on its own seed and its own logits. Those
logits still differ by float rounding with the padding a batch adds (a few ulps in fp32, more in
bf16), which can flip a near-tie; in practice a row draws the same tokens in any batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def row_sampler(seeds: Sequence[int], temperature: float, top_p: float, device: Any) -> Any:
    """A ``LogitsProcessor`` for ``generate(do_sample=False, logits_processor=[...])`` that samples
    row ``i`` of the batch with ``seeds[i]``. Put it last: the model's own processors
    (repetition penalty and the like) apply before it, as they would before sampling."""
    import torch
    from transformers import LogitsProcessor, TemperatureLogitsWarper, TopPLogitsWarper

    warpers: list[LogitsProcessor] = [TemperatureLogitsWarper(temperature)]
    if top_p < 1:
        warpers.append(TopPLogitsWarper(top_p))

    class RowSeededSampling(LogitsProcessor):
        def __init__(self) -> None:
            self.generators = [torch.Generator(device=device).manual_seed(int(seed)) for seed in seeds]

        def __call__(self, input_ids: Any, scores: Any) -> Any:
            if scores.shape[0] != len(self.generators):
                raise RuntimeError(f"seeded sampling: {scores.shape[0]} rows for {len(self.generators)} seeds")
            for warper in warpers:
                scores = warper(input_ids, scores)
            # One draw per vocabulary entry, per row, per step, from the row's own stream:
            # E ~ Exp(1), and -log(E) is Gumbel noise.
            noise = torch.empty(scores.shape, device=scores.device, dtype=torch.float32)
            for row, generator in zip(noise, self.generators):
                row.exponential_(generator=generator)
            # clamp: a draw of exactly 0 (float rounding) would add +inf, and NaN to masked tokens.
            return scores.float() - noise.clamp_min_(torch.finfo(torch.float32).tiny).log_()

    return RowSeededSampling()
