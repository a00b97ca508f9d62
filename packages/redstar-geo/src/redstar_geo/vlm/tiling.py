"""InternVL's dynamic high-resolution tiling, on PIL images.

InternVL (1.5 onward, and transformers' native InternVL) cuts an image into a grid of square
tiles of ``image_size`` pixels (448) chosen to match the image's aspect ratio with between
``min_num`` and ``max_num`` tiles, and appends a thumbnail of the whole image when there is more
than one tile. Each tile becomes ``tokens_per_tile`` image tokens: the ViT sees
``(image_size / patch_size)²`` patches (32 x 32 = 1024 at 448 px, patch 14) and pixel shuffle
with ratio 0.5 merges each 2 x 2 block into one token, so 256 tokens per tile.

This follows OpenGVLab's ``dynamic_preprocess`` / ``find_closest_aspect_ratio`` (the grid with
the closest aspect ratio; on a tie the larger grid wins while the image has more than half the
grid's pixel area) with the candidate grids ordered as transformers' ``GotOcr2ImageProcessor``
orders them, so grids agree with both.
"""

from __future__ import annotations

from functools import lru_cache

from PIL import Image


def tokens_per_tile(image_size: int, patch_size: int, downsample_ratio: float = 0.5) -> int:
    """Image tokens one tile becomes: ``(image_size // patch_size)² · downsample_ratio²``
    (448, 14, 0.5 -> 256)."""
    if image_size % patch_size:
        raise ValueError(f"image_size {image_size} is not a multiple of patch_size {patch_size}")
    side = image_size // patch_size
    merged = side * downsample_ratio
    if merged != int(merged):
        raise ValueError(f"{side} patches per side cannot be pixel-shuffled by {downsample_ratio}")
    return int(merged) ** 2


@lru_cache(maxsize=32)
def candidate_grids(min_num: int, max_num: int) -> tuple[tuple[int, int], ...]:
    """All (columns, rows) grids with ``min_num <= columns·rows <= max_num``, fewest tiles first."""
    grids = [(c, r) for c in range(1, max_num + 1) for r in range(1, max_num + 1) if min_num <= c * r <= max_num]
    return tuple(sorted(grids, key=lambda g: g[0] * g[1]))


def best_grid(width: int, height: int, image_size: int, min_num: int = 1, max_num: int = 12) -> tuple[int, int]:
    """The (columns, rows) grid for an image of ``width`` x ``height`` pixels."""
    if width <= 0 or height <= 0:
        raise ValueError(f"image has no pixels ({width}x{height})")
    aspect = width / height
    area = width * height
    best, best_diff = (1, 1), float("inf")
    for columns, rows in candidate_grids(min_num, max_num):
        diff = abs(aspect - columns / rows)
        if diff < best_diff:
            best, best_diff = (columns, rows), diff
        elif diff == best_diff and area > 0.5 * image_size * image_size * columns * rows:
            best = (columns, rows)
    return best


def num_tiles(width: int, height: int, image_size: int, min_num: int = 1, max_num: int = 12,
              use_thumbnail: bool = True) -> int:
    """How many tiles :func:`dynamic_tiles` returns for this size, without touching pixels."""
    columns, rows = best_grid(width, height, image_size, min_num, max_num)
    blocks = columns * rows
    return blocks + 1 if use_thumbnail and blocks > 1 else blocks


def dynamic_tiles(image: Image.Image, image_size: int = 448, min_num: int = 1, max_num: int = 12,
                  use_thumbnail: bool = True) -> list[Image.Image]:
    """Resize ``image`` onto the best grid and cut it into ``image_size`` squares, row by row;
    add a thumbnail (the whole image resized to one tile) when there is more than one tile."""
    columns, rows = best_grid(image.width, image.height, image_size, min_num, max_num)
    resized = image.resize((columns * image_size, rows * image_size), Image.Resampling.BICUBIC)
    tiles = []
    for index in range(columns * rows):
        left, top = (index % columns) * image_size, (index // columns) * image_size
        tiles.append(resized.crop((left, top, left + image_size, top + image_size)))
    if use_thumbnail and len(tiles) > 1:
        tiles.append(image.resize((image_size, image_size), Image.Resampling.BICUBIC))
    return tiles
