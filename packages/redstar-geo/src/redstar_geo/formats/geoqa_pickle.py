"""GeoQA's original release: ``data/GeoQA3/{train,dev,test}.pk`` (3,499 / 745 / 754 problems).

Each file is a pickled list of dicts: ``id``, ``image`` (the diagram as a grayscale or RGB numpy
array), ``token_list`` (the Chinese problem, tokenized by jieba, numbers written ``N_0``,
``N_1``... as in ``manual_program``), ``numbers`` (their values), ``choice_nums`` (the four
options as numbers), ``label`` (index of the right option), ``manual_program``,
``formal_point``. GeoQA+ / UniGeo pickles add ``English_problem``, used when present.

The RedStar paper distills on GeoQA's 3,499 training questions: this reader is how to get them.
Loading a pickle runs code chosen by whoever wrote it - only read pickles from a source you trust.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

from redstar.errors import InputError
from redstar.records import Prompt
from redstar_geo.choices import LETTERS
from redstar_geo.formats.common import Loaded

_PLACEHOLDER = re.compile(r"N_(\d+)")
REQUIRED = ("id", "image", "token_list", "numbers", "choice_nums", "label")


def format_number(value: float) -> str:
    """``40.0`` -> ``"40"``, ``2.5`` -> ``"2.5"``, ``1/3`` -> ``"0.3333"``."""
    value = float(value)
    if value.is_integer():
        return str(int(value))
    return f"{value:.4f}".rstrip("0").rstrip(".")


def problem_text(record: dict[str, Any]) -> str:
    """The problem as text: ``English_problem`` when the pickle has it, else the Chinese tokens
    joined with ``N_k`` replaced by the k-th number."""
    english = record.get("English_problem")
    if isinstance(english, str) and english.strip():
        return english.strip()
    numbers = list(record["numbers"])

    def number(match: re.Match) -> str:
        k = int(match.group(1))
        return format_number(numbers[k]) if k < len(numbers) else match.group(0)

    return _PLACEHOLDER.sub(number, "".join(str(token) for token in record["token_list"])).strip()


def save_diagram(array: Any, target: Path) -> None:
    import numpy as np
    from PIL import Image

    pixels = np.asarray(array)
    if pixels.dtype != np.uint8:
        # Some exports store the diagram scaled to [0, 1].
        pixels = (pixels * 255 if pixels.max() <= 1.0 else pixels).clip(0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(target)


def read_geoqa_pickle(path: str | Path, image_dir: str | Path, source: str = "geoqa") -> Loaded:
    """Read a GeoQA ``.pk`` file. Diagrams are written to ``image_dir/<id>.png`` (once; an
    existing file is reused) because prompts carry image paths. Errors name the record number
    (1-based) as the line."""
    path, image_dir = Path(path), Path(image_dir)
    try:
        with path.open("rb") as handle:
            records = pickle.load(handle)
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError) as exc:
        raise InputError(path, f"not a readable pickle ({type(exc).__name__}: {exc})") from None
    if not isinstance(records, list):
        raise InputError(path, f"expected a pickled list of problems, got {type(records).__name__}")
    image_dir.mkdir(parents=True, exist_ok=True)
    prompts = []
    for number, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            raise InputError(path, f"record is a {type(record).__name__}, not a dict", line=number)
        for key in REQUIRED:
            if key not in record:
                raise InputError(path, "missing", line=number, field=key)
        options = record["choice_nums"]
        try:
            texts = [format_number(v) for v in options]
        except (TypeError, ValueError):
            raise InputError(path, f"options must be numbers, got {options!r}", line=number, field="choice_nums") from None
        label = record["label"]
        if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label < len(texts):
            raise InputError(path, f"must index one of the {len(texts)} options, got {label!r}", line=number,
                             field="label")
        if not isinstance(record["token_list"], (list, tuple)):
            raise InputError(path, "must be a list of tokens", line=number, field="token_list")
        image = image_dir / f"{record['id']}.png"
        if not image.exists():
            try:
                save_diagram(record["image"], image)
            except (TypeError, ValueError) as exc:
                raise InputError(path, f"not an image array ({exc})", line=number, field="image") from None
        choices = {LETTERS[i]: text for i, text in enumerate(texts)}
        points = [str(p) for p in record.get("formal_point") or []]
        prompts.append(Prompt(
            domain="geo", source=source, question=problem_text(record), reference=LETTERS[label],
            id=f"{source}-{record['id']}", image=str(image.resolve()),
            # The first knowledge point ("三角形内角和", "圆周角"...) is GeoQA's own problem type.
            metadata={"choices": choices, "group": points[0] if points else "unknown", "geoqa_id": record["id"],
                      "formal_point": points},
        ))
    return Loaded(prompts)
