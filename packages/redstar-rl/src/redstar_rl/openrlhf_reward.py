"""The rule reward inside OpenRLHF: what the ``reward_func.py`` RedStar writes for a run calls.

OpenRLHF 0.11.2 loads ``--reward.remote_url some/file.py`` and calls its
``reward_func(queries, prompts, labels)`` (``openrlhf/utils/agent.py``): ``queries`` are prompt plus
response decoded with ``skip_special_tokens=False``, ``prompts`` the chat-templated prompts, and
``labels`` the dataset's ``--data.label_key`` column, where RedStar puts each online row as JSON.
It wants ``{"rewards": tensor, "scores": tensor, "extra_logs": {...}}``: ``rewards`` train,
``scores`` only feed its dynamic filtering (a prompt is kept when its mean score lies inside
``--algo.dynamic_filtering_range``), so RedStar's scores are 1 for a correct response and 0
otherwise, and that filter is the local loop's filter on a prompt's pass rate. 0.11.2 calls it
with one response at a time, in a thread of each vLLM actor.

OpenRLHF catches any exception ``reward_func`` raises, logs it at INFO and leaves the reward
empty, and the step then dies with an unrelated message. So each response is judged on its own:
one whose verification fails gets the reward of a wrong answer (0), is logged at ERROR with its
prompt id and the error, and is counted in the step's ``reward_error`` (the share of the step's
responses that failed, in the step's log line and RedStar's metrics).

This module runs in OpenRLHF's environment (the Ray workers), which therefore needs redstar-core
and the domain packages installed: the rewards come from the pipeline's own
:func:`redstar.services.rule_reward` over the registered verifiers, and the response text
is cut and cleaned exactly as :class:`redstar.samplers.text.TokenDecoder` does for sampling and
evaluation (ends at the first end-of-sequence token, special tokens dropped except
``<think>``/``</think>``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

log = logging.getLogger("redstar.reward")


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
    """``reward_func(queries, prompts, labels, **kwargs)`` for OpenRLHF, scoring with RedStar's
    verifiers."""
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
    return reward_function(reward, response_text)


def reward_function(reward: Callable[[Sequence[Mapping[str, Any]], Sequence[str]], list[float]],
                    response_text: Callable[[str, str], str]) -> Callable[..., dict[str, Any]]:
    """OpenRLHF's ``reward_func`` around RedStar's ``reward(rows, responses)``, judging each
    response on its own so that one failure costs one response, not the step."""

    def reward_func(queries: Sequence[str], prompts: Sequence[str], labels: Sequence[str],
                    **kwargs: Any) -> dict[str, Any]:
        import torch

        rewards, errors = [], []
        for query, prompt, label in zip(queries, prompts, labels):
            prompt_id = "?"
            try:
                row = json.loads(label)
                prompt_id = str(row.get("prompt_id", "?"))
                [value] = reward([row], [response_text(query, prompt)])
                rewards.append(float(value))
                errors.append(0.0)
            except Exception as exc:  # noqa: BLE001 - OpenRLHF would swallow it and fail the step obscurely
                log.error("RedStar reward: verifying a response to prompt %s failed (%s: %s); it gets reward 0 "
                          "and counts in this step's reward_error", prompt_id, type(exc).__name__, exc)
                rewards.append(0.0)
                errors.append(1.0)
        values = torch.tensor(rewards, dtype=torch.float32)
        correct = (values == 1).float()
        return {"rewards": values, "scores": correct,
                "extra_logs": {"correct": correct.mean().item() if len(rewards) else 0.0,
                               "reward_error": sum(errors) / len(errors) if errors else 0.0}}

    return reward_func
