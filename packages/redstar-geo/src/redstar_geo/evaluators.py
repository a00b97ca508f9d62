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
    """GeoQA test (754 problems) in G-LLaVA's jsonl form, or GeoQA's ``test.pk``.

    Args:
        path: G-LLaVA's test jsonl (a folder, or a questions file plus ``answers``) or GeoQA's
            ``test.pk``; null evaluates on the bundled 8-row sample.
        answers: G-LLaVA's answers file, when ``path`` is its questions file.
        image_root: Where the rows' ``image`` paths start (by default the folder of ``path``).
        image_dir: Where the diagrams of a pickle are written (by default a folder under
            ``$REDSTAR_CACHE/geo``).
        missing_image: What a problem whose diagram is missing does: ``error`` stops with the
            file, line and field, ``skip`` leaves it out (counted in the log), ``text-only``
            keeps it without an image.
        limit: Evaluate only the first this many problems (null evaluates them all).
    """

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
    """MathVista-GEO: the 208 "geometry problem solving" rows of MathVista testmini.

    Args:
        path: MathVista's ``testmini.json`` or its folder; null evaluates on the bundled 8-row
            sample.
        image_root: Where the rows' image paths start (by default the folder of ``path``).
        missing_image: What a problem whose diagram is missing does: ``error`` stops with the
            file, line and field, ``skip`` leaves it out (counted in the log), ``text-only``
            keeps it without an image.
        limit: Evaluate only the first this many problems (null evaluates them all).
    """

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
    (``path/test/<id>/``).

    Args:
        path: The Geometry3K folder; null evaluates on the bundled 6-problem sample (with
            point-annotated diagrams).
        split: The split to read.
        diagram: The diagram file of each problem (``img_diagram_point.png`` is the
            point-annotated variant).
        missing_image: What a problem whose diagram is missing does: ``error`` stops with the
            file, line and field, ``skip`` leaves it out (counted in the log), ``text-only``
            keeps it without an image.
        limit: Evaluate only the first this many problems (null evaluates them all).
    """

    name = "geometry3k"
    domain = "geo"

    def __init__(self, path: str | None = None, split: str = "test", diagram: str = "img_diagram.png",
                 missing_image: str = "error", limit: int | None = None) -> None:
        self.path, self.split, self.diagram, self.missing_image, self.limit = path, split, diagram, missing_image, limit

    def load(self) -> list[Prompt]:
        loaded = load_geometry3k(self.path, self.split, self.diagram, self.missing_image, self.name)
        return finish(loaded, self.name, self.limit)


class SyntheticGeoHeldoutEvaluator(Evaluator):
    """Synthetic problems from the held-out split (disjoint from ``synthetic-geo``'s), written
    as Geometry3K folders by default so that a second reader is exercised.

    Args:
        count: How many problems are generated.
        seed: The seed the problems are drawn with: the same seed gives the same set.
        levels: The levels (1 to 10) of the variants generated (null: every level; see
            :mod:`redstar_geo.synthetic.problems`).
        kinds: The kinds of problem generated (null: every kind).
        format: The published layout the problems are written in and read back from:
            ``gllava``, ``geometry3k`` or ``mathvista``.
        out_dir: Where the problems are written (null: a folder under ``$REDSTAR_CACHE/geo``
            named after the options).
        image_size: The side of each diagram, in pixels.
        limit: Evaluate only the first this many problems (null evaluates them all).
    """

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
