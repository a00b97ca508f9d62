"""The rollout-and-update loop shared by PPO and REINFORCE++.

Each *rollout* takes ``batch_size`` prompts (OpenRLHF's ``--rollout.batch_size``: the paper's
Table 9 batch of 1024 is counted in prompts), samples ``samples_per_prompt`` responses to each
with the current policy (``model.generate``), scores them with the rule reward
(``TrainContext.reward``: 1 correct, 0 wrong, -1 no valid answer), optionally drops the prompts
whose pass rate lies outside a band (``dynamic_filtering``), computes the old and reference
log-probabilities, and asks the algorithm for advantages from the scores and the per-token KL.
Then ``update_epochs`` passes of ``ceil(responses / mini_batch_size)`` optimizer steps
(``mini_batch_size`` responses each, OpenRLHF's ``--train.batch_size``, 128 by default as there;
``micro_batch_size`` sequences per forward pass) minimise the clipped surrogate. An *episode* is
one pass over the prompts. The learning rate decays linearly to 0 over the run's optimizer steps
(Table 9), one schedule per optimizer.

Every step logs the run's training health: the rollout's reward mean and spread, the per-token
KL of the rollout policy to the reference (``kl``) and of the policy being updated
(``policy_kl``), the policy's entropy, the share of prompts whose responses all scored alike
(``frac_reward_zero_std``), the clipped fraction, and the algorithm's own figures (PPO: value
loss, explained variance).

Losses are token means over a whole mini-batch, and advantage normalisation is over the whole
rollout, across processes: with ``accelerate launch`` each process samples its share of every
rollout and gradients are summed over processes before each step. The prompt order comes from a
generator every process seeds alike and uses for nothing else, so that processes keep splitting
the same rollouts; shuffling a process's own samples into mini-batches uses another one. Dropout is off throughout
(the models stay in eval mode), so the old and new log-probabilities differ only by the updates.
"""

from __future__ import annotations

import logging
import math
from abc import abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from redstar.errors import RedStarError
from redstar.interfaces import TrainContext, Trainer, TrainResult
from redstar_rl.advantages import clipped_policy_loss, kl_estimate
from redstar_rl.online_options import OnlineOptions, lr_schedule, steps_per_rollout
from redstar_rl.rollout import (
    Batch,
    Sample,
    collate,
    generate_samples,
    response_logprobs,
    response_logprobs_and_entropy,
    split_padded,
)

__all__ = ["OnlineOptions", "OnlineRLTrainer", "lr_schedule", "step_schedule_only", "step_with_clipping"]

log = logging.getLogger(__name__)


