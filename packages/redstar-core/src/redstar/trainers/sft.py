"""The built-in ``sft`` trainer: supervised fine-tuning on Long-CoT responses with TRL's
``SFTTrainer``."""

from __future__ import annotations

import logging
from typing import Any

from redstar.interfaces import TrainContext
from redstar.trainers.hf_run import HFTrainer, load_tokenizer
from redstar.trainers.settings import HFOptions, check_at_least, resolve_device

log = logging.getLogger(__name__)


class SFTTrainer(HFTrainer):
    """Supervised fine-tuning with TRL's ``SFTTrainer`` on rows ``{"prompt_id", "messages"}``.

    The chat template renders the reasoning and the answer; the loss falls on the assistant's
    tokens only (see :mod:`redstar.trainers.sft_data` for how, per chat template). The final model
    and tokenizer are saved to ``<output_dir>/final``; checkpoints ``<output_dir>/checkpoint-N``
    are saved every ``save_steps`` steps (default: each epoch) and a rerun resumes from the newest.

    The defaults suit a GPU; tests and laptops override them. The options every Hugging Face
    trainer shares (``epochs``, ``learning_rate``, ``deepspeed``, ``lora``...) are described on
    :class:`~redstar.trainers.settings.HFOptions`.

    Args:
        batch_size: Conversations (packed rows, with ``packing``) per device per optimizer step.
        max_length: The most tokens of one training row; longer conversations are truncated.
        packing: Whether conversations are packed into ``max_length`` rows without padding
            (TRL's best-fit packing, padding-free through ``position_ids``); fastest with
            ``attn_implementation: flash_attention_2``, correct but slow with SDPA.
        attn_implementation: The attention kernel (``sdpa``, ``eager``, ``flash_attention_2``...);
            null keeps the model's default.
        sequence_parallel: GPUs per sequence for Ulysses sequence parallelism (it needs
            ``deepspeed`` and a multi-process launch; see :mod:`redstar.trainers.parallel`).
        assistant_only_loss: Whether the loss falls on the assistant's tokens only; false trains
            on the whole conversation, prompt included.
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
        super().__init__(HFOptions.pick(locals()))
        check_at_least(1, max_length=max_length, sequence_parallel=sequence_parallel)
        self.max_length = max_length
        self.packing = packing
        self.attn_implementation = attn_implementation
        self.sequence_parallel = sequence_parallel
        self.assistant_only_loss = assistant_only_loss

    def build_trainer(self, ctx: TrainContext) -> Any:
        """The configured ``trl.SFTTrainer``, data loaded and tokenized, before any training:
        what :meth:`train` runs (and what to inspect to see exactly what is trained)."""
        import datasets
        import trl
        from transformers import AutoConfig

        from redstar.models import resolve_model
        from redstar.trainers.parallel import sequence_parallel_config
        from redstar.trainers.sft_data import as_training_rows, loss_masking, read_sft_rows

        model_path = resolve_model(ctx.model)
        device = resolve_device(self.options.device)
        rows = read_sft_rows(ctx.data_file)
        tokenizer = load_tokenizer(model_path)
        masking = loss_masking(tokenizer, self.assistant_only_loss)
        log.info("sft: %d rows, loss on %s tokens", len(rows), masking)
        dataset = datasets.Dataset.from_list(as_training_rows(rows, masking))

        parallelism = sequence_parallel_config(
            self.sequence_parallel, self.attn_implementation,
            num_heads=getattr(AutoConfig.from_pretrained(model_path), "num_attention_heads", None)
            if self.sequence_parallel > 1 else None,
            deepspeed=self.options.deepspeed, packing=self.packing,
        )
        init_kwargs = {"attn_implementation": self.attn_implementation} if self.attn_implementation else None
        config = self.config(
            trl.SFTConfig, ctx, device,
            max_length=self.max_length,
            packing=self.packing,
            assistant_only_loss=masking == "assistant",
            completion_only_loss=masking == "completion",
            model_init_kwargs=init_kwargs,
            parallelism_config=parallelism,
            # Ulysses splits each sequence into sequence_parallel equal shards.
            pad_to_multiple_of=self.sequence_parallel if self.sequence_parallel > 1 else None,
        )
        return trl.SFTTrainer(
            model=model_path, args=config, train_dataset=dataset, processing_class=tokenizer,
            peft_config=self.peft_config(), callbacks=self.callbacks(ctx),
        )
