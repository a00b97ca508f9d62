"""redstar-rl's hook implementations: the RL trainers, registered like any third-party plugin.

redstar-rl proposes no RL step for the embedded default recipe (no ``redstar_default_rl``), so
``redstar run --plugins math,code`` ends at SFT: the DPO step it used to add left the student
slightly worse than SFT alone in math (-0.033, p = 0.002, three seeds) and within noise in code,
and no RL method has yet been shown to help the tiny student on validation (docs/benchmarks.md,
"The embedded default run"). recipes/rl-after-sft.yaml runs RL after SFT.
"""

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
