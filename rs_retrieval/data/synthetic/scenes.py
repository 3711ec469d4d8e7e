"""Drawing the synthetic scenes: procedurally drawn overhead views and the `SceneSpec` of what each shows.

Every image is drawn with `PIL.ImageDraw` from a `numpy.random.Generator`, and its captions are written from
a `SceneSpec` that records what was actually drawn (how many airplanes, which roof colour, where the sea is),
so captions never claim what the pixels do not show. Scene types differ in dominant colours and layout and
every caption names its scene, which keeps the data learnable by a small model in a CPU-minute; counts,
colours and positions give retrieval something finer to learn after that.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

RGB = tuple[int, int, int]
Point = tuple[float, float]

MIN_IMAGE_SIZE = 32

#: Airplanes are drawn in this colour and nothing else in an airport scene is as light and neutral.
PLANE_RGB: RGB = (244, 244, 248)


# --------------------------------------------------------------------------------------------------------------
# What was drawn
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SceneSpec:
    """What a drawer put on the canvas; the captions are written from this and nothing else.

    `count` is the number of counted objects (airplanes, cars, storage tanks; 0 where a scene has none),
    `colour` an English colour name (of the counted objects, roofs, crops, land or track, per scene),
    `position` one of left/right/top/bottom/center (where the planes, tanks, sea or clearing are),
    `orientation` horizontal/vertical (runway, river, stadium) and `rows` the rows of parked cars.
    """

    scene: str
    count: int = 0
    colour: str | None = None
    position: str | None = None
    orientation: str | None = None
    rows: int = 0


# --------------------------------------------------------------------------------------------------------------
# Canvas helpers
# --------------------------------------------------------------------------------------------------------------

# Draw in one canonical frame (objects at the top, runways and rivers horizontal), then move the picture so
# that the canonical top lands on the chosen side.
_SIDE_TRANSFORMS: dict[str, tuple[Image.Transpose, ...]] = {
    "top": (),
    "bottom": (Image.Transpose.FLIP_TOP_BOTTOM,),
    "left": (Image.Transpose.TRANSPOSE,),
    "right": (Image.Transpose.TRANSPOSE, Image.Transpose.FLIP_LEFT_RIGHT),
}
_SIDE_ORIENTATION = {"top": "horizontal", "bottom": "horizontal", "left": "vertical", "right": "vertical"}
SIDES = tuple(_SIDE_TRANSFORMS)


def _to_side(image: Image.Image, side: str) -> Image.Image:
    """Move the canonical top of `image` to `side`."""
    for step in _SIDE_TRANSFORMS[side]:
        image = image.transpose(step)
    return image


def _to_orientation(image: Image.Image, orientation: str) -> Image.Image:
    """Turn a canonical (horizontal) drawing vertical by transposing it."""
    return image.transpose(Image.Transpose.TRANSPOSE) if orientation == "vertical" else image


def _maybe_mirror(image: Image.Image, rng: np.random.Generator, transpose: Image.Transpose) -> Image.Image:
    """Mirror along an axis that no caption talks about, for free variety."""
    return image.transpose(transpose) if rng.random() < 0.5 else image


def _smooth_noise(rng: np.random.Generator, size: int, cells: int = 5) -> np.ndarray:
    """Low-frequency noise in roughly [-2, 2]: a random `cells`x`cells` grid bilinearly stretched to `size`."""
    grid = rng.normal(size=(cells, cells))
    pos = np.linspace(0.0, cells - 1.0, size)
    low = np.minimum(pos.astype(int), cells - 2)
    frac = pos - low
    weights = np.zeros((size, cells))
    weights[np.arange(size), low] = 1.0 - frac
    weights[np.arange(size), low + 1] = frac
    return weights @ grid @ weights.T


def _vary(rng: np.random.Generator, rgb: RGB, amount: int = 10) -> RGB:
    """`rgb` with every channel moved by up to `amount`."""
    return tuple(int(np.clip(c + rng.integers(-amount, amount + 1), 0, 255)) for c in rgb)  # type: ignore[return-value]


def _shade(rgb: RGB, factor: float) -> RGB:
    """A darker (factor < 1) or lighter (factor > 1) version of `rgb`."""
    return tuple(int(np.clip(c * factor, 0, 255)) for c in rgb)  # type: ignore[return-value]


def _canvas(rng: np.random.Generator, size: int, base: RGB, *, grain: float = 5.0, blotch: float = 9.0) -> Image.Image:
    """A ground texture: `base` with soft light/dark blotches and per-pixel grain, so no area is flat."""
    light = _smooth_noise(rng, size)[..., None] * blotch
    arr = np.asarray(base, dtype=np.float64) + light + rng.normal(0.0, grain, (size, size, 3))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def _finish(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Mild uneven lighting and sensor grain over the whole picture, drawn objects included."""
    size = image.width
    arr = np.asarray(image, dtype=np.float64)
    arr = arr * (1.0 + 0.025 * _smooth_noise(rng, size, cells=3)[..., None]) + rng.normal(0.0, 2.5, arr.shape)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def _px(size: int, fraction: float) -> int:
    """A line width that scales with the image, never below one pixel."""
    return max(1, round(size * fraction))


