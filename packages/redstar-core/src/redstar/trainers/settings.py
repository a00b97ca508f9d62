"""The options every Hugging Face based trainer shares (``sft`` in core; ``dpo`` and ``grpo`` in
redstar-rl; geo's ``vlm-sft``), checked when the trainer is built, and what they become: the
transformers/TRL config arguments, device and precision, so that one option means the same
thing in each of them.

:class:`HFOptions` holds them; :func:`hf_trainer_args` turns them, with a trainer's own extras,
into the keyword arguments of ``SFTConfig``, ``DPOConfig``, ``GRPOConfig`` or
``TrainingArguments``. The defaults are each trainer's: its constructor lists every option with
its default (that signature is what recipes, ``redstar plugins`` and ``redstar recipe check``
read) and hands the shared ones over with ``HFOptions.pick(locals())``.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from redstar.errors import MissingDependencyError, RedStarError

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str) -> str:
    """``"auto"`` is CUDA when a GPU is visible, else the CPU. Apple's MPS is never picked on its
    own: training there is neither exact nor faster for the tiny models a laptop runs."""
    import torch

    check_device(device)
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


class OptionError(RedStarError, ValueError):
    """A trainer option with a value it cannot take. Also a ``ValueError``, so that building the
    recipe's plugins (``redstar.plugins.instantiate``, before any stage runs and in ``redstar
    recipe check``) reports it under the recipe section that set it."""


def check_device(device: str) -> None:
    """``device`` is one a trainer can resolve (:func:`resolve_device`)."""
    if device not in DEVICES:
        raise OptionError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:  # NaN
        raise OptionError(f"{name} must be a number, got {value!r}")
    return value


def check_at_least(minimum: int, **values: Any) -> None:
    """Each of ``values`` (option name: value) is an integer of at least ``minimum``."""
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise OptionError(f"{name} must be an integer of at least {minimum}, got {value!r}")


def check_positive(**values: Any) -> None:
    """Each of ``values`` (option name: value) is a number above 0."""
    for name, value in values.items():
        if _number(name, value) <= 0:
            raise OptionError(f"{name} must be above 0, got {value!r}")


@dataclass(frozen=True)
class HFOptions:
    """The options of :class:`redstar.trainers.hf_run.HFTrainer` subclasses; ``docs/training.md``
    (``sft``) says more about each. ``liger`` and ``lora`` default to off for a trainer that does
    not offer them. Construction checks the values and imports nothing heavy: a run builds its
    trainers once before the first stage to check a recipe. The defaults are each trainer's own.

    Args:
        epochs: Passes over the training data (a fraction trains part of the last pass).
        max_steps: Stop after this many optimizer steps; above 0 it overrides ``epochs``, and -1
            (or 0) trains for ``epochs``.
        learning_rate: The peak learning rate.
        batch_size: Rows per device per optimizer step, before gradient accumulation.
        grad_accum: Gradient accumulation steps: the global batch is ``batch_size`` times
            ``grad_accum`` times the number of GPUs.
        warmup_ratio: The fraction of the optimizer steps, in [0, 1), spent warming the learning
            rate up.
        lr_scheduler: The learning-rate schedule, any transformers scheduler name (``cosine``,
            ``linear``, ``constant``...).
        weight_decay: AdamW's weight decay.
        gradient_checkpointing: Whether activations are recomputed in the backward pass to save
            memory; null means on for GPUs and off on the CPU.
        deepspeed: ``zero2``, ``zero3`` (the configs shipped with RedStar) or the path of a
            DeepSpeed JSON config; null trains without DeepSpeed.
        device: Where training runs: ``auto`` (CUDA when present, else the CPU), ``cpu`` or
            ``cuda``. On the CPU training is fp32; on GPUs bf16 where supported.
        save_steps: Save a checkpoint every this many optimizer steps; null saves one at the end
            of each epoch.
        save_total_limit: How many checkpoints are kept (null keeps all).
        resume: Whether a rerun continues from the newest complete checkpoint in its output
            folder.
        report_to: Where transformers reports metrics: ``none``, ``wandb``, ``tensorboard``,
            ``mlflow``, or a list of them.
        seed: The training seed; null takes the run's seed.
        liger: Whether Liger's Triton kernels are used (CUDA only; ``pip install
            'redstar-core[liger]'``).
        lora: A mapping of ``peft.LoraConfig`` options to train a LoRA adapter instead of the
            whole model (``{}`` for RedStar's defaults); the adapter is saved to
            ``<output_dir>/adapter`` and merged into the final model. Null trains every weight.
    """

    epochs: float
    max_steps: int
    learning_rate: float
    batch_size: int
    grad_accum: int
    warmup_ratio: float
    lr_scheduler: str
    weight_decay: float
    gradient_checkpointing: bool | None
    deepspeed: str | None
    device: str
    save_steps: int | None
    save_total_limit: int | None
    resume: bool
    report_to: str | list[str]
    seed: int | None
    liger: bool = False
    lora: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        check_positive(epochs=self.epochs, learning_rate=self.learning_rate)
        check_at_least(1, batch_size=self.batch_size, grad_accum=self.grad_accum)
        check_at_least(-1, max_steps=self.max_steps)  # -1 (or 0): train for ``epochs``
        if not 0 <= _number("warmup_ratio", self.warmup_ratio) < 1:
            raise OptionError(f"warmup_ratio is a fraction of the training steps in [0, 1), got {self.warmup_ratio}")
        if _number("weight_decay", self.weight_decay) < 0:
            raise OptionError(f"weight_decay must be at least 0, got {self.weight_decay}")
        if self.save_steps is not None:
            check_at_least(1, save_steps=self.save_steps)
        check_device(self.device)
        if self.lora is not None and not isinstance(self.lora, dict):
            raise OptionError(f"lora must be a mapping of peft.LoraConfig options, got {type(self.lora).__name__}")

    @classmethod
    def pick(cls, values: Mapping[str, Any]) -> HFOptions:
        """The shared options out of a trainer constructor's ``locals()``."""
        return cls(**{f.name: values[f.name] for f in fields(cls) if f.name in values})


def hf_trainer_args(options: HFOptions, *, output_dir: Path, device: str, run_seed: int,
                    **extras: Any) -> dict[str, Any]:
    """Keyword arguments for a TRL/transformers config (``SFTConfig``, ``DPOConfig``,
    ``GRPOConfig``, ``TrainingArguments``): ``options`` on ``device`` (as
    :func:`resolve_device` picked it), then the trainer's own ``extras`` (``max_length``,
    ``beta``, ...). ``seed`` defaults to ``run_seed``, the run's.

    ``gradient_checkpointing=None`` means on for GPUs (TRL's default, needed for long chains of
    thought) and off on the CPU, where the models are tiny and recomputation only costs time.
    ``save_steps=None`` saves a checkpoint at the end of each epoch.
    """
    from redstar.trainers.deepspeed import config_path

    o = options
    if o.liger:
        require_liger(device)
    checkpointing = device != "cpu" if o.gradient_checkpointing is None else o.gradient_checkpointing
    seed = run_seed if o.seed is None else o.seed
    args = {
        "output_dir": str(output_dir),
        "num_train_epochs": o.epochs,
        "max_steps": o.max_steps,
        "learning_rate": o.learning_rate,
        "per_device_train_batch_size": o.batch_size,
        "gradient_accumulation_steps": o.grad_accum,
        **warmup_arg(o.warmup_ratio),
        "lr_scheduler_type": o.lr_scheduler,
        "weight_decay": o.weight_decay,
        checkpointing_arg(): checkpointing,
        "deepspeed": config_path(o.deepspeed) if o.deepspeed else None,
        "use_liger_kernel": o.liger,
        "seed": seed,
        "data_seed": seed,
        "save_strategy": "epoch" if o.save_steps is None else "steps",
        "save_steps": o.save_steps or 500,
        "save_total_limit": o.save_total_limit,
        "report_to": o.report_to,
        # One log per optimizer step: that is what feeds metrics_file and on_step.
        "logging_steps": 1,
        **precision_args(device),
    }
    clash = sorted(set(args) & set(extras))
    if clash:
        raise TypeError(f"hf_trainer_args: the shared options already set {', '.join(clash)}")
    return {**args, **extras}


def _training_argument_names() -> set[str]:
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
