"""``dpo``: Direct Preference Optimization with TRL's ``DPOTrainer`` on chosen/rejected pairs
(rows ``{"prompt_id", "prompt", "chosen", "rejected"}``, TRL's conversational format). TRL builds
the frozen reference model from the same checkpoint (or, with LoRA, uses the base model with the
adapter disabled).

The pairs are the teacher's (the run's ``preference.jsonl``: a correct and a wrong teacher response
to one prompt) or, with ``pairs: student`` on the recipe's RL step, the student's own
(:mod:`redstar.pipeline.rl_prompts`: its correct and wrong answers to the same prompt, sampled just
before this step). An NLL term on the chosen answer (RPO) is TRL's ``sft`` loss added to the DPO
loss: ``loss_type: [sigmoid, sft]`` with ``loss_weights: [1.0, alpha]``.
"""

from __future__ import annotations

from typing import Any

from redstar.interfaces import TrainContext
from redstar.trainers.hf_run import HFTrainer, load_tokenizer
from redstar.trainers.settings import HFOptions, OptionError, check_at_least


class DPOTrainer(HFTrainer):
    """DPO on preference rows.

    Defaults are the paper's: ``beta`` 0.3 (it also reports 0.5), learning rate 5e-7, 2 epochs and
    a batch of 64 pairs (8 per device x 8 accumulated on one GPU; on 8 GPUs use ``grad_accum: 1``).

    Args:
        beta: DPO's inverse temperature: how far from the reference the policy may move.
        loss_type: TRL's loss, or a list of TRL's losses summed with `loss_weights`:
            `sigmoid` is the original DPO; `[sigmoid, sft]` adds the NLL of the chosen answer
            (RPO; TRL 1.16 has no `rpo_alpha`: this is its way).
        loss_weights: One weight per entry of `loss_type` (default: 1 each); with `[sigmoid,
            sft]`, `[1.0, alpha]` is RPO's alpha.
        max_length: Prompt plus response tokens at most; longer pairs are truncated.
        batch_size: Pairs per device per step.
    """

    name = "dpo"
    kind = "preference"
    config_class = "trl.DPOConfig"
    config_fields = {"beta": "beta", "loss_type": "loss_type", "loss_weights": "loss_weights",
                     "max_length": "max_length"}

    def __init__(self, *, beta: float = 0.3, learning_rate: float = 5e-7, epochs: float = 2.0, batch_size: int = 8,
                 grad_accum: int = 8, max_length: int = 16384, loss_type: str | list[str] = "sigmoid",
                 loss_weights: list[float] | None = None,
                 warmup_ratio: float = 0.1, lr_scheduler: str = "cosine", weight_decay: float = 0.0,
                 gradient_checkpointing: bool | None = None, deepspeed: str | None = None, liger: bool = False,
                 lora: dict[str, Any] | None = None, device: str = "auto", save_steps: int | None = None,
                 save_total_limit: int | None = 2, resume: bool = True, report_to: str | list[str] = "none",
                 seed: int | None = None, max_steps: int = -1, max_grad_norm: float = 1.0,
                 optim: str | None = None, extra_args: dict[str, Any] | None = None) -> None:
        super().__init__(HFOptions.pick(locals()))
        check_at_least(1, max_length=max_length)
        losses = [loss_type] if isinstance(loss_type, str) else loss_type
        if not isinstance(losses, list) or not losses or not all(isinstance(x, str) for x in losses):
            raise OptionError(f"loss_type must be a TRL loss name or a list of them, got {loss_type!r}")
        if loss_weights is not None and (
                not isinstance(loss_weights, list) or len(loss_weights) != len(losses)
                or not all(isinstance(w, (int, float)) and not isinstance(w, bool) for w in loss_weights)):
            raise OptionError(f"loss_weights must be a list of {len(losses)} number(s), one per loss_type entry, "
                              f"got {loss_weights!r}")
        self.beta = beta
        self.max_length = max_length
        self.loss_type = losses
        self.loss_weights = None if loss_weights is None else [float(w) for w in loss_weights]

    def build_trainer(self, ctx: TrainContext) -> Any:
        """The configured ``trl.DPOTrainer`` before training."""
        import datasets
        import trl

        from redstar.models import resolve_model
        from redstar.trainers.settings import resolve_device
        from redstar_rl.data import read_preference_rows

        model_path = resolve_model(ctx.model)
        device = resolve_device(self.options.device)
        rows = read_preference_rows(ctx.data_file)
        tokenizer = load_tokenizer(model_path)
        dataset = datasets.Dataset.from_list([
            {"prompt": r["prompt"], "chosen": r["chosen"], "rejected": r["rejected"]} for r in rows])
        config = self.config(trl.DPOConfig, ctx, device, beta=self.beta, loss_type=self.loss_type,
                             loss_weights=self.loss_weights, max_length=self.max_length)
        return trl.DPOTrainer(
            model=model_path, args=config, train_dataset=dataset, processing_class=tokenizer,
            peft_config=self.peft_config(), callbacks=self.callbacks(ctx),
        )
