"""Finding, loading and querying plugins.

Plugins come from the ``redstar`` entry-point group. The environment variable ``REDSTAR_PLUGINS``
(a comma-separated allowlist, also set by ``redstar --plugins``) limits which installed plugins
load; core's built-in plugins always load. A plugin that fails to import, or whose hook raises,
is reported by name in :attr:`Host.failures` while every other plugin keeps working. Two plugins
registering one name is not such a failure but an error for the whole host
(:class:`DuplicateRegistration`): which of the two a recipe would get is not for RedStar to guess.
"""

from __future__ import annotations

import copy
import importlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import pluggy

from redstar import hookspecs
from redstar.errors import PluginError

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

#: hook name -> the kind of thing it registers, as shown by ``redstar plugins``.
REGISTER_HOOKS = {
    "redstar_register_sources": "sources",
    "redstar_register_scorers": "scorers",
    "redstar_register_samplers": "samplers",
    "redstar_register_verifiers": "verifiers",
    "redstar_register_filters": "filters",
    "redstar_register_trainers": "trainers",
    "redstar_register_evaluators": "evaluators",
}


class DuplicateRegistration(PluginError):
    """Two plugins registered the same name (a class key, or an embedded model name)."""

    def __init__(self, what: str, key: str, first: str, second: str) -> None:
        super().__init__(f"{what} {key!r} is registered by both {first!r} and {second!r}")
        self.what, self.key, self.plugins = what, key, (first, second)


@dataclass(frozen=True)
class EmbeddedModel:
    """A model a plugin ships (``embedded:NAME``): its ``folder`` holds ``config.json``."""

    name: str
    folder: Path
    plugin: str


def _key(kind: str, cls: type) -> str:
    attr = "domain" if kind == "verifiers" else "name"
    key = getattr(cls, attr, None)
    if not isinstance(key, str) or not key:
        raise PluginError(f"{cls.__qualname__} has no {attr!r} string, which registering {kind} needs")
    return key


@dataclass
class PluginInfo:
    name: str
    version: str | None
    module: str
    builtin: bool
    provides: dict[str, list[str]] = field(default_factory=dict)
    hooks: list[str] = field(default_factory=list)


@dataclass
class Registry:
    """Everything the loaded plugins registered, by kind then key, and who registered it."""

    items: dict[str, dict[str, type]] = field(default_factory=lambda: {k: {} for k in REGISTER_HOOKS.values()})
    owners: dict[tuple[str, str], str] = field(default_factory=dict)

    def get(self, kind: str, key: str) -> type:
        try:
            return self.items[kind][key]
        except KeyError:
            known = ", ".join(sorted(self.items[kind])) or "none"
            hint = " (is the plugin that provides it installed and selected with --plugins?)"
            raise PluginError(f"no {kind[:-1]} named {key!r}; registered: {known}{hint}") from None


class Host:
    """A plugin manager plus the registry built from it. Create one per process (``get_host``)
    or, in tests, a fresh one with ``load_entry_points=False``."""

    def __init__(self, load_entry_points: bool = True, allow: Iterable[str] | None = None,
                 builtins: bool = True) -> None:
        self.pm = pluggy.PluginManager("redstar")
        self.pm.add_hookspecs(hookspecs)
        self.failures: dict[str, str] = {}
        self._infos: dict[str, PluginInfo] = {}
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
        wanted = None if allow is None else set(allow)
        found = set()
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            found.add(ep.name)
            if wanted is not None and ep.name not in wanted:
                continue
            if self.pm.has_plugin(ep.name):
                continue
            try:
                plugin = ep.load()
            except Exception as exc:  # a broken plugin must not take the host down
                self.failures[ep.name] = f"import failed: {type(exc).__name__}: {exc}"
                continue
            version = ep.dist.version if ep.dist is not None else None
            try:
                self.register(plugin, name=ep.name, version=version)
            except Exception as exc:
                self.failures[ep.name] = f"registration failed: {type(exc).__name__}: {exc}"
        if wanted is not None:
            for missing in sorted(wanted - found):
                self.failures[missing] = (
                    f"not installed (no {ENTRY_POINT_GROUP!r} entry point named {missing!r}; "
                    f"try `pip install redstar-{missing}`)"
                )

    def register(self, plugin: Any, name: str | None = None, version: str | None = None,
                 builtin: bool = False) -> str:
        """Register a plugin object (a module or any object with hook implementations)."""
        name = self.pm.register(plugin, name=name)
        if name is None:
            raise PluginError(f"plugin {name!r} is already registered")
        module = getattr(plugin, "__name__", type(plugin).__module__)
        self._infos[name] = PluginInfo(name=name, version=version, module=module, builtin=builtin)
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
        for hook_name, kind in REGISTER_HOOKS.items():
            hook = getattr(self.pm.hook, hook_name)
            for impl in hook.get_hookimpls():
                plugin_name = impl.plugin_name
                if plugin_name in self.failures:
                    continue

                def register(cls: type, _kind: str = kind, _plugin: str = plugin_name) -> None:
                    key = _key(_kind, cls)
                    owner = registry.owners.get((_kind, key))
                    if owner is not None and owner != _plugin:
                        raise DuplicateRegistration(_kind[:-1], key, owner, _plugin)
                    registry.items[_kind][key] = cls
                    registry.owners[(_kind, key)] = _plugin
                    info = self._infos.get(_plugin)
                    if info is not None:
                        info.provides.setdefault(_kind, []).append(key)

                try:
                    impl.function(register=register)
                except DuplicateRegistration:
                    raise
                except Exception as exc:
                    self._fail(plugin_name, hook_name, exc)
        for hook_name in ("redstar_default_recipe", "redstar_default_rl", "redstar_pipeline_stages", EMBEDDED_MODELS_HOOK,
                          "redstar_register_commands", *REGISTER_HOOKS):
            for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
                hooked = self._infos.get(impl.plugin_name)
                if hooked is not None and hook_name not in hooked.hooks:
                    hooked.hooks.append(hook_name)
        return registry

    def _fail(self, plugin_name: str, hook_name: str, exc: Exception) -> None:
        self.failures[plugin_name] = f"{hook_name} raised {type(exc).__name__}: {exc}"

    def get(self, kind: str, key: str) -> type:
        return self.registry.get(kind, key)

    # -- defaults ------------------------------------------------------------------------
    def default_rl(self) -> list[dict[str, Any]]:
        """The RL steps the embedded default recipe runs when no selected part sets ``rl``: what
        the loaded plugins propose through ``redstar_default_rl`` (redstar-rl: one DPO step),
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
            else:
                self._fail(plugin_name, EMBEDDED_MODELS_HOOK, PluginError(
                    f"returned a {type(declared).__name__}; expected a dict of name -> folder or a list of folders"))
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
        """Call a hook plugin by plugin, returning (plugin name, result) pairs; a plugin whose
        hook raises is recorded in ``failures`` instead of stopping the others."""
        results = []
        for impl in reversed(getattr(self.pm.hook, hook_name).get_hookimpls()):
            try:
                results.append((impl.plugin_name, impl.function(**kwargs)))
            except Exception as exc:
                self._fail(impl.plugin_name, hook_name, exc)
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
    import inspect

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
    except (ValueError, TypeError) as exc:
        # A constructor that rejects a value (a negative timeout, an unknown mode) is the user's
        # option to fix, not a crash: say which plugin and why (``where(None, ...)`` names the
        # recipe section, since the exception does not say which option it was).
        msg = f"{cls.__name__} rejected its options {options!r}: {exc}"
        raise (where(None, msg) if where else PluginError(msg)) from exc
