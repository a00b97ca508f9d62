"""Difficulty scoring helpers shared by every domain, and the ``given`` scorer."""

from __future__ import annotations

from collections.abc import Sequence

from redstar.errors import RedStarError
from redstar.interfaces import Scorer
from redstar.records import Prompt


def clamp_level(value: float) -> float:
    """Levels live in [1, 10]."""
    return float(min(10.0, max(1.0, value)))


class GivenScorer(Scorer):
    """Use the difficulty the source attached to each prompt (``prompt.difficulty``).

    Args:
        default: The level given to prompts that carry none. Without it such a prompt is an
            error, because silently treating an unknown difficulty as easy or hard would skew
            selection.
    """

    name = "given"

    def __init__(self, default: float | None = None) -> None:
        self.default = default

    def score(self, prompts: Sequence[Prompt]) -> list[float]:
        levels = []
        for prompt in prompts:
            if prompt.difficulty is None:
                if self.default is None:
                    raise RedStarError(
                        f"prompt {prompt.id} from source {prompt.source!r} has no difficulty; "
                        "use a model-based scorer or set scoring.options.default"
                    )
                levels.append(clamp_level(self.default))
            else:
                levels.append(clamp_level(prompt.difficulty))
        return levels
