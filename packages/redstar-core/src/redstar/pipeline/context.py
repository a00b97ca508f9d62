"""What every stage of a run shares: the recipe, the plugin host, the run directory, progress."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from redstar.errors import PluginError, RecipeError
from redstar.interfaces import Verifier
from redstar.pipeline.rundir import RunDir
from redstar.plugins import Host, instantiate
from redstar.progress import ProgressBoard
from redstar.recipe import Recipe


@dataclass
class RunContext:
    recipe: Recipe
    host: Host
    run: RunDir
    board: ProgressBoard
    _verifiers: dict[str, Verifier] = field(default_factory=dict)

    def build(self, kind: str, name: str, options: dict[str, Any], key: str, **extra: Any) -> Any:
        """Instantiate the registered ``kind`` plugin ``name`` with recipe ``options``; errors
        name the recipe key. ``extra`` are arguments RedStar itself supplies (e.g. ``model``)."""
        try:
            cls = self.host.get(kind, name)
        except PluginError as exc:
            raise RecipeError(self.recipe.path, key, str(exc)) from None

        def where(option: str, message: str) -> Exception:
            return RecipeError(self.recipe.path, f"{key}.options.{option}", message)

        merged = dict(options)
        for k, v in extra.items():
            if k in merged:
                raise RecipeError(self.recipe.path, f"{key}.options.{k}", "is set by RedStar; remove it")
            merged[k] = v
        return instantiate(cls, merged, where)

    def verifier(self, domain: str) -> Verifier:
        if domain not in self._verifiers:
            options = self.recipe["verifiers"].get(domain, {})
            self._verifiers[domain] = self.build("verifiers", domain, options, f"verifiers.{domain}")
        return self._verifiers[domain]

    def close(self) -> None:
        for verifier in self._verifiers.values():
            verifier.close()
        self._verifiers.clear()

    def plugin_versions(self) -> dict[str, str | None]:
        return {name: info.version for name, info in self.host.infos.items()}

    def log(self, message: str) -> None:
        self.board.log(message)
