"""Geo prompt sources: GeoQA (original pickles, G-LLaVA's test jsonl or its ``qa_tuning.json``
training file), Geometry3K folders, and the synthetic generator. MathVista has no source: its terms allow it as a test set only."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from redstar.interfaces import Source
from redstar.records import Prompt
from redstar.tables import read_options
from redstar_geo.benchmarks import finish, load_geometry3k, load_geoqa
from redstar_geo.cache import cache_dir
from redstar_geo.formats.gllava_tuning import is_conversations_table, read_gllava_tuning
from redstar_geo.synthetic.generate import FORMATS, digest, generate, select_variants, write_and_load


class GeoQASource(Source):
    """GeoQA problems. ``path``: GeoQA's ``train.pk`` (the paper's 3,499 training questions),
    G-LLaVA's test jsonl (a folder, or a questions file plus ``answers``), or G-LLaVA's training
    file ``qa_tuning.json`` (LLaVA conversations; also as a folder holding it, a Parquet or
    ``save_to_disk`` copy, or a hub dataset: ``split``, ``name``, ``data_files``, ``revision`` and
    ``streaming`` go to ``datasets``). ``image_root``: where the rows' ``image`` paths start (a
    hub table needs it); ``image_dir``: where a pickle's diagrams are written. ``missing_image``:
    ``error`` | ``skip`` | ``text-only``. ``skip_malformed``: skip ``qa_tuning`` rows that are not
    multiple-choice with a final ``Answer: X`` (counted in the log). ``limit``: first N problems."""

    name = "geoqa"
    domain = "geo"

    def __init__(self, path: str, answers: str | None = None, image_root: str | None = None,
                 image_dir: str | None = None, missing_image: str = "error", limit: int | None = None,
                 split: str = "train", skip_malformed: bool = False, *, name: str | None = None,
                 data_files: Any = None, revision: str | None = None, streaming: bool = False) -> None:
        self.path, self.answers, self.image_root, self.image_dir = path, answers, image_root, image_dir
        self.missing_image, self.limit, self.split, self.skip_malformed = missing_image, limit, split, skip_malformed
        # ``name`` is the hub config; ``self.name`` stays the source's registered name.
        self.read = read_options(self.name, name, data_files, revision, streaming)

    def load(self) -> Iterable[Prompt]:
        if is_conversations_table(self.path, self.answers):
            loaded = read_gllava_tuning(self.path, self.image_root, self.split, self.missing_image, self.name,
                                        self.limit, self.skip_malformed, **self.read)
        else:
            loaded = load_geoqa(self.path, self.answers, self.image_root, self.image_dir, self.missing_image,
                                self.name)
        return finish(loaded, self.name, self.limit)


class Geometry3KSource(Source):
    """Geometry3K problems from InterGPS's folders (``path/<split>/<id>/data.json`` + diagram);
    ``split`` defaults to ``train`` (ids 0-2100)."""

    name = "geometry3k"
    domain = "geo"

    def __init__(self, path: str, split: str = "train", diagram: str = "img_diagram.png",
                 missing_image: str = "error", limit: int | None = None) -> None:
        self.path, self.split, self.diagram, self.missing_image, self.limit = path, split, diagram, missing_image, limit

    def load(self) -> Iterable[Prompt]:
        loaded = load_geometry3k(self.path, self.split, self.diagram, self.missing_image, self.name)
        return finish(loaded, self.name, self.limit)


class SyntheticGeoSource(Source):
    """Generated problems with exact answers and to-scale diagrams (training split; the
    ``synthetic-geo-heldout`` evaluator never sees the same problem).

    ``count`` problems from ``seed``; ``levels`` (1-10) and ``kinds`` select variants (see
    :mod:`redstar_geo.synthetic.problems`); ``format`` is the published layout written and read
    back (``gllava``, ``geometry3k``, ``mathvista``); ``out_dir`` defaults to a folder under
    ``$REDSTAR_CACHE/geo``; ``image_size`` is the diagram's side in pixels. Prompts carry their
    level as ``difficulty``.
    """

    name = "synthetic-geo"
    domain = "geo"
    split = "train"

    def __init__(self, count: int = 200, seed: int = 0, levels: Sequence[int] | None = None,
                 kinds: Sequence[str] | None = None, format: str = "gllava", out_dir: str | None = None,
                 image_size: int = 224) -> None:
        if count < 0:
            raise ValueError(f"count must be >= 0, got {count}")
        if format not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
        select_variants(levels, kinds)  # reject an empty or misspelt selection now, not mid-run
        self.count, self.seed, self.levels, self.kinds = count, seed, levels, kinds
        self.format, self.out_dir, self.image_size = format, out_dir, image_size

    def folder(self) -> Path:
        """``out_dir``, or a cache folder named after the options (same options, same folder)."""
        if self.out_dir is not None:
            return Path(self.out_dir)
        key = digest(self.split, self.count, self.seed, self.levels, self.kinds, self.format, self.image_size)
        return cache_dir() / "synthetic" / f"{self.split}-{key[:12]}"

    def load(self) -> list[Prompt]:
        problems = generate(self.count, seed=self.seed, split=self.split, levels=self.levels, kinds=self.kinds)
        return write_and_load(problems, self.folder(), self.format, self.image_size, source=self.name)
