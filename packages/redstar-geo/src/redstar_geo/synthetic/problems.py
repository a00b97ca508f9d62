"""The synthetic problem families. Each :class:`Variant` draws its givens from a random
generator and returns a :class:`Draft`: the question, the exact integer answer, plausible wrong
values (the usual slips: supplement instead of angle, half instead of double), worked reasoning
steps, and the figure built from the same numbers.

Questions are terse, with the givens close together (the diagram carries the rest, as in
Geometry3K's "Find x."): every question is under 13 words, so RedStar's 13-gram decontamination
compares them by exact text only - train and held-out problems share templates but never givens.

Difficulty levels (1-10, the scale RedStar's scorers use) grow with the number of facts chained:

====================  =======================================================  =====
kind                  variant                                                  level
====================  =======================================================  =====
triangle-angle        third angle from two angles                              2
triangle-angle        remote angle from an exterior angle                      5
parallel-lines        corresponding angles                                     1
parallel-lines        alternate interior angles                                2
parallel-lines        co-interior (same-side) angles                           4
circle-angle          central angle from the inscribed angle                   3
circle-angle          inscribed angle from the central angle                   4
circle-angle          inscribed angle from a base angle of triangle OAB        8
isosceles             apex angle from a base angle                             3
isosceles             base angle from the apex angle                           5
isosceles             apex angle from an exterior base angle                   8
chord-length          distance to the chord from radius and chord              6
chord-length          chord from radius and distance                           7
chord-length          radius from chord and distance                           8
rectangle-area        area from two sides                                      2
rectangle-area        area from perimeter and one side                         5
rectangle-area        area from diagonal and one side                          7
====================  =======================================================  =====
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from redstar_geo.synthetic.figure import Figure, intersect_rays, polar

#: Pythagorean triples (short leg, long leg, hypotenuse) for exact lengths.
TRIPLES = [(3, 4, 5), (6, 8, 10), (5, 12, 13), (9, 12, 15), (8, 15, 17), (12, 16, 20), (7, 24, 25),
           (15, 20, 25), (10, 24, 26), (20, 21, 29), (18, 24, 30), (16, 30, 34), (21, 28, 35), (12, 35, 37)]


@dataclass
class Draft:
    """One generated problem before lettering. ``params`` identifies it (two drafts with the same
    kind, variant and params are the same problem)."""

    params: tuple
    question: str
    answer: int
    unit: str
    wrong: list[int]
    steps: list[str]
    check: str
    figure: Figure
    graph: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Variant:
    kind: str
    name: str
    level: int
    build: Callable[[random.Random], Draft]


def deg(value: float) -> str:
    return f"{value:g}°"


# -- triangle-angle ----------------------------------------------------------------------------
def _triangle(a: int, b: int) -> Figure:
    fig = Figure()
    fig.add("A", (0.0, 0.0)), fig.add("B", (1.0, 0.0))
    fig.add("C", intersect_rays(fig.points["A"], a, fig.points["B"], 180 - b))
    fig.segments += [("A", "B"), ("B", "C"), ("C", "A")]
    return fig


def third_angle(rng: random.Random) -> Draft:
    a = rng.randint(20, 100)
    b = rng.randint(20, 150 - a)
    c = 180 - a - b
    fig = _triangle(a, b)
    fig.angles += [("A", "B", "C", deg(a)), ("B", "C", "A", deg(b)), ("C", "A", "B", "?")]
    return Draft(
        (a, b), f"In triangle ABC, angle A = {deg(a)}, angle B = {deg(b)}. Find angle C.", c, "°", [a + b, 180 - a, 180 - b, c + 10, abs(c - 10)],
        ["The three angles of a triangle add up to 180°.", f"angle A + angle B = {a}° + {b}° = {a + b}°.",
         f"angle C = 180° - {a + b}° = {c}°."],
        f"{a}° + {b}° + {c}° = 180°", fig, ["Triangle"])


def exterior_angle(rng: random.Random) -> Draft:
    a = rng.randint(20, 90)
    b = rng.randint(20, 150 - a)
    ext, c = 180 - b, 180 - a - b
    fig = _triangle(a, b)
    fig.add("D", (1.45, 0.0))
    fig.segments.append(("B", "D"))
    fig.angles += [("A", "B", "C", deg(a)), ("B", "C", "D", deg(ext)), ("C", "A", "B", "?")]
    return Draft(
        (a, b), f"D extends AB. Angle A = {deg(a)}, angle CBD = {deg(ext)}. Find angle C.", c, "°",
        [ext + a, 180 - ext, 180 - a, c + 10, abs(c - 10)],
        ["An exterior angle of a triangle equals the sum of the two remote interior angles.",
         "So angle CBD = angle A + angle C.", f"angle C = {ext}° - {a}° = {c}°."],
        f"{a}° + {c}° = {ext}°", fig, ["Triangle"])


# -- parallel-lines ----------------------------------------------------------------------------
def _parallel(theta: int) -> Figure:
    """AB (above) parallel to CD, transversal E-G-H-F with GE at ``theta`` degrees from GB."""
    fig = Figure()
    fig.add("A", (-1.2, 1.0)), fig.add("B", (1.2, 1.0)), fig.add("C", (-1.2, 0.0)), fig.add("D", (1.2, 0.0))
    slope_x = 1.0 / math.tan(math.radians(theta))
    fig.add("G", (0.5 * slope_x, 1.0)), fig.add("H", (-0.5 * slope_x, 0.0))
    fig.add("E", polar(fig.points["G"], 0.45, theta)), fig.add("F", polar(fig.points["H"], 0.45, theta + 180))
    fig.segments += [("A", "B"), ("C", "D"), ("E", "F")]
    return fig


def _parallel_draft(rng: random.Random, given: tuple[str, str, str], given_name: str, value_of: Callable[[int], int],
                    asked: tuple[str, str, str], asked_name: str, rule: list[str]) -> Draft:
    theta = rng.choice([t for t in range(25, 156) if abs(t - 90) >= 8])
    x, answer = value_of(theta), theta
    fig = _parallel(theta)
    fig.angles += [(*given, deg(x)), (*asked, "?")]
    return Draft(
        (theta,), f"AB ∥ CD. Angle {given_name} = {deg(x)}. Find angle {asked_name}.", answer, "°",
        [180 - answer, 90 - answer if answer < 90 else answer - 90, answer + 10, abs(answer - 10), answer // 2],
        rule, f"angle {asked_name} = {answer}° and angle {given_name} = {x}°", fig, ["Line"])


def corresponding(rng: random.Random) -> Draft:
    return _parallel_draft(rng, ("G", "E", "B"), "EGB", lambda t: t, ("H", "G", "D"), "GHD",
                           ["Since AB is parallel to CD, corresponding angles are equal.",
                            "angle GHD corresponds to angle EGB.", "So angle GHD = angle EGB."])


def alternate(rng: random.Random) -> Draft:
    return _parallel_draft(rng, ("G", "A", "H"), "AGH", lambda t: t, ("H", "G", "D"), "GHD",
                           ["Since AB is parallel to CD, alternate interior angles are equal.",
                            "angle GHD and angle AGH are alternate interior angles.", "So angle GHD = angle AGH."])


def co_interior(rng: random.Random) -> Draft:
    draft = _parallel_draft(rng, ("G", "B", "H"), "BGH", lambda t: 180 - t, ("H", "G", "D"), "GHD", [])
    x = 180 - draft.answer
    draft.steps = ["Since AB is parallel to CD, co-interior angles add up to 180°.",
                   "angle BGH + angle GHD = 180°.", f"angle GHD = 180° - {x}° = {draft.answer}°."]
    draft.check = f"{x}° + {draft.answer}° = 180°"
    draft.wrong = [x, abs(90 - x), draft.answer + 10, abs(draft.answer - 10), x // 2]
    return draft


# -- circle-angle ------------------------------------------------------------------------------
def _circle(central: int, c_at: float) -> Figure:
    fig = Figure()
    centre = fig.points[fig.add("O", (0.0, 0.0))]
    fig.add("A", polar(centre, 1.0, 270 - central / 2)), fig.add("B", polar(centre, 1.0, 270 + central / 2))
    fig.add("C", polar(centre, 1.0, c_at))
    fig.circles.append(("O", 1.0))
    fig.segments += [("O", "A"), ("O", "B"), ("C", "A"), ("C", "B")]
    return fig


def inscribed_from_central(rng: random.Random) -> Draft:
    central = 2 * rng.randint(15, 80)
    c_at = rng.uniform(60, 120)
    fig = _circle(central, c_at)
    fig.angles += [("O", "A", "B", deg(central)), ("C", "A", "B", "?")]
    x = central // 2
    return Draft(
        (central,), f"A, B, C on circle O: angle AOB = {deg(central)}. Find angle ACB.", x, "°", [central, 180 - central, 180 - x, 90 - x, x + 10],
        ["An inscribed angle is half of the central angle on the same arc.", "angle ACB and angle AOB stand on arc AB.",
         f"angle ACB = {central}° / 2 = {x}°."], f"2 × {x}° = {central}°", fig, ["Circle"])


def central_from_inscribed(rng: random.Random) -> Draft:
    x = rng.randint(15, 80)
    fig = _circle(2 * x, rng.uniform(60, 120))
    fig.angles += [("C", "A", "B", deg(x)), ("O", "A", "B", "?")]
    return Draft(
        (x,), f"A, B, C on circle O: angle ACB = {deg(x)}. Find angle AOB.", 2 * x, "°", [x, 180 - x, 180 - 2 * x, 90 + x, 2 * x + 10],
        ["A central angle is twice the inscribed angle on the same arc.", "angle AOB and angle ACB stand on arc AB.",
         f"angle AOB = 2 × {x}° = {2 * x}°."], f"{2 * x}° / 2 = {x}°", fig, ["Circle"])


def inscribed_from_base(rng: random.Random) -> Draft:
    y = rng.randint(15, 70)
    central = 180 - 2 * y
    fig = _circle(central, rng.uniform(60, 120))
    fig.segments.append(("A", "B"))
    fig.angles += [("A", "O", "B", deg(y)), ("C", "A", "B", "?")]
    x = 90 - y
    return Draft(
        (y,), f"A, B, C on circle O: angle OAB = {deg(y)}. Find angle ACB.", x, "°", [y, central, 180 - y, 2 * y, x + 10],
        ["OA = OB are radii, so triangle OAB is isosceles and angle OBA = angle OAB.",
         f"angle AOB = 180° - 2 × {y}° = {central}°.",
         "An inscribed angle is half of the central angle on the same arc.", f"angle ACB = {central}° / 2 = {x}°."],
        f"{y}° + {y}° + {central}° = 180°", fig, ["Circle", "Triangle"])


# -- isosceles ---------------------------------------------------------------------------------
def _isosceles(base: float) -> Figure:
    fig = Figure()
    fig.add("B", (-1.0, 0.0)), fig.add("C", (1.0, 0.0))
    fig.add("A", (0.0, math.tan(math.radians(base))))
    fig.segments += [("A", "B"), ("B", "C"), ("C", "A")]
    fig.ticks += [("A", "B"), ("A", "C")]
    return fig


def apex_from_base(rng: random.Random) -> Draft:
    b = rng.randint(25, 80)
    a = 180 - 2 * b
    fig = _isosceles(b)
    fig.angles += [("B", "C", "A", deg(b)), ("A", "B", "C", "?")]
    return Draft(
        (b,), f"In triangle ABC, AB = AC and angle B = {deg(b)}. Find angle A.", a, "°", [b, 180 - b, 2 * b, a + 10, abs(a - 10)],
        ["AB = AC, so the base angles are equal: angle C = angle B.", f"angle B + angle C = {b}° + {b}° = {2 * b}°.",
         f"angle A = 180° - {2 * b}° = {a}°."], f"{a}° + {b}° + {b}° = 180°", fig, ["Triangle"])


def base_from_apex(rng: random.Random) -> Draft:
    a = 2 * rng.randint(10, 75)
    b = (180 - a) // 2
    fig = _isosceles(b)
    fig.angles += [("A", "B", "C", deg(a)), ("B", "C", "A", "?")]
    return Draft(
        (a,), f"In triangle ABC, AB = AC and angle A = {deg(a)}. Find angle B.", b, "°", [a, 180 - a, 90 - a // 2 + 10, a // 2, b + 10],
        ["AB = AC, so angle B = angle C.", f"angle B + angle C = 180° - {a}° = {180 - a}°.",
         f"angle B = {180 - a}° / 2 = {b}°."], f"{a}° + {b}° + {b}° = 180°", fig, ["Triangle"])


def apex_from_exterior(rng: random.Random) -> Draft:
    e = rng.randint(96, 170)
    b = 180 - e
    a = 180 - 2 * b
    fig = _isosceles(b)
    fig.add("D", (1.6, 0.0))
    fig.segments.append(("C", "D"))
    fig.angles += [("C", "D", "A", deg(e)), ("A", "B", "C", "?")]
    return Draft(
        (e,), f"AB = AC, D extends BC, angle ACD = {deg(e)}. Find angle A.", a, "°", [b, e - b, 2 * b, a + 10, abs(a - 10)],
        [f"angle ACB = 180° - {e}° = {b}°.", "AB = AC, so angle B = angle ACB.",
         f"angle A = 180° - {b}° - {b}° = {a}°."], f"{a}° + {b}° + {b}° = 180°", fig, ["Triangle"])


# -- chord-length ------------------------------------------------------------------------------
def _chord(r: float, d: float) -> Figure:
    fig = Figure()
    fig.add("O", (0.0, 0.0))
    half = math.sqrt(r * r - d * d)
    fig.add("A", (-half, -d)), fig.add("B", (half, -d)), fig.add("M", (0.0, -d))
    fig.circles.append(("O", r))
    fig.segments += [("A", "B"), ("O", "M"), ("O", "B")]
    fig.right_angles.append(("M", "O", "B"))
    fig.label_dirs["M"] = 150.0
    return fig


def _triple(rng: random.Random) -> tuple[int, int, int, bool]:
    a, b, c = rng.choice(TRIPLES)
    swap = rng.random() < 0.5  # which leg is the distance to the chord
    return (b, a, c, swap) if swap else (a, b, c, swap)


def chord_from_distance(rng: random.Random) -> Draft:
    d, half, r, swap = _triple(rng)
    fig = _chord(r, d)
    fig.lengths += [("O", "B", f"{r}"), ("O", "M", f"{d}")]
    return Draft(
        (d, r), f"Radius OB = {r}cm, OM ⊥ AB, OM = {d}cm. Find chord AB.", 2 * half, "cm", [half, r + d, 2 * r, 2 * d, 2 * half + 2],
        ["OM is perpendicular to AB, so M is the midpoint of AB.",
         f"In right triangle OMB, MB² = OB² - OM² = {r * r} - {d * d} = {half * half}.",
         f"MB = {half}cm.", f"AB = 2 × {half} = {2 * half}cm."], f"{half}² + {d}² = {r}²", fig, ["Circle"])


def distance_from_chord(rng: random.Random) -> Draft:
    d, half, r, swap = _triple(rng)
    fig = _chord(r, d)
    fig.lengths += [("O", "B", f"{r}"), ("A", "B", f"{2 * half}")]
    return Draft(
        (d, r), f"Radius OB = {r}cm, chord AB = {2 * half}cm, OM ⊥ AB. Find OM.", d, "cm", [half, r - half, 2 * d, r - d, d + 2],
        ["OM is perpendicular to AB, so M is the midpoint of AB.", f"MB = {2 * half} / 2 = {half}cm.",
         f"OM² = OB² - MB² = {r * r} - {half * half} = {d * d}.", f"OM = {d}cm."],
        f"{half}² + {d}² = {r}²", fig, ["Circle"])


def radius_from_chord(rng: random.Random) -> Draft:
    d, half, r, swap = _triple(rng)
    fig = _chord(r, d)
    fig.lengths += [("O", "M", f"{d}"), ("A", "B", f"{2 * half}")]
    return Draft(
        (d, r), f"Chord AB = {2 * half}cm, OM ⊥ AB, OM = {d}cm. Find radius OB.", r, "cm", [half + d, 2 * half, d + 2 * half, r + 2, 2 * r],
        ["OM is perpendicular to AB, so M is the midpoint of AB.", f"MB = {2 * half} / 2 = {half}cm.",
         f"OB² = OM² + MB² = {d * d} + {half * half} = {r * r}.", f"OB = {r}cm."],
        f"{half}² + {d}² = {r}²", fig, ["Circle"])


# -- rectangle-area ----------------------------------------------------------------------------
def _rectangle(w: float, h: float, diagonal: bool = False) -> Figure:
    fig = Figure()
    fig.add("A", (0.0, h)), fig.add("B", (w, h)), fig.add("C", (w, 0.0)), fig.add("D", (0.0, 0.0))
    fig.segments += [("A", "B"), ("B", "C"), ("C", "D"), ("D", "A")]
    if diagonal:
        fig.segments.append(("A", "C"))
    return fig


def area_from_sides(rng: random.Random) -> Draft:
    w, h = rng.randint(3, 20), rng.randint(2, 15)
    fig = _rectangle(w, h)
    fig.lengths += [("A", "B", f"{w}"), ("B", "C", f"{h}")]
    return Draft(
        (w, h), f"Rectangle ABCD: AB = {w}cm, BC = {h}cm. Find its area.",
        w * h, "cm²", [2 * (w + h), w + h, w * h + w, w * h - h, (w + 1) * h],
        ["The area of a rectangle is length times width.", f"area = AB × BC = {w} × {h} = {w * h}cm²."],
        f"{w * h} / {w} = {h}", fig, ["Rectangle"])


def area_from_perimeter(rng: random.Random) -> Draft:
    w, h = rng.randint(3, 20), rng.randint(2, 15)
    perimeter = 2 * (w + h)
    fig = _rectangle(w, h)
    fig.lengths.append(("A", "B", f"{w}"))
    return Draft(
        (w, h), f"Rectangle ABCD has perimeter {perimeter}cm and AB = {w}cm. Find its area.", w * h, "cm²", [perimeter * w // 2, w * (perimeter - w), (perimeter - w) * h, w * h + w, w * h - w],
        ["AB + BC is half of the perimeter.", f"BC = {perimeter} / 2 - {w} = {h}cm.",
         f"area = {w} × {h} = {w * h}cm²."], f"2 × ({w} + {h}) = {perimeter}", fig, ["Rectangle"])


def area_from_diagonal(rng: random.Random) -> Draft:
    a, b, c = rng.choice(TRIPLES)
    w, h = (a, b) if rng.random() < 0.5 else (b, a)
    fig = _rectangle(w, h, diagonal=True)
    fig.lengths += [("A", "B", f"{w}"), ("A", "C", f"{c}")]
    return Draft(
        (w, h), f"Rectangle ABCD: AB = {w}cm, diagonal AC = {c}cm. Find its area.", w * h, "cm²", [w * c, c * h, 2 * (w + h), w * h + w, w * h + h],
        ["Triangle ABC has a right angle at B.", f"BC² = AC² - AB² = {c * c} - {w * w} = {h * h}.",
         f"BC = {h}cm.", f"area = {w} × {h} = {w * h}cm²."], f"{w}² + {h}² = {c}²", fig, ["Rectangle"])


VARIANTS: list[Variant] = [
    Variant("triangle-angle", "third-angle", 2, third_angle),
    Variant("triangle-angle", "exterior-angle", 5, exterior_angle),
    Variant("parallel-lines", "corresponding", 1, corresponding),
    Variant("parallel-lines", "alternate-interior", 2, alternate),
    Variant("parallel-lines", "co-interior", 4, co_interior),
    Variant("circle-angle", "central-from-inscribed", 3, central_from_inscribed),
    Variant("circle-angle", "inscribed-from-central", 4, inscribed_from_central),
    Variant("circle-angle", "inscribed-from-base-angle", 8, inscribed_from_base),
    Variant("isosceles", "apex-from-base", 3, apex_from_base),
    Variant("isosceles", "base-from-apex", 5, base_from_apex),
    Variant("isosceles", "apex-from-exterior", 8, apex_from_exterior),
    Variant("chord-length", "distance-from-chord", 6, distance_from_chord),
    Variant("chord-length", "chord-from-distance", 7, chord_from_distance),
    Variant("chord-length", "radius-from-chord", 8, radius_from_chord),
    Variant("rectangle-area", "area-from-sides", 2, area_from_sides),
    Variant("rectangle-area", "area-from-perimeter", 5, area_from_perimeter),
    Variant("rectangle-area", "area-from-diagonal", 7, area_from_diagonal),
]
KINDS = sorted({v.kind for v in VARIANTS})
