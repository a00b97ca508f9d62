"""Loading each benchmark from a path (or the bundled samples), shared by sources and evaluators."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from redstar.errors import InputError
from redstar.records import Prompt
from redstar_geo.formats.common import Loaded, warn_skipped

#: Diagram file of the bundled Geometry3K samples (only the point-annotated variant is public).
SAMPLE_GEOMETRY3K_DIAGRAM = "img_diagram_point.png"


def sample_dir(name: str) -> Path:
    """The bundled sample of a benchmark: ``geoqa``, ``geometry3k`` or ``mathvista``."""
    return Path(str(resources.files("redstar_geo"))) / "assets" / "benchmarks" / name


def finish(loaded: Loaded, source: str, limit: int | None) -> list[Prompt]:
    warn_skipped(source, loaded.skipped)
    prompts = loaded.prompts
    if limit is not None:
        if limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        prompts = prompts[:limit]
    return prompts


def load_geoqa(path: str | Path | None, answers: str | Path | None = None, image_root: str | Path | None = None,
               image_dir: str | Path | None = None, missing_image: str = "error", source: str = "geoqa") -> Loaded:
    """GeoQA from any of its forms:

    - a ``.pk`` / ``.pkl`` file: the original pickles (diagrams extracted to ``image_dir``,
      default ``<cache>/geoqa-images/<file stem>``);
    - a folder holding G-LLaVA's ``test_questions.jsonl`` + ``test_answers.jsonl``;
    - a questions ``.jsonl`` with ``answers`` naming its answers file.

    ``image_root`` is where the jsonl rows' ``image`` paths start (default: the folder of the
    questions file). None loads the bundled sample.
    """
    from redstar_geo.cache import cache_dir
    from redstar_geo.formats.geoqa_pickle import read_geoqa_pickle
    from redstar_geo.formats.gllava import ANSWERS_FILE, QUESTIONS_FILE, read_gllava

    path = Path(path) if path is not None else sample_dir("geoqa")
    if path.suffix in (".pk", ".pkl"):
        target = Path(image_dir) if image_dir is not None else cache_dir() / "geoqa-images" / path.stem
        return read_geoqa_pickle(path, target, source=source)
    if path.is_dir():
        questions, answers = path / QUESTIONS_FILE, Path(answers) if answers else path / ANSWERS_FILE
    else:
        questions = path
        if answers is None:
            raise InputError(path, f"a questions file needs its answers file: pass answers= (G-LLaVA's {ANSWERS_FILE})")
        answers = Path(answers)
    return read_gllava(questions, answers, image_root if image_root is not None else questions.parent,
                       missing_image=missing_image, source=source)


def load_geometry3k(path: str | Path | None, split: str = "test", diagram: str = "img_diagram.png",
                    missing_image: str = "error", source: str = "geometry3k") -> Loaded:
    """Geometry3K folders (``path/<split>/<id>/``). None loads the bundled sample, whose
    diagrams are ``img_diagram_point.png``."""
    from redstar_geo.formats.geometry3k import read_geometry3k

    if path is None:
        path, diagram = sample_dir("geometry3k"), SAMPLE_GEOMETRY3K_DIAGRAM
    return read_geometry3k(path, split=split, diagram=diagram, missing_image=missing_image, source=source)


def load_mathvista_geo(path: str | Path | None, image_root: str | Path | None = None, missing_image: str = "error",
                       source: str = "mathvista-geo") -> Loaded:
    """MathVista testmini's geometry-problem-solving rows (``path``: testmini.json or its
    folder). None loads the bundled sample."""
    from redstar_geo.formats.mathvista import read_mathvista

    return read_mathvista(path if path is not None else sample_dir("mathvista"), image_root=image_root,
                          missing_image=missing_image, source=source)