def _ellipse(draw: ImageDraw.ImageDraw, cx: float, cy: float, rx: float, ry: float, fill: RGB) -> None:
    draw.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=fill)


def _wave(size: int, centre: float, amplitude: float, cycles: float, phase: float, *, steps: int = 48) -> list[Point]:
    """Points of a sine curve running left to right just past both image edges."""
    xs = np.linspace(-0.1 * size, 1.1 * size, steps)
    ys = centre + amplitude * np.sin(2 * np.pi * cycles * xs / size + phase)
    return list(zip(xs.tolist(), ys.tolist()))


# --------------------------------------------------------------------------------------------------------------
# Scene drawers: each returns the picture and the spec of what is in it
# --------------------------------------------------------------------------------------------------------------

Drawer = Callable[[np.random.Generator, int], tuple[Image.Image, SceneSpec]]


def _plane_polygons(cx: float, cy: float, length: float) -> list[list[Point]]:
    """Fuselage, wings and tail of an airplane whose nose points down (towards the canonical runway)."""
    half_w = max(1.0, 0.06 * length)
    shapes = [  # (across, along) in units of length; +along is the nose
        [(0, 0.5), (half_w / length, 0.36), (half_w / length, -0.5), (-half_w / length, -0.5),
         (-half_w / length, 0.36)],
        [(0.05, 0.14), (0.46, -0.08), (0.46, -0.17), (0.05, -0.04), (-0.05, -0.04), (-0.46, -0.17), (-0.46, -0.08),
         (-0.05, 0.14)],
        [(0.05, -0.3), (0.2, -0.43), (0.2, -0.5), (-0.2, -0.5), (-0.2, -0.43), (-0.05, -0.3)],
    ]
    return [[(cx + a * length, cy + b * length) for a, b in shape] for shape in shapes]


def _plane_skeleton(cx: float, cy: float, length: float) -> list[list[Point]]:
    """Centre lines of the fuselage, wings and tail, in the frame of `_plane_polygons`."""
    lines = [[(0, 0.5), (0, -0.5)], [(-0.46, -0.12), (0, 0.05), (0.46, -0.12)], [(-0.2, -0.46), (0.2, -0.46)]]
    return [[(cx + a * length, cy + b * length) for a, b in line] for line in lines]


def _draw_airport(rng: np.random.Generator, size: int) -> tuple[Image.Image, SceneSpec]:
    """A grey runway with an apron beside it where 1..4 white airplanes are parked, noses to the runway."""
    s = float(size)
    count = int(rng.integers(1, 5))
    image = _canvas(rng, size, _vary(rng, (165, 158, 110)))
    draw = ImageDraw.Draw(image)
    runway_top = s * rng.uniform(0.6, 0.7)
    runway_bottom = runway_top + s * rng.uniform(0.12, 0.15)
    draw.rectangle([-1, runway_top, s, runway_bottom], fill=_vary(rng, (104, 104, 108), 6))
    centre_y, dash = (runway_top + runway_bottom) / 2, s * 0.06
    for x in np.arange(s * 0.03, s, 2 * dash):
        draw.line([(x, centre_y), (x + dash, centre_y)], fill=(175, 175, 160), width=_px(size, 1 / 64))
    apron_bottom = runway_top - s * 0.06
    apron_top = apron_bottom - s * 0.28
    draw.rectangle([s * 0.02, apron_top, s * 0.98, apron_bottom], fill=_vary(rng, (140, 140, 138), 6))
    for x in (s * 0.12, s * 0.88):
        draw.rectangle([x - s * 0.025, apron_bottom, x + s * 0.025, runway_top], fill=(122, 122, 125))
    slot = s * 0.96 / count
    gap = max(2.5, s * 0.03)  # between neighbouring wingtips, so every airplane stays a separate shape
    length = min(s * 0.21, (slot - gap) / 0.95)
    slack = max(0.0, (slot - 0.95 * length - gap) / 2)
    for i in range(count):
        cx = s * 0.02 + slot * (i + 0.5) + rng.uniform(-slack, slack)
        cy = (apron_top + apron_bottom) / 2 + rng.uniform(-0.02, 0.02) * s
        for polygon in _plane_polygons(cx + length * 0.07, cy + length * 0.07, length):
            draw.polygon(polygon, fill=(88, 88, 90))  # shadow
        for polygon in _plane_polygons(cx, cy, length):
            draw.polygon(polygon, fill=PLANE_RGB)
        for line in _plane_skeleton(cx, cy, length):  # keeps thin wings joined to the body in small images
            draw.line(line, fill=PLANE_RGB, width=1)
    side = str(rng.choice(SIDES))
    image = _to_side(_maybe_mirror(image, rng, Image.Transpose.FLIP_LEFT_RIGHT), side)
    spec = SceneSpec("airport", count=count, colour="white", position=side, orientation=_SIDE_ORIENTATION[side])
    return image, spec


