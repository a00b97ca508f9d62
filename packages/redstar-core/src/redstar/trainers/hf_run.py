"""Running a configured transformers/TRL trainer the RedStar way: resume from the newest
complete checkpoint in ``output_dir`` (incomplete ones are moved aside), train, save the final
model and tokenizer to ``output_dir/final`` and return a :class:`~redstar.interfaces.TrainResult`
with the last step's metrics and the run's summary. Shared by ``sft`` (core), ``dpo``/``grpo``
(redstar-rl) and geo's VLM SFT."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from redstar.interfaces import TrainResult
from redstar.trainers.checkpoints import set_aside_incomplete
from redstar.trainers.reporting import ReportingCallback, leave_progress_to_reporter
from redstar.trainers.settings import last_checkpoint

log = logging.getLogger(__name__)


def train_and_save(trainer: Any, output_dir: Path, *, resume: bool = True,
                   save: Callable[[Any, Path], None] | None = None) -> TrainResult:
    """``save(trainer, final_dir)`` replaces the default ``trainer.save_model`` (LoRA merging)."""
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
