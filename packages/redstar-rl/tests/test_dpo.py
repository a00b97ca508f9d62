"""DPO end to end on the tiny model: on pairs whose chosen answer names the reference digit and
whose rejected answer names another, the implicit-reward margin and accuracy rise, and the
trained model prefers the chosen answers more than the reference model does."""

from __future__ import annotations

import json
from statistics import mean

import torch

from redstar.interfaces import TrainContext
from redstar_rl.dpo import DPOTrainer


def write_pairs(path):
    with path.open("w", encoding="utf-8") as handle:
        for i in range(32):
            handle.write(json.dumps({
                "prompt_id": f"p{i}", "prompt": [{"role": "user", "content": f"What is {i} + 7 - {i}?"}],
                "chosen": [{"role": "assistant", "content": "The answer is 7."}],
                "rejected": [{"role": "assistant", "content": f"The answer is {(i % 6) + 1}."}],
            }) + "\n")
    return path


def chosen_margin(model_dir, tokenizer_dir) -> float:
    """log p(chosen) - log p(rejected) for a held-out prompt."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "What is 40 + 7 - 40?"}],
                                           add_generation_prompt=True, tokenize=False)

    def logp(answer):
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        ids = torch.tensor([tokenizer(prompt + answer, add_special_tokens=False)["input_ids"]])
        with torch.no_grad():
            logprobs = model(input_ids=ids).logits[0, :-1].log_softmax(-1)
        targets = ids[0, 1:]
        return float(logprobs[torch.arange(len(targets)), targets][len(prompt_ids) - 1 :].sum())

    return logp("The answer is 7.") - logp("The answer is 3.")


def test_dpo_raises_the_chosen_margin(tmp_path, tiny_lm):
    steps = []
    ctx = TrainContext(model=str(tiny_lm), output_dir=tmp_path / "out", data_file=write_pairs(tmp_path / "pairs.jsonl"),
                       on_step=lambda step, total, metrics: steps.append(dict(metrics)))
    result = DPOTrainer(beta=0.3, learning_rate=5e-3, epochs=3, batch_size=8, grad_accum=1, max_length=128,
                        warmup_ratio=0.0, device="cpu").train(ctx)

    assert len(steps) == 12  # 32 pairs / 8 per step x 3 epochs
    margins = [m["rewards/margins"] for m in steps]
    accuracies = [m["rewards/accuracies"] for m in steps]
    assert mean(margins[-3:]) > mean(margins[:3]) + 0.5, margins
    # At the first step the policy is the reference: every implicit reward is 0, no pair is won.
    assert accuracies[0] == 0.0 and margins[0] == 0.0
    assert mean(accuracies[-3:]) == 1.0, accuracies
    # The saved model, on a prompt it never saw, prefers the chosen answer far more than before.
    assert chosen_margin(result.model_path, result.model_path) > chosen_margin(tiny_lm, tiny_lm) + 2.0


def test_dpo_defaults_reach_trl_as_table_9(tmp_path, tiny_lm):
    """The paper's DPO (beta 0.3, 2 epochs, lr 5e-7, 64 pairs per step on one GPU) is what a
    recipe without options trains, as TRL sees it."""
    trainer = DPOTrainer(device="cpu").build_trainer(TrainContext(
        model=str(tiny_lm), output_dir=tmp_path / "out", data_file=write_pairs(tmp_path / "pairs.jsonl")))
    args = trainer.args
    assert (args.beta, args.num_train_epochs, args.learning_rate) == (0.3, 2.0, 5e-7)
    assert args.per_device_train_batch_size * args.gradient_accumulation_steps == 64


def test_dpo_options_are_checked_when_the_trainer_is_built():
    import pytest

    from redstar.trainers.settings import OptionError

    for options, words in [({"beta": 0.1, "grad_accum": 0}, "grad_accum"), ({"max_length": 0}, "max_length"),
                           ({"epochs": -1.0}, "epochs"), ({"device": "mps"}, "device")]:
        with pytest.raises(OptionError, match=words):
            DPOTrainer(**options)


def test_an_nll_term_on_the_chosen_answer_is_trls_sft_loss(tmp_path, tiny_lm):
    """RPO: TRL 1.16 has no rpo_alpha; its way is the ``sft`` loss (the chosen answer's token-mean
    NLL) beside ``sigmoid``, weighted by ``loss_weights``."""
    import pytest

    from redstar.trainers.settings import OptionError

    trainer = DPOTrainer(device="cpu", loss_type=["sigmoid", "sft"], loss_weights=[1.0, 0.5]).build_trainer(
        TrainContext(model=str(tiny_lm), output_dir=tmp_path / "out", data_file=write_pairs(tmp_path / "pairs.jsonl")))
    assert (trainer.args.loss_type, trainer.args.loss_weights) == (["sigmoid", "sft"], [1.0, 0.5])
    assert (trainer.loss_types, trainer.loss_weights) == (["sigmoid", "sft"], [1.0, 0.5])
    assert DPOTrainer(loss_type="sigmoid").loss_type == ["sigmoid"]
    with pytest.raises(OptionError, match="loss_weights must be a list of 2 number"):
        DPOTrainer(loss_type=["sigmoid", "sft"], loss_weights=[1.0])
    with pytest.raises(OptionError, match="loss_type must be a TRL loss name"):
        DPOTrainer(loss_type=[])


def test_common_trl_arguments_and_extra_args_reach_dpos_config(tmp_path, tiny_lm):
    """``max_grad_norm`` and ``optim`` as options, any other ``trl.DPOConfig`` field through
    ``extra_args``, which may not set a field an option sets."""
    import pytest

    from redstar.testing import undeclared_config_fields
    from redstar.trainers.settings import OptionError

    ctx = TrainContext(model=str(tiny_lm), output_dir=tmp_path / "out", data_file=write_pairs(tmp_path / "pairs.jsonl"))
    args = DPOTrainer(device="cpu", max_grad_norm=0.5, optim="adamw_torch",
                      extra_args={"adam_beta2": 0.95, "precompute_ref_log_probs": True}).build_trainer(ctx).args
    assert (args.max_grad_norm, args.optim, args.adam_beta2, args.precompute_ref_log_probs) == (
        0.5, "adamw_torch", 0.95, True)
    assert undeclared_config_fields(DPOTrainer(device="cpu"), ctx) == []
    for extra, words in [({"beta": 0.1}, "extra_args.beta: set it with the beta option"),
                         ({"bta": 0.1}, r"extra_args.bta: DPOConfig \(trl [0-9.]+\) has no field 'bta'"),
                         ({"max_grad_norm": 2.0}, "set it with the max_grad_norm option")]:
        with pytest.raises(OptionError, match=words):
            DPOTrainer(extra_args=extra)
