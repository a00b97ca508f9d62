"""Built-in trainer: supervised fine-tuning with TRL (RL algorithms live in redstar-rl)."""

from redstar import hookimpl


@hookimpl
def redstar_register_trainers(register):
    from redstar.trainers.sft import SFTTrainer

    register(SFTTrainer)
