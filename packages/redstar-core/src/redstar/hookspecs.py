"""The hook specifications: RedStar's whole extension surface.

A plugin is a module (or object) with functions named like these specs and marked with
``@redstar.hookimpl``, published under the ``redstar`` entry-point group::

    [project.entry-points.redstar]
    mydomain = "redstar_mydomain"

Each ``redstar_register_*`` hook gets a ``register`` callable (a :data:`Register` of the kind's
base class); call it once per class you provide. Classes subclass the bases in
:mod:`redstar.interfaces`. Each docstring below says what the hook receives and what it returns,
and, for a registered class, what RedStar calls on it and what it must return: RedStar checks
these where it receives them, and a plugin that breaks them is named in one line
(:mod:`redstar.faults`): the plugin, its distribution and entry point, the class and method or
hook, the stage, and the problem. A hook that raises, returns a type its spec does not allow,
registers a class that does not subclass its kind's base (or leaves an abstract method out), or
a function named like no hook here (``redstar_register_filter``) makes the plugin *failed*:
``redstar plugins`` lists it, and it contributes nothing. Two plugins registering one name is
listed too, and a recipe that names it is an error naming both
(:class:`redstar.plugins.DuplicateRegistration`). The built-in pieces of RedStar (samplers,
cleaning filters, the SFT trainer, the tiny embedded models) and the math, code, geo and rl
packages use exactly these hooks. ``docs/plugins.md`` has a runnable example of each.
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

    A source's ``name`` is what a recipe's ``sources[].name`` refers to, its ``domain`` the domain
    of its prompts; its constructor's keyword arguments are the recipe's ``sources[].options``.
    The load stage calls ``load()``, which returns (or yields) :class:`~redstar.records.Prompt`
    records, and raises :class:`redstar.errors.InputError` naming file, line and field for bad
    input.

    Args:
        register: Call it with each Source subclass (the class, not an instance).

    Returns:
        None.
    """


@hookspec
def redstar_register_scorers(register: Register[Scorer]) -> None:
    """Register :class:`~redstar.interfaces.Scorer` subclasses: difficulty levels 1-10.

    A scorer's ``name`` is the recipe's ``scoring.scorer``; its constructor takes
    ``scoring.options``. The score stage calls ``score(prompts)`` with up to 256 prompts at a
    time; it returns a list of one level per prompt, in order, each a number in [1, 10].

    Args:
        register: Call it with each Scorer subclass.

    Returns:
        None.
    """


@hookspec
def redstar_register_samplers(register: Register[Sampler]) -> None:
    """Register :class:`~redstar.interfaces.Sampler` subclasses: generation backends
    (``transformers``, ``vllm``, ``openai`` are built in).

    A sampler's ``name`` is the recipe's ``sampling.backend`` (and ``evaluation.backend``); its
    constructor takes ``model`` (RedStar passes the teacher when sampling, the model under test
    when evaluating) and the recipe's ``sampling.options``. ``generate(conversations, params)``
    receives chat conversations (lists of ``{"role", "content"}`` messages, the last the question
    with the verifier's answer instruction) and :class:`~redstar.interfaces.SamplingParams`; it
    returns one list of ``params.n`` :class:`~redstar.interfaces.Completion` per conversation, in
    order, completion ``k`` of conversation ``c`` drawn from ``params.seeds[c][k]`` when given.

    Args:
        register: Call it with each Sampler subclass.

    Returns:
        None.
    """


@hookspec
def redstar_register_verifiers(register: Register[Verifier]) -> None:
    """Register :class:`~redstar.interfaces.Verifier` subclasses, one per domain; the domain
    name is the verifier's ``domain``. Registering a second verifier for a domain is an error
    that names both plugins.

    Its constructor takes the recipe's ``verifiers.<domain>`` options. ``messages(prompt)``
    returns the conversation to sample; ``verify(response, reference, metadata)`` returns a
    :class:`~redstar.records.Verdict` and never raises on model output;
    ``verify_many(pairs)`` returns one Verdict per ``(response, prompt)`` pair, in order.

    Args:
        register: Call it with each Verifier subclass.

    Returns:
        None.
    """


