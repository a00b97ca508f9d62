"""DeepSpeed ZeRO configurations shipped with RedStar (package data beside this module).

``zero2.json`` shards optimizer states and gradients; ``zero3.json`` also shards the parameters
and gathers 16-bit weights when the final model is saved; ``zero3_offload.json`` is ZeRO-3 with
the optimizer states, fp32 master weights and the parameters' shards kept in CPU memory (see
docs/training.md for the memory each needs). Batch sizes, gradient accumulation, clipping,
precision and the optimizer's hyper-parameters are ``"auto"``: the transformers/accelerate
integration fills them from the trainer's options, so one file serves every model and cluster
size.

``zero2.json`` and ``zero3.json`` have no ``optimizer`` entry: the trainer's own optimizer
(``optim``, by default ``torch.optim.AdamW``) is handed to DeepSpeed, which ZeRO supports, and no
DeepSpeed op is compiled. ``zero3_offload.json`` has one (``AdamW``): with the states on the CPU,
DeepSpeed then steps them with its vectorised ``DeepSpeedCPUAdam``, which DeepSpeed compiles on
first use (its ``cpu_adam`` op, cached in ``TORCH_EXTENSIONS_DIR``), instead of a torch optimizer
DeepSpeed warns is several times slower there; the ``optim`` option does not apply to it.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from redstar.errors import RedStarError

#: Names accepted by the ``deepspeed`` option besides a path to a JSON file.
SHIPPED = ("zero2", "zero3", "zero3_offload")


def config_path(spec: str) -> str:
    """The JSON file for ``spec``: one of :data:`SHIPPED` or a path to your own config."""
    if spec in SHIPPED:
        return str(Path(str(resources.files(__name__))) / f"{spec}.json")
    path = Path(spec).expanduser()
    if path.is_file():
        return str(path)
    raise RedStarError(
        f"deepspeed config {spec!r} is neither one of {', '.join(SHIPPED)} nor an existing JSON file"
    )
