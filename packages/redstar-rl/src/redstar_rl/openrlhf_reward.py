"""The rule reward inside OpenRLHF: what the ``reward_func.py`` RedStar writes for a run calls.

OpenRLHF 0.11.2 loads ``--reward.remote_url some/file.py`` and calls its
``reward_func(queries, prompts, labels)`` (``openrlhf/utils/agent.py``): ``queries`` are prompt plus
response decoded with ``skip_special_tokens=False``, ``prompts`` the chat-templated prompts, and
``labels`` the dataset's ``--data.label_key`` column, where RedStar puts each online row as JSON.
It wants ``{"rewards": tensor, "scores": tensor, "extra_logs": {...}}``.

This module runs in OpenRLHF's environment (the Ray workers), which therefore needs redstar-core
and the domain packages installed: the rewards come from the pipeline's own
:func:`redstar.services.rule_reward` over the registered verifiers, and the response text
is cut and cleaned exactly as :class:`redstar.samplers.text.TokenDecoder` does for sampling and
evaluation (ends at the first end-of-sequence token, special tokens dropped except
``<think>``/``</think>``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any


class ResponseText:
    """The response part of an OpenRLHF query, cleaned as core's ``TokenDecoder`` cleans ids: the
    tokenizer's end-of-sequence strings end it, other special tokens are dropped, the reasoning
    tags stay."""

    def __init__(self, tokenizer: Any, eos_ids: Sequence[int]) -> None:
        from redstar.samplers.text import special_ids_to_drop

        def text(token_id: int) -> str:
            return tokenizer.convert_ids_to_tokens(int(token_id))

        self.ends = [text(i) for i in eos_ids]
        self.drop = sorted((text(i) for i in special_ids_to_drop(tokenizer)), key=len, reverse=True)

    def __call__(self, query: str, prompt: str) -> str:
        response = query[len(prompt):] if query.startswith(prompt) else query
        cut = min((response.find(end) for end in self.ends if end and end in response), default=-1)
        if cut != -1:
            response = response[:cut]
        for token in self.drop:
            response = response.replace(token, "")
        return response


def make_reward_func(model_path: str, verifiers: Mapping[str, Mapping[str, Any]] | None = None) -> Any:
    """``reward_func(queries, prompts, labels)`` for OpenRLHF, scoring with RedStar's verifiers."""
    from transformers import AutoTokenizer, GenerationConfig

    from redstar.plugins import Host
    from redstar.services import VerifierPool, rule_reward

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    try:
        eos = GenerationConfig.from_pretrained(model_path).eos_token_id
    except OSError:
        eos = None
    eos_ids = set(eos if isinstance(eos, list) else [] if eos is None else [eos])
    if tokenizer.eos_token_id is not None:
        eos_ids.add(tokenizer.eos_token_id)
    response_text = ResponseText(tokenizer, sorted(eos_ids))
    # The installed plugins' verifiers with the recipe's options, exactly as a run builds them.
    reward = rule_reward(VerifierPool.from_options(Host(), verifiers))

    def reward_func(queries: Sequence[str], prompts: Sequence[str], labels: Sequence[str]) -> dict[str, Any]:
        import torch

        rows = [json.loads(label) for label in labels]
        texts = [response_text(query, prompt) for query, prompt in zip(queries, prompts)]
        rewards = torch.tensor(reward(rows, texts), dtype=torch.float32)
        return {"rewards": rewards, "scores": rewards,
                "extra_logs": {"correct": (rewards == 1).float().mean().item()}}

    return reward_func
