"""Device, precision and the transformers/TRL arguments shared by every Hugging Face based trainer
(``sft`` in core; ``dpo`` and ``grpo`` in redstar-rl), so that one option means the same thing in
each of them."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from redstar.errors import MissingDependencyError, RedStarError

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str) -> str:
    """``"auto"`` is CUDA when a GPU is visible, else the CPU. Apple's MPS is never picked on its
    own: training there is neither exact nor faster for the tiny models a laptop runs."""
    import torch

    if device not in DEVICES:
        raise RedStarError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise RedStarError("device 'cuda' was asked for, but torch sees no GPU")
    return device


def precision_args(device: str) -> dict[str, Any]:
    """fp32 on the CPU (bf16 autocast there is about 24x slower on the CPUs RedStar is developed
    on); bf16 on GPUs that support it, else fp32."""
    if device == "cpu":
        return {"use_cpu": True, "bf16": False, "fp16": False}
    import torch

    return {"use_cpu": False, "bf16": bool(torch.cuda.is_bf16_supported()), "fp16": False}


def require_liger(device: str) -> None:
    """Liger's kernels are Triton kernels: CUDA only, and a separate install."""
    if device != "cuda":
        raise RedStarError("liger needs a CUDA GPU (its kernels are written in Triton); set liger: false on CPU")
    if importlib.util.find_spec("liger_kernel") is None:
        raise MissingDependencyError("liger: true needs Liger-Kernel: pip install 'redstar-core[liger]'")


def hf_trainer_args(*, output_dir: Path, device: str, epochs: float, learning_rate: float, batch_size: int,
                    grad_accum: int, warmup_ratio: float, lr_scheduler: str, weight_decay: float,
                    gradient_checkpointing: bool | None, deepspeed: str | None, liger: bool, seed: int,
                    save_steps: int | None, save_total_limit: int | None, report_to: str | list[str],
                    max_steps: int) -> dict[str, Any]:
    """Keyword arguments for a TRL config (``SFTConfig``, ``DPOConfig``, ``GRPOConfig``).

    ``gradient_checkpointing=None`` means on for GPUs (TRL's default, needed for long chains of
    thought) and off on the CPU, where the models are tiny and recomputation only costs time.
    ``save_steps=None`` saves a checkpoint at the end of each epoch.
    """
    from redstar.trainers.deepspeed import config_path

    if liger:
        require_liger(device)
    if not 0 <= warmup_ratio < 1:
        raise RedStarError(f"warmup_ratio is a fraction of the training steps in [0, 1), got {warmup_ratio}")
    if gradient_checkpointing is None:
        gradient_checkpointing = device != "cpu"
    return {
        "output_dir": str(output_dir),
        "num_train_epochs": epochs,
        "max_steps": max_steps,
        "learning_rate": learning_rate,
        "per_device_train_batch_size": batch_size,
        "gradient_accumulation_steps": grad_accum,
        **warmup_arg(warmup_ratio),
        "lr_scheduler_type": lr_scheduler,
        "weight_decay": weight_decay,
        checkpointing_arg(): gradient_checkpointing,
        "deepspeed": config_path(deepspeed) if deepspeed else None,
        "use_liger_kernel": liger,
        "seed": seed,
        "data_seed": seed,
        "save_strategy": "epoch" if save_steps is None else "steps",
        "save_steps": save_steps or 500,
        "save_total_limit": save_total_limit,
        "report_to": report_to,
        # One log per optimizer step: that is what feeds metrics_file and on_step.
        "logging_steps": 1,
        **precision_args(device),
    }


def _training_argument_names() -> set[str]:
    from dataclasses import fields

    from transformers import TrainingArguments

    return {f.name for f in fields(TrainingArguments)}


def checkpointing_arg() -> str:
    """transformers 5 renamed ``gradient_checkpointing`` to ``activation_checkpointing`` (the old
    name warns); older releases know only the old name."""
    names = _training_argument_names()
    return "activation_checkpointing" if "activation_checkpointing" in names else "gradient_checkpointing"


def warmup_arg(ratio: float) -> dict[str, float]:
    """transformers 5 dropped ``warmup_ratio`` and reads a ``warmup_steps`` below 1 as that
    fraction of the steps; older releases need ``warmup_ratio``."""
    return {"warmup_ratio": ratio} if "warmup_ratio" in _training_argument_names() else {"warmup_steps": ratio}


def last_checkpoint(output_dir: Path) -> str | None:
    """The newest *complete* ``checkpoint-N`` folder a previous attempt left in ``output_dir``
    (see :mod:`redstar.trainers.checkpoints`); incomplete ones are skipped, not resumed from."""
    from redstar.trainers.checkpoints import complete_checkpoints

    complete, _ = complete_checkpoints(Path(output_dir))
    return str(complete[-1]) if complete else None
