"""Core's tiny embedded models (``embedded:tiny-teacher``, ``embedded:tiny-student``, built by
``tools/build_tiny_models.py``), declared through the hook any plugin uses to ship its own."""

from importlib import resources
from pathlib import Path

from redstar import hookimpl


@hookimpl
def redstar_embedded_models():
    return [Path(str(resources.files("redstar"))) / "assets" / "models"]
