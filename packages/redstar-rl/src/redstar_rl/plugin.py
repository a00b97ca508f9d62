"""redstar-rl's hook implementations: the RL trainers, registered like any third-party plugin."""

from redstar import hookimpl


@hookimpl
def redstar_register_trainers(register):
    from redstar_rl.dpo import DPOTrainer
    from redstar_rl.grpo import GRPOTrainer
    from redstar_rl.ppo import PPOTrainer
    from redstar_rl.reinforce_pp import ReinforcePPTrainer

    register(DPOTrainer)
    register(PPOTrainer)
    register(ReinforcePPTrainer)
    register(GRPOTrainer)
