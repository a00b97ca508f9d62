"""What every geometry format shares: the item a writer takes, the result a reader returns, and
the policy for rows whose diagram is missing."""

from __future__ import annotations

import enum
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

from redstar.errors import InputError
from redstar.records import Prompt
from redstar_geo.images import find_image

log = logging.getLogger(__name__)

#: What to do with a row whose diagram file is not on disk:
#: ``error`` (default) raises; ``skip`` leaves the row out and counts it in ``Loaded.skipped``
#: (and a warning); ``text-only`` keeps it without an image.
MISSING_IMAGE_POLICIES = ("error", "skip", "text-only")


@dataclass
class GeoItem:
    """One multiple-choice problem as the writers take it. ``answer`` is the gold letter;
    ``image`` an existing diagram file that the writer copies into the layout."""

    id: str
    question: str
    choices: dict[str, str]
    answer: str
    image: Path
    extra: dict = field(default_factory=dict)


@dataclass
class Loaded:
    """A reader's result: the prompts, and ``skipped`` - ids of rows left out because their
    diagram was missing under ``missing_image="skip"``."""

    prompts: list[Prompt]
    skipped: list[str] = field(default_factory=list)


def check_policy(missing_image: str) -> str:
    if missing_image not in MISSING_IMAGE_POLICIES:
        raise ValueError(f"missing_image must be one of {', '.join(MISSING_IMAGE_POLICIES)}, got {missing_image!r}")
    return missing_image


class _Skip(enum.Enum):
    # A one-member enum rather than a bare object(): the type checker knows `is SKIP` narrows it away.
    ROW = "skip"


class ImageLookup:
    """Resolves the diagram a row names under ``root`` (see :func:`redstar_geo.images.find_image`)
    and applies the missing-image policy."""

    #: Returned by :meth:`resolve` for a row to leave out.
    SKIP: Final = _Skip.ROW

    def __init__(self, root: str | Path, missing_image: str = "error") -> None:
        self.root = Path(root)
        self.policy = check_policy(missing_image)

    def resolve(self, relative: str, path: str | Path, line: int | None,
                field_name: str) -> str | None | Literal[_Skip.ROW]:
        """The diagram's absolute path as a string, None (``text-only``) or :attr:`SKIP`."""
        found = find_image(self.root, relative)
        if found is not None:
            return str(found)
        if self.policy == "error":
            raise InputError(path, f"diagram {relative!r} not found under {self.root} "
                             "(pass missing_image='skip' or 'text-only' to load such rows)",
                             line=line, field=field_name)
        return None if self.policy == "text-only" else self.SKIP


def warn_skipped(source: str, skipped: list[str]) -> None:
    if skipped:
        log.warning("%s: left out %d rows whose diagram is missing (missing_image='skip'): %s%s",
                    source, len(skipped), ", ".join(skipped[:5]), " ..." if len(skipped) > 5 else "")


def angle_or_other(choices: dict[str, str]) -> str:
    """GeoQA's report groups, derived from the choices: ``angle`` when every choice is in
    degrees, else ``other`` (lengths, areas, ratios)."""
    return "angle" if choices and all("°" in c or "\\circ" in c for c in choices.values()) else "other"


def copy_image(source: Path, target: Path) -> None:
    """Copy a diagram into a layout, unless it was rendered there already."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.resolve() != target.resolve():
        shutil.copyfile(source, target)
