import json
from pathlib import Path

import pytest

from redstar.errors import InputError
from redstar.interfaces import SamplingParams, TrainContext
from redstar_geo.sampler import InternVLSampler
from redstar_geo.trainer import VLMSFTTrainer
from redstar_geo.verifier import GeoVerifier


def sft_file(path, prompts, problems):
    verifier = GeoVerifier()
    by_id = {f"synthetic-geo-{p.id}": p for p in problems}
    rows = [{"prompt_id": p.id, "messages": verifier.messages(p) + [{"role": "assistant", "content": by_id[p.id].solution()}]}
            for p in prompts]
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


def test_vlm_sft_learns_and_saves_a_loadable_model(tiny_vlm, synthetic_prompts, synthetic_problems, tmp_path):
    data = sft_file(tmp_path / "sft.jsonl", synthetic_prompts[:4], synthetic_problems)
    steps = []
    trainer = VLMSFTTrainer(epochs=6, learning_rate=3e-3, batch_size=4, grad_accum=1, warmup_ratio=0.0,
                            device="cpu", save_total_limit=1)
    result = trainer.train(TrainContext(model=str(tiny_vlm), output_dir=tmp_path / "out", data_file=data,
                                        metrics_file=tmp_path / "metrics.jsonl",
                                        on_step=lambda step, total, metrics: steps.append((step, total, metrics))))
    assert result.model_path == tmp_path / "out" / "final"
    assert [s for s, _, _ in steps] == [1, 2, 3, 4, 5, 6] and all(total == 6 for _, total, _ in steps)
    losses = [m["loss"] for _, _, m in steps]
    assert losses[-1] < losses[0]  # the same 4 rows six times: the loss must fall
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == [1, 2, 3, 4, 5, 6]
    for name in ("config.json", "model.safetensors", "tokenizer.json", "preprocessor_config.json",
                 "processor_config.json", "chat_template.jinja"):
        assert (result.model_path / name).is_file(), name
    sampler = InternVLSampler(str(result.model_path), device="cpu")
    [[completion]] = sampler.generate([GeoVerifier().messages(synthetic_prompts[0])],
                                      SamplingParams(n=1, max_new_tokens=4, temperature=0.0))
    assert isinstance(completion.text, str)


def test_vision_tower_is_frozen_by_default(tiny_vlm, synthetic_prompts, synthetic_problems, tmp_path):
    data = sft_file(tmp_path / "sft.jsonl", synthetic_prompts[:2], synthetic_problems)
    ctx = TrainContext(model=str(tiny_vlm), output_dir=tmp_path / "out", data_file=data)
    frozen = VLMSFTTrainer(max_steps=1, batch_size=2, grad_accum=1, device="cpu").build_trainer(ctx)
    tower = frozen.model.model.vision_tower
    assert not any(p.requires_grad for p in tower.parameters())
    assert all(p.requires_grad for p in frozen.model.model.multi_modal_projector.parameters())
    trained = VLMSFTTrainer(max_steps=1, batch_size=2, grad_accum=1, device="cpu", freeze_vision=False)
    assert all(p.requires_grad for p in trained.build_trainer(ctx).model.model.vision_tower.parameters())


def test_bad_rows_name_the_line(tiny_vlm, synthetic_prompts, synthetic_problems, tmp_path):
    data = sft_file(tmp_path / "sft.jsonl", synthetic_prompts[:2], synthetic_problems)
    rows = data.read_text().splitlines()
    broken = json.loads(rows[1])
    broken["messages"][0]["content"][0]["path"] = str(tmp_path / "missing.png")
    data.write_text(rows[0] + "\n" + json.dumps(broken) + "\n")
    with pytest.raises(InputError) as err:
        VLMSFTTrainer(device="cpu").train(TrainContext(model=str(tiny_vlm), output_dir=tmp_path / "o", data_file=data))
    assert err.value.line == 2 and err.value.field == "messages" and "missing.png" in str(err.value)
    no_answer = json.loads(rows[0])
    no_answer["messages"] = no_answer["messages"][:1]
    data.write_text(json.dumps(no_answer) + "\n")
    with pytest.raises(InputError) as err:
        VLMSFTTrainer(device="cpu").train(TrainContext(model=str(tiny_vlm), output_dir=Path(tmp_path / "o"),
                                                       data_file=data))
    assert err.value.line == 1


def test_options_are_checked_when_the_trainer_is_built():
    from redstar.trainers.settings import OptionError

    for options, words in [({"grad_accum": 0}, "grad_accum"), ({"max_length": 0}, "max_length"),
                           ({"max_tiles": 0}, "max_tiles"), ({"warmup_ratio": -0.1}, "warmup_ratio")]:
        with pytest.raises(OptionError, match=words):
            VLMSFTTrainer(**options)
    trainer = VLMSFTTrainer(seed=3)
    assert (trainer.options.seed, trainer.options.liger, trainer.options.lora) == (3, False, None)


def test_saver_before_build_trainer_says_what_is_missing(tmp_path):
    # The saver copies the processor files of the checkpoint build_trainer loaded; without one it
    # says so instead of failing on None.
    ctx = TrainContext(model="embedded:none", output_dir=tmp_path / "out", data_file=tmp_path / "sft.jsonl")
    with pytest.raises(RuntimeError, match="build_trainer"):
        VLMSFTTrainer().saver(ctx)


def test_common_arguments_and_extra_args_reach_the_training_arguments(tiny_vlm, synthetic_prompts,
                                                                      synthetic_problems, tmp_path):
    from redstar.testing import undeclared_config_fields
    from redstar.trainers.settings import OptionError

    data = sft_file(tmp_path / "sft.jsonl", synthetic_prompts[:2], synthetic_problems)
    ctx = TrainContext(model=str(tiny_vlm), output_dir=tmp_path / "out", data_file=data)
    options = {"max_steps": 1, "batch_size": 2, "grad_accum": 1, "device": "cpu"}
    args = VLMSFTTrainer(**options, max_grad_norm=0.5, optim="adamw_torch",
                         extra_args={"adam_beta2": 0.95}).build_trainer(ctx).args
    assert (args.max_grad_norm, args.optim, args.adam_beta2) == (0.5, "adamw_torch", 0.95)
    assert undeclared_config_fields(VLMSFTTrainer(**options), ctx) == []
    for extra, words in [({"remove_unused_columns": True}, "extra_args.remove_unused_columns: RedStar sets it"),
                         ({"learning_rate": 1.0}, "set it with the learning_rate option")]:
        with pytest.raises(OptionError, match=words):
            VLMSFTTrainer(extra_args=extra)