_CROP_COLOURS: dict[str, tuple[RGB, ...]] = {
    "green": ((72, 140, 52), (96, 160, 62), (58, 122, 44)),
    "yellow": ((204, 182, 82), (218, 198, 98), (188, 166, 70)),
}


def _draw_farmland(rng: np.random.Generator, size: int) -> tuple[Image.Image, SceneSpec]:
    """A patchwork of rectangular fields, mostly of one crop colour, some ploughed brown, with crop rows."""
    s = float(size)
    colour = str(rng.choice(list(_CROP_COLOURS)))
    image = _canvas(rng, size, (168, 150, 112), grain=4)
    draw = ImageDraw.Draw(image)
    rows, cols = int(rng.integers(2, 5)), int(rng.integers(2, 5))

    def cuts(n: int) -> np.ndarray:
        edges = np.linspace(0.0, s, n + 1)
        edges[1:-1] += rng.uniform(-0.25, 0.25, n - 1) * s / n
        return edges

    ys, xs = cuts(rows), cuts(cols)
    gap = s * 0.015
    for r in range(rows):
        for c in range(cols):
            fill = _vary(rng, (142, 106, 72) if rng.random() < 0.22 else _CROP_COLOURS[colour][rng.integers(3)], 8)
            box = (xs[c] + gap, ys[r] + gap, xs[c + 1] - gap, ys[r + 1] - gap)
            draw.rectangle(box, fill=fill)
            stripe, step = _shade(fill, 0.86), max(2.0, s * 0.045)
            if rng.random() < 0.5:
                for x in np.arange(box[0] + step / 2, box[2], step):
                    draw.line([(x, box[1]), (x, box[3])], fill=stripe)
            else:
                for y in np.arange(box[1] + step / 2, box[3], step):
                    draw.line([(box[0], y), (box[2], y)], fill=stripe)
    return image, SceneSpec("farmland", colour=colour)


_LAND_COLOURS: dict[str, RGB] = {"green": (92, 138, 62), "brown": (150, 124, 86)}
_WATER: RGB = (44, 92, 160)


def _draw_river_band(
    draw: ImageDraw.ImageDraw, rng: np.random.Generator, size: int, amplitude: float
) -> tuple[list[Point], float]:
    """A blue river with sandy banks winding left to right across the canonical frame; its centre line and width."""
    s = float(size)
    points = _wave(size, s * rng.uniform(0.42, 0.58), amplitude * s, rng.uniform(0.6, 1.3), rng.uniform(0, 2 * np.pi))
    width = s * rng.uniform(0.13, 0.18)
    draw.line(points, fill=(182, 166, 122), width=round(width + s * 0.05), joint="curve")
    draw.line(points, fill=_vary(rng, _WATER, 8), width=round(width), joint="curve")
    return points, width


def _scatter_bushes(draw: ImageDraw.ImageDraw, rng: np.random.Generator, size: int, per_64: int) -> None:
    """A few small dark bushes, so land is not an empty colour."""
    s = float(size)
    for _ in range(int(per_64 * (s / 64) ** 2)):
        _ellipse(draw, rng.uniform(0, s), rng.uniform(0, s), s * 0.02, s * 0.02, _vary(rng, (48, 86, 40), 10))


