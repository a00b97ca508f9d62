"""PPO with a critic (Schulman et al., 2017; as in RLHF): GAE advantages from a separate value
model, the clipped surrogate for the actor, the clipped value loss for the critic, a per-token KL
penalty to the frozen reference in the reward, and critic warm-up rollouts during which only the
critic trains. See :mod:`redstar_rl.online` for the loop and :mod:`redstar_rl.critic` for the
value model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from redstar.trainers.settings import OptionError, check_at_least
from redstar_rl.advantages import clipped_value_loss, ppo_advantages
from redstar_rl.critic import ValueModel
from redstar_rl.online import OnlineOptions, OnlineRLTrainer, step_schedule_only, step_with_clipping
from redstar_rl.online_options import TRAIN_BATCH_RESPONSES
from redstar_rl.rollout import Batch, Sample, collate, split_padded


class PPOTrainer(OnlineRLTrainer):
    """PPO on online rows, rewarded by ``TrainContext.reward``.

    Defaults are the paper's (RedStar, Table 9): 5 episodes, actor learning rate 5e-7 and critic
    learning rate 5e-6 decaying linearly, 1024 prompts per rollout (OpenRLHF's unit), 2 responses
    per prompt at temperature 1.0, 2 critic warm-up rollouts; where Table 9 is silent, OpenRLHF
    0.11.2's (GAE lambda 1, 128 responses per optimizer step). ``docs/training.md`` lists every
    option; on a CPU use a tiny model and override the sizes.

    Args:
        critic_learning_rate: The critic's peak learning rate (its linear decay runs over all the
            run's steps).
        critic_warmup_steps: Rollouts at the start during which only the critic trains (OpenRLHF
            counts one global step per rollout and trains the actor once `step >
            --critic.freezing_steps` from step 0, so this is passed as `freezing_steps =
            critic_warmup_steps - 1`: both engines freeze the same rollouts).
        lam: GAE's lambda (OpenRLHF's `--algo.advantage.lambd`, default 1: every token gets the
            whole return minus the critic's value, whatever its distance to the end).
        value_clip_range: Clipping range of the critic's values around the rollout's.
        critic_model: The checkpoint the critic's backbone starts from (default: the policy's).

    The options it shares with the other online trainers are described on
    :class:`~redstar_rl.online_options.OnlineOptions`.
    """

    name = "ppo"
    rollout_tokens = ("values",)

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
                 critic_learning_rate: float = 5e-6, critic_warmup_steps: int = 2, lam: float = 1.0,
                 value_clip_range: float = 0.2, critic_model: str | None = None) -> None:
        super().__init__(OnlineOptions.pick(locals()))
        check_at_least(0, critic_warmup_steps=critic_warmup_steps)
        if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not 0 <= lam <= 1:
            raise OptionError(f"lam must be a number in [0, 1], got {lam!r}")
        self.critic_learning_rate = critic_learning_rate
        self.critic_warmup_steps = critic_warmup_steps
        self.lam = lam
        self.value_clip_range = value_clip_range
        self.critic_model = critic_model

    def setup(self, model_path: str, accelerator: Any) -> None:
        from redstar.models import resolve_model

        start = resolve_model(self.critic_model) if self.critic_model else model_path
        self.critic = ValueModel.from_pretrained(start).to(accelerator.device)
        self.critic.eval()  # dropout off, as for the policy
        self.critic_optimizer = torch.optim.AdamW(self.critic.parameters(), lr=self.critic_learning_rate,
                                                  weight_decay=self.options.weight_decay)

    def engine_options(self) -> dict[str, Any]:
        return {"critic_learning_rate": self.critic_learning_rate, "critic_warmup_steps": self.critic_warmup_steps,
                "lam": self.lam, "value_clip_range": self.value_clip_range, "critic_model": self.critic_model}

    def schedule_extra(self, total_steps: int) -> None:
        from redstar_rl.online import lr_schedule

        self.critic_scheduler = lr_schedule(self.critic_optimizer, self.options.lr_scheduler, total_steps)

    def score_tokens(self, batch: Batch, samples: Sequence[Sample]) -> None:
        split_padded(self.critic.response_values(batch), samples, "values")

    def advantages(self, samples: Sequence[Sample], scores: torch.Tensor, kl: torch.Tensor, mask: torch.Tensor
                   ) -> dict[str, torch.Tensor]:
        o = self.options
        values = collate(samples, self.tokenizer.pad_token_id, "cpu", names=("values",)).tokens["values"]
        advantages, returns = ppo_advantages(scores, kl, values, mask, kl_coef=o.kl_coef, gamma=o.gamma, lam=self.lam,
                                             reduce=self._global_reduce)
        return {"advantages": advantages, "returns": returns}

    def rollout_stats(self, samples: Sequence[Sample]) -> dict[str, float]:
        """The critic's explained variance over the rollout's tokens, ``1 - Var(returns - values)
        / Var(returns)``: 1 for a critic that predicts the returns, 0 (or below) for one that
        predicts nothing."""
        batch = collate(samples, self.tokenizer.pad_token_id, "cpu", names=("values", "returns"))
        mask = batch.response_mask
        returns, error = batch.tokens["returns"] * mask, (batch.tokens["returns"] - batch.tokens["values"]) * mask
        n = max(self._sum(float(mask.sum())), 1.0)
        moments = [self._sum(float(x)) / n for x in (returns.sum(), (returns ** 2).sum(), error.sum(), (error ** 2).sum())]
        var_returns = moments[1] - moments[0] ** 2
        var_error = moments[3] - moments[2] ** 2
        return {"explained_variance": 1.0 - var_error / var_returns if var_returns > 1e-12 else 0.0}

    def actor_frozen(self, rollout_index: int) -> bool:
        # Rollouts 0 .. critic_warmup_steps - 1 train the critic alone: OpenRLHF's actor trains when
        # global_step > --critic.freezing_steps with steps from 0, so the same warm-up is
        # freezing_steps = critic_warmup_steps - 1 there (redstar_rl.openrlhf).
        return rollout_index < self.critic_warmup_steps

    def extra_update(self, minibatch: Sequence[Sample], total_tokens: float) -> dict[str, float]:
        o = self.options
        learning_rate = self.critic_optimizer.param_groups[0]["lr"]
        if total_tokens == 0:  # dynamic filtering emptied the mini-batch on every process
            step_schedule_only(self.critic_scheduler)
            return {"critic_learning_rate": learning_rate}
        self.critic_optimizer.zero_grad(set_to_none=True)
        loss_sum = clipped_sum = 0.0
        for start in range(0, len(minibatch), o.micro_batch_size):
            micro = minibatch[start : start + o.micro_batch_size]
            batch = collate(micro, self.tokenizer.pad_token_id, self.accelerator.device, names=("values", "returns"))
            with self.accelerator.autocast():
                values = self.critic.response_values(batch)
            per_token, clipfrac = clipped_value_loss(values, batch.tokens["values"], batch.tokens["returns"],
                                                     batch.response_mask, self.value_clip_range)
            loss = per_token.sum() / total_tokens
            loss.backward()
            loss_sum += float(loss.detach())
            clipped_sum += float(clipfrac) * float(batch.response_mask.sum())
        grad_norm = step_with_clipping(self.critic, self.critic_optimizer, o.max_grad_norm, self.accelerator)
        self.critic_scheduler.step()
        return {"value_loss": self._sum(loss_sum), "value_clipfrac": self._sum(clipped_sum) / total_tokens,
                "critic_grad_norm": grad_norm, "critic_learning_rate": learning_rate}

