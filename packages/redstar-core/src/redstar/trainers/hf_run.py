"""Running a transformers/TRL trainer the RedStar way, for ``sft`` (core), ``dpo``/``grpo``
(redstar-rl) and geo's ``vlm-sft``: :class:`HFTrainer` is their base, and :func:`train_and_save`
resumes from the newest complete checkpoint in ``output_dir`` (incomplete ones are moved aside),
trains, saves the final model and tokenizer to ``output_dir/final`` and returns a
:class:`~redstar.interfaces.TrainResult` with the last step's metrics and the run's summary.

This module imports neither torch nor transformers until a trainer trains: constructing a trainer
(which a run does once before its first stage, to check the recipe) stays cheap."""

from __future__ import annotations

import logging
from abc import abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from redstar.interfaces import TrainContext, Trainer, TrainResult
from redstar.trainers.checkpoints import last_checkpoint, set_aside_incomplete
from redstar.trainers.settings import SET_BY_OPTIONS, HFOptions, OptionError, check_extra_args, hf_trainer_args

log = logging.getLogger(__name__)

#: ``save(trainer, final_dir)``: writes the final model (the tokenizer is saved after it).
Saver = Callable[[Any, Path], None]


class HFTrainer(Trainer):
    """Base of the trainers built on a transformers/TRL ``Trainer``.

    A subclass lists every option as a keyword parameter of its constructor, with its defaults
    (recipes, ``redstar plugins`` and ``redstar recipe check`` read that signature), passes the
    shared ones on with ``super().__init__(HFOptions.pick(locals()))`` (which checks them: see
    :class:`~redstar.trainers.settings.HFOptions`), keeps its own as attributes, and implements
    :meth:`build_trainer` with the helpers below. :meth:`train` resumes, trains and saves
    ``final``, merging a LoRA adapter into it when ``lora`` is set.

    The shared options are described once, in the ``Args:`` of
    :class:`~redstar.trainers.settings.HFOptions` (this constructor takes them as one): a
    subclass's docstring describes its own options, and those it means differently.
    """

    #: The TRL/transformers config the trainer builds (``"trl.SFTConfig"``), against whose fields
    #: ``extra_args`` is checked; None: the trainer takes no ``extra_args``.
    config_class: str | None = None
    #: Config fields the trainer's own options set beyond the shared ones (field -> option; None:
    #: RedStar's own), which ``extra_args`` may not set.
    config_fields: Mapping[str, str | None] = {}

    def __init__(self, options: HFOptions) -> None:
        if options.extra_args:
            if self.config_class is None:
                raise OptionError(f"{type(self).__name__} takes no extra_args")
            check_extra_args(options.extra_args, self.config_class, {**SET_BY_OPTIONS, **self.config_fields})
        self.options = options

    @abstractmethod
    def build_trainer(self, ctx: TrainContext) -> Any:
        """The configured transformers/TRL trainer, data loaded, before any training: what
        :meth:`train` runs (and what to inspect to see exactly what is trained)."""

    def train(self, ctx: TrainContext) -> TrainResult:
        trainer = self.build_trainer(ctx)
        return train_and_save(trainer, Path(ctx.output_dir), resume=self.options.resume, save=self.saver(ctx))

    def saver(self, ctx: TrainContext) -> Saver | None:
        """How ``final`` is written; None: ``trainer.save_model``. With ``lora``, the adapter is
        saved to ``<output_dir>/adapter`` and merged into the base model for ``final``."""
        if self.options.lora is None:
            return None
        from redstar.models import resolve_model
        from redstar.trainers.lora import merged_saver

        return merged_saver(resolve_model(ctx.model), Path(ctx.output_dir) / "adapter")

    # -- helpers for build_trainer -----------------------------------------------------------
    def config(self, config_class: type, ctx: TrainContext, device: str, **extras: Any) -> Any:
        """``config_class`` (``trl.SFTConfig``, ``trl.DPOConfig``, ``trl.GRPOConfig``,
        ``transformers.TrainingArguments``) from the shared options on the resolved ``device``
        and the trainer's own ``extras``."""
        return config_class(**hf_trainer_args(self.options, output_dir=Path(ctx.output_dir), device=device,
                                              run_seed=ctx.seed, **extras))

    def callbacks(self, ctx: TrainContext) -> list[Any]:
        """What reports each step to ``ctx.metrics_file`` and ``ctx.on_step``."""
        from redstar.trainers.reporting import ReportingCallback, StepReporter

        return [ReportingCallback(StepReporter(ctx.metrics_file, ctx.on_step))]

    def peft_config(self) -> Any:
        """The ``peft.LoraConfig`` of the ``lora`` option, or None for full fine-tuning."""
        from redstar.trainers.lora import lora_config

        return lora_config(self.options.lora)


def load_tokenizer(model_path: str) -> Any:
    """The checkpoint's tokenizer, padding with the end-of-sequence token when it has no pad token."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def train_and_save(trainer: Any, output_dir: Path, *, resume: bool = True, save: Saver | None = None) -> TrainResult:
    """``save(trainer, final_dir)`` replaces the default ``trainer.save_model`` (LoRA merging)."""
    from redstar.trainers.reporting import ReportingCallback, leave_progress_to_reporter

    output_dir = Path(output_dir)
    checkpoint = None
    if resume:
        # A save cut short (kill -9, full disk) must not block every later attempt: move it aside
        # once, from one process, before any process looks for the checkpoint to resume from.
        if trainer.is_world_process_zero():
            set_aside_incomplete(output_dir)
        trainer.accelerator.wait_for_everyone()
        checkpoint = last_checkpoint(output_dir)
    if checkpoint:
        log.info("resuming from %s", checkpoint)
    leave_progress_to_reporter(trainer)
    trainer.train(resume_from_checkpoint=checkpoint)

    final = output_dir / "final"
    if save is not None:
        save(trainer, final)
    else:
        # Gathers ZeRO-3 shards and writes from the main process only.
        trainer.save_model(str(final))
    if trainer.is_world_process_zero():
        trainer.processing_class.save_pretrained(final)
    trainer.accelerator.wait_for_everyone()
    metrics: dict[str, float] = {}
    for callback in trainer.callback_handler.callbacks:
        if isinstance(callback, ReportingCallback):
            metrics.update(callback.reporter.last)
            metrics.update(callback.summary)
    metrics["steps"] = float(trainer.state.global_step)
    return TrainResult(model_path=final, metrics=metrics)
