"""RedStar's math plugin: the hook implementations behind the ``math`` entry point.

Imports happen inside the hooks so that loading the plugin stays cheap; a missing module (such as
``redstar_math.synthetic``) makes the hook fail loudly, and the host reports the plugin as failed.
"""

from __future__ import annotations

from redstar import hookimpl


@hookimpl
def redstar_register_sources(register):
    from redstar_math.sources import GSM8KSource, MATHSource, MathTableSource, MetaMathSource, NuminaMathSource
    from redstar_math.synthetic import SyntheticMathSource

    for source in (MetaMathSource, NuminaMathSource, MATHSource, GSM8KSource, MathTableSource, SyntheticMathSource):
        register(source)


@hookimpl
def redstar_register_scorers(register):
    from redstar_math.difficulty_model import TrainedScorer
    from redstar_math.judge import LLMJudgeScorer

    register(LLMJudgeScorer)
    register(TrainedScorer)


@hookimpl
def redstar_register_verifiers(register):
    from redstar_math.verifier import MathVerifier

    register(MathVerifier)


@hookimpl
def redstar_register_evaluators(register):
    from redstar_math.evaluators import ALL_EVALUATORS
    from redstar_math.synthetic import SyntheticMathEvaluator

    for evaluator in (*ALL_EVALUATORS, SyntheticMathEvaluator):
        register(evaluator)


@hookimpl
def redstar_register_commands(cli):
    from redstar_math.cli import score_model

    cli.add_command(score_model)


#: How many synthetic problems the embedded default draws; about 40% land at levels 3-6,
#: the band the default selection keeps for the tiny teacher.
DEFAULT_PROMPTS = 300


@hookimpl
def redstar_default_recipe():
    """The math part of ``redstar run --plugins math`` (and of the code-math blend): synthetic
    word problems with levels, and the held-out synthetic set to evaluate on."""
    return {
        # Named explicitly (though they are core's defaults too) so that blending with a domain
        # that needs other models, such as geo's vision-language ones, is a clear error.
        "models": {"teacher": "embedded:tiny-teacher", "student": "embedded:tiny-student"},
        "sources": [{"name": "synthetic-math", "options": {"count": DEFAULT_PROMPTS, "seed": 0}}],
        # The tiny teacher solves some problems up to level 6 and almost none above (measured:
        # docs/tiny-models.md), so the miniature keeps the hardest band it can still learn from;
        # the paper's 7-9 is its own scale, for real teachers.
        "selection": {"min_level": 3, "max_level": 6, "mix": {"math": 0.6}},
        # The held-out generator is disjoint by construction; its questions share template words.
        "decontamination": {"exact_only": ["synthetic-math-heldout"]},
        "evaluation": {"evaluators": [{"name": "synthetic-math-heldout", "options": {"count": 8, "seed": 0}}]},
    }
