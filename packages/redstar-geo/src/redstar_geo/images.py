"""Opening diagrams and finding them on disk.

Benchmark diagrams come as RGB, RGBA (transparent background), palette and grayscale PNGs or
JPEGs. A plain ``convert("RGB")`` turns a transparent background black, which hides black lines,
so transparency is composited onto white first.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

#: Tried in this order when a row names a diagram whose extension differs from the file on disk
#: (MathVista's rows say ``images/3.jpg``; re-packaged copies are often PNG).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp")


def load_rgb(path: str | Path) -> Image.Image:
    """Open a diagram as an RGB image, with any transparency composited onto white."""
    with Image.open(path) as image:
        image.load()
        if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
            rgba = image.convert("RGBA")
            background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            return Image.alpha_composite(background, rgba).convert("RGB")
        return image.convert("RGB")


def find_image(root: str | Path, relative: str) -> Path | None:
    """Locate the diagram a row names, relative to ``root``.

    Tried in order: ``root/relative``; ``root/<file name>`` and ``root/images/<file name>`` (for
    rows that carry a sub-folder, like G-LLaVA's ``test/0.png``, when the images were unpacked
    flat or into ``images/``); then the same stem with another image suffix in those places.
    Returns None when nothing exists.
    """
    root = Path(root)
    rel = Path(relative)
    for candidate in (root / rel, root / rel.name, root / "images" / rel.name):
        if candidate.is_file():
            return candidate.resolve()
    for folder in (root / rel.parent, root, root / "images"):
        for suffix in IMAGE_SUFFIXES:
            candidate = folder / (rel.stem + suffix)
            if candidate.is_file():
                return candidate.resolve()
    return None