@hookspec
def redstar_register_filters(register: Register[Filter]) -> None:
    """Register :class:`~redstar.interfaces.Filter` subclasses: cleaning rules that drop
    samples (``repetition`` and ``language`` are built in).

    A filter's ``name`` is what ``cleaning.filters[].name`` refers to. The build stage calls
    ``check(response, prompt)`` on every verified sample that was not dropped before; it returns
    a short drop reason (a string, counted under that name) or None to keep the sample.

    Args:
        register: Call it with each Filter subclass.

    Returns:
        None.
    """


@hookspec
def redstar_register_trainers(register: Register[Trainer]) -> None:
    """Register :class:`~redstar.interfaces.Trainer` subclasses (``sft`` is built in; the rl
    plugin adds ``dpo``, ``ppo``, ``reinforce_pp`` and ``grpo``).

    A trainer's ``name`` is what ``sft.trainer`` and ``rl[].trainer`` refer to; its ``kind``
    (``sft``, ``preference`` or ``online``) picks its data file. ``train(ctx)`` receives a
    :class:`~redstar.interfaces.TrainContext` (the model to start from, the data file,
    ``output_dir`` = ``models/<tag>/`` of the run, the metrics file, ``on_step``, the seed, and
    for online RL the rule ``reward``); it saves the model under ``output_dir`` and returns a
    :class:`~redstar.interfaces.TrainResult` whose ``model_path`` exists.

    Args:
        register: Call it with each Trainer subclass.

    Returns:
        None.
    """


@hookspec
def redstar_register_evaluators(register: Register[Evaluator]) -> None:
    """Register :class:`~redstar.interfaces.Evaluator` subclasses: benchmarks. Their questions
    are also what curation decontaminates against.

    An evaluator's ``name`` is what ``evaluation.evaluators[].name`` and ``redstar eval
    --evaluator`` refer to, its ``domain`` picks the verifier that judges it; its constructor
    takes ``path`` and ``limit`` (``redstar eval`` passes them) and any other option. ``load()``
    returns a list of :class:`~redstar.records.Prompt` (``metadata["group"]`` breaks scores down).

    Args:
        register: Call it with each Evaluator subclass.

    Returns:
        None.
    """


