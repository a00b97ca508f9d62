"""Geo benchmarks: GeoQA test, MathVista-GEO, Geometry3K test, and the synthetic held-out set.

Each evaluator reads a local copy of the full benchmark when given ``path`` and the bundled
sample (a handful of real rows, for smoke runs; see ``assets/benchmarks/NOTICE.md``) otherwise.
``limit`` keeps the first N problems. ``metadata["group"]`` breaks scores down: GeoQA angle /
other, MathVista's source dataset, Geometry3K's first shape type, the synthetic problem kind.
"""

from __future__ import annotations

from collections.abc import Sequence

from redstar.interfaces import Evaluator
from redstar.records import Prompt
from redstar_geo.benchmarks import finish, load_geometry3k, load_geoqa, load_mathvista_geo
from redstar_geo.sources import SyntheticGeoSource


class GeoQAEvaluator(Evaluator):
    """GeoQA test (754 problems) in G-LLaVA's jsonl form, or GeoQA's ``test.pk``. Options as
    the ``geoqa`` source; ``path=None`` uses the bundled 8-row sample."""

    name = "geoqa"
    domain = "geo"

    def __init__(self, path: str | None = None, answers: str | None = None, image_root: str | None = None,
                 image_dir: str | None = None, missing_image: str = "error", limit: int | None = None) -> None:
        self.path, self.answers, self.image_root, self.image_dir = path, answers, image_root, image_dir
        self.missing_image, self.limit = missing_image, limit

    def load(self) -> list[Prompt]:
        loaded = load_geoqa(self.path, self.answers, self.image_root, self.image_dir, self.missing_image, self.name)
        return finish(loaded, self.name, self.limit)


class MathVistaGeoEvaluator(Evaluator):
    """MathVista-GEO: the 208 "geometry problem solving" rows of MathVista testmini
    (``path``: ``testmini.json`` or its folder; ``image_root`` defaults to that folder).
    ``path=None`` uses the bundled 8-row sample."""

    name = "mathvista-geo"
    domain = "geo"

    def __init__(self, path: str | None = None, image_root: str | None = None, missing_image: str = "error",
                 limit: int | None = None) -> None:
        self.path, self.image_root, self.missing_image, self.limit = path, image_root, missing_image, limit

    def load(self) -> list[Prompt]:
        loaded = load_mathvista_geo(self.path, self.image_root, self.missing_image, self.name)
        return finish(loaded, self.name, self.limit)


class Geometry3KEvaluator(Evaluator):
    """Geometry3K test (601 problems, ids 2401-3001) from InterGPS's folders
    (``path/test/<id>/``), diagram ``img_diagram.png``. ``path=None`` uses the bundled 6-problem
    sample (point-annotated diagrams)."""

    name = "geometry3k"
    domain = "geo"

    def __init__(self, path: str | None = None, split: str = "test", diagram: str = "img_diagram.png",
                 missing_image: str = "error", limit: int | None = None) -> None:
        self.path, self.split, self.diagram, self.missing_image, self.limit = path, split, diagram, missing_image, limit

    def load(self) -> list[Prompt]:
        loaded = load_geometry3k(self.path, self.split, self.diagram, self.missing_image, self.name)
        return finish(loaded, self.name, self.limit)


class SyntheticGeoHeldoutEvaluator(Evaluator):
    """Synthetic problems from the held-out split (disjoint from ``synthetic-geo``'s). Options
    as that source; written as Geometry3K folders by default so a second reader is exercised."""

    name = "synthetic-geo-heldout"
    domain = "geo"

    def __init__(self, count: int = 50, seed: int = 0, levels: Sequence[int] | None = None,
                 kinds: Sequence[str] | None = None, format: str = "geometry3k", out_dir: str | None = None,
                 image_size: int = 224, limit: int | None = None) -> None:
        self._source = _HeldoutSource(count=count, seed=seed, levels=levels, kinds=kinds, format=format,
                                      out_dir=out_dir, image_size=image_size)
        self.limit = limit

    def load(self) -> list[Prompt]:
        prompts = self._source.load()
        return prompts if self.limit is None else prompts[: self.limit]


class _HeldoutSource(SyntheticGeoSource):
    name = "synthetic-geo-heldout"
    split = "heldout"
