"""RedStar's reinforcement-learning trainers, registered with ``redstar_register_trainers``:

- ``dpo`` (kind ``preference``): TRL's ``DPOTrainer`` on chosen/rejected pairs.
- ``grpo`` (kind ``online``): TRL's ``GRPOTrainer`` with the verifier's rule reward.
- ``ppo`` (kind ``online``): actor-critic PPO with GAE (:mod:`redstar_rl.ppo`).
- ``reinforce_pp`` (kind ``online``): REINFORCE++ (:mod:`redstar_rl.reinforce_pp`).

The estimators (GAE, returns, KL in the reward, normalisation, clipped losses) are pure functions
in :mod:`redstar_rl.advantages`. ``docs/training.md`` documents options and defaults.
"""

__version__ = "0.1.0"
