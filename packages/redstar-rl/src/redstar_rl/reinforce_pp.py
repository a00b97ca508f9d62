"""REINFORCE++ (Hu, 2025): PPO's clipped update without a critic.

Each token's reward is ``-kl_coef * KL`` (policy vs. reference) plus, on the last token, the
verifier's score (with ``advantage_estimator: reinforce_baseline``, minus the mean score of the
prompt's responses); the advantage of a token is its discounted reward-to-go, normalised over the
whole rollout batch (all processes), exactly as OpenRLHF 0.11.2 computes its ``reinforce`` and
``reinforce_baseline`` estimators (:func:`redstar_rl.advantages.reinforce_advantages`). See
:mod:`redstar_rl.online` for the loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from redstar.trainers.settings import OptionError
from redstar_rl.advantages import REINFORCE_ESTIMATORS, reinforce_advantages
from redstar_rl.online import OnlineOptions, OnlineRLTrainer
from redstar_rl.online_options import TRAIN_BATCH_RESPONSES
from redstar_rl.rollout import Sample


class ReinforcePPTrainer(OnlineRLTrainer):
    """REINFORCE++ on online rows, rewarded by ``TrainContext.reward``.

    Defaults are the paper's (RedStar, Table 9): 5 episodes, learning rate 5e-7 decaying linearly,
    1024 prompts per rollout (OpenRLHF's unit), 2 responses per prompt at temperature 1.0; where
    Table 9 is silent, OpenRLHF 0.11.2's (128 responses per optimizer step). ``docs/training.md``
    lists every option; on a CPU use a tiny model and override the sizes.

    Args:
        advantage_estimator: `reinforce` (the paper's REINFORCE++: the whitening over the
            rollout is the only baseline) or `reinforce_baseline` (each prompt's mean score is
            subtracted first, so a prompt's difficulty does not leak into its advantage; needs
            `gamma` 1): OpenRLHF's `--algo.advantage.estimator`.

    The options it shares with the other online trainers are described on
    :class:`~redstar_rl.online_options.OnlineOptions`.
    """

    name = "reinforce_pp"

    def __init__(self, *, episodes: int = 5, learning_rate: float = 5e-7, batch_size: int = 1024,
                 samples_per_prompt: int = 2, mini_batch_size: int = TRAIN_BATCH_RESPONSES,
                 micro_batch_size: int = 4, generation_batch_size: int = 64, update_epochs: int = 1,
                 temperature: float = 1.0, top_p: float = 1.0, max_new_tokens: int = 1024,
                 max_prompt_length: int = 1024, kl_coef: float = 0.01, kl_estimator: str = "k1",
                 clip_range: float = 0.2, gamma: float = 1.0, dynamic_filtering: bool = False,
                 dynamic_filtering_range: tuple[float, float] = (0.0, 1.0), max_grad_norm: float = 1.0,
                 weight_decay: float = 0.0, lr_scheduler: str = "linear", device: str = "auto",
                 engine: str = "local", openrlhf: dict[str, Any] | None = None,
                 verifiers: dict[str, Any] | None = None, seed: int | None = None,
                 advantage_estimator: str = "reinforce") -> None:
        super().__init__(OnlineOptions.pick(locals()))
        if advantage_estimator not in REINFORCE_ESTIMATORS:
            raise OptionError(f"advantage_estimator must be one of {', '.join(REINFORCE_ESTIMATORS)}, "
                              f"got {advantage_estimator!r}")
        if advantage_estimator == "reinforce_baseline" and gamma != 1.0:
            # OpenRLHF overrides gamma to 1 for it (with a warning); here it is an error instead.
            raise OptionError(f"advantage_estimator reinforce_baseline needs gamma 1 (as OpenRLHF forces), got {gamma}")
        self.advantage_estimator = advantage_estimator

    def engine_options(self) -> dict[str, Any]:
        return {"advantage_estimator": self.advantage_estimator}

    def advantages(self, samples: Sequence[Sample], scores: torch.Tensor, kl: torch.Tensor, mask: torch.Tensor
                   ) -> dict[str, torch.Tensor]:
        o = self.options
        return {"advantages": reinforce_advantages(
            scores, kl, mask, kl_coef=o.kl_coef, gamma=o.gamma, estimator=self.advantage_estimator,
            group_size=o.samples_per_prompt, reduce=self._global_reduce)}

