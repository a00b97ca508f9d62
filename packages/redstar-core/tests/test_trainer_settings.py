"""Shared trainer settings: device and precision, the shipped DeepSpeed configs, Ulysses sequence
parallelism and the per-step metrics reporter."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from redstar.errors import MissingDependencyError, RedStarError
from redstar.trainers.deepspeed import SHIPPED, config_path
from redstar.trainers.parallel import sequence_parallel_config
from redstar.trainers.reporting import StepReporter, numeric_metrics
from redstar.trainers.settings import (
    HFOptions,
    OptionError,
    hf_trainer_args,
    precision_args,
    require_liger,
    resolve_device,
)

ARGS = dict(epochs=1, learning_rate=1e-3, batch_size=2, grad_accum=1, warmup_ratio=0.1, lr_scheduler="linear",
            weight_decay=0.0, gradient_checkpointing=None, deepspeed=None, liger=False, seed=3, save_steps=None,
            save_total_limit=1, report_to="none", max_steps=-1, device="auto", resume=True)


def test_cpu_training_is_fp32_without_checkpointing(tmp_path):
    import trl

    assert precision_args("cpu") == {"use_cpu": True, "bf16": False, "fp16": False}
    config = trl.SFTConfig(**hf_trainer_args(HFOptions(**ARGS), output_dir=tmp_path, device="cpu", run_seed=0,
                                             max_length=64))
    assert config.use_cpu and not config.bf16 and not config.gradient_checkpointing
    assert config.get_warmup_steps(100) == 10 and config.logging_steps == 1 and config.save_strategy == "epoch"
    assert (config.seed, config.data_seed, config.max_length) == (3, 3, 64)
    gpu_defaults = hf_trainer_args(HFOptions(**{**ARGS, "deepspeed": "zero3", "seed": None}), output_dir=tmp_path,
                                   device="cuda", run_seed=7)
    assert any(key.endswith("checkpointing") and value is True for key, value in gpu_defaults.items())
    assert gpu_defaults["deepspeed"].endswith("zero3.json")
    assert gpu_defaults["seed"] == 7  # the run's seed when the trainer sets none
    with pytest.raises(TypeError, match="learning_rate"):
        hf_trainer_args(HFOptions(**ARGS), output_dir=tmp_path, device="cpu", run_seed=0, learning_rate=1.0)


@pytest.mark.parametrize("option, value, words", [
    ("epochs", 0, "epochs must be above 0"),
    ("learning_rate", -1e-5, "learning_rate must be above 0"),
    ("learning_rate", "1e-5", "learning_rate must be a number"),
    ("batch_size", 0, "batch_size must be an integer of at least 1"),
    ("grad_accum", 1.5, "grad_accum must be an integer"),
    ("warmup_ratio", 1.0, r"warmup_ratio is a fraction of the training steps in \[0, 1\)"),
    ("weight_decay", -0.1, "weight_decay must be at least 0"),
    ("save_steps", 0, "save_steps must be an integer of at least 1"),
    ("max_steps", -2, "max_steps"),
    ("device", "tpu", "device must be one of auto, cpu, cuda"),
    ("lora", ["q_proj"], "lora must be a mapping"),
])
def test_shared_options_are_checked_when_built(option, value, words):
    with pytest.raises(OptionError, match=words) as info:
        HFOptions(**{**ARGS, option: value})
    # A ValueError, so that a recipe's plugin check names the recipe key; a RedStarError for the CLI.
    assert isinstance(info.value, ValueError) and isinstance(info.value, RedStarError)


def test_pick_takes_the_shared_options_from_a_constructor():
    options = HFOptions.pick({**ARGS, "packing": True, "self": object()})
    assert options == HFOptions(**ARGS)
    without = {k: v for k, v in ARGS.items() if k not in ("liger", "lora")}
    assert (HFOptions.pick(without).liger, HFOptions.pick(without).lora) == (False, None)


def test_bad_settings_are_named(tmp_path):
    with pytest.raises(RedStarError, match="device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        assert resolve_device("auto") == "cpu"
        with pytest.raises(RedStarError, match="no GPU"):
            resolve_device("cuda")
    with pytest.raises(RedStarError, match="warmup_ratio"):
        HFOptions(**{**ARGS, "warmup_ratio": 1.5})
    with pytest.raises(RedStarError, match="CUDA"):
        require_liger("cpu")


def test_liger_names_the_missing_install(monkeypatch):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(MissingDependencyError, match=r"redstar-core\[liger\]"):
        require_liger("cuda")


def test_shipped_deepspeed_configs_are_json_with_auto_batch_sizes(tmp_path):
    for name, stage in zip(SHIPPED, (2, 3)):
        config = json.loads(Path(config_path(name)).read_text())
        assert config["zero_optimization"]["stage"] == stage
        assert config["train_micro_batch_size_per_gpu"] == "auto"
        assert "optimizer" not in config  # a DeepSpeed AdamW entry would compile FusedAdam
    own = tmp_path / "ds.json"
    own.write_text("{}")
    assert config_path(str(own)) == str(own)
    with pytest.raises(RedStarError, match="zero2"):
        config_path("zero4")


def test_sequence_parallel_builds_an_accelerate_ulysses_config():
    assert sequence_parallel_config(1) is None
    config = sequence_parallel_config(4, "flash_attention_2", world_size=8, num_heads=12, deepspeed="zero3",
                                      packing=True)
    assert (config.sp_size, config.sp_backend, config.dp_replicate_size) == (4, "deepspeed", 2)
    assert config.sp_handler.sp_attn_implementation == "flash_attention_2"
    assert config.sp_handler.sp_seq_length_is_variable
    for kwargs, words in [
        (dict(world_size=6, deepspeed="zero3"), "divisible"),
        (dict(world_size=8, num_heads=6, deepspeed="zero3"), "heads"),
        (dict(world_size=8), "deepspeed"),
        (dict(world_size=8, deepspeed="zero3", packing=True), "flash_attention"),
    ]:
        with pytest.raises(RedStarError, match=words):
            sequence_parallel_config(4, **kwargs)


def test_step_reporter_writes_json_lines_and_calls_back(tmp_path):
    seen = []
    reporter = StepReporter(tmp_path / "m" / "metrics.jsonl", lambda *args: seen.append(args))
    reporter.report(1, 2, {"loss": torch.tensor(1.5), "lr": 1e-3, "note": "text", "nan": math.nan, "flag": True})
    reporter.report(2, 2, {"loss": 1.0})
    lines = [json.loads(line) for line in (tmp_path / "m" / "metrics.jsonl").read_text().splitlines()]
    assert lines == [{"step": 1, "total": 2, "loss": 1.5, "lr": 1e-3}, {"step": 2, "total": 2, "loss": 1.0}]
    assert seen[0] == (1, 2, {"loss": 1.5, "lr": 1e-3}) and reporter.last == {"loss": 1.0}
    assert numeric_metrics({"a": 1, "b": float("inf")}) == {"a": 1.0}
