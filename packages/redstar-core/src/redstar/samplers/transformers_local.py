"""The ``transformers`` sampler: batched generation with a local Hugging Face causal LM, on CPU
(what the embedded tiny models and laptops use) or on a CUDA GPU."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from redstar.errors import RedStarError
from redstar.interfaces import Completion, Messages, Sampler, SamplingParams
from redstar.models import resolve_model
from redstar.samplers.chat import MAX_SEED, check_conversations, check_params, render_with_openings
from redstar.samplers.seeded import row_sampler
from redstar.samplers.text import REASONING_TAGS, TokenDecoder, restore_openings

DEVICES = ("auto", "cpu", "cuda")
DTYPES = ("auto", "float32", "bfloat16", "float16")


class TransformersSampler(Sampler):
    """Generate with ``transformers`` ``model.generate``.

    Sampling follows vLLM's and the OpenAI API's conventions: temperature 0 is greedy decoding
    (one generation, repeated ``n`` times), top-k is off, a stop string ends a response and is
    not part of it. The request's :class:`SamplingParams` alone decide sampling: of the model's
    ``generation_config.json`` only the end-of-sequence ids apply, as in the ``vllm`` sampler
    (vLLM's offline engine uses a checkpoint's sampling defaults only for calls without
    sampling parameters). A checkpoint's ``repetition_penalty``, ``top_k``, ``num_beams`` or
    ``no_repeat_ngram_size`` would otherwise change what is drawn by backend, unrecorded in the
    run's recipe; RL rollouts set them aside for the same reason. Both samplers decode the
    response text by one rule (:class:`~redstar.samplers.text.TokenDecoder`).

    A chat template that ends the generation prompt with ``<think>`` (R1-style: DeepSeek-R1,
    QwQ) makes the model start inside its reasoning: that opening is put back in front of each
    response (:func:`~redstar.samplers.text.restore_openings`), so every response holds its
    reasoning tags as the model's own would.

    Seeds: every sampled row draws from its own random stream
    (:mod:`redstar.samplers.seeded`), seeded with ``params.seeds[c][k]`` when given (honoured:
    the row's tokens do not depend on its batch neighbours, up to float rounding from padding),
    else with seeds drawn from ``params.seed`` (reproducible for the same call) or, without a
    seed, from torch's global random state.

    The model is loaded on the first :meth:`generate` and kept until :meth:`close`. Set
    :attr:`on_progress` to be told ``(completions done, completions asked)`` after every batch.

    Args:
        model: The model to sample: ``embedded:NAME``, a local folder, or a hub id (downloaded
            by transformers on first use, into its usual cache).
        device: Where the model runs: ``auto`` (CUDA when available, else the CPU), ``cpu``,
            ``cuda`` or ``cuda:N``.
        dtype: The weights' precision: ``auto`` (float32 on the CPU, where bf16 matmuls are many
            times slower, and bfloat16 on a GPU), ``float32``, ``bfloat16`` or ``float16``.
        batch_size: How many sequences are generated together. A conversation sampled ``n``
            times takes ``n`` rows; rows are sorted by prompt length so that a batch holds
            prompts of similar length.
        attn_implementation: The attention kernel passed to ``from_pretrained`` (``sdpa``,
            ``flash_attention_2``); null lets transformers choose.
        trust_remote_code: Whether a model's own modelling code from the hub may run.
        keep_special: The special tokens whose text stays in the decoded response (by default
            the reasoning tags); every other special token is dropped.
    """

    name = "transformers"

    def __init__(
        self,
        model: str,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int = 16,
        attn_implementation: str | None = None,
        trust_remote_code: bool = False,
        keep_special: Sequence[str] = REASONING_TAGS,
    ) -> None:
        super().__init__(model)
        if not (device in DEVICES or device.startswith("cuda:")):
            raise RedStarError(f"transformers sampler: option 'device' must be one of {', '.join(DEVICES)} "
                               f"or 'cuda:N', got {device!r}")
        if dtype not in DTYPES:
            raise RedStarError(f"transformers sampler: option 'dtype' must be one of {', '.join(DTYPES)}, "
                               f"got {dtype!r}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise RedStarError(f"transformers sampler: option 'batch_size' must be a positive integer, "
                               f"got {batch_size!r}")
        self.path = resolve_model(model)
        self.device_option = device
        self.dtype_option = dtype
        self.batch_size = batch_size
        self.attn_implementation = attn_implementation
        self.trust_remote_code = trust_remote_code
        self.keep_special = tuple(keep_special)
        #: Called as ``on_progress(done, total)`` (completions) after each batch; set by the pipeline.
        self.on_progress: Callable[[int, int], None] | None = None
        self._model: Any = None
        self._tokenizer: Any = None
        self._decoder: TokenDecoder | None = None

    # -- loading ---------------------------------------------------------------------------
    def _device(self) -> Any:
        import torch

        if self.device_option == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        device = torch.device(self.device_option)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise RedStarError("transformers sampler: device 'cuda' was asked for, but torch sees no CUDA GPU")
        return device

    def _torch_dtype(self, device: Any) -> Any:
        import torch

        if self.dtype_option == "auto":
            return torch.bfloat16 if device.type == "cuda" else torch.float32
        return getattr(torch, self.dtype_option)

    def load(self) -> None:
        """Load the tokenizer and model now (otherwise the first :meth:`generate` does)."""
        if self._model is not None:
            return
        from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

        device = self._device()
        tokenizer = AutoTokenizer.from_pretrained(self.path, trust_remote_code=self.trust_remote_code)
        # Decoder-only models continue from the last position, so padding must go on the left.
        tokenizer.padding_side = "left"
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        extra = {} if self.attn_implementation is None else {"attn_implementation": self.attn_implementation}
        model = AutoModelForCausalLM.from_pretrained(
            self.path, dtype=self._torch_dtype(device), trust_remote_code=self.trust_remote_code, **extra
        )
        model.to(device).eval()
        self._model, self._tokenizer = model, tokenizer
        eos_ids = self._eos_ids()
        self._decoder = TokenDecoder(tokenizer, eos_ids, keep=self.keep_special)
        # generate() fills every option a call leaves unset from model.generation_config (even
        # when handed a config of its own), so the checkpoint's sampling defaults are replaced
        # here by a config that holds the special-token ids only (see the class docstring).
        model.generation_config = GenerationConfig(eos_token_id=eos_ids, pad_token_id=tokenizer.pad_token_id,
                                                   bos_token_id=model.generation_config.bos_token_id)

    def _eos_ids(self) -> list[int]:
        configured = self._model.generation_config.eos_token_id
        ids = list(configured) if isinstance(configured, (list, tuple)) else [configured]
        ids.append(self._tokenizer.eos_token_id)
        return sorted({int(i) for i in ids if i is not None})

    # -- generation ------------------------------------------------------------------------
    def generate(self, conversations: Sequence[Messages], params: SamplingParams) -> list[list[Completion]]:
        check_conversations(conversations, self.name)
        check_params(params, self.name, len(conversations))
        if not conversations:
            return []
        self.load()
        import torch

        prompts, openings = render_with_openings(self._tokenizer, conversations, self.model)
        greedy = params.temperature == 0
        # Greedy decoding gives one answer however often it is asked, so generate it once.
        copies = 1 if greedy else params.n
        rows = [(c, k) for c in range(len(prompts)) for k in range(copies)]
        # Longest first: similar lengths share a batch (little padding), and a prompt too long
        # for memory fails on the first batch instead of hours into a run.
        order = sorted(range(len(rows)), key=lambda r: -len(prompts[rows[r][0]]))
        seeds = None if greedy else self._row_seeds(rows, params)
        generated: list[list[Completion | None]] = [[None] * copies for _ in prompts]
        total, done = len(prompts) * params.n, 0
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                picked = order[start:start + self.batch_size]
                batch = [rows[r] for r in picked]
                batch_seeds = None if seeds is None else [seeds[r] for r in picked]
                for (c, k), completion in zip(batch, self._generate_batch([prompts[c] for c, _ in batch], params,
                                                                          batch_seeds)):
                    generated[c][k] = completion
                done += len(batch) * (params.n if greedy else 1)
                if self.on_progress is not None:
                    self.on_progress(done, total)
        # Every slot is filled by now: each (conversation, copy) row was in exactly one batch.
        done_rows = [[c for c in row if c is not None] for row in generated]
        if greedy:
            done_rows = [[Completion(row[0].text, row[0].finish_reason) for _ in range(params.n)] for row in done_rows]
        return restore_openings(done_rows, openings)

    def _row_seeds(self, rows: list[tuple[int, int]], params: SamplingParams) -> list[int]:
        """One seed per (conversation, copy) row: the caller's, else drawn from ``params.seed``."""
        if params.seeds is not None:
            return [params.seeds[c][k] for c, k in rows]
        import torch

        with self._seeded(params.seed):
            return torch.randint(0, MAX_SEED, (len(rows),)).tolist()

    def _generate_batch(self, prompt_ids: list[list[int]], params: SamplingParams,
                        seeds: list[int] | None) -> list[Completion]:
        from transformers import LogitsProcessorList

        tokenizer, model, decoder = self._tokenizer, self._model, self._decoder
        assert decoder is not None, "load() sets the decoder before any batch is generated"
        inputs = tokenizer.pad({"input_ids": prompt_ids}, return_tensors="pt").to(model.device)
        options: dict[str, Any] = {
            "max_new_tokens": params.max_new_tokens,
            "pad_token_id": tokenizer.pad_token_id,
            "eos_token_id": sorted(decoder.eos_ids) or None,
        }
        # Greedy either way: when sampling, the row-seeded processor has already turned the
        # logits into one draw per row (Gumbel-max), so its argmax is the sample. Unset
        # temperature/top-p/top-k keep transformers' global defaults (a top-k of 50, which vLLM
        # and OpenAI lack) from warping the logits again.
        options.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        if seeds is not None:
            options["logits_processor"] = LogitsProcessorList(
                [row_sampler(seeds, params.temperature, params.top_p, model.device)])
        if params.stop:
            options.update(stop_strings=list(params.stop), tokenizer=tokenizer)
        output = model.generate(**inputs, **options)
        new_tokens = output[:, inputs["input_ids"].shape[1]:].tolist()
        return [Completion(*decoder.decode(ids, params.stop)) for ids in new_tokens]

    @contextlib.contextmanager
    def _seeded(self, seed: int | None) -> Iterator[None]:
        """Seed torch for this call only, so a seeded call is reproducible without changing the
        random state of the code around it."""
        if seed is None:
            yield
            return
        import torch

        device = self._model.device
        cuda_devices = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda_devices):
            torch.manual_seed(seed)
            yield

    def close(self) -> None:
        """Free the model (and the GPU memory it held)."""
        on_cuda = self._model is not None and self._model.device.type == "cuda"
        self._model = self._tokenizer = self._decoder = None
        gc.collect()
        if on_cuda:
            import torch

            torch.cuda.empty_cache()
