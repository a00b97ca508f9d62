"""The built-in ``sft`` trainer: supervised fine-tuning on Long-CoT responses with TRL's
``SFTTrainer``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from redstar.interfaces import TrainContext
from redstar.trainers.hf_run import HFTrainer, load_tokenizer
from redstar.trainers.settings import HFOptions, OptionError, check_at_least, resolve_device

log = logging.getLogger(__name__)


class SFTTrainer(HFTrainer):
    """Supervised fine-tuning with TRL's ``SFTTrainer`` on rows ``{"prompt_id", "messages"}``.

    The chat template renders the reasoning and the answer; the loss falls on the assistant's
    tokens only (see :mod:`redstar.trainers.sft_data` for how, per chat template). The SFT file is
    read into a memory-mapped Arrow dataset under ``<output_dir>/sft-data`` and tokenized there
    once, by the main process first, so that the other processes of a multi-process launch map
    the cache instead of reading and tokenizing the file again. The final model and tokenizer are
    saved to ``<output_dir>/final``; checkpoints ``<output_dir>/checkpoint-N`` every
    ``save_steps`` steps (default: each epoch), and a rerun resumes from the newest. The defaults
    suit a GPU; tests and laptops override them.

    Args:
        epochs: Passes over the data (``max_steps`` above 0 overrides it).
        max_steps: Stop after this many optimizer steps; -1 trains for ``epochs``.
        learning_rate: The peak learning rate.
        batch_size: Conversations (packed rows with ``packing``) per device per step.
        grad_accum: Gradient accumulation steps; the global batch is batch_size x grad_accum x
            processes.
        max_length: Tokens per conversation; longer conversations are truncated (the start kept).
        warmup_ratio: The fraction of the steps spent warming up, in [0, 1).
        lr_scheduler: A transformers scheduler name (``cosine``, ``linear``, ...).
        weight_decay: AdamW's weight decay.
        packing: Pack conversations into ``max_length`` rows without padding (TRL's best-fit
            packing, padding-free through ``position_ids``); fastest with ``attn_implementation:
            flash_attention_2``, correct but slow with SDPA.
        liger: Use Liger's Triton kernels (CUDA only; ``pip install 'redstar-core[liger]'``).
        gradient_checkpointing: Recompute activations in the backward pass; None means on for
            GPUs and off on the CPU.
        attn_implementation: The attention backend (``sdpa``, ``eager``, ``flash_attention_2``,
            ...); None keeps the model's default.
        deepspeed: ``zero2``, ``zero3``, ``zero3_offload`` (configs shipped with RedStar) or the
            path of a DeepSpeed JSON config.
        sequence_parallel: GPUs per sequence for Ulysses sequence parallelism (needs ``deepspeed``
            and a multi-process launch; see :mod:`redstar.trainers.parallel`).
        lora: A mapping of ``peft.LoraConfig`` options (``{}`` for the defaults
            :data:`redstar.trainers.lora.LORA_DEFAULTS`); the adapter is saved to
            ``<output_dir>/adapter`` and merged into the final model. None trains every weight.
        assistant_only_loss: False trains on the whole conversation, prompt included.
        device: ``auto`` (CUDA if present, else the CPU), ``cpu`` or ``cuda``; on the CPU training
            is fp32, on GPUs bf16 where supported.
        save_steps: Save a checkpoint every this many steps; None saves at the end of each epoch.
        save_total_limit: How many checkpoints to keep (the oldest are deleted).
        resume: Continue from the newest complete checkpoint in ``output_dir``.
        report_to: Where transformers reports metrics: ``none``, ``wandb``, ``tensorboard``, ...,
            or a list of them.
        seed: The training seed; None uses the run's seed.
        max_grad_norm: Clip the gradients' global norm to this value; 0 turns clipping off.
        optim: A transformers optimizer name (``adamw_torch``, ``adamw_torch_fused``,
            ``adamw_8bit``, ...); None keeps transformers' default. A DeepSpeed config with its own
            ``optimizer`` entry overrides it.
        dataset_num_proc: Processes that tokenize the data (TRL's ``dataset_num_proc``); None
            tokenizes in the main process.
        eval_file: An SFT file (same format) to compute the loss on during training; its
            ``eval_loss`` goes to the metrics file. Excludes ``eval_fraction``.
        eval_fraction: Hold this fraction of the SFT rows out of training (a seeded split) and
            compute the loss on them during training, in [0, 1); 0 holds nothing out.
        eval_steps: With an eval set, evaluate every this many steps; None evaluates at the end of
            each epoch.
        extra_args: Further ``trl.SFTConfig`` fields, passed as they are (``{adam_beta2: 0.95,
            ddp_timeout: 7200}``). Names are checked against the installed TRL when the trainer is
            built; fields that the options above set are refused (set the option).
    """

    name = "sft"
    kind = "sft"
    config_class = "trl.SFTConfig"
    config_fields = {
        "max_length": "max_length", "packing": "packing", "assistant_only_loss": "assistant_only_loss",
        "completion_only_loss": "assistant_only_loss", "model_init_kwargs": "attn_implementation",
        "parallelism_config": "sequence_parallel", "pad_to_multiple_of": "sequence_parallel",
        "dataset_num_proc": "dataset_num_proc", "eval_strategy": "eval_steps", "eval_steps": "eval_steps",
        "per_device_eval_batch_size": "batch_size",
    }

    def __init__(self, *, epochs: float = 3.0, max_steps: int = -1, learning_rate: float = 1e-5,
                 batch_size: int = 1, grad_accum: int = 16, max_length: int = 16384, warmup_ratio: float = 0.1,
                 lr_scheduler: str = "cosine", weight_decay: float = 0.0, packing: bool = False,
                 liger: bool = False, gradient_checkpointing: bool | None = None,
                 attn_implementation: str | None = None, deepspeed: str | None = None,
                 sequence_parallel: int = 1, lora: dict[str, Any] | None = None,
                 assistant_only_loss: bool = True, device: str = "auto", save_steps: int | None = None,
                 save_total_limit: int | None = 2, resume: bool = True, report_to: str | list[str] = "none",
                 seed: int | None = None, max_grad_norm: float = 1.0, optim: str | None = None,
                 dataset_num_proc: int | None = None, eval_file: str | None = None, eval_fraction: float = 0.0,
                 eval_steps: int | None = None, extra_args: dict[str, Any] | None = None) -> None:
        super().__init__(HFOptions.pick(locals()))
        check_at_least(1, max_length=max_length, sequence_parallel=sequence_parallel)
        for name, value in (("dataset_num_proc", dataset_num_proc), ("eval_steps", eval_steps)):
            if value is not None:
                check_at_least(1, **{name: value})
        if isinstance(eval_fraction, bool) or not isinstance(eval_fraction, (int, float)) \
                or not 0 <= eval_fraction < 1:
            raise OptionError(f"eval_fraction is a fraction of the SFT rows in [0, 1), got {eval_fraction!r}")
        if eval_file is not None and eval_fraction:
            raise OptionError("give eval_file or eval_fraction, not both")
        if eval_file is not None and not isinstance(eval_file, str):
            raise OptionError(f"eval_file must be the path of an SFT file, got {eval_file!r}")
        self.max_length = max_length
        self.packing = packing
        self.attn_implementation = attn_implementation
        self.sequence_parallel = sequence_parallel
        self.assistant_only_loss = assistant_only_loss
        self.dataset_num_proc = dataset_num_proc
        self.eval_file = eval_file
        self.eval_fraction = float(eval_fraction)
        self.eval_steps = eval_steps

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
        evaluating = self.eval_file is not None or self.eval_fraction > 0
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
            dataset_num_proc=self.dataset_num_proc,
            eval_strategy=("steps" if self.eval_steps else "epoch") if evaluating else "no",
            eval_steps=self.eval_steps,
            per_device_eval_batch_size=self.options.batch_size,
        )
        train, evaluation = self.datasets(ctx, config, masking)
        log.info("sft: %d rows (%s held out), loss on %s tokens", len(train),
                 len(evaluation) if evaluation is not None else "none", masking)
        return trl.SFTTrainer(
            model=model_path, args=config, train_dataset=train, eval_dataset=evaluation,
            processing_class=tokenizer, peft_config=self.peft_config(), callbacks=self.callbacks(ctx),
        )

    def datasets(self, ctx: TrainContext, config: Any, masking: str) -> tuple[Any, Any]:
        """The training and evaluation sets (None without one), memory-mapped from
        ``<output_dir>/sft-data``: the global main process builds the cache first, then each
        node's main process (a node-local disk), then the others map it."""
        from redstar.trainers.sft_data import sft_dataset

        cache = Path(ctx.output_dir) / "sft-data"
        with config.main_process_first(local=False, desc="SFT data"), \
                config.main_process_first(local=True, desc="SFT data"):
            train = sft_dataset(ctx.data_file, masking, cache)
            if self.eval_file is not None:
                return train, sft_dataset(self.eval_file, masking, cache)
            if self.eval_fraction:
                split = train.train_test_split(test_size=self.eval_fraction, seed=config.seed)
                return split["train"], split["test"]
        return train, None
