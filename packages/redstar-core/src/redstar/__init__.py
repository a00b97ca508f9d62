"""RedStar: build slow-thinking (Long-CoT) reasoning models from plugins.

Plugin authors need only ``hookimpl`` (this module), the bases in :mod:`redstar.interfaces`
and the records in :mod:`redstar.records`.
"""

import pluggy

from redstar.records import Prompt, Sample, Verdict

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("redstar")

__all__ = ["Prompt", "Sample", "Verdict", "__version__", "hookimpl"]