@hookspec
def redstar_default_recipe() -> dict[str, Any] | None:
    """This plugin's part of the embedded default recipe (what ``redstar run`` does with no
    ``--recipe``): a partial recipe in the recipe format, typically ``sources``,
    ``evaluation.evaluators``, ``selection.mix`` and ``selection.domains.<domain>`` and, for a
    domain that needs its own models, ``models``, ``sampling.backend`` and ``evaluation.backend``.
    The parts of every selected plugin are merged over core's defaults
    (:data:`redstar.recipe.BASE_RECIPE`): lists are concatenated, mappings merged, and two
    plugins setting one value differently is an error naming both. When no selected part sets
    ``rl``, the steps of :func:`redstar_default_rl` are used (none from the built-in plugins:
    the embedded default ends at SFT); a part sets ``"rl": []`` for none.

    Receives nothing.

    Returns:
        A dict (a partial recipe), or None for no part. Anything else fails the plugin.

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
    """The RL steps of the embedded default recipe. Unlike :func:`redstar_default_recipe`, this
    hook is asked of every loaded plugin, selected with ``--plugins`` or not: RL trainers serve
    every domain. Core uses the steps only when no selected part sets ``rl`` itself, and drops a
    step whose trainer is not registered (a plugin whose trainers failed to load proposes
    nothing). Two plugins proposing different steps is an error naming both; the user then
    writes ``rl`` in a recipe.

    Receives nothing.

    Returns:
        A list in the format of a recipe's ``rl`` (``[{"trainer": NAME, "options": {...}}]``), or
        None to propose none.

    Example (a plugin whose default ends with one DPO epoch)::

        @hookimpl
        def redstar_default_rl():
            return [{"trainer": "dpo", "options": {"epochs": 1, "beta": 0.3}}]
    """


@hookspec
def redstar_embedded_models() -> dict[str, Path] | list[Path] | None:
    """Declare the models this plugin ships, which recipes and ``--model`` name as
    ``embedded:NAME`` (no download: the folders are inside the installed package). Core's own
    ``tiny-teacher`` and ``tiny-student`` are declared the same way. Two plugins declaring one
    name is an error naming both (:class:`redstar.plugins.DuplicateRegistration`).

    Receives nothing.

    Returns:
        A mapping ``{NAME: folder}``, each folder a model (``config.json`` plus weights and
        tokenizer), or a list of folders whose subfolders ``<NAME>/config.json`` are the models,
        or None.

    Example::

        from importlib import resources
        from pathlib import Path

        @hookimpl
        def redstar_embedded_models():
            return [Path(str(resources.files("redstar_mydomain"))) / "assets" / "models"]
    """


@hookspec
def redstar_register_commands(cli: Any) -> None:
    """Add Click commands to the ``redstar`` group. An exception a command raises is reported in
    one line naming the plugin (``--debug`` shows the traceback); raise ``click.ClickException``
    (or :class:`redstar.errors.InputError`) for an error of the user's.

    Args:
        cli: The ``redstar`` :class:`click.Group`: ``@cli.command()`` adds a command.

    Returns:
        None.
    """


@hookspec
def redstar_pipeline_stages() -> list[Any] | None:
    """Add stages to every run. The runner skips, resumes, redoes and times a plugin's stage like
    core's own stages; its ``part`` decides which ``--until`` includes it, its ``funnel`` rows
    join the summary (and the per-domain funnel, from ``counts["by_domain"][domain][key]``); a
    recipe leaves it out with ``stages: {NAME: false}``; ``redstar plugins`` lists it.

    The values a stage reads: ``load``, ``score`` and ``select``: lists of
    :class:`~redstar.records.Prompt`; ``sample``: a
    :class:`~redstar.pipeline.run_tables.SampleSet`, which iterates the run's
    :class:`~redstar.records.Sample` records streamed from the sharded table (``len()`` counts
    them); ``verify``: :class:`~redstar.pipeline.run_tables.JudgedSamples`, which iterates
    ``(Sample, Verdict)`` pairs, or ``by_shard()`` for lists of them a shard at a time. Iterate,
    do not collect: a run may hold millions of samples. Its ``work(ctx, inputs)`` returns an
    :class:`~redstar.pipeline.stage.Outcome` whose ``counts`` hold an int for each funnel row's
    key.

    Receives nothing.

    Returns:
        A list of :class:`redstar.pipeline.stage.Stage` objects, each with ``after`` naming the
        stage it runs after (``load``, ``score``, ``select``, ``sample``, ``verify``, ``build``,
        ``train``, ``evaluate``) and ``reads`` naming the stages whose values it needs; or None.

    Example (a stage that writes the count of the verified samples, in total and per domain)::

        from redstar.pipeline.stage import FunnelRow, Outcome, Stage

        def count(ctx, inputs):
            domain_of = {p.id: p.domain for p in inputs["select"]}
            by_domain = {}
            for sample, verdict in inputs["verify"]:
                by_domain.setdefault(domain_of[sample.prompt_id], {"verified": 0})["verified"] += 1
            n = sum(c["verified"] for c in by_domain.values())
            ctx.run.path("count.txt").write_text(str(n))
            return Outcome(n, {"verified": n, "by_domain": by_domain})

        @hookimpl
        def redstar_pipeline_stages():
            return [Stage("count", "curate", count, reads=("select", "verify"), after="verify",
                          outputs=("count.txt",), load=lambda ctx: int(ctx.run.path("count.txt").read_text()),
                          funnel=(FunnelRow("samples verified", "verified", "samples"),))]
    """
