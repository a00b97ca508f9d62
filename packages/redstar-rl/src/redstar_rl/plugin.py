"""redstar-rl's hook implementations: the RL trainers, registered like any third-party plugin,
and the RL step of the embedded default recipe."""

import copy

from redstar import hookimpl

#: The RL step of the embedded default (``redstar run --plugins math,code``): one epoch of DPO on
#: the curated preference pairs, after SFT.
DEFAULT_RL = [{"trainer": "dpo", "options": {"epochs": 1, "learning_rate": 5e-5, "beta": 0.3, "batch_size": 16,
                                            "grad_accum": 1}}]


@hookimpl
def redstar_default_rl():
    return copy.deepcopy(DEFAULT_RL)


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
