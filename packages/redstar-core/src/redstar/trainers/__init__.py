"""RedStar's trainers and the pieces they share.

- :mod:`redstar.trainers.sft`: the built-in ``sft`` trainer (TRL's ``SFTTrainer``).
- :mod:`redstar.trainers.sft_data`: SFT rows, how the loss is kept off the prompt, and the
  memory-mapped dataset the SFT file becomes.
- :mod:`redstar.trainers.rows`: reading a trainer's JSONL file with named errors (all kinds).
- :mod:`redstar.trainers.settings`: the options every Hugging Face based trainer shares
  (``HFOptions``: ``sft`` here, ``dpo`` and ``grpo`` in redstar-rl, geo's ``vlm-sft``), checked
  when built, and what they become: TRL/transformers arguments, device and precision.
- :mod:`redstar.trainers.hf_run`: ``HFTrainer``, the base of those trainers: resume from the
  newest complete checkpoint, train, save ``final`` (model and tokenizer; LoRA merged).
- :mod:`redstar.trainers.checkpoints`: which ``checkpoint-N`` folder a rerun resumes from.
- :mod:`redstar.trainers.lora`: the ``lora`` option and merging the adapter into ``final``.
- :mod:`redstar.trainers.reporting`: per-step metrics to ``TrainContext.metrics_file`` and
  ``TrainContext.on_step``.
- :mod:`redstar.trainers.deepspeed`: the ZeRO-2, ZeRO-3 and ZeRO-3 offload configurations shipped
  with RedStar.
- :mod:`redstar.trainers.parallel`: Ulysses sequence parallelism through accelerate.

``docs/training.md`` documents every trainer, its options and the data formats.
"""
