"""Per-step training metrics: one JSON line per optimizer step in ``TrainContext.metrics_file``
and a call to ``TrainContext.on_step(step, total, metrics)``.

:class:`StepReporter` is what every trainer uses; :class:`ReportingCallback` plugs it into a
transformers/TRL ``Trainer`` (``sft``, ``dpo``, ``grpo``), and the hand-written RL loops of
redstar-rl call :meth:`StepReporter.report` directly.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

#: Keys of the summary that transformers logs once at the end of ``train()``; they describe the
#: whole run, not a step, so they go into the result instead of the step log.
SUMMARY_KEYS = ("train_runtime", "train_samples_per_second", "train_steps_per_second", "train_loss", "total_flos")


def numeric_metrics(logs: Mapping[str, Any]) -> dict[str, float]:
    """The finite numbers of ``logs`` as floats (strings, flags, lists and NaN are left out: a
    JSON metrics line must parse everywhere, and NaN is not JSON)."""
    out = {}
    for key, value in logs.items():
        if isinstance(value, bool):
            continue
        if not isinstance(value, (int, float)):
            try:  # 0-d tensors and numpy scalars
                value = float(value)
            except (TypeError, ValueError):
                continue
        value = float(value)
        if math.isfinite(value):
            out[key] = value
    return out


class StepReporter:
    """Appends ``{"step", "total", **metrics}`` to ``metrics_file`` and calls ``on_step``.

    The file is opened in append mode so that a resumed run keeps the lines of the first attempt;
    a step that is trained again after a resume is logged again, and the later line is the one
    that counts.
    """

    def __init__(self, metrics_file: Path | None = None, on_step: Any = None) -> None:
        self.metrics_file = Path(metrics_file) if metrics_file is not None else None
        self.on_step = on_step
        self.last: dict[str, float] = {}
        if self.metrics_file is not None:
            self.metrics_file.parent.mkdir(parents=True, exist_ok=True)

    def report(self, step: int, total: int, metrics: Mapping[str, Any]) -> None:
        values = numeric_metrics(metrics)
        self.last = values
        self.write(step, total, values)
        if self.on_step is not None:
            self.on_step(step, total, values)

    def write(self, step: int, total: int, metrics: Mapping[str, Any]) -> None:
        """Append a line to the metrics file only: an evaluation's metrics (``eval_loss``) at
        ``step``, which is not a training step of its own."""
        if self.metrics_file is not None:
            with self.metrics_file.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps({"step": step, "total": total, **numeric_metrics(metrics)}) + "\n")


class ReportingCallback(TrainerCallback):
    """Feeds a ``transformers.Trainer``'s logs to a :class:`StepReporter` (main process only).

    Trainers set ``logging_steps=1`` so that there is one log per optimizer step. The end-of-run
    summary is kept in :attr:`summary`, and so are the last evaluation's metrics (``eval_loss``),
    which also get their own line in the metrics file.
    """

    def __init__(self, reporter: StepReporter) -> None:
        self.reporter = reporter
        self.summary: dict[str, float] = {}

    def on_log(self, args: Any, state: Any, control: Any, logs: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        if not logs or not state.is_world_process_zero:
            return
        if any(key in logs for key in SUMMARY_KEYS):
            self.summary.update(numeric_metrics(logs))
            return
        if any(key.startswith("eval_") for key in logs):
            self.reporter.write(state.global_step, state.max_steps, logs)
            self.summary.update(numeric_metrics({k: v for k, v in logs.items() if k.startswith("eval_")}))
            return
        self.reporter.report(state.global_step, state.max_steps, logs)


def leave_progress_to_reporter(trainer: Any) -> None:
    """Drop transformers' own tqdm bar and printed ``{'loss': ...}`` dicts from ``trainer`` when a
    :class:`ReportingCallback` hands each step to an ``on_step`` consumer (the run's progress
    board): otherwise a second bar and a log dict per step spill into the run's output, and the
    same figures are in ``metrics_file`` anyway."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    reporting = [cb for cb in trainer.callback_handler.callbacks if isinstance(cb, ReportingCallback)]
    if any(cb.reporter.on_step is not None for cb in reporting):
        # isinstance also catches NotebookProgressCallback, a ProgressCallback subclass.
        for callback in list(trainer.callback_handler.callbacks):
            if isinstance(callback, (ProgressCallback, PrinterCallback)):
                trainer.remove_callback(callback)
