"""``dpo``: Direct Preference Optimization with TRL's ``DPOTrainer`` on chosen/rejected pairs
(rows ``{"prompt_id", "prompt", "chosen", "rejected"}``, TRL's conversational format). TRL builds
the frozen reference model from the same checkpoint (or, with LoRA, uses the base model with the
adapter disabled)."""

from __future__ import annotations

from typing import Any

from redstar.interfaces import TrainContext
from redstar.trainers.hf_run import HFTrainer, load_tokenizer
from redstar.trainers.settings import HFOptions, check_at_least, resolve_device


class DPOTrainer(HFTrainer):
    """DPO on preference rows.

    Defaults are the paper's: ``beta=0.3`` (it also reports 0.5), ``learning_rate=5e-7``,
    ``epochs=2`` and a batch of 64 pairs (``batch_size`` per device x ``grad_accum`` x GPUs:
    8 x 8 on one GPU; on 8 GPUs use ``grad_accum: 1``). ``loss_type`` is TRL's (``sigmoid`` is the
    original DPO loss). The other options mean what they mean for ``sft``: ``max_length``,
    ``warmup_ratio``, ``lr_scheduler``, ``weight_decay``, ``gradient_checkpointing``,
    ``deepspeed``, ``liger``, ``lora``, ``device``, ``save_steps``, ``save_total_limit``,
    ``resume``, ``report_to``, ``seed``, ``max_steps``.

    Args:
        beta: The DPO temperature: how far the policy may move from the reference model.
        max_length: The most tokens of one prompt and response together; longer pairs are
            truncated.
        loss_type: TRL's DPO loss (``sigmoid`` is the original DPO loss).
    """

    name = "dpo"
    kind = "preference"

    def __init__(self, *, beta: float = 0.3, learning_rate: float = 5e-7, epochs: float = 2.0, batch_size: int = 8,
                 grad_accum: int = 8, max_length: int = 16384, loss_type: str = "sigmoid",
                 warmup_ratio: float = 0.1, lr_scheduler: str = "cosine", weight_decay: float = 0.0,
                 gradient_checkpointing: bool | None = None, deepspeed: str | None = None, liger: bool = False,
                 lora: dict[str, Any] | None = None, device: str = "auto", save_steps: int | None = None,
                 save_total_limit: int | None = 2, resume: bool = True, report_to: str | list[str] = "none",
                 seed: int | None = None, max_steps: int = -1) -> None:
        super().__init__(HFOptions.pick(locals()))
        check_at_least(1, max_length=max_length)
        self.beta = beta
        self.max_length = max_length
        self.loss_type = loss_type

    def build_trainer(self, ctx: TrainContext) -> Any:
        """The configured ``trl.DPOTrainer`` before training."""
        import datasets
        import trl

        from redstar.models import resolve_model
        from redstar_rl.data import read_preference_rows

        model_path = resolve_model(ctx.model)
        device = resolve_device(self.options.device)
        rows = read_preference_rows(ctx.data_file)
        tokenizer = load_tokenizer(model_path)
        dataset = datasets.Dataset.from_list([
            {"prompt": r["prompt"], "chosen": r["chosen"], "rejected": r["rejected"]} for r in rows])
        config = self.config(trl.DPOConfig, ctx, device, beta=self.beta, loss_type=[self.loss_type],
                             max_length=self.max_length)
        return trl.DPOTrainer(
            model=model_path, args=config, train_dataset=dataset, processing_class=tokenizer,
            peft_config=self.peft_config(), callbacks=self.callbacks(ctx),
        )
