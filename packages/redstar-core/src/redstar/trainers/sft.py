"""The built-in ``sft`` trainer: supervised fine-tuning on Long-CoT responses with TRL's
``SFTTrainer``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from redstar.interfaces import TrainContext, Trainer, TrainResult
from redstar.models import resolve_model
from redstar.trainers.reporting import ReportingCallback, StepReporter
from redstar.trainers.settings import hf_trainer_args, resolve_device

log = logging.getLogger(__name__)


class SFTTrainer(Trainer):
    """Supervised fine-tuning with TRL's ``SFTTrainer`` on rows ``{"prompt_id", "messages"}``.

    The chat template renders the reasoning and the answer; the loss falls on the assistant's
    tokens only (see :mod:`redstar.trainers.sft_data` for how, per chat template). The final model
    and tokenizer are saved to ``<output_dir>/final``; checkpoints ``<output_dir>/checkpoint-N``
    are saved every ``save_steps`` steps (default: each epoch) and a rerun resumes from the newest.

    Options (defaults suit a GPU; tests and laptops override them):

    - ``epochs``, ``max_steps`` (> 0 overrides epochs), ``learning_rate``, ``batch_size`` (per
      device), ``grad_accum``, ``max_length`` (tokens; longer conversations are truncated),
      ``warmup_ratio`` (fraction of steps), ``lr_scheduler`` (a transformers scheduler name),
      ``weight_decay``, ``seed`` (default: the run's seed).
    - ``packing``: pack conversations into ``max_length`` rows without padding (TRL's best-fit
      packing, padding-free through ``position_ids``); fastest with
      ``attn_implementation: flash_attention_2``, correct but slow with SDPA.
    - ``liger``: Liger's Triton kernels (CUDA; ``pip install 'redstar-core[liger]'``).
    - ``gradient_checkpointing``: default on for GPUs, off on the CPU.
    - ``attn_implementation``: ``sdpa``, ``eager``, ``flash_attention_2``, ... (model default).
    - ``deepspeed``: ``zero2``, ``zero3`` or a path to a DeepSpeed JSON config.
    - ``sequence_parallel``: GPUs per sequence for Ulysses sequence parallelism (needs
      ``deepspeed`` and a multi-process launch; see :mod:`redstar.trainers.parallel`).
    - ``lora``: a mapping of ``peft.LoraConfig`` options (``{}`` for the defaults
      :data:`redstar.trainers.lora.LORA_DEFAULTS`); the adapter is saved to
      ``<output_dir>/adapter`` and merged into the final model.
    - ``assistant_only_loss``: false trains on the whole conversation, prompt included.
    - ``device``: ``auto`` (CUDA if present, else CPU), ``cpu`` or ``cuda``. On the CPU training is
      fp32; on GPUs bf16 when supported.
    - ``save_steps``, ``save_total_limit``, ``resume`` (continue from the newest checkpoint in
      ``output_dir``), ``report_to`` (``none``, ``wandb``, ``tensorboard``, ... as transformers).
    """

    name = "sft"
    kind = "sft"

    def __init__(self, *, epochs: float = 3.0, max_steps: int = -1, learning_rate: float = 1e-5,
                 batch_size: int = 1, grad_accum: int = 16, max_length: int = 16384, warmup_ratio: float = 0.1,
                 lr_scheduler: str = "cosine", weight_decay: float = 0.0, packing: bool = False,
                 liger: bool = False, gradient_checkpointing: bool | None = None,
                 attn_implementation: str | None = None, deepspeed: str | None = None,
                 sequence_parallel: int = 1, lora: dict[str, Any] | None = None,
                 assistant_only_loss: bool = True, device: str = "auto", save_steps: int | None = None,
                 save_total_limit: int | None = 2, resume: bool = True, report_to: str | list[str] = "none",
                 seed: int | None = None) -> None:
        self.epochs = epochs
        self.max_steps = max_steps
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.grad_accum = grad_accum
        self.max_length = max_length
        self.warmup_ratio = warmup_ratio
        self.lr_scheduler = lr_scheduler
        self.weight_decay = weight_decay
        self.packing = packing
        self.liger = liger
        self.gradient_checkpointing = gradient_checkpointing
        self.attn_implementation = attn_implementation
        self.deepspeed = deepspeed
        self.sequence_parallel = sequence_parallel
        self.lora = lora
        self.assistant_only_loss = assistant_only_loss
        self.device = device
        self.save_steps = save_steps
        self.save_total_limit = save_total_limit
        self.resume = resume
        self.report_to = report_to
        self.seed = seed

    def train(self, ctx: TrainContext) -> TrainResult:
        from redstar.trainers.hf_run import train_and_save
        from redstar.trainers.lora import merged_saver

        trainer = self.build_trainer(ctx)
        save = None
        if self.lora is not None:
            save = merged_saver(resolve_model(ctx.model), Path(ctx.output_dir) / "adapter")
        return train_and_save(trainer, Path(ctx.output_dir), resume=self.resume, save=save)

    def build_trainer(self, ctx: TrainContext) -> Any:
        """The configured ``trl.SFTTrainer``, data loaded and tokenized, before any training:
        what :meth:`train` runs (and what to inspect to see exactly what is trained)."""
        import datasets
        import trl
        from transformers import AutoConfig, AutoTokenizer

        from redstar.trainers.lora import lora_config
        from redstar.trainers.parallel import sequence_parallel_config
        from redstar.trainers.sft_data import as_training_rows, loss_masking, read_sft_rows

        model_path = resolve_model(ctx.model)
        device = resolve_device(self.device)
        rows = read_sft_rows(ctx.data_file)
        tokenizer = AutoTokenizer.from_pretrained(model_path)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        masking = loss_masking(tokenizer, self.assistant_only_loss)
        log.info("sft: %d rows, loss on %s tokens", len(rows), masking)
        dataset = datasets.Dataset.from_list(as_training_rows(rows, masking))

        parallelism = sequence_parallel_config(
            self.sequence_parallel, self.attn_implementation,
            num_heads=getattr(AutoConfig.from_pretrained(model_path), "num_attention_heads", None)
            if self.sequence_parallel > 1 else None,
            deepspeed=self.deepspeed, packing=self.packing,
        )
        init_kwargs = {"attn_implementation": self.attn_implementation} if self.attn_implementation else None
        config = trl.SFTConfig(
            **hf_trainer_args(
                output_dir=Path(ctx.output_dir), device=device, epochs=self.epochs,
                learning_rate=self.learning_rate, batch_size=self.batch_size, grad_accum=self.grad_accum,
                warmup_ratio=self.warmup_ratio, lr_scheduler=self.lr_scheduler, weight_decay=self.weight_decay,
                gradient_checkpointing=self.gradient_checkpointing, deepspeed=self.deepspeed, liger=self.liger,
                seed=ctx.seed if self.seed is None else self.seed, save_steps=self.save_steps,
                save_total_limit=self.save_total_limit, report_to=self.report_to, max_steps=self.max_steps,
            ),
            max_length=self.max_length,
            packing=self.packing,
            assistant_only_loss=masking == "assistant",
            completion_only_loss=masking == "completion",
            model_init_kwargs=init_kwargs,
            parallelism_config=parallelism,
            # Ulysses splits each sequence into sequence_parallel equal shards.
            pad_to_multiple_of=self.sequence_parallel if self.sequence_parallel > 1 else None,
        )
        reporting = ReportingCallback(StepReporter(ctx.metrics_file, ctx.on_step))
        return trl.SFTTrainer(
            model=model_path, args=config, train_dataset=dataset, processing_class=tokenizer,
            peft_config=lora_config(self.lora), callbacks=[reporting],
        )
