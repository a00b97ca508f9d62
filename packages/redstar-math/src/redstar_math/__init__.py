"""RedStar's math domain: prompt sources, difficulty scorers, the math verifier and benchmarks.

Registered with RedStar through the ``redstar`` entry point ``math`` (:mod:`redstar_math.plugin`).
Import cost is kept low: heavy libraries (transformers, sympy) load only when a scorer trains or
the sympy fallback runs.
"""

__version__ = "0.1.0"
