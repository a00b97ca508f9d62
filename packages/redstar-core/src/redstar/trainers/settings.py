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
        deepspeed: ``zero2``, ``zero3``, ``zero3_offload`` (the configs shipped with RedStar) or
            the path of a DeepSpeed JSON config; null trains without DeepSpeed.
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
        max_grad_norm: The gradients' global norm is clipped to this value; 0 turns clipping off.
        optim: A transformers optimizer name (``adamw_torch``, ``adamw_torch_fused``,
            ``adamw_8bit``...); null keeps transformers' default. A DeepSpeed config with its own
            ``optimizer`` entry (``zero3_offload``) overrides it.
        extra_args: Further fields of the trainer's TRL config (``trl.SFTConfig`` for ``sft``), as
            a mapping passed as it is (``{adam_beta2: 0.95, ddp_timeout: 7200}``). The names are
            checked against the installed TRL when the trainer is built, and a field that one of
            the options sets is refused (set the option instead).
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
    max_grad_norm: float = 1.0
    optim: str | None = None
    extra_args: dict[str, Any] | None = None

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
        if _number("max_grad_norm", self.max_grad_norm) < 0:
            raise OptionError(f"max_grad_norm must be at least 0 (0: no clipping), got {self.max_grad_norm}")
        if self.optim is not None:
            check_optim(self.optim)
        if self.extra_args is not None and (not isinstance(self.extra_args, dict)
                                            or not all(isinstance(k, str) for k in self.extra_args)):
            raise OptionError(f"extra_args must be a mapping of config field names to values, got {self.extra_args!r}")

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
        "max_grad_norm": o.max_grad_norm,
        **({"optim": o.optim} if o.optim is not None else {}),
        **precision_args(device),
    }
    clash = sorted(set(args) & set(extras))
    if clash:
        raise TypeError(f"hf_trainer_args: the shared options already set {', '.join(clash)}")
    args.update(extras)
    passed = o.extra_args or {}
    clash = sorted(set(args) & set(passed))
    if clash:  # checked when the trainer was built; a trainer that sets more fields is caught here
        raise OptionError(f"extra_args sets {', '.join(clash)}, which the trainer's own options set")
    return {**args, **passed}


#: The config fields :func:`hf_trainer_args` sets, with the option that sets each (None: RedStar
#: sets it itself). ``extra_args`` may not set them: the option is the one way to say it.
SET_BY_OPTIONS: dict[str, str | None] = {
    "output_dir": None, "num_train_epochs": "epochs", "max_steps": "max_steps", "learning_rate": "learning_rate",
    "per_device_train_batch_size": "batch_size", "gradient_accumulation_steps": "grad_accum",
    "warmup_ratio": "warmup_ratio", "warmup_steps": "warmup_ratio", "lr_scheduler_type": "lr_scheduler",
    "weight_decay": "weight_decay", "gradient_checkpointing": "gradient_checkpointing",
    "activation_checkpointing": "gradient_checkpointing", "deepspeed": "deepspeed", "use_liger_kernel": "liger",
    "seed": "seed", "data_seed": "seed", "save_strategy": "save_steps", "save_steps": "save_steps",
    "save_total_limit": "save_total_limit", "report_to": "report_to", "logging_steps": None, "use_cpu": "device",
    "bf16": "device", "fp16": "device", "max_grad_norm": "max_grad_norm", "optim": "optim",
}


def check_optim(name: str) -> None:
    """``name`` is an optimizer the installed transformers knows (``TrainingArguments.optim``)."""
    from transformers.training_args import OptimizerNames

    known = [o.value for o in OptimizerNames]
    if name not in known:
        raise OptionError(f"optim {name!r} is not an optimizer of transformers {_version('transformers')}"
                          f"{_suggestion(name, known)} (the names are transformers' OptimizerNames)")


def check_extra_args(extra_args: Mapping[str, Any] | None, config_class: str,
                     set_by: Mapping[str, str | None]) -> None:
    """Each key of ``extra_args`` is a field of ``config_class`` (``"trl.SFTConfig"``, as
    installed) that none of the trainer's options sets (``set_by``: field -> option, None for
    RedStar's own); the values are checked by the config itself when training starts."""
    if not extra_args:
        return
    import dataclasses
    import importlib

    module, _, name = config_class.rpartition(".")
    fields_ = {f.name for f in dataclasses.fields(getattr(importlib.import_module(module), name)) if f.init}
    for key in extra_args:
        if key in set_by:
            option = set_by[key]
            raise OptionError(f"extra_args.{key}: " + (f"set it with the {option} option" if option else
                                                       "RedStar sets it itself; it cannot be passed"))
        if key not in fields_:
            package = module.split(".")[0]
            raise OptionError(f"extra_args.{key}: {name} ({package} {_version(package)}) has no field {key!r}"
                              f"{_suggestion(key, fields_)}")


def _suggestion(word: str, known: Any) -> str:
    import difflib

    close = difflib.get_close_matches(word, sorted(known), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "(not installed)"


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
