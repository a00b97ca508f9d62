"""The options every online trainer (PPO, REINFORCE++) takes, checked, and the arithmetic of a
run's optimizer steps that follows from them.

The units are OpenRLHF 0.11.2's, so that ``engine: local`` and ``engine: openrlhf`` run the same
algorithm from the same recipe: ``batch_size`` counts prompts per rollout
(``--rollout.batch_size``), ``mini_batch_size`` responses per optimizer step
(``--train.batch_size``, default 128 as there), and a rollout of ``batch_size x
samples_per_prompt`` responses takes ``update_epochs x ceil(responses / mini_batch_size)``
optimizer steps: 16 per rollout with the defaults (1024 prompts x 2 responses / 128).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

import torch

from redstar.trainers.settings import OptionError, check_at_least, check_device, check_positive
from redstar_rl.advantages import KL_ESTIMATORS

#: Learning-rate schedules over a run's optimizer steps: the paper's linear decay to 0 (as
#: transformers' ``linear`` without warm-up: step k of n uses ``lr * (n - k) / n``), or constant.
LR_SCHEDULES = ("linear", "constant")

#: OpenRLHF 0.11.2's default ``--train.batch_size``: responses per optimizer step.
TRAIN_BATCH_RESPONSES = 128

@dataclass
class OnlineOptions:
    """The options every online trainer (PPO, REINFORCE++) takes. Defaults are the paper's (its
    Table 9: 5 episodes, actor learning rate 5e-7 decaying linearly, 1024 prompts per rollout,
    temperature 1.0, 2 responses per prompt) and, where Table 9 says nothing, OpenRLHF 0.11.2's.

    Args:
        episodes: Passes over the prompts (OpenRLHF's `--train.num_episodes`).
        learning_rate: The actor's peak learning rate; 0 trains nothing, a control run whose
            training health reads "did not train".
        batch_size: Prompts per rollout, OpenRLHF's `--rollout.batch_size` (Table 9's 1024 is
            1024 prompts).
        samples_per_prompt: Responses sampled for each prompt of a rollout.
        mini_batch_size: Responses per optimizer step, OpenRLHF's `--train.batch_size` (default
            128, as there): a rollout takes `ceil(batch_size x samples_per_prompt /
            mini_batch_size)` steps per update epoch, 16 with the defaults. With `engine:
            openrlhf` it must divide the rollout's responses.
        micro_batch_size: Sequences per forward pass (memory only: the loss is a token mean over
            the whole mini-batch).
        generation_batch_size: Sequences per `generate` call while rolling out.
        update_epochs: Passes over each rollout's responses (OpenRLHF's `--train.max_epochs`).
        temperature: Sampling temperature of the rollouts; log-probabilities are taken from the
            logits divided by it.
        top_p: Nucleus of the rollouts' sampling.
        max_new_tokens: Response tokens at most; a longer response is cut and counted as
            truncated.
        max_prompt_length: Chat-formatted prompt tokens at most; a longer prompt is an error
            naming its line.
        kl_coef: Weight of the per-token KL penalty to the reference in the token rewards.
        kl_estimator: `k1`, `k2` or `k3`: Schulman's estimator of that KL.
        clip_range: PPO's clipping range of the probability ratio.
        gamma: Discount of rewards-to-go (1: none; `reinforce_baseline` requires 1).
        dynamic_filtering: Drop, from each rollout, the prompts whose pass rate (the share of
            their responses rewarded 1) lies outside `dynamic_filtering_range`, before
            advantages are computed (OpenRLHF's `--algo.dynamic_filtering_enable`); needs
            `samples_per_prompt` of at least 2. OpenRLHF refills the rollout with further
            prompts; the local loop trains on what is left.
        dynamic_filtering_range: `[low, high]`: prompts are kept when `low < pass rate <
            high` (default `[0, 1]`: drop all-wrong and all-right prompts, whose responses carry
            no signal relative to each other).
        max_grad_norm: Gradient norm clipping.
        weight_decay: AdamW's weight decay.
        lr_scheduler: `linear` (Table 9: decay to 0 over the run's optimizer steps) or
            `constant`.
        device: `auto`, `cpu` or `cuda`.
        seed: The seed (default: the run's).
        engine: `local` (RedStar's loop on transformers and accelerate) or `openrlhf`
            (OpenRLHF 0.11.2 on a Ray cluster: :mod:`redstar_rl.openrlhf`).
        openrlhf: Cluster settings of `engine: openrlhf` (`docs/training.md`).
        verifiers: The recipe's verifier options, for OpenRLHF's reward module (it runs in
            OpenRLHF's processes, away from the recipe).
    """

    episodes: int = 5
    learning_rate: float = 5e-7
    batch_size: int = 1024
    samples_per_prompt: int = 2
    mini_batch_size: int = TRAIN_BATCH_RESPONSES
    micro_batch_size: int = 4
    generation_batch_size: int = 64
    update_epochs: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 1024
    max_prompt_length: int = 1024
    kl_coef: float = 0.01
    kl_estimator: str = "k1"
    clip_range: float = 0.2
    gamma: float = 1.0
    dynamic_filtering: bool = False
    dynamic_filtering_range: tuple[float, float] = (0.0, 1.0)
    max_grad_norm: float = 1.0
    weight_decay: float = 0.0
    lr_scheduler: str = "linear"
    device: str = "auto"
    seed: int | None = None
    engine: str = "local"
    openrlhf: dict[str, Any] | None = None
    verifiers: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        check_at_least(1, batch_size=self.batch_size, samples_per_prompt=self.samples_per_prompt,
                       mini_batch_size=self.mini_batch_size)
        if self.lr_scheduler not in LR_SCHEDULES:
            raise OptionError(f"lr_scheduler must be one of {', '.join(LR_SCHEDULES)}, got {self.lr_scheduler!r}")
        if self.kl_estimator not in KL_ESTIMATORS:
            raise OptionError(f"kl_estimator must be one of {', '.join(KL_ESTIMATORS)}, got {self.kl_estimator!r}")
        check_at_least(1, episodes=self.episodes, micro_batch_size=self.micro_batch_size,
                       generation_batch_size=self.generation_batch_size, update_epochs=self.update_epochs,
                       max_new_tokens=self.max_new_tokens, max_prompt_length=self.max_prompt_length)
        check_positive(temperature=self.temperature)
        if isinstance(self.learning_rate, bool) or not isinstance(self.learning_rate, (int, float)) \
                or not self.learning_rate >= 0:
            raise OptionError(f"learning_rate must be a number of at least 0, got {self.learning_rate!r}")
        self.dynamic_filtering_range = _range(self.dynamic_filtering_range)
        if self.dynamic_filtering and self.samples_per_prompt < 2:
            raise OptionError("dynamic_filtering compares the responses to one prompt: it needs samples_per_prompt >= 2")
        check_device(self.device)
        self._check_engine()

    def _check_engine(self) -> None:
        from redstar_rl.openrlhf import ENGINES, check_installed, cluster_settings

        if self.engine not in ENGINES:
            raise OptionError(f"engine must be one of {', '.join(ENGINES)}, got {self.engine!r}")
        if self.engine == "openrlhf":
            responses = self.batch_size * self.samples_per_prompt
            if responses % self.mini_batch_size:
                # OpenRLHF accumulates gradients over mini_batch_size responses and would carry a
                # remainder into the next rollout.
                raise OptionError(f"engine: openrlhf: mini_batch_size ({self.mini_batch_size} responses) must divide "
                                  f"the {responses} responses of a rollout (batch_size {self.batch_size} prompts x "
                                  f"samples_per_prompt {self.samples_per_prompt})")
            # Checked when the recipe is, not hours later on the cluster.
            self.openrlhf = cluster_settings(self.openrlhf)
            check_installed(self.openrlhf["python"])
        elif self.openrlhf is not None:
            raise OptionError("the openrlhf settings apply to engine: openrlhf only")

    @classmethod
    def pick(cls, options: dict[str, Any]) -> OnlineOptions:
        """The common options out of a trainer's ``locals()``."""
        return cls(**{f.name: options[f.name] for f in fields(cls)})


def _range(value: Any) -> tuple[float, float]:
    if not isinstance(value, (list, tuple)) or len(value) != 2 or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value) or not value[0] < value[1]:
        raise OptionError(f"dynamic_filtering_range must be [low, high] with low < high, got {value!r}")
    return float(value[0]), float(value[1])


def steps_per_rollout(options: OnlineOptions, prompts: int) -> int:
    """Optimizer steps of one update epoch over a rollout of ``prompts`` prompts: one per
    ``mini_batch_size`` responses, the last one taking the remainder (a short last rollout still
    takes at most one step per response)."""
    responses = prompts * options.samples_per_prompt
    return max(1, math.ceil(responses / options.mini_batch_size))


def lr_schedule(optimizer: torch.optim.Optimizer, name: str, total_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    if name == "constant":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda k: 1.0)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda k: max(0.0, (total_steps - k) / max(total_steps, 1)))
