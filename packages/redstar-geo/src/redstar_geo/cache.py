"""Where the plugin writes files that prompts point to (generated diagrams, diagrams extracted
from GeoQA pickles) when no folder is given: ``$REDSTAR_CACHE/geo``, by default
``~/.cache/redstar/geo``. Prompts carry image paths, so these files must outlive the process."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    return Path(os.environ.get("REDSTAR_CACHE", Path.home() / ".cache" / "redstar")).expanduser() / "geo"
