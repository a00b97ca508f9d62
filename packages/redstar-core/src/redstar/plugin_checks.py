"""What a plugin must be to be loaded: the hooks it may implement and what they may answer, and
the contract of each class it registers (checked by :class:`redstar.plugins.Host` as it loads
plugins; a plugin that breaks it is *failed*, with one line saying why)."""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable
from typing import Any

import pluggy

from redstar import hookspecs
from redstar.errors import PluginError
from redstar.faults import shown
from redstar.registry import DuplicateRegistration

#: Every hook RedStar declares (:mod:`redstar.hookspecs`).
HOOK_NAMES = tuple(name for name, fn in vars(hookspecs).items() if name.startswith("redstar_") and callable(fn))

#: What the hooks that answer something may answer (a hook spec's return annotation, checked
#: where RedStar receives it).
HOOK_RETURNS: dict[str, tuple[tuple[type, ...], str]] = {
    "redstar_default_recipe": ((dict, type(None)), "a dict (a partial recipe) or None"),
    "redstar_default_rl": ((list, tuple, type(None)), "a list of RL steps ({'trainer': NAME, 'options': {...}}) or None"),
    "redstar_pipeline_stages": ((list, tuple, type(None)), "a list of redstar.pipeline.stage.Stage or None"),
    "redstar_embedded_models": ((dict, list, tuple, type(None)),
                                "a dict of name -> folder, a list of folders, or None"),
}

#: The kinds of data a trainer may ask for (``Trainer.kind``).
TRAINER_KINDS = ("sft", "preference", "online")


class BadRegistration(PluginError):
    """A ``register`` call the hook's contract does not allow (the plugin's failure)."""


def _key(kind: str, cls: type) -> str:
    attr = "domain" if kind == "verifiers" else "name"
    key = getattr(cls, attr, None)
    if not isinstance(key, str) or not key:
        raise BadRegistration(f"{cls.__qualname__} has no {attr!r} string, which registering {kind} needs")
    return key


def base_class(kind: str) -> type:
    """The class every registered ``kind`` (``scorers``...) subclasses."""
    from redstar import interfaces

    return {"sources": interfaces.Source, "scorers": interfaces.Scorer, "samplers": interfaces.Sampler,
            "verifiers": interfaces.Verifier, "filters": interfaces.Filter, "trainers": interfaces.Trainer,
            "evaluators": interfaces.Evaluator}[kind]


def check_class(kind: str, cls: Any) -> str:
    """The key ``cls`` registers under, after checking it against its kind's contract: a class,
    subclassing the kind's base, implementing every abstract method, with its ``name`` (or a
    verifier's ``domain``), a source's and evaluator's ``domain``, and a trainer's ``kind``."""
    base = base_class(kind)
    if not isinstance(cls, type):
        raise BadRegistration(f"registered {shown(cls)}; expected a class that subclasses "
                              f"redstar.interfaces.{base.__name__} (register the class, not an instance)")
    if not issubclass(cls, base):
        raise BadRegistration(f"registered {cls.__qualname__}, which does not subclass "
                              f"redstar.interfaces.{base.__name__}")
    if inspect.isabstract(cls):
        missing = ", ".join(sorted(getattr(cls, "__abstractmethods__", ())))
        raise BadRegistration(f"registered {cls.__qualname__}, which does not implement {missing} "
                              f"(abstract in redstar.interfaces.{base.__name__})")
    key = _key(kind, cls)
    domain = getattr(cls, "domain", None)
    if kind in ("sources", "evaluators") and not (isinstance(domain, str) and domain):
        raise BadRegistration(f"registered {cls.__qualname__}, which has no 'domain' string")
    if kind == "trainers" and getattr(cls, "kind", None) not in TRAINER_KINDS:
        raise BadRegistration(f"registered {cls.__qualname__}, whose kind is {getattr(cls, 'kind', None)!r}; "
                              f"expected one of {', '.join(TRAINER_KINDS)} (the data file it trains on)")
    return key



def hook_problems(pm: pluggy.PluginManager, plugin: Any, name: str) -> list[str]:
    """Hook implementations of ``plugin`` (registered in ``pm`` as ``name``) that RedStar would never call. pluggy's
    ``PluginManager.check_pending`` finds the first implementation without a spec and raises;
    this names every one, with the hook it was probably meant to be."""
    problems = []
    for hook_name, caller in vars(pm.hook).items():
        if hook_name.startswith("_") or caller.has_spec():
            continue
        for impl in caller.get_hookimpls():
            if impl.plugin_name == name and not impl.optionalhook:
                close = difflib.get_close_matches(hook_name, HOOK_NAMES, n=1)
                hint = f"did you mean {close[0]}?" if close else "the hooks are listed in redstar.hookspecs"
                problems.append(f"{hook_name} is not a RedStar hook ({hint})")
    for hook_name in HOOK_NAMES:
        function = getattr(plugin, hook_name, None)
        if callable(function) and pm.parse_hookimpl_opts(plugin, hook_name) is None:
            problems.append(f"{hook_name} is not marked @redstar.hookimpl, so RedStar never calls it")
    return problems



def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or "(no message)"


def raised_at(exc: BaseException) -> str:
    """`` (at plugin.py:12)``: the last frame outside RedStar's own code, where a plugin raised."""
    tb, found = exc.__traceback__, ""
    while tb is not None:
        module = tb.tb_frame.f_globals.get("__name__", "")
        if module != "redstar" and not module.startswith("redstar.") and not module.startswith("pluggy"):
            found = f" (at {tb.tb_frame.f_code.co_filename.rsplit('/', 1)[-1]}:{tb.tb_lineno})"
        tb = tb.tb_next
    return found


def problems(host: Any) -> list[str]:
    """One line per failed plugin of ``host`` and per name more than one plugin registered."""
    lines = [f"{host.origin(name).describe()}: {problem}" for name, problem in host.failures.items()]
    for (kind, key), plugins in host.registry.duplicates.items():
        lines.append(str(DuplicateRegistration(kind[:-1], key, plugins[0], plugins[1])))
    return lines


def check_loaded(host: Any, warn: Callable[[str], None]) -> None:
    """What a run (and ``redstar recipe check``) does about plugin problems before its first
    stage. A failed plugin that ``REDSTAR_PLUGINS`` names, or one that adds pipeline stages,
    stops it (a run without them is not the run asked for); any other failed plugin and any name
    two plugins registered is a warning, since the run uses none of it: a component the recipe
    names is checked by name, and a name only a failed plugin could provide is an error that
    says so (:meth:`redstar.plugins.Host.get`). ``--plugins`` selections are checked by the CLI."""
    registry = host.registry
    for name, problem in host.failures.items():
        line = f"{host.origin(name).describe()} failed: {problem}"
        if host.allowed is not None and name in host.allowed:
            raise PluginError(f"{line} (REDSTAR_PLUGINS asks for it, so the run cannot go on without it)")
        if host.implements(name, "redstar_pipeline_stages"):
            raise PluginError(f"{line} (it adds pipeline stages, which the run would silently lack)")
        warn(f"warning: {line}; the run goes on without it")
    for (kind, key), plugins in registry.duplicates.items():
        warn(f"warning: {DuplicateRegistration(kind[:-1], key, plugins[0], plugins[1])}; a recipe that names it "
             f"is an error")
