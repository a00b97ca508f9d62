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


#: How many synthetic problems the embedded default draws (evenly over levels 1-10); the 80% at
#: levels 2-9 are selected.
DEFAULT_PROMPTS = 400


@hookimpl
def redstar_default_recipe():
    """The math part of ``redstar run --plugins math`` (and of the code-math blend): synthetic
    word problems with levels, and the held-out synthetic set to evaluate on."""
    return {
        # Named explicitly (though they are core's defaults too) so that blending with a domain
        # that needs other models, such as geo's vision-language ones, is a clear error.
        "models": {"teacher": "embedded:tiny-teacher", "student": "embedded:tiny-student"},
        "sources": [{"name": "synthetic-math", "options": {"count": DEFAULT_PROMPTS, "seed": 0}}],
        # Levels 2-9, not the paper's 7-9: level 1 the tiny teacher nearly always solves and level
        # 10 almost never, and a student fine-tuned on levels 7-9 alone (chains of 6-8 steps)
        # learns to write 6-8 steps whatever the question and ends below its base, where
        # responses from the wider band lift it (measured: docs/tiny-models.md).
        # The band is math's own (selection.domains.math), so blends with other domains compose.
        "selection": {"domains": {"math": {"min_level": 2, "max_level": 9}}, "mix": {"math": 0.6}},
        # The held-out generator is disjoint by construction; its questions share template words.
        "decontamination": {"exact_only": ["synthetic-math-heldout"]},
        "evaluation": {"evaluators": [{"name": "synthetic-math-heldout", "options": {"count": 10, "seed": 0}}]},
    }
