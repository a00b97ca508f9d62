"""RedStar's trainers and the pieces they share.

- :mod:`redstar.trainers.sft`: the built-in ``sft`` trainer (TRL's ``SFTTrainer``).
- :mod:`redstar.trainers.sft_data`: SFT rows, and how the loss is kept off the prompt.
- :mod:`redstar.trainers.rows`: reading a trainer's JSONL file with named errors (all kinds).
- :mod:`redstar.trainers.settings`: device, precision and the TRL/transformers arguments common
  to every Hugging Face based trainer (``sft`` here, ``dpo`` and ``grpo`` in redstar-rl).
- :mod:`redstar.trainers.hf_run`: resume, train, save ``final`` (model and tokenizer).
- :mod:`redstar.trainers.lora`: the ``lora`` option and merging the adapter into ``final``.
- :mod:`redstar.trainers.reporting`: per-step metrics to ``TrainContext.metrics_file`` and
  ``TrainContext.on_step``.
- :mod:`redstar.trainers.deepspeed`: the ZeRO-2/ZeRO-3 configurations shipped with RedStar.
- :mod:`redstar.trainers.parallel`: Ulysses sequence parallelism through accelerate.

``docs/training.md`` documents every trainer, its options and the data formats.
"""
