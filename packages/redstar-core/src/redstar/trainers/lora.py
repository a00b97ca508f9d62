"""LoRA for the Hugging Face based trainers (``sft``, ``dpo``, ``grpo``): the ``lora`` option
becomes a ``peft.LoraConfig``, and the trained adapter is merged into a plain model for
``output_dir/final``, so every sampler loads the result without peft."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from redstar.errors import RedStarError

#: LoRA settings used when ``lora`` is given; any key of ``peft.LoraConfig`` may override them.
LORA_DEFAULTS = {"r": 16, "lora_alpha": 32, "lora_dropout": 0.05, "target_modules": "all-linear"}


def lora_config(options: dict[str, Any] | None) -> Any:
    """A ``peft.LoraConfig`` from the ``lora`` option (None: full fine-tuning; ``{}``: the
    defaults above). :class:`~redstar.trainers.settings.HFOptions` has checked it is a mapping."""
    if options is None:
        return None
    from peft import LoraConfig

    try:
        return LoraConfig(task_type="CAUSAL_LM", **{**LORA_DEFAULTS, **options})
    except TypeError as exc:
        raise RedStarError(f"lora: {exc}") from None


def merged_saver(base_model: str, adapter_dir: Path) -> Any:
    """The ``save(trainer, final)`` of :meth:`redstar.trainers.hf_run.HFTrainer.saver` with LoRA: save the
    adapter (``save_model`` gathers DeepSpeed shards), then, on the main process, merge it into a
    fresh copy of the base model and save that to ``final``."""

    def save(trainer: Any, final: Path) -> None:
        trainer.save_model(str(adapter_dir))
        if trainer.is_world_process_zero():
            from peft import PeftModel
            from transformers import AutoModelForCausalLM

            base = AutoModelForCausalLM.from_pretrained(base_model)
            PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload().save_pretrained(final)

    return save
