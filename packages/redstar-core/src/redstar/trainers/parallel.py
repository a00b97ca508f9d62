"""Ulysses sequence parallelism (DeepSpeed ALST) through accelerate's ``ParallelismConfig``.

With ``sequence_parallel=N`` each sequence is split across N GPUs; attention swaps the split from
the sequence to the attention heads with an all-to-all, so every GPU sees the whole sequence for
``heads / N`` heads. transformers' ``Trainer`` (accelerate >= 1.12) shards the batches, adds the
``position_ids`` and reduces the loss across the group; TRL's ``SFTTrainer`` supports it. It needs
a DeepSpeed config, at least N processes (``accelerate launch``/``deepspeed``), and a head count
divisible by N. The other ``WORLD_SIZE / N`` factor of the world is ordinary data parallelism.
"""

from __future__ import annotations

import os
from typing import Any

from redstar.errors import RedStarError


def sequence_parallel_config(sp_size: int, attn_implementation: str | None = None, *,
                             world_size: int | None = None, num_heads: int | None = None,
                             deepspeed: str | None = None, packing: bool = False) -> Any:
    """An ``accelerate.ParallelismConfig`` for Ulysses with ``sp_size`` GPUs per sequence, or
    None when ``sp_size`` is 1. ``world_size`` defaults to the launcher's ``WORLD_SIZE``."""
    if sp_size < 1:
        raise RedStarError(f"sequence_parallel must be at least 1, got {sp_size}")
    if sp_size == 1:
        return None
    world = world_size if world_size is not None else int(os.environ.get("WORLD_SIZE", "1"))
    if world % sp_size:
        raise RedStarError(
            f"sequence_parallel={sp_size} needs a world size divisible by it, got {world} processes; "
            "launch with `accelerate launch --num_processes K*N` or `deepspeed --num_gpus ...`"
        )
    if num_heads is not None and num_heads % sp_size:
        raise RedStarError(f"sequence_parallel={sp_size} must divide the model's {num_heads} attention heads")
    if deepspeed is None:
        raise RedStarError("sequence_parallel needs the deepspeed option (e.g. deepspeed: zero3): Ulysses is DeepSpeed's")
    attn = attn_implementation or "sdpa"
    if packing and attn == "sdpa":
        # SDPA under Ulysses loses the packed documents' boundaries (transformers' ALST guide).
        raise RedStarError("sequence_parallel with packing needs attn_implementation: flash_attention_2 (or 3)")
    try:
        from accelerate.utils import DeepSpeedSequenceParallelConfig, ParallelismConfig
    except ImportError as exc:  # accelerate < 1.12
        raise RedStarError("sequence_parallel needs accelerate >= 1.12") from exc
    return ParallelismConfig(
        sp_backend="deepspeed",
        sp_size=sp_size,
        dp_replicate_size=world // sp_size,
        sp_handler=DeepSpeedSequenceParallelConfig(sp_seq_length_is_variable=True, sp_attn_implementation=attn),
    )
