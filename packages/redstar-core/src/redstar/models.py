"""Where a model named in a recipe lives: a local folder, a hub id, or ``embedded:<name>``.

Embedded models ship inside installed packages. A plugin makes its own available by placing a
folder under ``<package>/assets/models/<name>`` and listing the package in
``EMBEDDED_MODEL_PACKAGES`` below, or by passing a path. Nothing here downloads: a hub id is
handed to transformers/vLLM as it is, and they fetch only when the user runs against the hub.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from redstar.errors import RedStarError

EMBEDDED_PREFIX = "embedded:"
EMBEDDED_MODEL_PACKAGES = ("redstar", "redstar_geo")


def embedded_model_dir(name: str) -> Path:
    for package in EMBEDDED_MODEL_PACKAGES:
        try:
            root = resources.files(package)
        except ModuleNotFoundError:
            continue
        candidate = Path(str(root)) / "assets" / "models" / name
        if (candidate / "config.json").exists():
            return candidate
    raise RedStarError(
        f"embedded model {name!r} is not installed (looked in the assets/models folders of "
        f"{', '.join(EMBEDDED_MODEL_PACKAGES)}); build it with `python tools/build_tiny_models.py`"
    )


def resolve_model(spec: str) -> str:
    """A path for ``embedded:NAME`` and for existing folders; anything else is returned as is
    (a hub id). A string that looks like a path but does not exist is an error, not a hub id."""
    if spec.startswith(EMBEDDED_PREFIX):
        return str(embedded_model_dir(spec[len(EMBEDDED_PREFIX):]))
    path = Path(spec).expanduser()
    if path.exists():
        if not (path / "config.json").exists():
            raise RedStarError(f"model folder {path} has no config.json")
        return str(path)
    if spec.startswith((".", "/", "~")) or spec.count("/") > 1:
        raise RedStarError(f"model path {spec} does not exist")
    return spec
