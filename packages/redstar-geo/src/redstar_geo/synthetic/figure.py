"""A geometry figure as computed coordinates, and its rendering with PIL.

Problems build a :class:`Figure` from the very numbers in their question (a triangle with the
stated angles, a chord at the stated distance from the centre), so every diagram is drawn to
scale and agrees with the text. Coordinates are abstract (y up); :func:`render` fits them into
the canvas.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

Point = tuple[float, float]


@dataclass
class Figure:
    points: dict[str, Point] = field(default_factory=dict)
    #: Named points to print next to their position (hidden helper points are left out).
    labelled: list[str] = field(default_factory=list)
    segments: list[tuple[str, str]] = field(default_factory=list)
    #: (centre point name, radius).
    circles: list[tuple[str, float]] = field(default_factory=list)
    #: (vertex, from point, to point, label): an arc for the smaller angle between the two rays.
    angles: list[tuple[str, str, str, str]] = field(default_factory=list)
    #: (vertex, from point, to point): a right-angle square.
    right_angles: list[tuple[str, str, str]] = field(default_factory=list)
    #: (from point, to point, label): text next to a segment's midpoint (lengths).
    lengths: list[tuple[str, str, str]] = field(default_factory=list)
    #: Segments with an equal-length tick.
    ticks: list[tuple[str, str]] = field(default_factory=list)
    #: Direction (degrees) to place a point's letter, where "away from the figure's centre" would
    #: collide with something (the foot of a perpendicular sits on a labelled chord).
    label_dirs: dict[str, float] = field(default_factory=dict)

    def add(self, name: str, xy: Point, label: bool = True) -> str:
        self.points[name] = (float(xy[0]), float(xy[1]))
        if label:
            self.labelled.append(name)
        return name


def polar(origin: Point, radius: float, degrees: float) -> Point:
    angle = math.radians(degrees)
    return origin[0] + radius * math.cos(angle), origin[1] + radius * math.sin(angle)


def direction(a: Point, b: Point) -> float:
    """Angle of the ray a->b in degrees, counter-clockwise from +x."""
    return math.degrees(math.atan2(b[1] - a[1], b[0] - a[0])) % 360.0


def intersect_rays(p: Point, angle_p: float, q: Point, angle_q: float) -> Point:
    """Where the ray from p at angle_p meets the ray from q at angle_q."""
    dp = (math.cos(math.radians(angle_p)), math.sin(math.radians(angle_p)))
    dq = (math.cos(math.radians(angle_q)), math.sin(math.radians(angle_q)))
    det = dp[0] * -dq[1] - dp[1] * -dq[0]
    t = ((q[0] - p[0]) * -dq[1] - (q[1] - p[1]) * -dq[0]) / det
    return p[0] + t * dp[0], p[1] + t * dp[1]


@lru_cache(maxsize=4)
def _font(size: int) -> ImageFont.FreeTypeFont:
    # matplotlib ships DejaVu Sans, so every machine draws the same glyphs (including "°").
    from matplotlib import font_manager

    return ImageFont.truetype(font_manager.findfont("DejaVu Sans"), size)


def render(figure: Figure, size: int = 224, margin: int = 30, line_width: int = 2) -> Image.Image:
    """Draw the figure black on white, fitted into a ``size`` x ``size`` canvas."""
    xs = [p[0] for p in figure.points.values()]
    ys = [p[1] for p in figure.points.values()]
    for centre, radius in figure.circles:
        cx, cy = figure.points[centre]
        xs += [cx - radius, cx + radius]
        ys += [cy - radius, cy + radius]
    span = max(max(xs) - min(xs), max(ys) - min(ys), 1e-9)
    scale = (size - 2 * margin) / span
    ox = margin + ((size - 2 * margin) - (max(xs) - min(xs)) * scale) / 2
    oy = margin + ((size - 2 * margin) - (max(ys) - min(ys)) * scale) / 2

    def px(name_or_xy: str | Point) -> tuple[float, float]:
        x, y = figure.points[name_or_xy] if isinstance(name_or_xy, str) else name_or_xy
        return ox + (x - min(xs)) * scale, size - (oy + (y - min(ys)) * scale)

    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)
    font = _font(max(10, size // 16))
    for centre, radius in figure.circles:
        cx, cy = px(centre)
        r = radius * scale
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline="black", width=line_width)
    for a, b in figure.segments:
        draw.line((px(a), px(b)), fill="black", width=line_width)
    for a, b in figure.ticks:
        (x1, y1), (x2, y2) = px(a), px(b)
        mx, my, length = (x1 + x2) / 2, (y1 + y2) / 2, math.hypot(x2 - x1, y2 - y1) or 1.0
        nx, ny = -(y2 - y1) / length * 5, (x2 - x1) / length * 5
        draw.line(((mx - nx, my - ny), (mx + nx, my + ny)), fill="black", width=line_width)
    arc_radius = max(10, size // 16)
    for vertex, a, b, label in figure.angles:
        start, end = _smaller_arc(direction(figure.points[vertex], figure.points[a]),
                                  direction(figure.points[vertex], figure.points[b]))
        vx, vy = px(vertex)
        # PIL measures angles clockwise on a y-down canvas: negate and swap.
        draw.arc((vx - arc_radius, vy - arc_radius, vx + arc_radius, vy + arc_radius), -end, -start,
                 fill="black", width=1)
        middle = math.radians((start + end) / 2)
        lx, ly = vx + 2.1 * arc_radius * math.cos(middle), vy - 2.1 * arc_radius * math.sin(middle)
        draw.text((lx, ly), label, fill="black", font=font, anchor="mm")
    for vertex, a, b in figure.right_angles:
        v = figure.points[vertex]
        side = 8 / scale
        u1, u2 = polar(v, side, direction(v, figure.points[a])), polar(v, side, direction(v, figure.points[b]))
        corner = (u1[0] + u2[0] - v[0], u1[1] + u2[1] - v[1])
        draw.line((px(u1), px(corner), px(u2)), fill="black", width=1)
    cx = sum(p[0] for p in figure.points.values()) / len(figure.points)
    cy = sum(p[1] for p in figure.points.values()) / len(figure.points)
    for a, b, label in figure.lengths:
        (x1, y1), (x2, y2) = px(a), px(b)
        mx, my = (x1 + x2) / 2, (y1 + y2) / 2
        ccx, ccy = px((cx, cy))
        away = math.atan2(my - ccy, mx - ccx)
        draw.text((mx + 14 * math.cos(away), my + 14 * math.sin(away)), label, fill="black", font=font, anchor="mm")
    for name in figure.labelled:
        x, y = figure.points[name]
        if name in figure.label_dirs:
            away = math.radians(figure.label_dirs[name])
        else:
            away = math.atan2(y - cy, x - cx) if (x, y) != (cx, cy) else math.pi / 4
        lx, ly = px((x, y))
        draw.text((lx + 12 * math.cos(away), ly - 12 * math.sin(away)), name, fill="black", font=font, anchor="mm")
    return image


def _smaller_arc(a: float, b: float) -> tuple[float, float]:
    """(start, end) in degrees, counter-clockwise, spanning the smaller angle between a and b."""
    span = (b - a) % 360.0
    return (a, a + span) if span <= 180.0 else (b, b + (360.0 - span))
