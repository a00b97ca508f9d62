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

from redstar_rl.advantages import clipped_value_loss, gae, masked_whiten
from redstar_rl.critic import ValueModel
from redstar_rl.online import OnlineOptions, OnlineRLTrainer, step_with_clipping
from redstar_rl.rollout import Batch, Sample, collate, split_padded


class PPOTrainer(OnlineRLTrainer):
    """PPO on online rows, rewarded by ``TrainContext.reward``.

    Defaults are the paper's (RedStar, Table 9): ``episodes=5``, actor ``learning_rate=5e-7``,
    ``critic_learning_rate=5e-6``, ``batch_size=1024`` prompts per rollout (OpenRLHF's unit), linear learning-rate decay,
    ``samples_per_prompt=2``, ``temperature=1.0``, ``critic_warmup_steps=2`` (rollouts: OpenRLHF's
    steps, ``--critic.freezing_steps``).
    ``critic_model`` is the checkpoint the critic's backbone starts from (default: the policy's).
    ``engine="openrlhf"`` runs the same algorithm on OpenRLHF 0.11.2 at the paper's scale
    (``openrlhf`` holds the cluster settings, ``verifiers`` the verifier options for its reward
    module: :mod:`redstar_rl.openrlhf`); the default ``engine="local"`` is RedStar's own loop.
    ``docs/training.md`` lists every option; on a CPU use a tiny model and override the sizes.
    The options it shares with REINFORCE++ are described on
    :class:`~redstar_rl.online.OnlineOptions`.

    Args:
        critic_learning_rate: The critic's peak learning rate (it decays linearly over all the
            run's steps).
        critic_warmup_steps: Steps (rollouts, as OpenRLHF counts them) at the start during which
            only the critic trains.
        lam: The GAE lambda of the advantages.
        value_clip_range: The clipping range of the critic's value loss.
        critic_model: The checkpoint the critic's backbone starts from (null: the policy's).
    """

    name = "ppo"

    def __init__(self, *, episodes: int = 5, learning_rate: float = 5e-7, batch_size: int = 1024,
                 samples_per_prompt: int = 2, mini_batch_size: int | None = None, micro_batch_size: int = 4,
                 generation_batch_size: int = 64, update_epochs: int = 1, temperature: float = 1.0,
                 top_p: float = 1.0, max_new_tokens: int = 1024, max_prompt_length: int = 1024,
                 kl_coef: float = 0.01, kl_estimator: str = "k1", clip_range: float = 0.2, gamma: float = 1.0,
                 max_grad_norm: float = 1.0, weight_decay: float = 0.0, lr_scheduler: str = "linear",
                 device: str = "auto", engine: str = "local", openrlhf: dict[str, Any] | None = None,
                 verifiers: dict[str, Any] | None = None,
                 seed: int | None = None, critic_learning_rate: float = 5e-6, critic_warmup_steps: int = 2,
                 lam: float = 0.95, value_clip_range: float = 0.2, critic_model: str | None = None) -> None:
        super().__init__(OnlineOptions.pick(locals()))
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

    def advantages(self, samples: Sequence[Sample], rewards: torch.Tensor, mask: torch.Tensor
                   ) -> dict[str, torch.Tensor]:
        values = collate(samples, self.tokenizer.pad_token_id, "cpu", names=("values",)).tokens["values"]
        advantages, returns = gae(rewards, values, mask, self.options.gamma, self.lam)
        return {"advantages": masked_whiten(advantages, mask, reduce=self._global_reduce), "returns": returns}

    def actor_frozen(self, rollout_index: int) -> bool:
        return rollout_index < self.critic_warmup_steps

    def extra_update(self, minibatch: Sequence[Sample], total_tokens: float) -> dict[str, float]:
        o = self.options
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
        learning_rate = self.critic_optimizer.param_groups[0]["lr"]
        grad_norm = step_with_clipping(self.critic, self.critic_optimizer, o.max_grad_norm, self.accelerator)
        self.critic_scheduler.step()
        return {"value_loss": self._sum(loss_sum), "value_clipfrac": self._sum(clipped_sum) / total_tokens,
                "critic_grad_norm": grad_norm, "critic_learning_rate": learning_rate}
