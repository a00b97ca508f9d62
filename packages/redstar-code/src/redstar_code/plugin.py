"""redstar-code's hook implementations: the ``taco`` source and benchmark, the code verifier,
and the synthetic code problems (``redstar_code.synthetic``)."""

from redstar import hookimpl


@hookimpl
def redstar_register_sources(register):
    from redstar_code.source import TacoSource
    from redstar_code.synthetic import SyntheticCodeSource

    register(TacoSource)
    register(SyntheticCodeSource)


@hookimpl
def redstar_register_verifiers(register):
    from redstar_code.verifier import CodeVerifier

    register(CodeVerifier)


@hookimpl
def redstar_register_evaluators(register):
    from redstar_code.evaluator import TacoEvaluator
    from redstar_code.synthetic import SyntheticCodeEvaluator

    register(TacoEvaluator)
    register(SyntheticCodeEvaluator)