def _draw_river(rng: np.random.Generator, size: int) -> tuple[Image.Image, SceneSpec]:
    """A winding blue river across green or brown land."""
    colour = str(rng.choice(list(_LAND_COLOURS)))
    image = _canvas(rng, size, _vary(rng, _LAND_COLOURS[colour]))
    draw = ImageDraw.Draw(image)
    _scatter_bushes(draw, rng, size, 10)
    _draw_river_band(draw, rng, size, rng.uniform(0.12, 0.2))
    orientation = str(rng.choice(["horizontal", "vertical"]))
    image = _to_orientation(_maybe_mirror(image, rng, Image.Transpose.FLIP_TOP_BOTTOM), orientation)
    return image, SceneSpec("river", colour=colour, orientation=orientation)


def _draw_bridge(rng: np.random.Generator, size: int) -> tuple[Image.Image, SceneSpec]:
    """A gently curving river on green land with a grey road bridge crossing it at right angles."""
    s = float(size)
    image = _canvas(rng, size, _vary(rng, _LAND_COLOURS["green"]))
    draw = ImageDraw.Draw(image)
    _scatter_bushes(draw, rng, size, 8)
    points, width = _draw_river_band(draw, rng, size, rng.uniform(0.02, 0.05))
    x = s * rng.uniform(0.35, 0.65)
    half = s * rng.uniform(0.045, 0.06)
    xs, ys = zip(*points)
    river_y = float(np.interp(x, xs, ys))
    span = (river_y - width / 2 - s * 0.06, river_y + width / 2 + s * 0.06)  # the deck reaches past both banks
    draw.rectangle([x + half, river_y - width / 2, x + half + s * 0.035, river_y + width / 2],
                   fill=(30, 52, 92))  # shadow
    draw.rectangle([x - half, -1, x + half, s], fill=_vary(rng, (128, 128, 126), 6))
    for edge in (x - half, x + half):
        draw.line([(edge, span[0]), (edge, span[1])], fill=(196, 196, 188), width=_px(size, 1 / 64))
    for y in np.arange(0, s, s * 0.12):
        draw.line([(x, y), (x, y + s * 0.06)], fill=(222, 212, 140), width=_px(size, 1 / 64))
    orientation = str(rng.choice(["horizontal", "vertical"]))
    image = _to_orientation(_maybe_mirror(image, rng, Image.Transpose.FLIP_LEFT_RIGHT), orientation)
    return image, SceneSpec("bridge", orientation=orientation)


_ROOF_COLOURS: dict[str, RGB] = {"red": (178, 62, 52), "orange": (212, 126, 56), "blue": (66, 98, 168)}


def _draw_residential(rng: np.random.Generator, size: int) -> tuple[Image.Image, SceneSpec]:
    """A street grid whose blocks hold small gabled houses with roofs of one colour, and a few garden trees."""
    s = float(size)
    colour = str(rng.choice(list(_ROOF_COLOURS)))
    image = _canvas(rng, size, _vary(rng, (124, 150, 100)))
    draw = ImageDraw.Draw(image)
    block, road = s * rng.uniform(0.3, 0.36), s * 0.06
    offset = rng.uniform(0, block)
    starts = np.arange(offset - block, s, block)
    for start in starts:
        draw.rectangle([start - road / 2, -1, start + road / 2, s], fill=(98, 98, 102))
        draw.rectangle([-1, start - road / 2, s, start + road / 2], fill=(98, 98, 102))
    house = (block - road) / 2 - s * 0.025
    for bx in starts:
        for by in starts:
            for dx in (0, 1):
                for dy in (0, 1):
                    x0 = bx + road / 2 + s * 0.015 + dx * (house + s * 0.02)
                    y0 = by + road / 2 + s * 0.015 + dy * (house + s * 0.02)
                    if rng.random() < 0.12:  # an empty lot with a tree instead of a house
                        _ellipse(draw, x0 + house / 2, y0 + house / 2, house / 2.5, house / 2.5, (50, 92, 44))
                        continue
                    roof = _vary(rng, _ROOF_COLOURS[colour], 12)
                    draw.rectangle([x0 + s * 0.015, y0 + s * 0.015, x0 + house + s * 0.015, y0 + house + s * 0.015],
                                   fill=(60, 64, 58))
                    draw.rectangle([x0, y0, x0 + house, y0 + house / 2], fill=roof)
                    draw.rectangle([x0, y0 + house / 2, x0 + house, y0 + house], fill=_shade(roof, 0.78))
    return image, SceneSpec("residential", colour=colour)


