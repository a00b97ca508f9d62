"""``dpo``: Direct Preference Optimization with TRL's ``DPOTrainer`` on chosen/rejected pairs
(rows ``{"prompt_id", "prompt", "chosen", "rejected"}``, TRL's conversational format). TRL builds
the frozen reference model from the same checkpoint (or, with LoRA, uses the base model with the
adapter disabled)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from redstar.interfaces import TrainContext, Trainer, TrainResult


class DPOTrainer(Trainer):
    """DPO on preference rows.

    Defaults are the paper's: ``beta=0.3`` (it also reports 0.5), ``learning_rate=5e-7``,
    ``epochs=2`` and a batch of 64 pairs (``batch_size`` per device x ``grad_accum`` x GPUs:
    8 x 8 on one GPU; on 8 GPUs use ``grad_accum: 1``). ``loss_type`` is TRL's (``sigmoid`` is the
    original DPO loss). The other options mean what they mean for ``sft``: ``max_length``,
    ``warmup_ratio``, ``lr_scheduler``, ``weight_decay``, ``gradient_checkpointing``,
    ``deepspeed``, ``liger``, ``lora``, ``device``, ``save_steps``, ``save_total_limit``,
    ``resume``, ``report_to``, ``seed``, ``max_steps``.
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
        self.beta = beta
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.batch_size = batch_size
        self.grad_accum = grad_accum
        self.max_length = max_length
        self.loss_type = loss_type
        self.warmup_ratio = warmup_ratio
        self.lr_scheduler = lr_scheduler
        self.weight_decay = weight_decay
        self.gradient_checkpointing = gradient_checkpointing
        self.deepspeed = deepspeed
        self.liger = liger
        self.lora = lora
        self.device = device
        self.save_steps = save_steps
        self.save_total_limit = save_total_limit
        self.resume = resume
        self.report_to = report_to
        self.seed = seed
        self.max_steps = max_steps

    def train(self, ctx: TrainContext) -> TrainResult:
        from redstar.models import resolve_model
        from redstar.trainers.hf_run import train_and_save
        from redstar.trainers.lora import merged_saver

        save = merged_saver(resolve_model(ctx.model), Path(ctx.output_dir) / "adapter") if self.lora is not None else None
        return train_and_save(self.build_trainer(ctx), Path(ctx.output_dir), resume=self.resume, save=save)

    def build_trainer(self, ctx: TrainContext) -> Any:
        """The configured ``trl.DPOTrainer`` before training."""
        import datasets
        import trl
        from transformers import AutoTokenizer

        from redstar.models import resolve_model
        from redstar.trainers.lora import lora_config
        from redstar.trainers.reporting import ReportingCallback, StepReporter
        from redstar.trainers.settings import hf_trainer_args, resolve_device
        from redstar_rl.data import read_preference_rows

        model_path = resolve_model(ctx.model)
        device = resolve_device(self.device)
        rows = read_preference_rows(ctx.data_file)
        tokenizer = AutoTokenizer.from_pretrained(model_path)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        dataset = datasets.Dataset.from_list([
            {"prompt": r["prompt"], "chosen": r["chosen"], "rejected": r["rejected"]} for r in rows])
        config = trl.DPOConfig(
            **hf_trainer_args(
                output_dir=Path(ctx.output_dir), device=device, epochs=self.epochs,
                learning_rate=self.learning_rate, batch_size=self.batch_size, grad_accum=self.grad_accum,
                warmup_ratio=self.warmup_ratio, lr_scheduler=self.lr_scheduler, weight_decay=self.weight_decay,
                gradient_checkpointing=self.gradient_checkpointing, deepspeed=self.deepspeed, liger=self.liger,
                seed=ctx.seed if self.seed is None else self.seed, save_steps=self.save_steps,
                save_total_limit=self.save_total_limit, report_to=self.report_to, max_steps=self.max_steps,
            ),
            beta=self.beta,
            loss_type=[self.loss_type],
            max_length=self.max_length,
        )
        return trl.DPOTrainer(
            model=model_path, args=config, train_dataset=dataset, processing_class=tokenizer,
            peft_config=lora_config(self.lora),
            callbacks=[ReportingCallback(StepReporter(ctx.metrics_file, ctx.on_step))],
        )
