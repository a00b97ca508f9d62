"""The rollout-and-update loop shared by PPO and REINFORCE++.

Each *rollout* takes ``batch_size`` prompts (OpenRLHF's ``--rollout.batch_size``: the paper's
Table 9 batch of 1024 is counted in prompts), samples ``samples_per_prompt`` responses to each with the current policy (``model.generate``), scores them with the rule reward
(``TrainContext.reward``: 1 correct, 0 wrong, -1 no valid answer), computes the old and reference
log-probabilities, folds a per-token KL penalty into the rewards, and asks the algorithm for
advantages. Then ``update_epochs`` passes of ``batch_size * samples_per_prompt / mini_batch_size``
optimizer steps (``mini_batch_size`` responses each, OpenRLHF's ``--train.batch_size``;
``micro_batch_size`` sequences per forward pass) minimise the clipped surrogate. An *episode* is
one pass over the prompts. The learning rate decays linearly to 0 over the run's optimizer steps
(Table 9), one schedule per optimizer.

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
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import torch

from redstar.errors import RedStarError
from redstar.interfaces import TrainContext, Trainer, TrainResult
from redstar.trainers.settings import OptionError, check_at_least, check_device, check_positive
from redstar_rl.advantages import KL_ESTIMATORS, clipped_policy_loss, kl_estimate, token_rewards
from redstar_rl.rollout import Batch, Sample, collate, generate_samples, response_logprobs, split_padded

log = logging.getLogger(__name__)


@dataclass
class OnlineOptions:
    """Options every online trainer takes. Defaults are the paper's (its Table 9): 5 episodes,
    actor learning rate 5e-7 decaying linearly, batch 1024 prompts per rollout (OpenRLHF's
    unit), temperature 1.0, 2 responses per prompt. ``mini_batch_size`` counts responses per
    optimizer step (default: the whole rollout, one step per rollout).

    Args:
        episodes: Passes over all the prompts.
        learning_rate: The actor's peak learning rate.
        batch_size: Prompts per rollout (OpenRLHF's unit: a batch of 1024 is 1024 prompts).
        samples_per_prompt: Responses sampled for each prompt of a rollout.
        mini_batch_size: Responses per optimizer step; it must divide the rollout's responses
            (null: the whole rollout, one step per rollout).
        micro_batch_size: Sequences per forward pass.
        generation_batch_size: Sequences (responses) per ``generate`` call while rolling out.
        update_epochs: Passes of optimizer steps over each rollout.
        temperature: The sampling temperature of the rollouts.
        top_p: The nucleus-sampling threshold of the rollouts.
        max_new_tokens: The most tokens of one response.
        max_prompt_length: The most tokens of one prompt.
        kl_coef: The weight of the KL penalty to the reference model in each token's reward.
        kl_estimator: How KL is estimated: ``k1`` (the log-ratio), ``k2`` or ``k3``.
        clip_range: The clipping range of PPO's surrogate objective.
        gamma: The discount of future rewards.
        max_grad_norm: Gradients are clipped to this norm.
        weight_decay: AdamW's weight decay.
        lr_scheduler: The learning-rate schedule: ``linear`` (decay to 0, the paper's) or
            ``constant``.
        device: Where training runs: ``auto`` (CUDA when present, else the CPU), ``cpu`` or
            ``cuda``.
        seed: The training seed; null takes the run's seed.
        engine: What runs the algorithm: ``local`` (RedStar's own loop) or ``openrlhf``
            (OpenRLHF, at the paper's scale).
        openrlhf: The cluster settings for ``engine: openrlhf`` (docs/training.md lists them).
        verifiers: The verifier options OpenRLHF's reward module builds its verifiers with
            (``engine: openrlhf``).
    """

    episodes: int = 5
    learning_rate: float = 5e-7
    batch_size: int = 1024
    samples_per_prompt: int = 2
    mini_batch_size: int | None = None
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
    max_grad_norm: float = 1.0
    weight_decay: float = 0.0
    lr_scheduler: str = "linear"
    device: str = "auto"
    seed: int | None = None
    engine: str = "local"
    openrlhf: dict[str, Any] | None = None
    verifiers: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        check_at_least(1, batch_size=self.batch_size, samples_per_prompt=self.samples_per_prompt)
        responses = self.batch_size * self.samples_per_prompt
        if self.mini_batch_size is None:
            self.mini_batch_size = responses
        if self.mini_batch_size < 1 or responses % self.mini_batch_size:
            raise OptionError(f"mini_batch_size ({self.mini_batch_size} responses) must divide the "
                              f"{responses} responses of a rollout (batch_size {self.batch_size} prompts x "
                              f"samples_per_prompt {self.samples_per_prompt})")
        if self.lr_scheduler not in LR_SCHEDULES:
            raise OptionError(f"lr_scheduler must be one of {', '.join(LR_SCHEDULES)}, got {self.lr_scheduler!r}")
        from redstar_rl.openrlhf import ENGINES, check_installed, cluster_settings

        if self.engine not in ENGINES:
            raise OptionError(f"engine must be one of {', '.join(ENGINES)}, got {self.engine!r}")
        if self.engine == "openrlhf":
            # Checked when the recipe is, not hours later on the cluster.
            self.openrlhf = cluster_settings(self.openrlhf)
            check_installed(self.openrlhf["python"])
        elif self.openrlhf is not None:
            raise OptionError("the openrlhf settings apply to engine: openrlhf only")
        if self.kl_estimator not in KL_ESTIMATORS:
            raise OptionError(f"kl_estimator must be one of {', '.join(KL_ESTIMATORS)}, got {self.kl_estimator!r}")
        check_at_least(1, episodes=self.episodes, micro_batch_size=self.micro_batch_size,
                       generation_batch_size=self.generation_batch_size, update_epochs=self.update_epochs,
                       max_new_tokens=self.max_new_tokens, max_prompt_length=self.max_prompt_length)
        check_positive(learning_rate=self.learning_rate, temperature=self.temperature)
        check_device(self.device)

    @classmethod
    def pick(cls, options: dict[str, Any]) -> OnlineOptions:
        """The common options out of a trainer's ``locals()``."""
        return cls(**{f.name: options[f.name] for f in fields(cls)})


#: Learning-rate schedules over a run's optimizer steps: the paper's linear decay to 0 (as
#: transformers' ``linear`` without warm-up: step k of n uses ``lr * (n - k) / n``), or constant.
LR_SCHEDULES = ("linear", "constant")


def lr_schedule(optimizer: torch.optim.Optimizer, name: str, total_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    if name == "constant":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda k: 1.0)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda k: max(0.0, (total_steps - k) / max(total_steps, 1)))


class OnlineRLTrainer(Trainer):
    """Base of PPO and REINFORCE++; subclasses say how advantages are computed and may train
    more models (PPO's critic) in :meth:`extra_update`."""

    kind = "online"

    def __init__(self, options: OnlineOptions) -> None:
        self.options = options

    # -- what an algorithm provides ---------------------------------------------------------
    def setup(self, model_path: str, accelerator: Any) -> None:
        """Load what the algorithm needs besides the policy and the reference."""

    def score_tokens(self, batch: Batch, samples: Sequence[Sample]) -> None:
        """Attach per-token tensors computed before the update (PPO: the critic's values)."""

    @abstractmethod
    def advantages(self, samples: Sequence[Sample], rewards: torch.Tensor, mask: torch.Tensor
                   ) -> dict[str, torch.Tensor]:
        """Per-token tensors ([n, T], ``mask`` 1 on real tokens) from the KL-shaped token
        ``rewards``: at least ``"advantages"``."""

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
            return self._train_openrlhf(ctx)
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
        minibatches = o.batch_size * o.samples_per_prompt // o.mini_batch_size
        # A short last rollout still takes one step per sample at most.
        steps_per_rollout = [min(minibatches, (end - start) * o.samples_per_prompt) for start, end in chunks]
        rollout_steps = [n * o.update_epochs for _ in range(o.episodes) for n in steps_per_rollout]
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
            for (start, end), n_steps in zip(chunks, steps_per_rollout):
                chosen = [rows[i] for i in order[start:end]]
                if len(chosen) < accelerator.num_processes:
                    # Every process must sample something to take part in the reductions: a
                    # short last rollout borrows prompts from the start of the episode.
                    chosen += [rows[i] for i in order[: accelerator.num_processes - len(chosen)]]
                local = chosen[accelerator.process_index :: accelerator.num_processes]
                samples, stats = self._rollout(ctx, local)
                first_reward = stats["reward"] if math.isnan(first_reward) else first_reward
                last_reward = stats["reward"]
                stats["episode"] = float(episode)
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

    def _train_openrlhf(self, ctx: TrainContext) -> TrainResult:
        """The run on OpenRLHF (:mod:`redstar_rl.openrlhf`); ``ctx.reward`` is not called: the
        reward module rebuilds the same rule reward from the verifiers in OpenRLHF's processes."""
        from transformers import AutoTokenizer

        from redstar.models import resolve_model
        from redstar.trainers.reporting import StepReporter
        from redstar_rl.data import read_online_rows
        from redstar_rl.openrlhf import (
            launch_command,
            openrlhf_args,
            run_openrlhf,
            write_prompt_dataset,
            write_reward_module,
        )

        o = self.options
        model_path = str(resolve_model(ctx.model))
        rows = read_online_rows(ctx.data_file, AutoTokenizer.from_pretrained(model_path), o.max_prompt_length)
        out = Path(ctx.output_dir)
        work = out / "openrlhf"
        args = openrlhf_args(
            algorithm=self.name, options=o, extra=self.engine_options(), cluster=o.openrlhf, model_path=model_path,
            dataset=write_prompt_dataset(rows, work / "prompts.jsonl"),
            reward_module=write_reward_module(work / "reward_func.py", model_path, o.verifiers),
            output_dir=out, seed=ctx.seed if o.seed is None else o.seed,
        )
        # OpenRLHF's global step is a rollout; its prompt loader drops a short last batch.
        total = max(1, len(rows) // o.batch_size) * o.episodes
        reporter = StepReporter(ctx.metrics_file, ctx.on_step)
        metrics = run_openrlhf(launch_command(o.openrlhf, args), work / "openrlhf.log", total, reporter)
        final = out / "final"
        if not (final / "config.json").is_file():
            raise RedStarError(f"OpenRLHF finished without saving a model in {final}; see {work / 'openrlhf.log'}")
        return TrainResult(model_path=final, metrics=metrics)

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
        scores = ctx.reward([s.row for s in samples], [s.text for s in samples])
        if len(scores) != len(samples):
            raise RedStarError(f"the reward function returned {len(scores)} rewards for {len(samples)} responses")
        for s, score in zip(samples, scores):
            s.score = float(score)

        pad_id = self.tokenizer.pad_token_id
        with torch.no_grad(), self.accelerator.autocast():
            for start in range(0, len(samples), o.micro_batch_size):
                micro = samples[start : start + o.micro_batch_size]
                batch = collate(micro, pad_id, self.accelerator.device)
                split_padded(response_logprobs(self.policy, batch, o.temperature), micro, "old_logprobs")
                split_padded(response_logprobs(self.reference, batch, o.temperature), micro, "ref_logprobs")
                self.score_tokens(batch, micro)

        full = collate(samples, pad_id, "cpu", names=samples[0].tokens.keys())
        mask = full.response_mask
        kl = kl_estimate(full.tokens["old_logprobs"], full.tokens["ref_logprobs"], o.kl_estimator)
        rewards = token_rewards(torch.tensor([s.score for s in samples]), kl, mask, o.kl_coef)
        for name, values in self.advantages(samples, rewards, mask).items():
            split_padded(values, samples, name)

        n = self._sum(len(samples))
        lengths = [len(s.response_ids) for s in samples]
        stats = {
            "reward": self._sum(sum(s.score for s in samples)) / n,
            "kl": self._sum(float((kl * mask).sum())) / max(self._sum(float(mask.sum())), 1.0),
            "response_length": self._sum(sum(lengths)) / n,
            "truncated": self._sum(sum(s.truncated for s in samples)) / n,
        }
        return samples, stats

    def _update(self, minibatch: Sequence[Sample], rollout_index: int) -> dict[str, float]:
        total_tokens = self._sum(sum(len(s.response_ids) for s in minibatch))
        metrics = self.extra_update(minibatch, total_tokens)
        if not self.actor_frozen(rollout_index):
            metrics.update(self._actor_step(minibatch, total_tokens))
        return metrics

    def _actor_step(self, minibatch: Sequence[Sample], total_tokens: float) -> dict[str, float]:
        o = self.options
        self.optimizer.zero_grad(set_to_none=True)
        loss_sum = clipped_sum = 0.0
        for start in range(0, len(minibatch), o.micro_batch_size):
            micro = minibatch[start : start + o.micro_batch_size]
            batch = collate(micro, self.tokenizer.pad_token_id, self.accelerator.device,
                            names=("old_logprobs", "advantages"))
            with self.accelerator.autocast():
                logprobs = response_logprobs(self.policy, batch, o.temperature)
            per_token, clipfrac = clipped_policy_loss(logprobs, batch.tokens["old_logprobs"],
                                                      batch.tokens["advantages"], batch.response_mask, o.clip_range)
            # A token mean over the whole mini-batch (all processes), whatever the micro-batching.
            loss = per_token.sum() / total_tokens
            loss.backward()
            loss_sum += float(loss.detach())
            clipped_sum += float(clipfrac) * float(batch.response_mask.sum())
        learning_rate = self.optimizer.param_groups[0]["lr"]  # the rate this step uses
        grad_norm = step_with_clipping(self.policy, self.optimizer, o.max_grad_norm, self.accelerator)
        self.scheduler.step()
        return {
            "policy_loss": self._sum(loss_sum),
            "clipfrac": self._sum(clipped_sum) / total_tokens,
            "grad_norm": grad_norm,
            "learning_rate": learning_rate,
        }


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
