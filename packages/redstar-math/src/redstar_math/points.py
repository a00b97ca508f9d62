r"""The points at which two expressions in variables are compared, drawn afresh for every
comparison.

Two expressions that differ can agree on a few points: ``|x|`` and ``x`` on every positive one,
``\max(x, 0)`` and ``x`` too, ``\min(x, 50)`` and ``x`` below 50, and a polynomial built to vanish
on a known list of points everywhere on it. So the points

- **cover the line**: in every block of :data:`BLOCK` points each variable takes four negative and
  four positive values, one of each sign in each magnitude band - near zero (0.01-0.5), around one
  (0.5-2), medium (2-100) and large (in the first block from 100, or from twice the largest
  constant written in either expression, up to ten times that: ``\min(x, 10^6)`` is met beyond
  10^6; at most 10^13; in later blocks from 100 up to the same end);
  the signs of two variables take all four combinations (a Hadamard pattern), so ``|x| y`` is
  told from ``x |y|``;
- **are not a public list**: each value comes from a keyed BLAKE2b hash of both expressions as
  written, so the same pair always gets the same points (verdicts are reproducible) but changing
  any character of either expression draws new ones, and an answer cannot be built to vanish on
  the points it will be compared at.

:mod:`redstar_math.equivalence_scalars` compares the values at these points on the gold's real
domain and decides what the points leave open with sympy.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator

#: Points per block; a comparison draws up to :data:`MAX_BLOCKS` blocks.
BLOCK = 8
MAX_BLOCKS = 3
#: Which points of a block a variable is negative at: variable j is negative where the bits of
#: the point's index selected by its mask have odd parity (then flipped by a drawn bit).
SIGN_MASKS = (1, 2, 4, 3, 5, 6, 7)
SMALL = (0.01, 0.5)
UNIT = (0.5, 2.0)
MEDIUM = (2.0, 100.0)
LARGE_FLOOR = 100.0
LARGE_CEILING = 1e12
#: The large band spans this factor above its lower end.
LARGE_SPAN = 10.0
#: Separates these hashes from any other use of BLAKE2b; the points' unpredictability comes from
#: hashing both expressions, not from this key being secret.
KEY = b"redstar-math equivalence points"


def large_band(scale: float, block: int = 0) -> tuple[float, float]:
    r"""The large band: in the first block beyond the largest constant written in the expressions
    (``scale``), in the others from :data:`LARGE_FLOOR` to there, so that what lies between (the
    switch of ``\min(e^x, 10^{300})`` at x = 691) is met too."""
    low = min(max(LARGE_FLOOR, 2 * scale), LARGE_CEILING)
    return (low, low * LARGE_SPAN) if block == 0 else (LARGE_FLOOR, low * LARGE_SPAN)


def _permutation(data: bytes) -> list[int]:
    """A permutation of 0..3 from four bytes (Fisher-Yates)."""
    order = [0, 1, 2, 3]
    for i in range(3, 0, -1):
        j = data[i] % (i + 1)
        order[i], order[j] = order[j], order[i]
    return order


def draw(names: list[str], seed: bytes, block: int, scale: float = 0.0) -> list[dict[str, complex]]:
    """Block ``block`` of the points for one comparison: :data:`BLOCK` assignments of every
    variable in ``names``. ``seed`` identifies the comparison (both expressions as written);
    ``scale`` is the largest constant's magnitude (see :func:`large_band`)."""
    return list(iterate(names, seed, block, scale))


def iterate(names: list[str], seed: bytes, block: int,
            scale: float | Callable[[], float] = 0.0) -> Iterator[dict[str, complex]]:
    """The points of :func:`draw`, one at a time (a comparison that the first point decides
    computes no more); ``scale`` may be a function, called when a large value is first drawn."""
    bands: list[tuple[float, float] | None] = [SMALL, UNIT, MEDIUM, None]
    plans = []
    for j, name in enumerate(names):
        digest = hashlib.blake2b(b"%d\0%s\0" % (block, name.encode()) + seed, key=KEY, digest_size=64).digest()
        mask, flip = SIGN_MASKS[j % len(SIGN_MASKS)], digest[0] & 1
        negative = [(bin(k & mask).count("1") + flip) % 2 == 1 for k in range(BLOCK)]
        # Each sign meets every band once, in an order of its own.
        order = {False: iter(_permutation(digest[1:5])), True: iter(_permutation(digest[5:9]))}
        plans.append((name, digest, [(negative[k], next(order[negative[k]])) for k in range(BLOCK)]))
    for k in range(BLOCK):
        point = {}
        for name, digest, plan in plans:
            is_negative, band = plan[k]
            limits = bands[band]
            if limits is None:  # the large band, drawn for the first time
                limits = bands[band] = large_band(scale() if callable(scale) else scale, block)
            low, high = limits
            fraction = (int.from_bytes(digest[16 + 4 * k:20 + 4 * k], "big") + 0.5) / 2**32
            value = low * (high / low) ** fraction  # log-uniform within the band
            point[name] = complex(-value if is_negative else value)
        yield point
