"""``grpo``: Group Relative Policy Optimization with TRL's ``GRPOTrainer``, rewarded by the
domains' rule verifiers through ``TrainContext.reward``."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from redstar.errors import RedStarError
from redstar.interfaces import TrainContext
from redstar.trainers.hf_run import HFTrainer, load_tokenizer
from redstar.trainers.settings import HFOptions, OptionError, check_at_least, check_positive, resolve_device

#: Columns of the online rows that travel through TRL's dataset to the reward function.
ROW_COLUMNS = ("prompt_id", "reference", "domain")


def rule_reward_function(reward: Callable[[Sequence[dict[str, Any]], Sequence[str]], list[float]],
                         decoder: Any = None) -> Callable[..., list[float]]:
    """A TRL reward function around RedStar's ``reward(rows, responses)``. TRL passes the dataset
    columns of each completion's prompt as keyword lists; ``metadata`` travels as JSON text
    because Arrow needs one schema for all rows, and free-form metadata has none.

    TRL decodes ``completions`` with ``skip_special_tokens=True``, which erases ``<think>`` and
    ``</think>`` where they are special tokens; with a ``decoder`` (core's
    :class:`~redstar.samplers.text.TokenDecoder`) the text is decoded again from TRL's
    ``completion_ids`` the way RedStar's samplers decode it, so the verifier judges the same text
    in RL as in sampling and evaluation."""

    def rule_reward(prompts: list, completions: list, completion_ids: list | None = None,
                    **columns: Any) -> list[float]:
        rows = [
            {"prompt": prompt, **{key: columns[key][i] for key in ROW_COLUMNS},
             "metadata": json.loads(columns["metadata_json"][i])}
            for i, prompt in enumerate(prompts)
        ]
        if decoder is not None and completion_ids is not None:
            texts = [decoder.decode(ids)[0] for ids in completion_ids]
        else:
            texts = [c[-1]["content"] if isinstance(c, list) else c for c in completions]
        return [float(r) for r in reward(rows, texts)]

    return rule_reward


class GRPOTrainer(HFTrainer):
    """GRPO on online rows: ``num_generations`` responses per prompt (at least 2), each rewarded
    1/0/-1 by the rule verifier, advantages relative to the prompt's group.

    Args:
        num_generations: Responses per prompt, at least 2.
        scale_rewards: `group` (GRPO: divide by the group's standard deviation), `batch`
            (divide by the batch's: REINFORCE++-baseline style) or `none`.
        beta: KL coefficient to the reference (0 by default, as TRL: no reference model is loaded,
            and no `kl` is logged, so training health cannot say whether the policy moved).
        epsilon: The clipping range.
        loss_type: TRL's (`dapo`, `grpo`, `dr_grpo`, ...).
        dynamic_filtering: Drop from the loss every completion whose advantage is exactly 0:
            all the completions of a prompt whose completions scored alike (zero variance, DAPO's
            dynamic sampling without the refill) and any whose score equals its group's mean;
            neither moves the policy, but both dilute a token-mean loss. The share kept is logged
            as `dynamic_filtering_kept`. With `beta` above 0 they also leave the KL term.
        batch_size: Completions per device per step; times `grad_accum` and the GPUs, a multiple
            of `num_generations`.
        max_new_tokens: Completion tokens at most.
        max_prompt_length: Chat-formatted prompt tokens at most; a longer prompt is an error.
        temperature: Sampling temperature.
        top_p: Nucleus of the sampling.
        num_iterations: Updates per generation batch.
        use_vllm: Generate with vLLM through TRL (`pip install vllm` on a CUDA machine).
        vllm_mode: `colocate` (vLLM inside each training process) or `server` (`trl
            vllm-serve --model ...` started beforehand on other GPUs).
        vllm_server_base_url: The server's URL in `server` mode.
        vllm_server_host: The server's host in `server` mode, when no URL is given.
        vllm_server_port: The server's port in `server` mode, when no URL is given.
        vllm_gpu_memory_utilization: Share of a GPU vLLM may take in `colocate` mode.
        vllm_tensor_parallel_size: GPUs per vLLM engine in `colocate` mode.
        vllm_enable_sleep_mode: Free vLLM's memory during the optimizer step.
    """

    name = "grpo"
    kind = "online"
    config_class = "trl.GRPOConfig"
    config_fields = {
        "num_generations": "num_generations", "max_completion_length": "max_new_tokens",
        "temperature": "temperature", "top_p": "top_p", "beta": "beta", "epsilon": "epsilon",
        "scale_rewards": "scale_rewards", "loss_type": "loss_type", "num_iterations": "num_iterations",
        **{field: field for field in ("use_vllm", "vllm_mode", "vllm_server_base_url", "vllm_server_host",
                                      "vllm_server_port", "vllm_gpu_memory_utilization",
                                      "vllm_tensor_parallel_size", "vllm_enable_sleep_mode")},
    }

    def __init__(self, *, epochs: float = 1.0, max_steps: int = -1, learning_rate: float = 1e-6,
                 batch_size: int = 8, grad_accum: int = 1, num_generations: int = 8, max_new_tokens: int = 1024,
                 max_prompt_length: int = 1024, temperature: float = 1.0, top_p: float = 1.0, beta: float = 0.0,
                 epsilon: float = 0.2, scale_rewards: str = "group", loss_type: str = "dapo",
                 num_iterations: int = 1, warmup_ratio: float = 0.0, lr_scheduler: str = "constant",
                 weight_decay: float = 0.0, gradient_checkpointing: bool | None = None,
                 deepspeed: str | None = None, liger: bool = False, lora: dict[str, Any] | None = None,
                 device: str = "auto", save_steps: int | None = None, save_total_limit: int | None = 2,
                 resume: bool = True, report_to: str | list[str] = "none", seed: int | None = None,
                 use_vllm: bool = False, vllm_mode: str = "colocate", vllm_server_base_url: str | None = None,
                 vllm_server_host: str = "0.0.0.0", vllm_server_port: int = 8000,
                 vllm_gpu_memory_utilization: float = 0.3, vllm_tensor_parallel_size: int = 1,
                 vllm_enable_sleep_mode: bool = False, dynamic_filtering: bool = False,
                 max_grad_norm: float = 1.0, optim: str | None = None,
                 extra_args: dict[str, Any] | None = None) -> None:
        super().__init__(HFOptions.pick(locals()))
        if num_generations < 2:
            raise OptionError("grpo needs num_generations >= 2: advantages compare responses to the same prompt")
        if vllm_mode not in ("colocate", "server"):
            raise OptionError(f"grpo: vllm_mode must be 'colocate' or 'server', got {vllm_mode!r}")
        check_at_least(1, max_new_tokens=max_new_tokens, max_prompt_length=max_prompt_length,
                       num_iterations=num_iterations)
        check_positive(temperature=temperature)
        self.vllm = dict(use_vllm=use_vllm, vllm_mode=vllm_mode, vllm_server_base_url=vllm_server_base_url,
                         vllm_server_host=vllm_server_host, vllm_server_port=vllm_server_port,
                         vllm_gpu_memory_utilization=vllm_gpu_memory_utilization,
                         vllm_tensor_parallel_size=vllm_tensor_parallel_size,
                         vllm_enable_sleep_mode=vllm_enable_sleep_mode)
        self.num_generations = num_generations
        self.max_new_tokens = max_new_tokens
        self.max_prompt_length = max_prompt_length
        self.temperature = temperature
        self.top_p = top_p
        self.beta = beta
        self.epsilon = epsilon
        self.scale_rewards = scale_rewards
        self.loss_type = loss_type
        self.num_iterations = num_iterations
        self.dynamic_filtering = dynamic_filtering

    def build_trainer(self, ctx: TrainContext) -> Any:
        """The configured ``trl.GRPOTrainer`` before training."""
        import datasets
        import trl

        from redstar.models import resolve_model
        from redstar.samplers.text import TokenDecoder
        from redstar_rl.data import read_online_rows

        if ctx.reward is None:
            raise RedStarError("grpo samples its own responses and needs TrainContext.reward to score them")
        if self.vllm["use_vllm"]:
            _require_vllm()
        model_path = resolve_model(ctx.model)
        device = resolve_device(self.options.device)
        tokenizer = load_tokenizer(model_path)
        rows = read_online_rows(ctx.data_file, tokenizer, self.max_prompt_length)
        dataset = datasets.Dataset.from_list([
            {"prompt": r["prompt"], **{key: r[key] for key in ROW_COLUMNS}, "metadata_json": json.dumps(r["metadata"])}
            for r in rows
        ])
        config = self.config(
            trl.GRPOConfig, ctx, device,
            num_generations=self.num_generations,
            max_completion_length=self.max_new_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            beta=self.beta,
            epsilon=self.epsilon,
            scale_rewards=self.scale_rewards,
            loss_type=self.loss_type,
            num_iterations=self.num_iterations,
            **self.vllm,
        )
        decoder = TokenDecoder(tokenizer, eos_token_ids_of(model_path, tokenizer))
        trainer_class = filtering_grpo_trainer(trl.GRPOTrainer) if self.dynamic_filtering else trl.GRPOTrainer
        return trainer_class(
            model=model_path, reward_funcs=[rule_reward_function(ctx.reward, decoder)], args=config, train_dataset=dataset,
            processing_class=tokenizer, peft_config=self.peft_config(), callbacks=self.callbacks(ctx),
        )


def filtering_grpo_trainer(base: type) -> type:
    """``base`` (TRL's ``GRPOTrainer``) dropping zero-advantage completions from the loss: their
    completion mask is zeroed and the token count the ``dapo`` loss divides by is taken again, in
    the generation step TRL 1.16 builds the batch in (``_generate_and_score_completions``)."""

    class FilteringGRPOTrainer(base):
        def _generate_and_score_completions(self, inputs: Any) -> Any:
            import torch

            output = super()._generate_and_score_completions(inputs)
            missing = {"advantages", "completion_mask", "num_items_in_batch"} - set(output)
            if missing:
                raise RedStarError(f"grpo: dynamic_filtering needs TRL's batch to carry {sorted(missing)}; this TRL "
                                   "does not (RedStar is tested with TRL 1.16)")
            keep = output["advantages"] != 0
            output["completion_mask"] = output["completion_mask"] * keep.to(output["completion_mask"].dtype).unsqueeze(1)
            loss_mask = output["completion_mask"]
            if output.get("tool_mask") is not None:
                loss_mask = loss_mask * output["tool_mask"]
            output["num_items_in_batch"] = self.accelerator.gather(loss_mask.sum()).sum()
            counts = torch.tensor([float(keep.sum()), float(len(keep))], device=keep.device)
            kept = self.accelerator.gather(counts).view(-1, 2).sum(0)
            mode = "train" if self.model.training else "eval"
            self._metrics[mode]["dynamic_filtering_kept"].append((kept[0] / kept[1].clamp(min=1)).item())
            return output

    return FilteringGRPOTrainer


def eos_token_ids_of(model_path: str, tokenizer: Any) -> set[int]:
    """The ids that end a completion: the checkpoint's generation config's and the tokenizer's."""
    from transformers import GenerationConfig

    try:
        ids = GenerationConfig.from_pretrained(model_path).eos_token_id
    except OSError:  # no generation_config.json
        ids = None
    ids = set(ids if isinstance(ids, list) else [] if ids is None else [ids])
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return ids


def _require_vllm() -> None:
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        raise RedStarError("grpo: use_vllm needs vLLM in this environment (pip install vllm, on a CUDA machine); "
                           "drop use_vllm to generate with transformers")
