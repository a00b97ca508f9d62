"""Sampling responses from the policy and scoring tokens: what the online trainers (PPO,
REINFORCE++) do between optimizer steps.

A rollout is kept as a list of :class:`Sample` (one prompt's tokens, one response's tokens, and
per-token tensors the trainer attaches), and :func:`collate` pads any subset of them into a batch:
prompts padded on the left, responses on the right, so that every response starts at the same
column and per-token tensors line up with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from redstar_rl.data import prompt_token_ids


@dataclass
class Sample:
    """One response to one prompt row. ``tokens`` holds per-response-token tensors (old
    log-probs, reference log-probs, values, advantages, returns) of length ``len(response_ids)``."""

    row: dict[str, Any]
    prompt_ids: list[int]
    response_ids: list[int]
    text: str
    truncated: bool
    score: float = 0.0
    tokens: dict[str, Tensor] = field(default_factory=dict)


@dataclass
class Batch:
    input_ids: Tensor  # [b, P + T]
    attention_mask: Tensor  # [b, P + T]
    position_ids: Tensor  # [b, P + T]
    response_mask: Tensor  # [b, T]
    prompt_width: int  # P
    tokens: dict[str, Tensor]  # name -> [b, T], zero-padded


def eos_token_ids(model: Any, tokenizer: Any) -> set[int]:
    ids = model.generation_config.eos_token_id
    ids = set(ids if isinstance(ids, list) else [] if ids is None else [ids])
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return ids


def neutral_generation_config(model: Any, pad_id: int, eos: set[int]) -> Any:
    """A generation config with nothing but the end-of-sequence and padding ids.

    ``generate`` fills every option the caller leaves unset from ``model.generation_config``, and
    checkpoints ship logit-shaping options there (Qwen2.5-Instruct: ``repetition_penalty`` 1.05,
    ``top_k`` 20). Sampling through them would draw tokens from a distribution the loss never
    scores (:func:`response_logprobs` applies only the temperature), biasing the importance
    ratio; so rollouts swap this in while they sample."""
    from transformers import GenerationConfig

    return GenerationConfig(eos_token_id=sorted(eos), pad_token_id=pad_id,
                            bos_token_id=getattr(model.generation_config, "bos_token_id", None))


@torch.no_grad()
def generate_samples(model: Any, tokenizer: Any, rows: Sequence[dict[str, Any]], *, samples_per_prompt: int,
                     temperature: float, top_p: float, max_new_tokens: int, batch_size: int) -> list[Sample]:
    """``samples_per_prompt`` sampled responses for each row, ``batch_size`` sequences per
    ``generate`` call. A response ends at (and includes) its first end-of-sequence token, or after
    ``max_new_tokens`` (``truncated``).

    Tokens are drawn from softmax(logits / ``temperature``) cut to the nucleus ``top_p`` and
    nothing else (the model's own generation config is set aside), and the text the reward judges
    is decoded as core's samplers decode it (:class:`redstar.samplers.text.TokenDecoder`: special
    tokens dropped except ``<think>``/``</think>``), so RL, sampling and evaluation score the
    same text."""
    from redstar.samplers.text import TokenDecoder

    device = next(model.parameters()).device
    eos = eos_token_ids(model, tokenizer)
    decoder = TokenDecoder(tokenizer, eos)
    prompts = [(row, prompt_token_ids(tokenizer, row["prompt"])) for row in rows for _ in range(samples_per_prompt)]
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else next(iter(eos))
    samples = []
    was_training = model.training
    shipped_config = model.generation_config
    model.eval()
    model.generation_config = neutral_generation_config(model, pad_id, eos)
    try:
        for start in range(0, len(prompts), batch_size):
            chunk = prompts[start:start + batch_size]
            width = max(len(ids) for _, ids in chunk)
            input_ids = torch.tensor([[pad_id] * (width - len(ids)) + ids for _, ids in chunk], device=device)
            attention = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for _, ids in chunk], device=device)
            output = model.generate(
                input_ids=input_ids, attention_mask=attention, do_sample=True, temperature=temperature,
                top_p=top_p, top_k=0, max_new_tokens=max_new_tokens, pad_token_id=pad_id, eos_token_id=sorted(eos),
            )
            for (row, prompt_ids), generated in zip(chunk, output[:, width:].tolist()):
                end = next((i + 1 for i, token in enumerate(generated) if token in eos), None)
                response = generated[:end] if end is not None else generated
                samples.append(Sample(
                    row=row, prompt_ids=prompt_ids, response_ids=response,
                    text=decoder.decode(response)[0], truncated=end is None,
                ))
    finally:
        model.generation_config = shipped_config
        model.train(was_training)
    return samples


def collate(samples: Sequence[Sample], pad_id: int, device: torch.device | str = "cpu",
            names: Iterable[str] = ()) -> Batch:
    """Pad ``samples`` into one batch; ``names`` are the per-token tensors to carry along. No
    samples give a batch of zero rows (a process whose share of a filtered rollout is empty still
    takes part in the reductions over processes)."""
    prompt_width = max((len(s.prompt_ids) for s in samples), default=0)
    response_width = max((len(s.response_ids) for s in samples), default=0)
    ids, attention, response_mask = [], [], []
    for s in samples:
        left = prompt_width - len(s.prompt_ids)
        right = response_width - len(s.response_ids)
        ids.append([pad_id] * left + s.prompt_ids + s.response_ids + [pad_id] * right)
        attention.append([0] * left + [1] * (len(s.prompt_ids) + len(s.response_ids)) + [0] * right)
        response_mask.append([1] * len(s.response_ids) + [0] * right)
    width = prompt_width + response_width
    attention_mask = torch.tensor(attention, device=device, dtype=torch.long).reshape(len(samples), width)
    tokens = {}
    for name in names:
        padded = torch.zeros(len(samples), response_width, device=device)
        for i, s in enumerate(samples):
            padded[i, : len(s.response_ids)] = s.tokens[name]
        tokens[name] = padded
    return Batch(
        input_ids=torch.tensor(ids, device=device, dtype=torch.long).reshape(len(samples), width),
        attention_mask=attention_mask,
        # Left padding shifts the prompts; positions count real tokens only, as in generate().
        position_ids=(attention_mask.cumsum(-1) - 1).clamp(min=0),
        response_mask=torch.tensor(response_mask, device=device, dtype=torch.float32).reshape(
            len(samples), response_width),
        prompt_width=prompt_width,
        tokens=tokens,
    )


def response_logprobs(model: Any, batch: Batch, temperature: float = 1.0) -> Tensor:
    """Log-probability of each response token under ``model`` ([b, T]), from the logits scaled by
    the sampling temperature, so that the old and new policies in the PPO ratio are the
    distributions the tokens were drawn from."""
    return response_logprobs_and_entropy(model, batch, temperature, entropy=False)[0]


def response_logprobs_and_entropy(model: Any, batch: Batch, temperature: float = 1.0, entropy: bool = True
                                  ) -> tuple[Tensor, Tensor | None]:
    """:func:`response_logprobs`, and the entropy of the sampling distribution before each
    response token ([b, T], in nats; None with ``entropy=False``)."""
    logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                   position_ids=batch.position_ids).logits
    # The logits at position i predict token i + 1.
    logits = logits[:, batch.prompt_width - 1 : -1].float() / temperature
    targets = batch.input_ids[:, batch.prompt_width :]
    log_probs = logits.log_softmax(-1)
    chosen = torch.gather(log_probs, -1, targets.unsqueeze(-1)).squeeze(-1)
    if not entropy:
        return chosen, None
    return chosen, -(log_probs.exp() * log_probs).sum(-1)


def split_padded(padded: Tensor, samples: Sequence[Sample], name: str) -> None:
    """Store row ``i`` of a ``[b, T]`` tensor, cut to sample ``i``'s length, as ``name``."""
    for i, s in enumerate(samples):
        s.tokens[name] = padded[i, : len(s.response_ids)].detach().float().cpu()
