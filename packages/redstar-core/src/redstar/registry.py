"""What the loaded plugins registered: by kind and name, who registered it, and the names more
than one plugin registered (:class:`redstar.plugins.Host` builds it)."""

from __future__ import annotations

from dataclasses import dataclass, field

from redstar.errors import PluginError
from redstar.faults import Origin

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


@dataclass
class PluginInfo:
    name: str
    version: str | None
    module: str
    builtin: bool
    provides: dict[str, list[str]] = field(default_factory=dict)
    hooks: list[str] = field(default_factory=list)
    dist: str | None = None  # the distribution that installed it (``redstar-dice``)
    entry_point: str | None = None  # ``dice = redstar_dice.plugin``

    @property
    def origin(self) -> Origin:
        return Origin(self.name, self.module, self.dist, self.version, self.entry_point, self.builtin)


@dataclass
class Registry:
    """Everything the loaded plugins registered, by kind then key, and who registered it.
    ``duplicates`` holds each (kind, key) that more than one plugin registered, with all of them."""

    items: dict[str, dict[str, type]] = field(default_factory=lambda: {k: {} for k in REGISTER_HOOKS.values()})
    owners: dict[tuple[str, str], str] = field(default_factory=dict)
    duplicates: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    def get(self, kind: str, key: str) -> type:
        if (kind, key) in self.duplicates:
            first, second, *_ = self.duplicates[(kind, key)]
            raise DuplicateRegistration(kind[:-1], key, first, second)
        try:
            return self.items[kind][key]
        except KeyError:
            known = ", ".join(sorted(self.items[kind])) or "none"
            hint = " (is the plugin that provides it installed and selected with --plugins?)"
            raise PluginError(f"no {kind[:-1]} named {key!r}; registered: {known}{hint}") from None
