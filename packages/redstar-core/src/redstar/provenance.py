"""What ran: the recipe (name and hash), the models, the backends, the scorer, the trainer of each
trained model, RedStar's and each plugin's version, and the machine, for ``summary.json`` and the top of the report.

A report read weeks later (or sent to someone else) must say what produced its numbers. Nothing
here may fail a run that has finished its work: every lookup that can go wrong (an unresolvable
model, no torch, no GPU query) is recorded as unknown instead of raised.
"""

from __future__ import annotations

import hashlib
import os
import platform
import socket
from datetime import datetime, timezone
from typing import Any


def recipe_hash(recipe: Any) -> str:
    """sha256 of the recipe as dumped (``redstar.recipe.dump``): the recipe.yaml a run writes."""
    from redstar.recipe import dump

    return hashlib.sha256(dump(recipe).encode("utf-8")).hexdigest()


def _model(spec: str, host: Any) -> dict[str, str | None]:
    from redstar.models import resolve_model

    try:
        resolved: str | None = resolve_model(spec, host=host)
    except Exception:  # noqa: BLE001 - provenance never fails the run; preflight reports bad paths
        resolved = None
    return {"spec": spec, "resolved": resolved}


def _plugins(host: Any) -> list[dict[str, Any]]:
    try:
        infos = host.infos
    except Exception:  # noqa: BLE001 - a plugin that fails to register must not hide the rest
        return []
    return [{"name": info.name, "version": info.version, "builtin": bool(info.builtin)}
            for info in sorted(infos.values(), key=lambda i: (i.builtin, i.name))]


def _torch() -> dict[str, Any]:
    try:
        import torch
    except Exception:  # noqa: BLE001 - torch absent or broken: say so, do not fail
        return {"torch": None, "cuda": False, "gpu": None}
    out: dict[str, Any] = {"torch": getattr(torch, "__version__", None), "cuda": False, "gpu": None}
    try:
        out["cuda"] = bool(torch.cuda.is_available())
        if out["cuda"]:
            count = torch.cuda.device_count()
            name = torch.cuda.get_device_name(0)
            out["gpu"] = name if count == 1 else f"{count} x {name}"
    except Exception:  # noqa: BLE001 - a broken driver is "no GPU" here
        out["cuda"] = False
    return out


def machine() -> dict[str, Any]:
    """Host name, OS, Python, CPU count, torch and the GPU (None where unknown)."""
    def safe(get: Any) -> Any:
        try:
            return get()
        except Exception:  # noqa: BLE001
            return None

    return {
        "hostname": safe(socket.gethostname),
        "os": safe(platform.platform),
        "python": platform.python_version(),
        "cpus": safe(os.cpu_count),
        **_torch(),
    }


def _trainers(recipe: Any) -> dict[str, str]:
    """Model tag -> the registered name of the trainer that makes it (``{"sft": "sft", "dpo": "dpo"}``)."""
    from redstar.pipeline.training import training_steps

    return {tag: step.trainer for _, _, step, tag in training_steps(recipe)}


def describe_run(recipe: Any, host: Any) -> dict[str, Any]:
    """The provenance of a run of ``recipe`` with ``host``'s plugins, as plain JSON values."""
    import redstar

    return {
        "recipe": {"name": recipe.name, "sha256": recipe_hash(recipe)},
        "teacher": _model(recipe.models.teacher, host),
        "student": _model(recipe.models.student, host),
        "backends": {"sampling": recipe.sampling.backend, "evaluation": recipe.evaluation.backend},
        "scorer": recipe.scoring.scorer,
        "trainers": _trainers(recipe),
        "redstar": redstar.__version__,
        "plugins": _plugins(host),
        "machine": machine(),
        "time": datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds"),
    }
