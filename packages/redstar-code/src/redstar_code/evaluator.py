"""The ``taco`` benchmark: TACO test problems, scored by running the model's programs."""

from __future__ import annotations

from redstar.interfaces import Evaluator
from redstar.records import Prompt
from redstar_code.source import SAMPLE_FILE, load_taco_prompts


class TacoEvaluator(Evaluator):
    """TACO problems as a benchmark; reports break pass@k down by TACO's difficulty label
    (``metadata["group"]``).

    Args:
        path: TACO's test set as a local ``.jsonl`` or ``.parquet`` file, or a hub id (with
            ``split``); null evaluates on the small sample shipped with redstar-code
            (``redstar_code/data/taco_sample.jsonl``, problems written for RedStar in TACO's
            format).
        split: The hub split to read when ``path`` is a hub id.
        limit: Evaluate only the first this many problems (null evaluates them all).
    """

    name = "taco"
    domain = "code"

    def __init__(self, path: str | None = None, split: str = "test", limit: int | None = None) -> None:
        self.path = str(path) if path is not None else str(SAMPLE_FILE)
        self.split, self.limit = split, limit

    def load(self) -> list[Prompt]:
        prompts = list(load_taco_prompts(self.path, self.split, self.limit, "taco"))
        for prompt in prompts:
            prompt.metadata["group"] = prompt.metadata["taco_difficulty"]
        return prompts
