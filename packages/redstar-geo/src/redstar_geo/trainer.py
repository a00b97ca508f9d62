"""The ``vlm-sft`` trainer: supervised fine-tuning of InternVL models on image + text chats.

It reads the ``sft`` data of :class:`redstar.interfaces.TrainContext` - ``{"prompt_id",
"messages": [user turn with image parts, assistant turn]}`` per line - and trains with
transformers' ``Trainer`` configured exactly as core's ``sft`` trainer configures TRL (same
options, device and precision rules, DeepSpeed configs, checkpoints and resume, per-step
metrics), computing the loss on the assistant's tokens only. Inputs are built by
:class:`redstar_geo.vlm.inputs.InternVLInputs`, not ``InternVLProcessor``, so no torchvision is
needed. As in InternVL's own fine-tuning recipes the vision tower is frozen by default; the
projector and the language model train.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from redstar.errors import InputError
from redstar.interfaces import TrainContext
from redstar.records import RecordError
from redstar.trainers.hf_run import HFTrainer, Saver
from redstar.trainers.rows import ROLES, read_rows, require_str
from redstar.trainers.settings import HFOptions, check_at_least, resolve_device
from redstar_geo.vlm.inputs import IGNORE_INDEX, Encoded
from redstar_geo.vlm.loading import NATIVE, SIDE_FILES, LoadedVLM, load_vlm

log = logging.getLogger(__name__)


def parse_vlm_sft_row(obj: dict[str, Any]) -> dict[str, Any]:
    """An SFT row whose turns may hold image parts (core's text-only check rejects them): every
    message has a known role and string or part-list content, every image part names an
    existing file, and the last message is the assistant's text."""
    require_str(obj, "prompt_id")
    messages = obj.get("messages")
    if not isinstance(messages, list) or len(messages) < 2:
        raise RecordError("'messages' must list the prompt and then the assistant's answer", field="messages")
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            raise RecordError(f"{where} must be an object with a role in {', '.join(ROLES)}", field="messages")
        content = message.get("content")
        if isinstance(content, list):
            for part in content:
                if not isinstance(part, dict) or part.get("type") not in ("image", "text"):
                    raise RecordError(f"{where}: parts must be {{'type': 'image' | 'text', ...}}", field="messages")
                if part["type"] == "image" and not Path(str(part.get("path", ""))).is_file():
                    raise RecordError(f"{where}: image {part.get('path')!r} not found", field="messages")
        elif not isinstance(content, str):
            raise RecordError(f"{where}.content must be a string or a list of parts", field="messages")
    last = messages[-1]
    if last["role"] != "assistant" or not isinstance(last["content"], str) or not last["content"].strip():
        raise RecordError("the last message must be the assistant's non-empty text", field="messages")
    return {"messages": messages}


class Collator:
    """Encodes rows into a right-padded batch: ``input_ids``, ``attention_mask``, ``labels``
    (prompt and padding ignored) and the tiles of every image, in order."""

    def __init__(self, loaded: LoadedVLM, data_file: Path, max_length: int) -> None:
        self.loaded, self.data_file, self.max_length = loaded, data_file, max_length

    def encode(self, row: dict[str, Any]) -> Encoded:
        try:
            return self.loaded.inputs.encode_example(row["messages"], max_length=self.max_length)
        except ValueError as exc:
            raise InputError(self.data_file, f"row {row['line']}: {exc}", line=row["line"], field="messages") from None

    def __call__(self, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
        import numpy as np
        import torch

        encoded = [self.encode(row) for row in rows]
        labels: list[list[int]] = []
        for e in encoded:
            assert e.labels is not None, "encode_example labels every training example"
            labels.append(e.labels)
        width = max(len(e.input_ids) for e in encoded)
        pad = self.loaded.tokenizer.pad_token_id
        batch: dict[str, Any] = {
            "input_ids": torch.tensor([e.input_ids + [pad] * (width - len(e.input_ids)) for e in encoded]),
            "attention_mask": torch.tensor([[1] * len(e.input_ids) + [0] * (width - len(e.input_ids)) for e in encoded]),
            "labels": torch.tensor([row + [IGNORE_INDEX] * (width - len(row)) for row in labels]),
        }
        pixels = [e.pixel_values for e in encoded if e.pixel_values is not None]
        if pixels:
            batch["pixel_values"] = torch.from_numpy(np.concatenate(pixels))
            if self.loaded.kind != NATIVE:
                # The original InternVL2 forward keeps the tiles whose image_flags are 1.
                batch["image_flags"] = torch.ones(batch["pixel_values"].shape[0], dtype=torch.long)
        return batch


class VLMSFTTrainer(HFTrainer):
    """Supervised fine-tuning for InternVL checkpoints (``kind = "sft"``).

    The options it shares with core's ``sft`` trainer (``epochs``, ``learning_rate``,
    ``deepspeed``...) mean the same and are described on
    :class:`~redstar.trainers.settings.HFOptions`. The final model, tokenizer and processor files
    go to ``<output_dir>/final``.

    Args:
        max_length: The most tokens of one training row, image tokens included; a longer
            response is truncated, a longer prompt is an error.
        freeze_vision: Whether the vision tower stays frozen, so that only the language model
            and the projector train.
        max_tiles: Overrides the checkpoint's dynamic-tiling limit (lower it to save memory);
            null keeps the checkpoint's.
        trust_remote_code: Whether a checkpoint's own modelling code may run (the original
            InternVL2 checkpoints need it; not run in RedStar's CI).
    """

    name = "vlm-sft"
    kind = "sft"
    config_class = "transformers.TrainingArguments"
    #: Set by the trainer itself: the collator needs the raw rows, in the training process.
    config_fields = {"remove_unused_columns": None, "dataloader_num_workers": None, "disable_tqdm": None}

    def __init__(self, *, epochs: float = 3.0, max_steps: int = -1, learning_rate: float = 1e-5,
                 batch_size: int = 1, grad_accum: int = 16, max_length: int = 16384, warmup_ratio: float = 0.1,
                 lr_scheduler: str = "cosine", weight_decay: float = 0.0, gradient_checkpointing: bool | None = None,
                 deepspeed: str | None = None, device: str = "auto", save_steps: int | None = None,
                 save_total_limit: int | None = 2, resume: bool = True, report_to: str | list[str] = "none",
                 seed: int | None = None, freeze_vision: bool = True, max_tiles: int | None = None,
                 trust_remote_code: bool = False, max_grad_norm: float = 1.0, optim: str | None = None,
                 extra_args: dict[str, Any] | None = None) -> None:
        super().__init__(HFOptions.pick(locals()))
        check_at_least(1, max_length=max_length)
        if max_tiles is not None:
            check_at_least(1, max_tiles=max_tiles)
        self.max_length = max_length
        self.freeze_vision, self.max_tiles, self.trust_remote_code = freeze_vision, max_tiles, trust_remote_code
        self._loaded: LoadedVLM | None = None

    def build_trainer(self, ctx: TrainContext) -> Any:
        """The configured ``transformers.Trainer`` with data and model loaded, before training."""
        from transformers import Trainer as TransformersTrainer
        from transformers import TrainingArguments

        rows = [{**row, "line": number} for number, row in enumerate(read_rows(ctx.data_file, parse_vlm_sft_row), 1)]
        device = resolve_device(self.options.device)
        # Master weights in fp32; on GPUs bf16 comes from autocast (precision_args).
        loaded = load_vlm(ctx.model, device="cpu" if device == "cpu" else "auto", dtype="float32",
                          trust_remote_code=self.trust_remote_code, max_tiles=self.max_tiles)
        if self.freeze_vision:
            tower = loaded.model.model.vision_tower if loaded.kind == NATIVE else loaded.model.vision_model
            tower.requires_grad_(False)
        # The collator needs the raw messages; images are opened and tiled batch by batch.
        args = self.config(TrainingArguments, ctx, device,
                           remove_unused_columns=False, dataloader_num_workers=0, disable_tqdm=True)
        log.info("vlm-sft: %d rows, %s checkpoint, vision tower %s", len(rows), loaded.kind,
                 "frozen" if self.freeze_vision else "trained")
        trainer = TransformersTrainer(model=loaded.model, args=args, train_dataset=rows,
                                      processing_class=loaded.tokenizer,
                                      data_collator=Collator(loaded, Path(ctx.data_file), self.max_length),
                                      callbacks=self.callbacks(ctx))
        self._loaded = loaded
        return trainer

    def saver(self, ctx: TrainContext) -> Saver:
        """The model, then the processor files of the checkpoint :meth:`build_trainer` loaded."""
        if self._loaded is None:
            raise RuntimeError("vlm-sft: saver() names the checkpoint build_trainer() loaded: call build_trainer() first")
        source = Path(self._loaded.path)

        def save(trainer: Any, final: Path) -> None:
            trainer.save_model(str(final))
            if trainer.is_world_process_zero():
                copy_side_files(source, final)

        return save


def copy_side_files(source: Path, target: Path) -> None:
    """Copy the processor files (and, for remote-code checkpoints, the model's ``*.py``) that
    ``save_pretrained`` does not write, so the trained folder loads like the original."""
    for name in [*SIDE_FILES, *(p.name for p in source.glob("*.py"))]:
        if (source / name).is_file() and not (target / name).exists():
            shutil.copyfile(source / name, target / name)
