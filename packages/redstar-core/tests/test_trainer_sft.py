"""The built-in ``sft`` trainer end to end on the tiny model: the loss falls, per-step metrics
are reported, the saved model and tokenizer reload and fit the data better than the base model,
only assistant tokens are trained, checkpoints resume, and LoRA merges into a plain model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from redstar.interfaces import TrainContext
from redstar.tiny import CHAT_TEMPLATE
from redstar.trainers.sft import SFTTrainer


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models gain nothing from threads, and on a shared 2-core machine OpenMP's spinning
    threads make training them many times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


CPU_OPTIONS = dict(learning_rate=3e-3, batch_size=8, grad_accum=1, max_length=256, warmup_ratio=0.0, device="cpu")


def answer(i: int) -> str:
    return f"<think> {i} + 7 = {i + 7}. </think> The answer is \\boxed{{{i + 7}}}."


def write_sft_file(path: Path, count: int = 32) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for i in range(count):
            row = {"prompt_id": f"p{i}", "messages": [
                {"role": "user", "content": f"What is {i} + 7?"},
                {"role": "assistant", "content": answer(i)},
            ]}
            handle.write(json.dumps(row) + "\n")
    return path


def context(tmp_path: Path, model: Path, out: str = "out", steps: list | None = None) -> TrainContext:
    return TrainContext(
        model=str(model), output_dir=tmp_path / out, data_file=write_sft_file(tmp_path / "sft.jsonl"),
        metrics_file=tmp_path / out / "metrics.jsonl",
        on_step=None if steps is None else (lambda step, total, metrics: steps.append((step, total, dict(metrics)))),
    )


def answer_loss(model_dir: Path, i: int) -> float:
    """Mean loss of the assistant's tokens of row ``i`` under the model saved in ``model_dir``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": f"What is {i} + 7?"}],
                                           add_generation_prompt=True, tokenize=False)
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    full_ids = tokenizer(prompt + answer(i) + tokenizer.eos_token, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([full_ids])
    labels = ids.clone()
    labels[0, : len(prompt_ids)] = -100
    with torch.no_grad():
        return float(model(input_ids=ids, labels=labels).loss)


def test_sft_trains_reports_and_saves_a_reloadable_model(tmp_path, tiny_lm, capfd):
    steps: list = []
    ctx = context(tmp_path, tiny_lm, steps=steps)
    result = SFTTrainer(epochs=2, **CPU_OPTIONS).train(ctx)
    # Steps go to on_step (the run's progress board): transformers' own bar and log dicts stay quiet.
    printed = capfd.readouterr()
    assert "'loss'" not in printed.out + printed.err
    assert "train_runtime" not in printed.out + printed.err

    # 32 rows, batch 8, 2 epochs: 8 optimizer steps, each reported once in order.
    assert [(s, t) for s, t, _ in steps] == [(i, 8) for i in range(1, 9)]
    losses = [m["loss"] for _, _, m in steps]
    assert losses[-1] < losses[0] - 0.4, losses
    lines = [json.loads(line) for line in ctx.metrics_file.read_text().splitlines()]
    assert [line["step"] for line in lines] == list(range(1, 9))
    assert lines[-1]["loss"] == pytest.approx(losses[-1])
    assert {"loss", "learning_rate", "grad_norm"} <= set(lines[0])
    assert result.metrics["steps"] == 8

    assert result.model_path == ctx.output_dir / "final"
    from transformers import AutoTokenizer

    assert AutoTokenizer.from_pretrained(result.model_path).chat_template == CHAT_TEMPLATE
    # The saved model fits a training answer better than the model it started from.
    assert answer_loss(result.model_path, 3) < answer_loss(tiny_lm, 3) - 0.4


def marker_free_copy(tiny_lm: Path, dest: Path) -> Path:
    """The tiny model with a ChatML template lacking ``{% generation %}`` markers, which TRL has
    no training version of: the trainer must fall back to prompt/completion masking."""
    from transformers import AutoTokenizer

    shutil.copytree(tiny_lm, dest)
    tokenizer = AutoTokenizer.from_pretrained(dest)
    tokenizer.chat_template = CHAT_TEMPLATE.replace("{% generation %}", "").replace("{% endgeneration %}", "")
    tokenizer.save_pretrained(dest)
    return dest


@pytest.mark.parametrize("variant", ["markers", "no_markers", "whole_conversation"])
def test_sft_loss_falls_on_the_answer_only(tmp_path, tiny_lm, variant):
    from redstar.trainers.sft_data import loss_masking

    model = marker_free_copy(tiny_lm, tmp_path / "model") if variant == "no_markers" else tiny_lm
    trainer = SFTTrainer(epochs=1, assistant_only_loss=variant != "whole_conversation", **CPU_OPTIONS)
    built = trainer.build_trainer(context(tmp_path, model))
    tokenizer = built.processing_class
    expected = {"markers": "assistant", "no_markers": "completion", "whole_conversation": "all"}[variant]
    assert loss_masking(tokenizer, variant != "whole_conversation") == expected

    batch = built.data_collator([built.train_dataset[5]])
    ids, labels = batch["input_ids"][0], batch["labels"][0]
    trained = labels != -100
    if variant == "whole_conversation":
        assert bool(trained.all())
        return
    # One contiguous trained span: the answer and its end-of-turn token; the prompt before it and
    # the template's trailing newline after it are masked.
    positions = trained.nonzero().flatten().tolist()
    first, last = positions[0], positions[-1]
    assert positions == list(range(first, last + 1))
    assert tokenizer.decode(ids[:first]).endswith("What is 5 + 7?<|im_end|>\n<|im_start|>assistant\n")
    assert tokenizer.decode(ids[first : last + 1]).strip() == answer(5) + "<|im_end|>"
    assert tokenizer.decode(ids[last + 1 :]).strip() == ""


def test_sft_resumes_from_the_newest_checkpoint(tmp_path, tiny_lm):
    first: list = []
    SFTTrainer(max_steps=4, save_steps=2, **CPU_OPTIONS).train(context(tmp_path, tiny_lm, steps=first))
    assert (tmp_path / "out" / "checkpoint-4").is_dir()

    second: list = []
    SFTTrainer(max_steps=6, save_steps=2, **CPU_OPTIONS).train(context(tmp_path, tiny_lm, steps=second))
    assert [s for s, _, _ in second] == [5, 6]  # steps 1-4 came from checkpoint-4
    assert (tmp_path / "out" / "checkpoint-6").is_dir()

    fresh: list = []
    SFTTrainer(max_steps=2, resume=False, **CPU_OPTIONS).train(context(tmp_path, tiny_lm, out="out", steps=fresh))
    assert [s for s, _, _ in fresh] == [1, 2]


def test_sft_with_lora_saves_the_adapter_and_a_merged_model(tmp_path, tiny_lm):
    from transformers import AutoModelForCausalLM

    result = SFTTrainer(epochs=1, lora={"r": 4}, **{**CPU_OPTIONS, "learning_rate": 1e-2}).train(
        context(tmp_path, tiny_lm))
    assert (tmp_path / "out" / "adapter" / "adapter_config.json").is_file()
    merged = AutoModelForCausalLM.from_pretrained(result.model_path)
    base = AutoModelForCausalLM.from_pretrained(tiny_lm)
    assert not any("lora" in name for name, _ in merged.named_parameters())
    changed = [name for (name, p), (_, q) in zip(merged.named_parameters(), base.named_parameters())
               if not torch.equal(p, q)]
    assert changed and all("proj" in name for name in changed)  # LoRA targets the linear layers only


def test_sft_packing_trains(tmp_path, tiny_lm):
    steps: list = []
    SFTTrainer(epochs=4, packing=True, **CPU_OPTIONS).train(context(tmp_path, tiny_lm, steps=steps))
    losses = [m["loss"] for _, _, m in steps]
    assert len(losses) >= 4 and losses[-1] < losses[0] - 0.2, losses


def test_sft_is_registered_as_a_builtin(redstar_host):
    from redstar.interfaces import options_of

    assert redstar_host.get("trainers", "sft") is SFTTrainer
    assert SFTTrainer.kind == "sft"
    options = options_of(SFTTrainer)
    for name in ("epochs", "learning_rate", "batch_size", "grad_accum", "max_length", "warmup_ratio",
                 "lr_scheduler", "packing", "liger", "gradient_checkpointing", "deepspeed",
                 "sequence_parallel", "lora", "seed", "save_steps", "report_to", "max_grad_norm", "optim",
                 "dataset_num_proc", "eval_file", "eval_fraction", "eval_steps", "extra_args"):
        assert name in options


def test_sft_options_are_checked_when_the_trainer_is_built():
    """A run builds its trainers before the first stage: a bad value stops it there, named."""
    from redstar.errors import PluginError
    from redstar.plugins import instantiate
    from redstar.trainers.settings import OptionError

    for options, words in [({"epochs": 0}, "epochs must be above 0"),
                           ({"learning_rate": 0.0}, "learning_rate must be above 0"),
                           ({"batch_size": 0}, "batch_size must be an integer of at least 1"),
                           ({"max_length": 0}, "max_length"), ({"sequence_parallel": 0}, "sequence_parallel"),
                           ({"lora": "r16"}, "lora must be a mapping")]:
        with pytest.raises(OptionError, match=words):
            SFTTrainer(**options)
    with pytest.raises(PluginError, match="SFTTrainer rejected its options .*warmup_ratio"):
        instantiate(SFTTrainer, {"warmup_ratio": 1.0})
    trainer = SFTTrainer(lora={}, seed=5, packing=True)
    assert (trainer.options.lora, trainer.options.seed, trainer.options.liger, trainer.packing) == ({}, 5, False, True)


def test_trl_arguments_reach_the_config_and_the_data_is_mapped_and_tokenized_once(tmp_path, tiny_lm):
    """The common TRL arguments are options, the rest pass through ``extra_args``; the SFT file is
    read into Arrow files under ``<output_dir>/sft-data``, and TRL's tokenized copy lands beside
    it (what the other processes of a launch map instead of tokenizing again).

    ``dataset_num_proc`` is left unset here: any value has datasets fork a pool from the test
    process, which after a full suite's worth of threads (Ray's gRPC, torch's) lost its manager's
    connection in CI. The next test checks that the option reaches TRL."""
    trainer = SFTTrainer(epochs=1, max_grad_norm=0.5, optim="adamw_torch", eval_fraction=0.25,
                         eval_steps=2, extra_args={"adam_beta2": 0.95, "ddp_timeout": 7200}, **CPU_OPTIONS)
    built = trainer.build_trainer(context(tmp_path, tiny_lm))
    args = built.args
    assert (args.max_grad_norm, args.optim, args.dataset_num_proc) == (0.5, "adamw_torch", None)
    assert (args.adam_beta2, args.ddp_timeout) == (0.95, 7200)
    assert (args.eval_strategy, args.eval_steps, args.per_device_eval_batch_size) == ("steps", 2, 8)
    assert (len(built.train_dataset), len(built.eval_dataset)) == (24, 8)  # 32 rows, a quarter held out
    cache = tmp_path / "out" / "sft-data"
    files = [f["filename"] for f in built.train_dataset.cache_files]
    assert files and all(name.startswith(str(cache)) for name in files)
    assert "input_ids" in built.train_dataset.column_names  # tokenized, and that copy is on disk too
    assert any(Path(name).name.startswith("cache-") for name in files)


def test_dataset_num_proc_reaches_trls_config(tmp_path, tiny_lm, monkeypatch):
    """TRL's SFTTrainer is where the processes tokenize; it is replaced here by one that keeps
    what it was given, so no pool is forked from the test process (see the test above)."""
    import trl

    given = {}

    class Keeps:
        def __init__(self, **kwargs):
            given.update(kwargs)

    monkeypatch.setattr(trl, "SFTTrainer", Keeps)
    SFTTrainer(epochs=1, dataset_num_proc=2, **CPU_OPTIONS).build_trainer(context(tmp_path, tiny_lm))
    assert given["args"].dataset_num_proc == 2 and len(given["train_dataset"]) == 32


def test_an_eval_file_is_scored_during_training(tmp_path, tiny_lm):
    held_out = write_sft_file(tmp_path / "eval.jsonl", count=8)
    ctx = context(tmp_path, tiny_lm)
    result = SFTTrainer(max_steps=4, eval_file=str(held_out), eval_steps=2, **CPU_OPTIONS).train(ctx)
    lines = [json.loads(line) for line in ctx.metrics_file.read_text().splitlines()]
    evaluated = [line for line in lines if "eval_loss" in line]
    assert [line["step"] for line in evaluated] == [2, 4]
    assert [line["step"] for line in lines if "loss" in line] == [1, 2, 3, 4]  # one line per step, as before
    assert result.metrics["eval_loss"] == evaluated[-1]["eval_loss"] and "loss" in result.metrics


def test_new_options_are_checked_when_the_trainer_is_built():
    from redstar.trainers.settings import OptionError

    for options, words in [
        ({"max_grad_norm": -1.0}, "max_grad_norm must be at least 0"),
        ({"optim": "adamw_torhc"}, "optim 'adamw_torhc' is not an optimizer of transformers .*did you mean 'adamw_torch'"),
        ({"dataset_num_proc": 0}, "dataset_num_proc must be an integer of at least 1"),
        ({"eval_fraction": 1.0}, "eval_fraction is a fraction"),
        ({"eval_fraction": 0.1, "eval_file": "x.jsonl"}, "eval_file or eval_fraction, not both"),
        ({"eval_steps": 0}, "eval_steps"),
        ({"extra_args": ["adam_beta2"]}, "extra_args must be a mapping"),
        ({"extra_args": {"adam_bta2": 0.9}}, r"extra_args.adam_bta2: SFTConfig \(trl [0-9.]+\) has no field "
                                             r"'adam_bta2'; did you mean 'adam_beta2'\?"),
        ({"extra_args": {"learning_rate": 1.0}}, "extra_args.learning_rate: set it with the learning_rate option"),
        ({"extra_args": {"max_length": 10}}, "extra_args.max_length: set it with the max_length option"),
        ({"extra_args": {"logging_steps": 5}}, "extra_args.logging_steps: RedStar sets it itself"),
    ]:
        with pytest.raises(OptionError, match=words):
            SFTTrainer(**options)


def test_every_config_field_redstar_sets_is_refused_in_extra_args(tmp_path, tiny_lm):
    """``extra_args`` cannot quietly override what an option says: each field the trainer puts in
    its config is one the constructor refuses (checked against what build_trainer really sets)."""
    from redstar.testing import undeclared_config_fields

    assert undeclared_config_fields(SFTTrainer(epochs=1, **CPU_OPTIONS), context(tmp_path, tiny_lm)) == []

def test_group_by_length_draws_batches_of_similar_length_in_random_order(tmp_path, tiny_lm):
    from redstar.trainers.length_groups import ShuffledLengthGroups

    built = SFTTrainer(epochs=1, group_by_length=True, **CPU_OPTIONS).build_trainer(context(tmp_path, tiny_lm))
    sampler = built._get_train_sampler()
    assert isinstance(sampler, ShuffledLengthGroups)
    assert sampler.lengths == [len(ids) for ids in built.train_dataset["input_ids"]]
    assert sampler.batch_size == built.args.train_batch_size
    plain = SFTTrainer(epochs=1, **CPU_OPTIONS).build_trainer(context(tmp_path, tiny_lm, out="plain"))
    assert not isinstance(plain._get_train_sampler(), ShuffledLengthGroups)
    # The loader cuts the sampler's indices into the sampler's batches.
    loader = built.get_train_dataloader()
    assert [len(batch["input_ids"]) for batch in loader] == [len(b) for b in sampler.batches()]
