"""Finding, loading and querying plugins.

Plugins come from the ``redstar`` entry-point group. The environment variable ``REDSTAR_PLUGINS``
(a comma-separated allowlist, also set by ``redstar --plugins``) limits which installed plugins
load; core's built-in plugins always load. A plugin that fails to import, whose hook raises or
returns the wrong type, that implements a hook no spec declares (a misspelt
``redstar_register_filter``), or that registers a class which does not subclass its kind's base
is *failed*: it is reported in :attr:`Host.failures`, contributes nothing (none of its classes,
stages or recipe parts), and every other plugin keeps working. Two plugins registering one name
are recorded in :attr:`Registry.duplicates`; asking for that name is an error naming both
(:class:`DuplicateRegistration`): which of the two a recipe would get is not for RedStar to guess.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import pluggy

from redstar import hookspecs
from redstar.errors import PluginError, RedStarError
from redstar.faults import Origin, record_class, record_plugin, shown
from redstar.plugin_checks import (
    HOOK_RETURNS,
    BadRegistration,
    check_class,
    check_loaded,
    hook_problems,
    one_line,
    problems,
    raised_at,
)
from redstar.registry import REGISTER_HOOKS, DuplicateRegistration, PluginInfo, Registry

ENTRY_POINT_GROUP = "redstar"
ALLOWLIST_ENV = "REDSTAR_PLUGINS"

#: Core's own features, registered through the same hooks a third party uses.
BUILTIN_MODULES = (
    "redstar.builtin.samplers",
    "redstar.builtin.filters",
    "redstar.builtin.trainers",
    "redstar.builtin.scorers",
    "redstar.builtin.models",
)

EMBEDDED_MODELS_HOOK = "redstar_embedded_models"

@dataclass(frozen=True)
class EmbeddedModel:
    """A model a plugin ships (``embedded:NAME``): its ``folder`` holds ``config.json``."""

    name: str
    folder: Path
    plugin: str


class Host:
    """A plugin manager plus the registry built from it. Create one per process (``get_host``)
    or, in tests, a fresh one with ``load_entry_points=False``."""

    def __init__(self, load_entry_points: bool = True, allow: Iterable[str] | None = None,
                 builtins: bool = True) -> None:
        self.pm = pluggy.PluginManager("redstar")
        self.pm.add_hookspecs(hookspecs)
        #: plugin name -> what went wrong (one line); a failed plugin contributes nothing.
        self.failures: dict[str, str] = {}
        #: The plugins named by the allowlist (``REDSTAR_PLUGINS``/``allow``), None for all.
        self.allowed: set[str] | None = None
        self._infos: dict[str, PluginInfo] = {}
        #: Plugins that failed before they could register (an import error), for messages.
        self._origins: dict[str, Origin] = {}
        self._registry: Registry | None = None
        self._models: dict[str, EmbeddedModel] | None = None
        #: The folders the plugins' list answers to ``redstar_embedded_models`` named (error messages).
        self.model_folders: list[tuple[str, Path]] = []
        if builtins:
            for module_name in BUILTIN_MODULES:
                self.register(importlib.import_module(module_name), name=f"core:{module_name.rsplit('.', 1)[1]}",
                              builtin=True)
        if load_entry_points:
            self._load_entry_points(allow)

    # -- loading -------------------------------------------------------------------------
    def _load_entry_points(self, allow: Iterable[str] | None) -> None:
        if allow is None:
            env = os.environ.get(ALLOWLIST_ENV, "").strip()
            allow = [p.strip() for p in env.split(",") if p.strip()] if env else None
        wanted = self.allowed = None if allow is None else set(allow)
        found = set()
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            found.add(ep.name)
            if wanted is not None and ep.name not in wanted:
                continue
            if self.pm.has_plugin(ep.name):
                continue
            version = ep.dist.version if ep.dist is not None else None
            dist = ep.dist.name if ep.dist is not None else None
            entry = f"{ep.name} = {ep.value}"
            self._origins[ep.name] = Origin(ep.name, ep.module, dist, version, entry)
            try:
                plugin = ep.load()
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # a broken plugin must not take the host down (sys.exit included)
                self.failures[ep.name] = f"import failed: {type(exc).__name__}: {one_line(exc)}"
                continue
            try:
                self.register(plugin, name=ep.name, version=version, dist=dist, entry_point=entry)
            except KeyboardInterrupt:
                raise
            except BaseException as exc:
                # pluggy checks each hook's arguments against its spec (``register`` misspelt...)
                self.failures[ep.name] = f"registration failed: {type(exc).__name__}: {one_line(exc)}"
        if wanted is not None:
            for missing in sorted(wanted - found):
                self.failures[missing] = (
                    f"not installed (no {ENTRY_POINT_GROUP!r} entry point named {missing!r}; "
                    f"try `pip install redstar-{missing}`)"
                )

    def register(self, plugin: Any, name: str | None = None, version: str | None = None,
                 builtin: bool = False, dist: str | None = None, entry_point: str | None = None) -> str:
        """Register a plugin object (a module or any object with hook implementations). A
        function that looks like a hook but is not one (a misspelt name, a missing
        ``@hookimpl``) makes the plugin failed."""
        name = self.pm.register(plugin, name=name)
        if name is None:
            raise PluginError(f"plugin {name!r} is already registered")
        module = getattr(plugin, "__name__", type(plugin).__module__)
        info = self._infos[name] = PluginInfo(name=name, version=version, module=module, builtin=builtin,
                                              dist=dist, entry_point=entry_point)
        record_plugin(info.origin)
        problems = hook_problems(self.pm, plugin, name)
        if problems:
            self.failures[name] = "; ".join(problems)
        self._registry = None
        self._models = None
        return name

    @property
    def infos(self) -> dict[str, PluginInfo]:
        """Every registered plugin, with what it provides (registering runs first)."""
        _ = self.registry
        return self._infos

    # -- the registry --------------------------------------------------------------------
    @property
    def registry(self) -> Registry:
        if self._registry is None:
            self._registry = self._build_registry()
        return self._registry

    def _build_registry(self) -> Registry:
        registry = Registry()
        for info in self._infos.values():
            info.provides = {}
            info.hooks = []
        # (kind, key) -> every (plugin, class) that registered it, in registration order
        offered: dict[tuple[str, str], list[tuple[str, type]]] = {}
        for hook_name, kind in REGISTER_HOOKS.items():
            hook = getattr(self.pm.hook, hook_name)
            for impl in hook.get_hookimpls():
                plugin_name = impl.plugin_name
                if plugin_name in self.failures:
                    continue

                def register(cls: type, _kind: str = kind, _plugin: str = plugin_name) -> None:
                    key = check_class(_kind, cls)
                    info = self._infos.get(_plugin)
                    if info is not None:
                        record_class(cls, info.origin, _kind, key)
                    by = offered.setdefault((_kind, key), [])
                    mine = [other for plugin, other in by if plugin == _plugin]
                    if mine and mine[0] is not cls:  # which one a recipe gets would be a guess
                        raise BadRegistration(f"registers two classes under the {_kind[:-1]} name {key!r} "
                                              f"({mine[0].__qualname__}, {cls.__qualname__})")
                    if not mine:
                        by.append((_plugin, cls))

                try:
                    impl.function(register=register)
                except KeyboardInterrupt:
                    raise
                except BaseException as exc:
                    self._fail(plugin_name, hook_name, exc)
        # A failed plugin contributes nothing, not even what it registered before it failed.
        for (kind, key), by in offered.items():
            usable = [(plugin, cls) for plugin, cls in by if plugin not in self.failures]
            if not usable:
                continue
            registry.owners[(kind, key)], registry.items[kind][key] = usable[0]
            if len(usable) > 1:
                registry.duplicates[(kind, key)] = [plugin for plugin, _ in usable]
            for plugin, _ in usable:
                provider = self._infos.get(plugin)
                if provider is not None:
                    provider.provides.setdefault(kind, []).append(key)
        for hook_name in ("redstar_default_recipe", "redstar_default_rl", "redstar_pipeline_stages", EMBEDDED_MODELS_HOOK,
                          "redstar_register_commands", *REGISTER_HOOKS):
            for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
                hooked = self._infos.get(impl.plugin_name)
                if hooked is not None and hook_name not in hooked.hooks:
                    hooked.hooks.append(hook_name)
        return registry

    def _fail(self, plugin_name: str, hook_name: str, exc: BaseException) -> None:
        """Record that ``plugin_name``'s ``hook_name`` raised ``exc`` (or answered what its spec
        does not allow: a :class:`BadRegistration`); its first failure is the one kept. The
        registry is rebuilt without it on next use."""
        if plugin_name in self.failures:
            return
        if isinstance(exc, BadRegistration):
            self.failures[plugin_name] = f"{hook_name}: {exc}"
        else:
            self.failures[plugin_name] = f"{hook_name} raised {type(exc).__name__}: {one_line(exc)}{raised_at(exc)}"
        self._registry = None
        self._models = None

    def get(self, kind: str, key: str) -> type:
        try:
            return self.registry.get(kind, key)
        except DuplicateRegistration:
            raise
        except PluginError as exc:
            failed = [f"{self.origin(n).describe()} ({problem})" for n, problem in self.failures.items()]
            if not failed:
                raise
            raise PluginError(f"{exc}; these plugins failed to load and may be the one: {'; '.join(failed)}") from None

    # -- problems ------------------------------------------------------------------------
    def origin(self, name: str) -> Origin:
        """How messages name plugin ``name``: its distribution and entry point where known."""
        info = self._infos.get(name)
        if info is not None:
            return info.origin
        return self._origins.get(name) or Origin(name, "")

    def implements(self, name: str, hook_name: str) -> bool:
        return any(impl.plugin_name == name for impl in getattr(self.pm.hook, hook_name).get_hookimpls())

    def problems(self) -> list[str]:
        """One line per failed plugin and per name more than one plugin registered."""
        return problems(self)

    def check_loaded(self, warn: Callable[[str], None]) -> None:
        """Before a run's first stage: stop or warn about the plugin problems (:func:`~redstar.plugin_checks.check_loaded`)."""
        check_loaded(self, warn)

    # -- defaults ------------------------------------------------------------------------
    def default_rl(self) -> list[dict[str, Any]]:
        """The RL steps the embedded default recipe runs when no selected part sets ``rl``: what
        the loaded plugins propose through ``redstar_default_rl`` (the built-in plugins propose none),
        keeping only steps whose trainer is registered, so a plugin whose trainers failed to load
        proposes nothing. Two plugins proposing different steps is a PluginError naming both."""
        trainers = set(self.names("trainers"))  # builds the registry: failed plugins are known after
        proposals = []
        for plugin_name, steps in self.call_each("redstar_default_rl"):
            if plugin_name in self.failures or not steps:
                continue
            usable = [step for step in steps if isinstance(step, dict) and step.get("trainer") in trainers]
            if usable:
                proposals.append((plugin_name, usable))
        for (first, a), (second, b) in zip(proposals, proposals[1:]):
            if a != b:
                raise PluginError(f"plugins {first!r} and {second!r} propose different default RL steps "
                                  f"({a!r} vs {b!r}); write the rl you want in a recipe (--recipe)")
        return copy.deepcopy(proposals[0][1]) if proposals else []

    # -- embedded models -----------------------------------------------------------------
    def embedded_models(self) -> dict[str, EmbeddedModel]:
        """Every model the plugins declare through ``redstar_embedded_models``, by name. A
        plugin whose hook raises or answers something else than a mapping or a list is recorded
        in ``failures``; two plugins declaring one name raise :class:`DuplicateRegistration`."""
        if self._models is None:
            self._models = self._collect_models()
        return self._models

    def _collect_models(self) -> dict[str, EmbeddedModel]:
        models: dict[str, EmbeddedModel] = {}
        self.model_folders = []
        # call_each answers the last registered first; registration order reads better in errors
        for plugin_name, declared in reversed(self.call_each(EMBEDDED_MODELS_HOOK)):
            if declared is None:
                continue
            if isinstance(declared, dict):
                found = [(str(name), Path(folder)) for name, folder in declared.items()]
            elif isinstance(declared, (list, tuple)):
                found = []
                for folder in map(Path, declared):
                    self.model_folders.append((plugin_name, folder))
                    children = sorted(folder.iterdir()) if folder.is_dir() else []
                    found += [(child.name, child) for child in children if (child / "config.json").is_file()]
            else:  # call_each lets only these types through
                continue
            for name, folder in found:
                owner = models.get(name)
                if owner is not None and owner.plugin != plugin_name:
                    raise DuplicateRegistration("embedded model", name, owner.plugin, plugin_name)
                models[name] = EmbeddedModel(name, folder, plugin_name)
        return models

    def names(self, kind: str) -> list[str]:
        return sorted(self.registry.items[kind])

    def plugin_names(self, include_builtin: bool = False) -> list[str]:
        return [n for n, i in self._infos.items() if include_builtin or not i.builtin]

    def call_each(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call a hook plugin by plugin, returning (plugin name, result) pairs. Failed plugins
        are not asked; a plugin whose hook raises, or answers a type its spec does not allow
        (:data:`HOOK_RETURNS`), is recorded in ``failures`` instead of stopping the others."""
        _ = self.registry  # registering first: a plugin whose registration failed is known
        results = []
        allowed, expected = HOOK_RETURNS.get(hook_name, ((object,), ""))
        for impl in reversed(getattr(self.pm.hook, hook_name).get_hookimpls()):
            if impl.plugin_name in self.failures:
                continue
            try:
                answer = impl.function(**kwargs)
            except KeyboardInterrupt:
                raise
            except BaseException as exc:
                self._fail(impl.plugin_name, hook_name, exc)
                continue
            if not isinstance(answer, allowed):
                self._fail(impl.plugin_name, hook_name, BadRegistration(f"returned {shown(answer)}; expected {expected}"))
                continue
            results.append((impl.plugin_name, answer))
        return results


_host: Host | None = None


def get_host() -> Host:
    """The process-wide host, loaded on first use (after ``--plugins`` has set the allowlist)."""
    global _host
    if _host is None:
        _host = Host()
    return _host


def reset_host(host: Host | None = None) -> None:
    """Replace the process-wide host (tests; ``redstar --plugins``)."""
    global _host
    _host = host


def instantiate(cls: type, options: dict[str, Any],
                where: Callable[[str | None, str], Exception] | None = None) -> Any:
    """Construct a plugin class from recipe options, turning unknown or missing options, and a
    ``ValueError``/``TypeError`` raised by the constructor, into a readable error (``where(option,
    message)`` builds it, with ``option`` None when no single option is to blame; by default a
    PluginError)."""
    from redstar.interfaces import constructor, options_of

    accepted = options_of(cls)

    takes_any = any(p.kind is p.VAR_KEYWORD for p in inspect.signature(constructor(cls)).parameters.values())
    for key in options:
        if key not in accepted and not takes_any:
            msg = f"unknown option {key!r} for {cls.__name__}; it takes: {', '.join(accepted) or 'no options'}"
            raise (where(key, msg) if where else PluginError(msg))
    for key, default in accepted.items():
        if default is inspect.Parameter.empty and key not in options:
            msg = f"{cls.__name__} needs option {key!r}"
            raise (where(key, msg) if where else PluginError(msg))
    try:
        return cls(**options)
    except PluginError:
        raise
    except (ValueError, TypeError) as exc:
        # A constructor that rejects a value (a negative timeout, an unknown mode) is the user's
        # option to fix, not a crash: say which plugin and why (``where(None, ...)`` names the
        # recipe section, since the exception does not say which option it was).
        msg = f"{cls.__name__} rejected its options {options!r}: {exc}"
        raise (where(None, msg) if where else PluginError(msg)) from exc
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # any other exception of a plugin's constructor is the plugin's fault (sys.exit too)
        from redstar.faults import DEBUG_HINT, fault

        if isinstance(exc, RedStarError):
            raise
        raise fault(cls, "__init__", f"raised {type(exc).__name__}: {one_line(exc)}{raised_at(exc)}; "
                                     f"{DEBUG_HINT}") from exc
