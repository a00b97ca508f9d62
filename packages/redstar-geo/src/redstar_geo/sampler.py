"""The ``internvl`` sampler: InternVL models (native or original) on transformers, with image
parts in messages.

Messages follow :data:`redstar.interfaces.Messages`: a user turn's content may be a list of
``{"type": "image", "path": ...}`` and ``{"type": "text", "text": ...}`` parts (what
:meth:`redstar_geo.verifier.GeoVerifier.messages` builds); text-only conversations work too.
Sampling follows core's ``transformers`` sampler: temperature 0 is greedy (generated once,
repeated ``n`` times), top-k is off, stop strings end a response and are not part of it, special
tokens are dropped except the reasoning tags. Seeds too: every sampled row draws from its own
seed (``params.seeds[c][k]`` when given, else seeds drawn from ``params.seed``), so a row's
tokens do not depend on its batch neighbours (:mod:`redstar.samplers.seeded`). And R1-style
chat templates too: a generation prompt that ends with ``<think>`` has that opening put back in
front of every response (:func:`~redstar.samplers.text.restore_openings`), so a response cut off
mid-reasoning reads as unfinished.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from redstar.interfaces import Completion, Messages, Sampler, SamplingParams
from redstar.samplers.chat import MAX_SEED, check_conversations, check_params
from redstar.samplers.seeded import row_sampler
from redstar.samplers.text import TokenDecoder, restore_openings
from redstar_geo.vlm.inputs import Encoded
from redstar_geo.vlm.loading import NATIVE, LoadedVLM, load_vlm, stop_token_ids


class InternVLSampler(Sampler):
    """Generate with an InternVL checkpoint.

    The model loads on the first :meth:`generate` and stays until :meth:`close`. Set
    :attr:`on_progress` to be told ``(completions done, completions asked)`` after each batch.

    Args:
        model: The checkpoint: ``embedded:NAME``, a local folder or a hub id such as
            ``OpenGVLab/InternVL3-8B-hf`` (the original ``OpenGVLab/InternVL2-8B`` needs
            ``trust_remote_code`` and the ``internvl2`` extra).
        device: Where the model runs: ``auto`` (CUDA when available, else the CPU), ``cpu`` or
            ``cuda``.
        dtype: The weights' precision: ``auto`` (bf16 on a GPU that has it, fp32 on the CPU),
            ``float32``, ``bfloat16`` or ``float16``.
        batch_size: Sequences per ``generate`` call. Each of the ``n`` samples of a conversation
            is its own sequence, because ``num_return_sequences`` would repeat a multi-tile
            image's pixel rows tile by tile.
        max_tiles: Overrides the checkpoint's dynamic-tiling limit (lower it to save memory);
            null keeps the checkpoint's.
        trust_remote_code: Whether a checkpoint's own modelling code from the hub may run.
        attn_implementation: The attention kernel passed to ``from_pretrained``; null lets
            transformers choose.
    """

    name = "internvl"

    def __init__(self, model: str, device: str = "auto", dtype: str = "auto", batch_size: int = 8,
                 max_tiles: int | None = None, trust_remote_code: bool = False,
                 attn_implementation: str | None = None) -> None:
        super().__init__(model)
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"internvl sampler: batch_size must be a positive integer, got {batch_size!r}")
        if max_tiles is not None and max_tiles < 1:
            raise ValueError(f"internvl sampler: max_tiles must be at least 1, got {max_tiles}")
        self.device, self.dtype, self.batch_size, self.max_tiles = device, dtype, batch_size, max_tiles
        self.trust_remote_code, self.attn_implementation = trust_remote_code, attn_implementation
        self.on_progress: Callable[[int, int], None] | None = None
        self._loaded: LoadedVLM | None = None
        self._decoder: TokenDecoder | None = None

    def load(self) -> LoadedVLM:
        """Load model, tokenizer and input builder now (otherwise the first generate does)."""
        if self._loaded is None:
            loaded = load_vlm(self.model, device=self.device, dtype=self.dtype, trust_remote_code=self.trust_remote_code,
                              max_tiles=self.max_tiles, attn_implementation=self.attn_implementation)
            loaded.model.eval()
            self._loaded, self._decoder = loaded, TokenDecoder(loaded.tokenizer, stop_token_ids(loaded))
        return self._loaded

    def generate(self, conversations: Sequence[Messages], params: SamplingParams) -> list[list[Completion]]:
        check_conversations(conversations, self.name, images=True)
        check_params(params, self.name, len(conversations))
        if not conversations:
            return []
        loaded = self.load()
        import torch

        encoded = [loaded.inputs.encode_prompt(conversation) for conversation in conversations]
        greedy = params.temperature == 0
        copies = 1 if greedy else params.n
        rows = [(c, k) for c in range(len(encoded)) for k in range(copies)]
        if greedy:
            seeds = None
        elif params.seeds is not None:
            seeds = {row: params.seeds[row[0]][row[1]] for row in rows}
        else:
            with self._seeded(params.seed):
                seeds = dict(zip(rows, torch.randint(0, MAX_SEED, (len(rows),)).tolist()))
        # Longest first: similar lengths share a batch, and a prompt too long for memory fails at once.
        rows.sort(key=lambda row: -len(encoded[row[0]].input_ids))
        generated: dict[tuple[int, int], Completion] = {}
        total, done = len(encoded) * params.n, 0
        with torch.inference_mode():
            for start in range(0, len(rows), self.batch_size):
                batch = rows[start : start + self.batch_size]
                batch_seeds = None if seeds is None else [seeds[row] for row in batch]
                for (c, k), completion in zip(batch, self._generate_batch([encoded[c] for c, _ in batch], params,
                                                                          batch_seeds)):
                    generated[c, k] = completion
                done += len(batch) * (params.n if greedy else 1)
                if self.on_progress is not None:
                    self.on_progress(done, total)
        if greedy:
            rows_out = [[Completion(generated[c, 0].text, generated[c, 0].finish_reason) for _ in range(params.n)]
                        for c in range(len(encoded))]
        else:
            rows_out = [[generated[c, k] for k in range(copies)] for c in range(len(encoded))]
        # An R1-style template ends the prompt inside the reasoning: its opening goes back in front.
        return restore_openings(rows_out, [e.opening for e in encoded])

    def _generate_batch(self, batch: Sequence[Encoded], params: SamplingParams,
                        seeds: list[int] | None) -> list[Completion]:
        import numpy as np
        import torch
        from transformers import LogitsProcessorList

        loaded, decoder = self.load(), self._decoder
        assert decoder is not None, "load() sets the decoder with the model"
        device = next(loaded.model.parameters()).device
        pad = loaded.tokenizer.pad_token_id
        width = max(len(e.input_ids) for e in batch)
        # Left padding: every row continues from its last prompt token.
        input_ids = torch.tensor([[pad] * (width - len(e.input_ids)) + e.input_ids for e in batch], device=device)
        attention = torch.tensor([[0] * (width - len(e.input_ids)) + [1] * len(e.input_ids) for e in batch],
                                 device=device)
        options: dict[str, Any] = {"input_ids": input_ids, "attention_mask": attention,
                                   "max_new_tokens": params.max_new_tokens, "pad_token_id": pad,
                                   "eos_token_id": sorted(decoder.eos_ids)}
        # The model fills <IMG_CONTEXT> positions with image features in order, row by row.
        pixel_rows = [e.pixel_values for e in batch if e.pixel_values is not None]
        if pixel_rows:
            options["pixel_values"] = torch.from_numpy(np.concatenate(pixel_rows)).to(device, loaded.model.dtype)
        # Greedy either way: when sampling, the row-seeded processor has already made each row's
        # draw (Gumbel-max, as in core's transformers sampler).
        options.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        if seeds is not None:
            options["logits_processor"] = LogitsProcessorList(
                [row_sampler(seeds, params.temperature, params.top_p, device)])
        if params.stop:
            options.update(stop_strings=list(params.stop), tokenizer=loaded.tokenizer)
        output = loaded.model.generate(**options)
        # Native models return prompt + continuation; the original InternVL2 code generates from
        # embeddings and returns the continuation only.
        if loaded.kind == NATIVE or (output.shape[1] > width and torch.equal(output[:, :width], input_ids)):
            output = output[:, width:]
        return [Completion(*decoder.decode(ids, params.stop)) for ids in output.tolist()]

    @contextlib.contextmanager
    def _seeded(self, seed: int | None) -> Iterator[None]:
        """Seed torch for this call only (as core's transformers sampler does): it draws the
        rows' seeds when the caller gave none."""
        if seed is None:
            yield
            return
        import torch

        device = next(self.load().model.parameters()).device  # loaded already: generate() loads first
        with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []):
            torch.manual_seed(seed)
            yield

    def close(self) -> None:
        """Free the model (and the GPU memory it held)."""
        on_cuda = self._loaded is not None and next(self._loaded.model.parameters()).device.type == "cuda"
        self._loaded = self._decoder = None
        gc.collect()
        if on_cuda:
            import torch

            torch.cuda.empty_cache()
