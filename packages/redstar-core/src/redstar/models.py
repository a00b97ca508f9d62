"""Where a model named in a recipe lives: a local folder, a hub id, or ``embedded:<name>``.

Embedded models ship inside installed packages. A plugin makes its own available through the
``redstar_embedded_models`` hook (:mod:`redstar.hookspecs`); core declares its tiny models the
same way (:mod:`redstar.builtin.models`), so core names no plugin. The lookup goes through the
process-wide plugin host (:func:`redstar.plugins.get_host`), so ``--plugins`` and
``REDSTAR_PLUGINS`` decide which plugins' models exist. Nothing here downloads: a hub id is
handed to transformers/vLLM as it is, and they fetch only when the user runs against the hub.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from redstar.errors import RedStarError

if TYPE_CHECKING:  # plugins imports the hook specs; importing it lazily keeps this module light
    from redstar.plugins import Host

EMBEDDED_PREFIX = "embedded:"


def embedded_model_dir(name: str, host: Host | None = None) -> Path:
    """The folder of ``embedded:NAME``, as declared by a loaded plugin (default host: the
    process-wide one). A missing model is an error that lists those available."""
    if host is None:
        from redstar.plugins import get_host

        host = get_host()
    models = host.embedded_models()
    model = models.get(name)
    if model is not None:
        if not (model.folder / "config.json").is_file():
            raise RedStarError(
                f"embedded model {name!r} (declared by plugin {model.plugin!r}) has no config.json in "
                f"{model.folder}: it is not built"
            )
        return model.folder
    available = ", ".join(f"{m.name} ({m.plugin})" for m in sorted(models.values(), key=lambda m: m.name))
    looked = "; ".join(f"{folder} ({plugin})" for plugin, folder in host.model_folders)
    raise RedStarError(
        f"embedded model {name!r} is not installed; available: {available or 'none'}"
        + (f" (looked in {looked})" if looked else "")
        + ". A plugin ships models through the redstar_embedded_models hook: is it installed (and "
        "allowed by REDSTAR_PLUGINS, if set)? Core's tiny models are built with "
        "`python tools/build_tiny_models.py`"
    )


def resolve_model(spec: str, host: Host | None = None) -> str:
    """A path for ``embedded:NAME`` and for existing folders; anything else is returned as is
    (a hub id). A string that looks like a path but does not exist is an error, not a hub id.
    ``host`` is where embedded models are looked up (default: the process-wide host)."""
    if spec.startswith(EMBEDDED_PREFIX):
        return str(embedded_model_dir(spec[len(EMBEDDED_PREFIX):], host))
    path = Path(spec).expanduser()
    if path.exists():
        if not (path / "config.json").exists():
            raise RedStarError(f"model folder {path} has no config.json")
        return str(path)
    if spec.startswith((".", "/", "~")) or spec.count("/") > 1:
        raise RedStarError(f"model path {spec} does not exist")
    return spec
