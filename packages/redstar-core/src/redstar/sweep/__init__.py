"""``redstar sweep``: a grid of recipe variants (a base recipe, the keys to vary, seeds), each run
as an ordinary run that reuses every step a sibling variant already did with the same
fingerprint, and rendered as one table per comparison (rows = variants, columns = evaluators
plus their average; every pass@1 with its 95% interval, seed spread, and a paired test against
the first row).

- :mod:`redstar.sweep.spec`: the sweep file, read and checked (``file:line: key`` errors);
- :mod:`redstar.sweep.variants`: the grid expanded into validated recipes;
- :mod:`redstar.sweep.sharing`: which steps variants would share (``--dry-run``);
- :mod:`redstar.sweep.running`: running the variants, resumable as a whole;
- :mod:`redstar.sweep.selection`: choosing between a value's candidates on validation sets
  (``choose`` and ``select``), before any held-out set is scored;
- :mod:`redstar.sweep.tables` and :mod:`redstar.sweep.render`: the tables and their files.
"""

from redstar.sweep.spec import Axis, Level, SweepSpec, load_sweep
from redstar.sweep.variants import Variant, expand

__all__ = ["Axis", "Level", "SweepSpec", "Variant", "expand", "load_sweep"]
