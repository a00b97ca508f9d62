"""The hook specifications: RedStar's whole extension surface.

A plugin is a module (or object) with functions named like these specs and marked with
``@redstar.hookimpl``, published under the ``redstar`` entry-point group::

    [project.entry-points.redstar]
    mydomain = "redstar_mydomain"

Each ``redstar_register_*`` hook gets a ``register`` callable (a :data:`Register` of the kind's
base class); call it once per class you provide. Classes subclass the bases in
:mod:`redstar.interfaces`. Registering a name that another plugin already registered raises
:class:`redstar.plugins.DuplicateRegistration`, naming both plugins. The built-in pieces of
RedStar (samplers, cleaning filters, the SFT trainer, the tiny embedded models) and the math,
code, geo and rl packages use exactly these hooks. ``docs/plugins.md`` has a runnable example of
each.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pluggy

if TYPE_CHECKING:  # annotations only: interfaces must not be imported to load the specs
    from redstar.interfaces import Evaluator, Filter, Sampler, Scorer, Source, Trainer, Verifier

hookspec = pluggy.HookspecMarker("redstar")

T = TypeVar("T")

#: The ``register`` argument of a ``redstar_register_*`` hook: ``Register[Source]`` takes a
#: :class:`~redstar.interfaces.Source` subclass (the class, not an instance) and returns nothing.
Register = Callable[[type[T]], None]


@hookspec
def redstar_register_sources(register: Register[Source]) -> None:
    """Register :class:`~redstar.interfaces.Source` subclasses: where prompts come from.

    A source's ``name`` is what a recipe's ``sources[].name`` refers to; its constructor's
    keyword arguments are the recipe's ``sources[].options``.
    """


@hookspec
def redstar_register_scorers(register: Register[Scorer]) -> None:
    """Register :class:`~redstar.interfaces.Scorer` subclasses: difficulty levels 1-10."""


@hookspec
def redstar_register_samplers(register: Register[Sampler]) -> None:
    """Register :class:`~redstar.interfaces.Sampler` subclasses: generation backends
    (``transformers``, ``vllm``, ``openai`` are built in)."""


@hookspec
def redstar_register_verifiers(register: Register[Verifier]) -> None:
    """Register :class:`~redstar.interfaces.Verifier` subclasses, one per domain; the domain
    name is the verifier's ``domain``. Registering a second verifier for a domain is an error
    that names both plugins."""


@hookspec
def redstar_register_filters(register: Register[Filter]) -> None:
    """Register :class:`~redstar.interfaces.Filter` subclasses: cleaning rules that drop
    samples (``repetition`` and ``language`` are built in)."""


@hookspec
def redstar_register_trainers(register: Register[Trainer]) -> None:
    """Register :class:`~redstar.interfaces.Trainer` subclasses (``sft`` is built in; the rl
    plugin adds ``dpo``, ``ppo``, ``reinforce_pp`` and ``grpo``)."""


@hookspec
def redstar_register_evaluators(register: Register[Evaluator]) -> None:
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
    When no selected part sets ``rl``, the steps of :func:`redstar_default_rl` are used (with
    redstar-rl installed, one DPO step); a part sets ``"rl": []`` for none.

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
def redstar_default_rl() -> list[dict[str, Any]] | None:
    """Return the RL steps of the embedded default recipe, in the format of a recipe's ``rl``
    list (``[{"trainer": NAME, "options": {...}}]``), or None to propose none. Unlike
    :func:`redstar_default_recipe`, this hook is asked of every loaded plugin, selected with
    ``--plugins`` or not: RL trainers serve every domain. Core uses the steps only when no
    selected part sets ``rl`` itself, and drops a step whose trainer is not registered (a plugin
    whose trainers failed to load proposes nothing). Two plugins proposing different steps is an
    error naming both; the user then writes ``rl`` in a recipe.

    Example (what redstar-rl returns)::

        @hookimpl
        def redstar_default_rl():
            return [{"trainer": "dpo", "options": {"epochs": 1, "beta": 0.3}}]
    """


@hookspec
def redstar_embedded_models() -> dict[str, Path] | list[Path] | None:
    """Declare the models this plugin ships, which recipes and ``--model`` name as
    ``embedded:NAME`` (no download: the folders are inside the installed package). Return either
    a mapping ``{NAME: folder}``, each folder a model (``config.json`` plus weights and
    tokenizer), or a list of folders whose subfolders ``<NAME>/config.json`` are the models.
    Core's own ``tiny-teacher`` and ``tiny-student`` are declared the same way. Two plugins
    declaring one name is an error naming both (:class:`redstar.plugins.DuplicateRegistration`).

    Example::

        from importlib import resources
        from pathlib import Path

        @hookimpl
        def redstar_embedded_models():
            return [Path(str(resources.files("redstar_mydomain"))) / "assets" / "models"]
    """


@hookspec
def redstar_register_commands(cli: Any) -> None:
    """Add Click commands to the ``redstar`` group: ``cli`` is the :class:`click.Group`."""


@hookspec
def redstar_pipeline_stages() -> list[Any] | None:
    """Add stages to every run: return :class:`redstar.pipeline.stage.Stage` objects, each with
    ``after`` naming the stage it runs after (``load``, ``score``, ``select``, ``sample``,
    ``verify``, ``build``, ``train``, ``evaluate``) and ``reads`` naming the stages whose values
    it needs. The runner skips, resumes, redoes and times it like core's own stages; its
    ``part`` decides which ``--until`` includes it, its ``funnel`` rows join the summary.

    The values a stage reads: ``load``, ``score`` and ``select``: lists of
    :class:`~redstar.records.Prompt`; ``sample``: a
    :class:`~redstar.pipeline.run_tables.SampleSet`, which iterates the run's
    :class:`~redstar.records.Sample` records streamed from the sharded table (``len()`` counts
    them); ``verify``: :class:`~redstar.pipeline.run_tables.JudgedSamples`, which iterates
    ``(Sample, Verdict)`` pairs, or ``by_shard()`` for lists of them a shard at a time. Iterate,
    do not collect: a run may hold millions of samples.

    Example (a stage that writes a per-domain count of the verified samples)::

        from redstar.pipeline.stage import Outcome, Stage

        def count(ctx, inputs):
            n = len(inputs["verify"])
            ctx.run.path("count.txt").write_text(str(n))
            return Outcome(n, {"verified": n})

        @hookimpl
        def redstar_pipeline_stages():
            return [Stage("count", "curate", count, reads=("verify",), after="verify",
                          outputs=("count.txt",), load=lambda ctx: int(ctx.run.path("count.txt").read_text()))]
    """
