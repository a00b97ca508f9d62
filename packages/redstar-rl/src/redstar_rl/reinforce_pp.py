"""REINFORCE++ (Hu, 2025): PPO's clipped update without a critic.

Each token's reward is ``-kl_coef * KL`` (policy vs. reference) plus, on the last token, the
verifier's score; the advantage of a token is its discounted reward-to-go, normalised over the
whole rollout batch (all processes). See :mod:`redstar_rl.online` for the loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from redstar_rl.advantages import discounted_returns, masked_whiten
from redstar_rl.online import OnlineOptions, OnlineRLTrainer
from redstar_rl.rollout import Sample


class ReinforcePPTrainer(OnlineRLTrainer):
    """REINFORCE++ on online rows, rewarded by ``TrainContext.reward``.

    Defaults are the paper's (RedStar, Table 9): ``episodes=5``, ``learning_rate=5e-7``,
    ``batch_size=1024`` prompts per rollout (OpenRLHF's unit), linear learning-rate decay, ``samples_per_prompt=2``, ``temperature=1.0``.
    ``engine="openrlhf"`` runs the same algorithm on OpenRLHF 0.11.2 at the paper's scale
    (``openrlhf`` holds the cluster settings, ``verifiers`` the verifier options for its reward
    module: :mod:`redstar_rl.openrlhf`); the default ``engine="local"`` is RedStar's own loop.
    ``docs/training.md`` lists every option; on a CPU use a tiny model and override the sizes.
    The options are described on :class:`~redstar_rl.online.OnlineOptions`.
    """

    name = "reinforce_pp"

    def __init__(self, *, episodes: int = 5, learning_rate: float = 5e-7, batch_size: int = 1024,
                 samples_per_prompt: int = 2, mini_batch_size: int | None = None, micro_batch_size: int = 4,
                 generation_batch_size: int = 64, update_epochs: int = 1, temperature: float = 1.0,
                 top_p: float = 1.0, max_new_tokens: int = 1024, max_prompt_length: int = 1024,
                 kl_coef: float = 0.01, kl_estimator: str = "k1", clip_range: float = 0.2, gamma: float = 1.0,
                 max_grad_norm: float = 1.0, weight_decay: float = 0.0, lr_scheduler: str = "linear",
                 device: str = "auto", engine: str = "local", openrlhf: dict[str, Any] | None = None,
                 verifiers: dict[str, Any] | None = None,
                 seed: int | None = None) -> None:
        super().__init__(OnlineOptions.pick(locals()))

    def advantages(self, samples: Sequence[Sample], rewards: torch.Tensor, mask: torch.Tensor
                   ) -> dict[str, torch.Tensor]:
        returns = discounted_returns(rewards, mask, self.options.gamma)
        return {"advantages": masked_whiten(returns, mask, reduce=self._global_reduce)}
