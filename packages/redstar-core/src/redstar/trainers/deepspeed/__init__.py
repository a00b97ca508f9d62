"""DeepSpeed ZeRO configurations shipped with RedStar (package data beside this module).

``zero2.json`` shards optimizer states and gradients; ``zero3.json`` also shards the parameters
and gathers 16-bit weights when the final model is saved. Batch sizes, gradient accumulation,
clipping and precision are ``"auto"``: the transformers/accelerate integration fills them from
the trainer's options, so one file serves every model and cluster size.

Neither file has an ``optimizer`` entry: the trainer's own ``torch.optim.AdamW`` is handed to
DeepSpeed, which ZeRO supports. A DeepSpeed ``AdamW`` entry would compile FusedAdam (minutes, and
a killed compile leaves a lock that hangs later runs); bring your own JSON if you want it.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from redstar.errors import RedStarError

#: Names accepted by the ``deepspeed`` option besides a path to a JSON file.
SHIPPED = ("zero2", "zero3")


def config_path(spec: str) -> str:
    """The JSON file for ``spec``: ``"zero2"``, ``"zero3"`` or a path to your own config."""
    if spec in SHIPPED:
        return str(Path(str(resources.files(__name__))) / f"{spec}.json")
    path = Path(spec).expanduser()
    if path.is_file():
        return str(path)
    raise RedStarError(
        f"deepspeed config {spec!r} is neither one of {', '.join(SHIPPED)} nor an existing JSON file"
    )
