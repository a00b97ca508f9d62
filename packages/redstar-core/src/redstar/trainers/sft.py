"""The built-in ``sft`` trainer: supervised fine-tuning on Long-CoT responses with TRL's
``SFTTrainer``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from redstar.interfaces import TrainContext
from redstar.trainers.hf_run import HFTrainer, load_tokenizer
from redstar.trainers.settings import HFOptions, check_at_least, resolve_device

log = logging.getLogger(__name__)


class SFTTrainer(HFTrainer):
    """Supervised fine-tuning with TRL's ``SFTTrainer`` on rows ``{"prompt_id", "messages"}``.

    The chat template renders the reasoning and the answer; the loss falls on the assistant's
    tokens only (see :mod:`redstar.trainers.sft_data` for how, per chat template). The SFT file is
    read into a memory-mapped Arrow dataset under ``<output_dir>/sft-data`` and tokenized there
    once, by the main process first, so that the other processes of a multi-process launch map
    the cache instead of reading and tokenizing the file again. The final model and tokenizer are
    saved to ``<output_dir>/final``; checkpoints ``<output_dir>/checkpoint-N`` are saved every
    ``save_steps`` steps (default: each epoch) and a rerun resumes from the newest.

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
        import trl
        from transformers import AutoConfig

        from redstar.models import resolve_model
        from redstar.trainers.parallel import sequence_parallel_config
        from redstar.trainers.sft_data import loss_masking

        model_path = resolve_model(ctx.model)
        device = resolve_device(self.options.device)
        tokenizer = load_tokenizer(model_path)
        masking = loss_masking(tokenizer, self.assistant_only_loss)

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
        train = self.dataset(ctx, config, masking)
        log.info("sft: %d rows, loss on %s tokens", len(train), masking)
        return trl.SFTTrainer(
            model=model_path, args=config, train_dataset=train, processing_class=tokenizer,
            peft_config=self.peft_config(), callbacks=self.callbacks(ctx),
        )

    def dataset(self, ctx: TrainContext, config: Any, masking: str) -> Any:
        """The training set, memory-mapped from ``<output_dir>/sft-data``: the global main
        process builds the cache first, then each node's main process (a node-local disk), then
        the others map it."""
        from redstar.trainers.sft_data import sft_dataset

        with config.main_process_first(local=False, desc="SFT data"), \
                config.main_process_first(local=True, desc="SFT data"):
            return sft_dataset(ctx.data_file, masking, Path(ctx.output_dir) / "sft-data")
