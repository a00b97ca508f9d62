"""The hook specifications: RedStar's whole extension surface.

A plugin is a module (or object) with functions named like these specs and marked with
``@redstar.hookimpl``, published under the ``redstar`` entry-point group::

    [project.entry-points.redstar]
    mydomain = "redstar_mydomain"

Each ``redstar_register_*`` hook gets a ``register`` callable; call it once per class you
provide. Classes subclass the bases in :mod:`redstar.interfaces`. The built-in pieces of RedStar
(samplers, cleaning filters, the SFT trainer) and the math, code, geo and rl packages register
through exactly these hooks. ``docs/plugins.md`` has a runnable example of each.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("redstar")

Register = Callable[[type], None]


@hookspec
def redstar_register_sources(register: Register) -> None:
    """Register :class:`~redstar.interfaces.Source` subclasses: where prompts come from.

    A source's ``name`` is what a recipe's ``sources[].name`` refers to; its constructor's
    keyword arguments are the recipe's ``sources[].options``.
    """


@hookspec
def redstar_register_scorers(register: Register) -> None:
    """Register :class:`~redstar.interfaces.Scorer` subclasses: difficulty levels 1-10."""


@hookspec
def redstar_register_samplers(register: Register) -> None:
    """Register :class:`~redstar.interfaces.Sampler` subclasses: generation backends
    (``transformers``, ``vllm``, ``openai`` are built in)."""


@hookspec
def redstar_register_verifiers(register: Register) -> None:
    """Register :class:`~redstar.interfaces.Verifier` subclasses, one per domain; the domain
    name is the verifier's ``domain``. Registering a second verifier for a domain is an error
    that names both plugins."""


@hookspec
def redstar_register_filters(register: Register) -> None:
    """Register :class:`~redstar.interfaces.Filter` subclasses: cleaning rules that drop
    samples (``repetition`` and ``language`` are built in)."""


@hookspec
def redstar_register_trainers(register: Register) -> None:
    """Register :class:`~redstar.interfaces.Trainer` subclasses (``sft`` is built in; the rl
    plugin adds ``dpo``, ``ppo``, ``reinforce_pp`` and ``grpo``)."""


@hookspec
def redstar_register_evaluators(register: Register) -> None:
    """Register :class:`~redstar.interfaces.Evaluator` subclasses: benchmarks. Their questions
    are also what curation decontaminates against."""


@hookspec
def redstar_default_recipe() -> dict[str, Any] | None:
    """Return this plugin's part of the embedded default recipe (what ``redstar run`` does with
    no ``--recipe``): a partial recipe in the recipe format, typically ``sources``,
    ``evaluation.evaluators``, ``selection.mix`` and, for a domain that needs its own models,
    ``models``, ``sampling.backend`` and ``evaluation.backend``. The parts of every selected plugin
    are merged over core's defaults (:data:`redstar.recipe.BASE_RECIPE`): lists are concatenated,
    mappings merged, and two plugins setting one value differently is an error naming both.
    Core adds a DPO step when redstar-rl is installed, unless a part sets ``rl`` itself
    (``"rl": []`` for none).

    Example::

        @hookimpl
        def redstar_default_recipe():
            return {
                "sources": [{"name": "synthetic-math", "options": {"count": 300}}],
                "selection": {"mix": {"math": 0.5}},
                "evaluation": {"evaluators": [{"name": "synthetic-math-heldout", "options": {}}]},
            }
    """


@hookspec
def redstar_register_commands(cli: Any) -> None:
    """Add Click commands to the ``redstar`` group: ``cli`` is the :class:`click.Group`."""