_CLEARING_CENTRES: dict[str, Point] = {
    "left": (0.2, 0.5), "right": (0.8, 0.5), "top": (0.5, 0.2), "bottom": (0.5, 0.8), "center": (0.5, 0.5),
}


def _draw_forest(rng: np.random.Generator, size: int) -> tuple[Image.Image, SceneSpec]:
    """Dense dark-green tree crowns with one bare brown clearing at a named position."""
    s = float(size)
    image = _canvas(rng, size, _vary(rng, (36, 68, 32), 6))
    draw = ImageDraw.Draw(image)
    position = str(rng.choice(list(_CLEARING_CENTRES)))
    cx, cy = (c * s for c in _CLEARING_CENTRES[position])
    radius = s * rng.uniform(0.14, 0.18)
    _ellipse(draw, cx, cy, radius * 1.1, radius, _vary(rng, (148, 120, 80), 8))
    for _ in range(int(120 * (s / 64) ** 2)):
        x, y, r = rng.uniform(0, s), rng.uniform(0, s), s * rng.uniform(0.03, 0.055)
        if np.hypot(x - cx, y - cy) < radius + r * 0.4:
            continue
        crown = _vary(rng, (34, 88, 36), 14)
        _ellipse(draw, x, y, r, r, crown)
        _ellipse(draw, x - r * 0.3, y - r * 0.3, r * 0.45, r * 0.45, _shade(crown, 1.25))
    return image, SceneSpec("forest", colour="green", position=position)


