"""What every stage of a run shares: the recipe, the plugin host, the run directory, progress.

:class:`PluginContext` alone (recipe and host) is enough to build the recipe's plugins, which is
what ``redstar recipe check`` and a run's preflight do before any stage runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from redstar.errors import PluginError, RecipeError
from redstar.execution import Engine, engine_for
from redstar.interfaces import Verifier
from redstar.pipeline.rundir import RunDir
from redstar.plugins import Host, instantiate
from redstar.progress import ProgressBoard
from redstar.recipe import Recipe
from redstar.services import VerifierPool


@dataclass(kw_only=True)
class PluginContext:
    recipe: Recipe
    host: Host
    verifiers: VerifierPool = field(init=False)

    def __post_init__(self) -> None:
        # A verifier's options sit right under its domain: ``verifiers.code.timeout``.
        self.verifiers = VerifierPool(lambda domain: self.build(
            "verifiers", domain, self.recipe.verifiers.get(domain, {}), f"verifiers.{domain}",
            options_key=f"verifiers.{domain}"))

    def build(self, kind: str, name: str, options: dict[str, Any], key: str, options_key: str | None = None,
              **extra: Any) -> Any:
        """Instantiate the registered ``kind`` plugin ``name`` with recipe ``options``; errors
        name the recipe key (options live under ``options_key``, by default ``<key>.options``).
        ``extra`` are arguments RedStar itself supplies (e.g. ``model``)."""
        options_key = options_key or f"{key}.options"
        try:
            cls = self.host.get(kind, name)
        except PluginError as exc:
            raise RecipeError(self.recipe.where(key), key, str(exc)) from None

        def where(option: str | None, message: str) -> Exception:
            dotted = key if option is None else f"{options_key}.{option}"
            return RecipeError(self.recipe.where(dotted), dotted, message)

        merged = dict(options)
        for k, v in extra.items():
            if k in merged:
                raise RecipeError(self.recipe.where(f"{options_key}.{k}"), f"{options_key}.{k}", "is set by RedStar; remove it")
            merged[k] = v
        return instantiate(cls, merged, where)

    def verifier(self, domain: str) -> Verifier:
        """The run's verifier of ``domain``, with the recipe's options (built once)."""
        return self.verifiers.verifier(domain)

    def close(self) -> None:
        self.verifiers.close()

    def plugin_versions(self) -> dict[str, str | None]:
        return {name: info.version for name, info in self.host.infos.items()}


@dataclass(kw_only=True)
class RunContext(PluginContext):
    run: RunDir
    board: ProgressBoard
    _engine: Engine | None = field(default=None, init=False, repr=False)

    @property
    def engine(self) -> Engine:
        """Where sampling, verification and evaluation run (``execution``), started on first use
        (a run that resumes past them never starts Ray)."""
        if self._engine is None:
            self._engine = engine_for(self)
        return self._engine

    def release_engine(self) -> None:
        """Close the engine and its workers (sampler replicas); the next use starts another."""
        if self._engine is not None:
            engine, self._engine = self._engine, None
            engine.close()

    def close(self) -> None:
        try:
            self.release_engine()
        finally:
            super().close()

    def log(self, message: str) -> None:
        self.board.log(message)