class OnlineRLTrainer(Trainer):
    """Base of PPO and REINFORCE++; subclasses say how advantages are computed and may train
    more models (PPO's critic) in :meth:`extra_update`."""

    kind = "online"
    #: Per-token tensors an algorithm attaches in :meth:`score_tokens` (PPO: ``values``).
    rollout_tokens: tuple[str, ...] = ()

    def __init__(self, options: OnlineOptions) -> None:
        self.options = options

    # -- what an algorithm provides ---------------------------------------------------------
    def setup(self, model_path: str, accelerator: Any) -> None:
        """Load what the algorithm needs besides the policy and the reference."""

    def score_tokens(self, batch: Batch, samples: Sequence[Sample]) -> None:
        """Attach per-token tensors computed before the update (PPO: the critic's values)."""

    @abstractmethod
    def advantages(self, samples: Sequence[Sample], scores: torch.Tensor, kl: torch.Tensor, mask: torch.Tensor
                   ) -> dict[str, torch.Tensor]:
        """Per-token tensors ([n, T], ``mask`` 1 on real tokens) from the sequences' ``scores``
        ([n]) and the per-token KL to the reference: at least ``"advantages"``."""

    def rollout_stats(self, samples: Sequence[Sample]) -> dict[str, float]:
        """The algorithm's own health figures of a rollout (PPO: the critic's explained variance)."""
        return {}

    def actor_frozen(self, rollout_index: int) -> bool:
        """True while only other models train (PPO's critic warm-up)."""
        return False

    def extra_update(self, minibatch: Sequence[Sample], total_tokens: float) -> dict[str, float]:
        """One optimizer step of other models on the mini-batch; returns metrics."""
        return {}

    def schedule_extra(self, total_steps: int) -> None:
        """Set up learning-rate schedules of other models over their ``total_steps``."""

    def engine_options(self) -> dict[str, Any]:
        """The algorithm's own options, for engines other than the built-in loop."""
        return {}

    # -- the loop ---------------------------------------------------------------------------
    def train(self, ctx: TrainContext) -> TrainResult:
        from accelerate import Accelerator
        from transformers import AutoModelForCausalLM, set_seed

        from redstar.models import resolve_model
        from redstar.trainers.hf_run import load_tokenizer
        from redstar.trainers.reporting import StepReporter
        from redstar.trainers.settings import resolve_device
        from redstar_rl.data import read_online_rows

        o = self.options
        if ctx.reward is None:
            raise RedStarError(f"{self.name} samples its own responses and needs TrainContext.reward to score them")
        if o.engine == "openrlhf":
            from redstar_rl.openrlhf import train_on_openrlhf

            return train_on_openrlhf(self, ctx)
        seed = ctx.seed if o.seed is None else o.seed
        device = resolve_device(o.device)
        bf16 = device == "cuda" and torch.cuda.is_bf16_supported()
        accelerator = Accelerator(cpu=device == "cpu", mixed_precision="bf16" if bf16 else "no")
        self.accelerator = accelerator
        # Each process samples with its own random stream; the prompt order (``order_generator``
        # below) is shared, so that processes split the same rollouts.
        set_seed(seed + accelerator.process_index)
        model_path = resolve_model(ctx.model)
        tokenizer = load_tokenizer(model_path)
        self.tokenizer = tokenizer
        rows = read_online_rows(ctx.data_file, tokenizer, o.max_prompt_length)

        self.policy = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32).to(accelerator.device)
        self.policy.eval()  # dropout off; gradients still flow
        self.reference = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32).to(accelerator.device)
        self.reference.eval().requires_grad_(False)
        self.optimizer = torch.optim.AdamW(self.policy.parameters(), lr=o.learning_rate, weight_decay=o.weight_decay)
        self.setup(model_path, accelerator)

        chunks = [(start, min(start + o.batch_size, len(rows))) for start in range(0, len(rows), o.batch_size)]
        per_rollout = [steps_per_rollout(o, end - start) for start, end in chunks]
        rollout_steps = [n * o.update_epochs for _ in range(o.episodes) for n in per_rollout]
        total = sum(rollout_steps)
        actor_steps = sum(n for i, n in enumerate(rollout_steps) if not self.actor_frozen(i))
        self.scheduler = lr_schedule(self.optimizer, o.lr_scheduler, actor_steps)
        self.schedule_extra(total)
        reporter = StepReporter(ctx.metrics_file, ctx.on_step) if accelerator.is_main_process else StepReporter()
        # The prompt order must be the same in every process: its generator draws nothing else.
        # Mini-batch shuffles draw from a process's own generator, because processes hold
        # different numbers of samples when a rollout does not split evenly.
        order_generator = torch.Generator().manual_seed(seed)
        shuffle_generator = torch.Generator().manual_seed(seed + 1 + accelerator.process_index)
        step = rollout_index = 0
        first_reward = last_reward = math.nan
        for episode in range(o.episodes):
            order = torch.randperm(len(rows), generator=order_generator).tolist()
            for (start, end), n_steps in zip(chunks, per_rollout):
                chosen = [rows[i] for i in order[start:end]]
                if len(chosen) < accelerator.num_processes:
                    # Every process must sample something to take part in the reductions: a
                    # short last rollout borrows prompts from the start of the episode.
                    chosen += [rows[i] for i in order[: accelerator.num_processes - len(chosen)]]
                local = chosen[accelerator.process_index :: accelerator.num_processes]
                samples, stats = self._rollout(ctx, local)
                first_reward = stats["reward"] if math.isnan(first_reward) else first_reward
                last_reward = stats["reward"]
                stats.update(episode=float(episode), rollout=float(rollout_index))
                for _ in range(o.update_epochs):
                    permutation = torch.randperm(len(samples), generator=shuffle_generator).tolist()
                    for k in range(n_steps):
                        minibatch = [samples[i] for i in permutation[k::n_steps]]
                        metrics = self._update(minibatch, rollout_index)
                        step += 1
                        reporter.report(step, total, {**stats, **metrics})
                rollout_index += 1

        final = Path(ctx.output_dir) / "final"
        if accelerator.is_main_process:
            self.policy.save_pretrained(final)
            tokenizer.save_pretrained(final)
        accelerator.wait_for_everyone()
        return TrainResult(model_path=final, metrics={
            **reporter.last, "steps": float(step), "reward_first_rollout": first_reward,
            "reward_last_rollout": last_reward,
        })

    def _sum(self, value: float | torch.Tensor) -> float:
        """Sum over processes."""
        tensor = torch.as_tensor(value, dtype=torch.float64, device=self.accelerator.device)
        return float(self.accelerator.reduce(tensor, reduction="sum"))

    def _global_reduce(self, tensor: torch.Tensor) -> torch.Tensor:
        return self.accelerator.reduce(tensor, reduction="sum")

    def _rollout(self, ctx: TrainContext, rows: Sequence[dict[str, Any]]) -> tuple[list[Sample], dict[str, float]]:
        o = self.options
        with self.accelerator.autocast():
            samples = generate_samples(
                self.policy, self.tokenizer, rows, samples_per_prompt=o.samples_per_prompt,
                temperature=o.temperature, top_p=o.top_p, max_new_tokens=o.max_new_tokens,
                batch_size=o.generation_batch_size,
            )
        if ctx.reward is None:  # the pipeline always passes the verifiers' reward; a caller's script may not
            raise RedStarError("online RL needs a reward function: TrainContext.reward is None")
        scores = ctx.reward([s.row for s in samples], [s.text for s in samples])
        if len(scores) != len(samples):
            raise RedStarError(f"the reward function returned {len(scores)} rewards for {len(samples)} responses")
        for s, score in zip(samples, scores):
            s.score = float(score)
        stats = self._reward_stats(samples)
        if o.dynamic_filtering:
            samples = self._in_band(samples)
            stats["dynamic_filtering_kept"] = self._sum(len(samples)) / max(stats["responses"], 1.0)

        pad_id = self.tokenizer.pad_token_id
        with torch.no_grad(), self.accelerator.autocast():
            for start in range(0, len(samples), o.micro_batch_size):
                micro = samples[start : start + o.micro_batch_size]
                batch = collate(micro, pad_id, self.accelerator.device)
                logprobs, entropy = response_logprobs_and_entropy(self.policy, batch, o.temperature)
                assert entropy is not None  # asked for
                split_padded(logprobs, micro, "old_logprobs")
                split_padded(entropy, micro, "entropy")
                split_padded(response_logprobs(self.reference, batch, o.temperature), micro, "ref_logprobs")
                self.score_tokens(batch, micro)

        names = ("old_logprobs", "ref_logprobs", "entropy", *self.rollout_tokens)
        full = collate(samples, pad_id, "cpu", names=names)
        mask = full.response_mask
        kl = kl_estimate(full.tokens["old_logprobs"], full.tokens["ref_logprobs"], o.kl_estimator)
        scores_tensor = torch.tensor([s.score for s in samples], dtype=torch.float32)
        for name, values in self.advantages(samples, scores_tensor, kl, mask).items():
            split_padded(values, samples, name)

        tokens = max(self._sum(float(mask.sum())), 1.0)
        kept = max(self._sum(len(samples)), 1.0)
        lengths = [len(s.response_ids) for s in samples]
        stats.update({
            "kl": self._sum(float((kl * mask).sum())) / tokens,
            "entropy": self._sum(float((full.tokens["entropy"] * mask).sum())) / tokens,
            "response_length": self._sum(sum(lengths)) / kept,
            "truncated": self._sum(sum(s.truncated for s in samples)) / kept,
            **self.rollout_stats(samples),
        })
        return samples, stats

    def _reward_stats(self, samples: Sequence[Sample]) -> dict[str, float]:
        """The rollout's reward mean and spread over all its responses (every process), and the
        share of its prompts whose responses all scored alike: those give no signal relative to
        each other (a per-prompt baseline leaves them no advantage)."""
        o = self.options
        n = self._sum(len(samples))
        total = self._sum(sum(s.score for s in samples))
        squares = self._sum(sum(s.score ** 2 for s in samples))
        mean = total / max(n, 1.0)
        stats = {"reward": mean, "reward_std": math.sqrt(max(squares / max(n, 1.0) - mean ** 2, 0.0)),
                 "responses": n}
        if o.samples_per_prompt > 1:
            groups = [samples[i : i + o.samples_per_prompt] for i in range(0, len(samples), o.samples_per_prompt)]
            flat = sum(len({s.score for s in group}) == 1 for group in groups)
            stats["frac_reward_zero_std"] = self._sum(flat) / max(self._sum(len(groups)), 1.0)
        return stats

    def _in_band(self, samples: list[Sample]) -> list[Sample]:
        """The samples of the prompts whose pass rate (the share of responses rewarded 1) lies
        strictly inside ``dynamic_filtering_range``; a prompt's responses are consecutive."""
        o = self.options
        low, high = o.dynamic_filtering_range
        kept: list[Sample] = []
        for i in range(0, len(samples), o.samples_per_prompt):
            group = samples[i : i + o.samples_per_prompt]
            rate = sum(s.score == 1.0 for s in group) / len(group)
            if low < rate < high:
                kept.extend(group)
        return kept

    def _update(self, minibatch: Sequence[Sample], rollout_index: int) -> dict[str, float]:
        total_tokens = self._sum(sum(len(s.response_ids) for s in minibatch))
        metrics = self.extra_update(minibatch, total_tokens)
        if not self.actor_frozen(rollout_index):
            metrics.update(self._actor_step(minibatch, total_tokens))
        return metrics

    def _actor_step(self, minibatch: Sequence[Sample], total_tokens: float) -> dict[str, float]:
        o = self.options
        learning_rate = self.optimizer.param_groups[0]["lr"]  # the rate this step uses
        if total_tokens == 0:
            # Dynamic filtering left nothing in this mini-batch on any process: no update, but the
            # schedule moves on as planned.
            step_schedule_only(self.scheduler)
            return {"learning_rate": learning_rate, "skipped_update": 1.0}
        self.optimizer.zero_grad(set_to_none=True)
        loss_sum = clipped_sum = kl_sum = 0.0
        for start in range(0, len(minibatch), o.micro_batch_size):
            micro = minibatch[start : start + o.micro_batch_size]
            batch = collate(micro, self.tokenizer.pad_token_id, self.accelerator.device,
                            names=("old_logprobs", "ref_logprobs", "advantages"))
            with self.accelerator.autocast():
                logprobs = response_logprobs(self.policy, batch, o.temperature)
            per_token, clipfrac = clipped_policy_loss(logprobs, batch.tokens["old_logprobs"],
                                                      batch.tokens["advantages"], batch.response_mask, o.clip_range)
            # A token mean over the whole mini-batch (all processes), whatever the micro-batching.
            loss = per_token.sum() / total_tokens
            loss.backward()
            loss_sum += float(loss.detach())
            clipped_sum += float(clipfrac) * float(batch.response_mask.sum())
            # How far the policy being updated is from the reference now, on the rollout's tokens.
            kl_now = kl_estimate(logprobs.detach().float(), batch.tokens["ref_logprobs"], o.kl_estimator)
            kl_sum += float((kl_now * batch.response_mask).sum())
        grad_norm = step_with_clipping(self.policy, self.optimizer, o.max_grad_norm, self.accelerator)
        self.scheduler.step()
        return {
            "policy_loss": self._sum(loss_sum),
            "clipfrac": self._sum(clipped_sum) / total_tokens,
            "policy_kl": self._sum(kl_sum) / total_tokens,
            "grad_norm": grad_norm,
            "learning_rate": learning_rate,
        }


def step_schedule_only(scheduler: Any) -> None:
    """Advance a learning-rate schedule over a step that updates nothing (torch warns about a
    schedule that moves before its optimizer has stepped, which is the intent here)."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Detected call of", category=UserWarning)
        scheduler.step()


def step_with_clipping(model: torch.nn.Module, optimizer: torch.optim.Optimizer, max_norm: float,
                       accelerator: Any) -> float:
    """Sum gradients over processes (each process's loss is already divided by the global token
    count), clip their norm, step. Returns the norm before clipping."""
    params = [p for p in model.parameters() if p.requires_grad]
    if accelerator.num_processes > 1:
        import torch.distributed as dist

        for p in params:
            if p.grad is None:  # a process whose share of the mini-batch was empty
                p.grad = torch.zeros_like(p)
            dist.all_reduce(p.grad)
    norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
    optimizer.step()
    return float(norm)