def _draw_beach(rng: np.random.Generator, size: int) -> tuple[Image.Image, SceneSpec]:
    """Blue sea on one side and yellow sand on the other, with a wet-sand strip, foam and white wave lines."""
    s = float(size)
    image = _canvas(rng, size, _vary(rng, (226, 204, 146), 8), grain=4)
    arr = np.asarray(image, dtype=np.float64).copy()
    cycles, phase = rng.uniform(0.5, 1.5), rng.uniform(0, 2 * np.pi)
    shore = s * rng.uniform(0.42, 0.55) + s * 0.04 * np.sin(2 * np.pi * cycles * np.arange(size) / s + phase)
    ys = np.arange(size)[:, None]
    depth = np.clip(ys / shore[None, :], 0.0, 1.0)[..., None]
    deep, shallow = np.asarray(_vary(rng, (22, 70, 138), 8), float), np.asarray((58, 138, 186), float)
    sea = deep + (shallow - deep) * depth**2 + rng.normal(0, 3, arr.shape)
    wet = (ys >= shore[None, :]) & (ys < shore[None, :] + s * 0.05)
    arr = np.where((ys < shore[None, :])[..., None], sea, arr)
    arr = np.where(wet[..., None], arr * 0.85, arr)
    image = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    xs = np.arange(size, dtype=float)
    draw.line(list(zip(xs, shore - 0.5)), fill=(236, 240, 240), width=_px(size, 1 / 64))
    for k in range(1, 4):
        line = shore - k * s * 0.075
        for start in range(0, size, max(4, size // 5)):
            if rng.random() < 0.65:
                seg = slice(start, min(size, start + int(rng.integers(size // 12 + 2, size // 6 + 3))))
                draw.line(list(zip(xs[seg], line[seg])), fill=(214, 228, 236), width=1)
    side = str(rng.choice(SIDES))
    image = _to_side(_maybe_mirror(image, rng, Image.Transpose.FLIP_LEFT_RIGHT), side)
    return image, SceneSpec("beach", colour="blue", position=side)


_CAR_COLOURS: dict[str, RGB] = {
    "red": (196, 40, 36), "blue": (40, 80, 200), "white": (236, 236, 236), "yellow": (232, 200, 40)
}
_SLOTS_PER_ROW = 6


def _draw_car(draw: ImageDraw.ImageDraw, cx: float, cy: float, size: int, colour: RGB, nose_up: bool) -> None:
    """A car seen from above: body, dark windscreen towards its nose, lighter roof."""
    s = float(size)
    half_w, half_l = s * 0.045, s * 0.095
    draw.rectangle([cx - half_w, cy - half_l, cx + half_w, cy + half_l], fill=colour)
    glass_y = cy - half_l * 0.55 if nose_up else cy + half_l * 0.55
    draw.rectangle([cx - half_w * 0.75, glass_y - half_l * 0.18, cx + half_w * 0.75, glass_y + half_l * 0.18],
                   fill=(36, 44, 56))
    roof_y = cy + half_l * 0.1 if nose_up else cy - half_l * 0.1
    draw.rectangle([cx - half_w * 0.6, roof_y - half_l * 0.25, cx + half_w * 0.6, roof_y + half_l * 0.25],
                   fill=_shade(colour, 1.08))


def _draw_parking_lot(rng: np.random.Generator, size: int) -> tuple[Image.Image, SceneSpec]:
    """Dark asphalt with two rows of marked stalls; 1..10 cars of one colour parked in one or two rows."""
    s = float(size)
    count = int(rng.integers(1, 11))
    colour = str(rng.choice(list(_CAR_COLOURS)))
    image = _canvas(rng, size, _vary(rng, (72, 74, 78), 5), grain=4, blotch=6)
    draw = ImageDraw.Draw(image)
    stall, left = s * 0.9 / _SLOTS_PER_ROW, s * 0.05
    row_spans = ((s * 0.1, s * 0.42), (s * 0.58, s * 0.9))
    for top, bottom in row_spans:
        for k in range(_SLOTS_PER_ROW + 1):
            draw.line([(left + k * stall, top), (left + k * stall, bottom)], fill=(176, 176, 168), width=1)
        edge = top if top < s / 2 else bottom
        draw.line([(left, edge), (left + _SLOTS_PER_ROW * stall, edge)], fill=(176, 176, 168), width=1)
    if count > _SLOTS_PER_ROW or (count > 1 and rng.random() < 0.5):
        first = int(rng.integers(max(1, count - _SLOTS_PER_ROW), min(_SLOTS_PER_ROW, count - 1) + 1))
        per_row = [first, count - first]
    else:
        per_row = [count, 0] if rng.random() < 0.5 else [0, count]
    for (top, bottom), cars in zip(row_spans, per_row):
        for slot in rng.choice(_SLOTS_PER_ROW, size=cars, replace=False):
            cx = left + (slot + 0.5) * stall + rng.uniform(-0.01, 0.01) * s
            _draw_car(draw, cx, (top + bottom) / 2, size, _vary(rng, _CAR_COLOURS[colour], 8), nose_up=top > s / 2)
    image = _maybe_mirror(image, rng, Image.Transpose.FLIP_LEFT_RIGHT)
    if rng.random() < 0.5:
        image = image.transpose(Image.Transpose.TRANSPOSE)
    rows = sum(1 for cars in per_row if cars)
    return image, SceneSpec("parking_lot", count=count, colour=colour, rows=rows)


_TANK_COLOURS: dict[str, RGB] = {"white": (238, 238, 234), "grey": (194, 196, 200)}


def _tank_centres(
    rng: np.random.Generator, count: int, box: tuple[float, float, float, float]
) -> tuple[list[Point], float]:
    """Centres on a grid filling `box` (x0, y0, x1, y1) with a little jitter, and a radius that keeps them apart."""
    x0, y0, x1, y1 = box
    cols = min(count, 3)
    rows = -(-count // cols)
    cell_w, cell_h = (x1 - x0) / cols, (y1 - y0) / rows
    jitter = 0.08 * min(cell_w, cell_h)
    radius = min(0.36 * min(cell_w, cell_h), min(cell_w, cell_h) / 2 - jitter - 1.5)  # a gap of pixels between tanks
    centres = [
        (x0 + (i % cols + 0.5) * cell_w + rng.uniform(-jitter, jitter),
         y0 + (i // cols + 0.5) * cell_h + rng.uniform(-jitter, jitter))
        for i in range(count)
    ]
    return centres, radius


def _draw_storage_tanks(rng: np.random.Generator, size: int) -> tuple[Image.Image, SceneSpec]:
    """1..6 round white or grey storage tanks with shadows, grouped at a named position beside a road."""
    s = float(size)
    count = int(rng.integers(1, 7))
    colour = str(rng.choice(list(_TANK_COLOURS)))
    position = str(rng.choice(["center", *SIDES]))
    image = _canvas(rng, size, _vary(rng, (146, 128, 96), 6))
    draw = ImageDraw.Draw(image)
    if position == "center":
        box, road_y = (s * 0.2, s * 0.18, s * 0.8, s * 0.78), s * 0.88
    else:
        box, road_y = (s * 0.06, s * 0.05, s * 0.94, s * 0.47), s * 0.68
    draw.rectangle([-1, road_y, s, road_y + s * 0.07], fill=(108, 106, 104))
    centres, radius = _tank_centres(rng, count, box)
    for cx, cy in centres:
        _ellipse(draw, cx + radius * 0.25, cy + radius * 0.25, radius, radius, (70, 62, 50))
    for cx, cy in centres:
        fill = _vary(rng, _TANK_COLOURS[colour], 4)
        draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], fill=fill, outline=_shade(fill, 0.9))
    image = _maybe_mirror(image, rng, Image.Transpose.FLIP_LEFT_RIGHT)
    if position != "center":
        image = _to_side(image, position)
    return image, SceneSpec("storage_tanks", count=count, colour=colour, position=position)


_TRACK_COLOURS: dict[str, RGB] = {"red": (184, 72, 56), "blue": (58, 98, 172)}


def _draw_stadium(rng: np.random.Generator, size: int) -> tuple[Image.Image, SceneSpec]:
    """An oval stadium: grey stands, a red or blue running track, a striped green pitch with white lines."""
    s = float(size)
    colour = str(rng.choice(list(_TRACK_COLOURS)))
    image = _canvas(rng, size, _vary(rng, (132, 132, 126), 6))
    draw = ImageDraw.Draw(image)
    cx, cy = s * (0.5 + rng.uniform(-0.04, 0.04)), s * (0.5 + rng.uniform(-0.04, 0.04))
    rx, ry = s * 0.45, s * 0.33
    _ellipse(draw, cx, cy, rx, ry, _vary(rng, (176, 176, 170), 6))
    _ellipse(draw, cx, cy, rx - s * 0.06, ry - s * 0.06, _vary(rng, _TRACK_COLOURS[colour], 8))
    px, py = rx - s * 0.15, ry - s * 0.13
    grass = _vary(rng, (70, 150, 64), 8)
    draw.rectangle([cx - px, cy - py, cx + px, cy + py], fill=grass)
    stripe = 2 * px / 6
    for k in range(0, 6, 2):
        draw.rectangle([cx - px + k * stripe, cy - py, cx - px + (k + 1) * stripe, cy + py], fill=_shade(grass, 0.88))
    white, width = (232, 236, 232), _px(size, 1 / 64)
    draw.rectangle([cx - px, cy - py, cx + px, cy + py], outline=white, width=width)
    draw.line([(cx, cy - py), (cx, cy + py)], fill=white, width=width)
    draw.ellipse([cx - py * 0.35, cy - py * 0.35, cx + py * 0.35, cy + py * 0.35], outline=white, width=width)
    orientation = str(rng.choice(["horizontal", "vertical"]))
    return _to_orientation(image, orientation), SceneSpec("stadium", colour=colour, orientation=orientation)


SCENE_DRAWERS: dict[str, Drawer] = {
    "airport": _draw_airport,
    "farmland": _draw_farmland,
    "river": _draw_river,
    "residential": _draw_residential,
    "forest": _draw_forest,
    "beach": _draw_beach,
    "parking_lot": _draw_parking_lot,
    "storage_tanks": _draw_storage_tanks,
    "bridge": _draw_bridge,
    "stadium": _draw_stadium,
}
SCENE_TYPES: tuple[str, ...] = tuple(SCENE_DRAWERS)


def generate_scene(rng: np.random.Generator, scene_type: str, image_size: int = 64) -> tuple[Image.Image, SceneSpec]:
    """Draw one `image_size`x`image_size` RGB overhead view of `scene_type` and say what is in it."""
    if scene_type not in SCENE_DRAWERS:
        raise ValueError(f"unknown scene type {scene_type!r}; known: {', '.join(SCENE_TYPES)}")
    if image_size < MIN_IMAGE_SIZE:
        raise ValueError(f"image_size must be at least {MIN_IMAGE_SIZE} pixels, got {image_size}")
    image, spec = SCENE_DRAWERS[scene_type](rng, image_size)
    return _finish(image, rng), spec


__all__ = [
    "MIN_IMAGE_SIZE",
    "PLANE_RGB",
    "SCENE_DRAWERS",
    "SCENE_TYPES",
    "SceneSpec",
    "generate_scene",
]
