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


#: How many synthetic problems the embedded default draws; about 40% land at levels 3-6,
#: the band the default selection keeps for the tiny teacher.
DEFAULT_PROMPTS = 200


@hookimpl
def redstar_default_recipe():
    """The code part of ``redstar run --plugins code`` (and of the code-math blend): synthetic
    TACO-format problems with levels, and the held-out synthetic set to evaluate on."""
    return {
        # Named explicitly (though they are core's defaults too) so that blending with a domain
        # that needs other models, such as geo's vision-language ones, is a clear error.
        "models": {"teacher": "embedded:tiny-teacher", "student": "embedded:tiny-student"},
        "sources": [{"name": "synthetic-code", "options": {"count": DEFAULT_PROMPTS, "seed": 0}}],
        # The tiny teacher solves some problems up to level 6 and almost none above (measured:
        # docs/tiny-models.md), so the miniature keeps the hardest band it can still learn from;
        # the paper's 7-9 is its own scale, for real teachers.
        "selection": {"min_level": 3, "max_level": 6, "mix": {"code": 0.4}},
        # The held-out generator is disjoint by construction; its questions share template words.
        "decontamination": {"exact_only": ["synthetic-code-heldout"]},
        "evaluation": {"evaluators": [{"name": "synthetic-code-heldout", "options": {"count": 6, "seed": 0}}]},
    }
