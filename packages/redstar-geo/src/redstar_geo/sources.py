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
    """GeoQA problems, from GeoQA's pickles, G-LLaVA's test jsonl or G-LLaVA's training file
    (docs/geo.md describes each format).

    Args:
        path: GeoQA's ``train.pk`` (the paper's 3,499 training questions), G-LLaVA's test jsonl
            (a folder, or a questions file plus ``answers``), or G-LLaVA's training file
            ``qa_tuning.json`` (LLaVA conversations; also as a folder holding it, a Parquet or
            ``save_to_disk`` copy, or a hub dataset).
        answers: G-LLaVA's answers file, when ``path`` is its questions file.
        image_root: Where the rows' ``image`` paths start (a hub table needs it; by default the
            folder of ``path``).
        image_dir: Where the diagrams of a pickle are written (by default a folder under
            ``$REDSTAR_CACHE/geo``).
        missing_image: What a problem whose diagram is missing does: ``error`` stops with the
            file, line and field, ``skip`` leaves it out (counted in the log), ``text-only``
            keeps it without an image.
        limit: Read at most this many problems (null reads them all).
        split: The split of a hub dataset or ``save_to_disk`` copy.
        skip_malformed: Whether ``qa_tuning`` rows that are not multiple-choice with a final
            ``Answer: X`` are skipped (counted in the log); by default such a row is an error.
        name: The hub config passed to ``datasets``.
        data_files: The data files passed to ``datasets``: a path, a pattern, a list or a
            ``{split: files}`` mapping.
        revision: The hub branch, tag or commit to read.
        streaming: Whether rows are read as they download (with ``limit``, only the rows needed
            are fetched).
    """

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
    """Geometry3K problems from InterGPS's folders (``path/<split>/<id>/data.json`` and a
    diagram).

    Args:
        path: The Geometry3K folder (holding ``train/``, ``val/``, ``test/``).
        split: The split to read (``train`` holds ids 0-2100).
        diagram: The diagram file of each problem (``img_diagram_point.png`` is the
            point-annotated variant).
        missing_image: What a problem whose diagram is missing does: ``error`` stops with the
            file, line and field, ``skip`` leaves it out (counted in the log), ``text-only``
            keeps it without an image.
        limit: Read at most this many problems (null reads them all).
    """

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
    ``synthetic-geo-heldout`` evaluator never sees the same problem). Prompts carry their level
    as ``difficulty``.

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
