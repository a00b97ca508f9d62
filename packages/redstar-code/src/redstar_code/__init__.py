"""RedStar's code domain: TACO problems, extraction of the program from a response, and
verification by running it against TACO's tests in a bubblewrap sandbox.

- :class:`~redstar_code.source.TacoSource` (source ``taco``) and
  :class:`~redstar_code.evaluator.TacoEvaluator` (benchmark ``taco``);
- :class:`~redstar_code.verifier.CodeVerifier` (domain ``code``);
- :class:`~redstar_code.checker.CodeChecker`, the engine behind it, usable on its own;
- :mod:`redstar_code.sandbox`, the isolation.
"""
