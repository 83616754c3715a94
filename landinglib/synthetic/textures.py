"""Materials: colours drawn from wide ranges and textures computed from world coordinates.

Every texture is a function of *where* a pixel lies on the ground (metres), so it keeps its
physical scale whatever the camera: a paver stays 20 cm long, a mowing stripe 1 m wide.
Albedo is returned as (H, W, 3) float32 RGB in 0..255; light and shadow come later.
"""
from __future__ import annotations

import colorsys
import math

import cv2
import numpy as np

from . import styles as st
from .specs import FacadeSpec, RoofSpec, SurfaceSpec


SHIFT = 4  # sub-pixel precision of OpenCV's polygon drawing (coordinates x 16)


def to_fixed(px: np.ndarray) -> np.ndarray:
    """Pixel coordinates (N, 2), pixel centres at +0.5, as OpenCV's fixed-point points (N, 1, 2) int32."""
    return np.round(np.asarray(px, float) * (1 << SHIFT) - (1 << (SHIFT - 1))).astype(np.int32).reshape(-1, 1, 2)


# --- randomness that is a function of position ------------------------------------------
def noise(rng: np.random.Generator, h: int, w: int, cell: float, octaves: int = 3) -> np.ndarray:
    """Smooth value noise in [0, 1], (h, w) float32; ``cell`` is the feature size in px."""
    out = np.zeros((h, w), np.float32)
    total, amp = 0.0, 1.0
    for octave in range(octaves):
        c = max(1.5, cell / 2**octave)
        grid = rng.random((int(h / c) + 3, int(w / c) + 3), dtype=np.float32)
        out += amp * cv2.resize(grid, (int((int(w / c) + 3) * c), int((int(h / c) + 3) * c)),
                                interpolation=cv2.INTER_CUBIC)[:h, :w]
        total += amp
        amp *= 0.5
    out /= total
    lo, hi = float(out.min()), float(out.max())
    return (out - lo) / max(hi - lo, 1e-6)


def cell_hash(i: np.ndarray, j: np.ndarray, salt: int) -> np.ndarray:
    """A pseudo-random number in [0, 1) per integer cell (i, j): per-tile colour variation."""
    k = (i.astype(np.int32).view(np.uint32) * np.uint32(73856093)) ^ (j.astype(np.int32).view(np.uint32) * np.uint32(
        19349663)) ^ np.uint32((salt * 83492791) & 0xFFFFFFFF)
    k = (k ^ (k >> np.uint32(13))) * np.uint32(1274126177)
    return ((k ^ (k >> np.uint32(16))) & np.uint32(0xFFFF)).astype(np.float32) / np.float32(65536.0)


def hsv(h_deg: float, s: float, v: float) -> np.ndarray:
    """A colour from hue (degrees), saturation and value (0..1) as RGB float32 0..255."""
    return np.array(colorsys.hsv_to_rgb((h_deg % 360) / 360, min(max(s, 0), 1), min(max(v, 0), 1)),
                    np.float32) * 255


def _rotated(xx, yy, angle: float, size: float):
    c, s = math.cos(angle), math.sin(angle)
    return (xx * c + yy * s) / size, (-xx * s + yy * c) / size


def _lines(frac: np.ndarray, width: float) -> np.ndarray:
    """1 near integer coordinates (joints), 0 elsewhere, for a fractional coordinate."""
    d = np.minimum(frac, 1 - frac)
    return (d < width / 2).astype(np.float32)


# --- colours: wide ranges per material (domain randomisation; the ranges are in styles) ---
def random_hsv(rng: np.random.Generator, ranges: st.HSV) -> np.ndarray:
    """A colour whose hue, saturation and value are each fixed or drawn from a (lo, hi) range, in that order."""
    return hsv(*(rng.uniform(*c) if isinstance(c, tuple) else c for c in ranges))


def paint_color(rng: np.random.Generator, paint: st.Paint) -> np.ndarray:
    """A colour of one of ``paint``'s hues, varied."""
    return hsv(rng.choice(paint.hues) + rng.uniform(*paint.hue_jitter), rng.uniform(*paint.saturation),
               rng.uniform(*paint.value))


def surface_color(kind: str, rng: np.random.Generator) -> np.ndarray:
    """A random base colour for a ground material ``kind``."""
    if kind in st.PAVER_KINDS:
        return random_hsv(rng, st.PAVER_HSV[int(rng.integers(len(st.PAVER_HSV)))])
    kind = "slabs" if kind == "concrete" else kind  # concrete ground is coloured like slabs
    if kind in st.SURFACE_HSV:
        return random_hsv(rng, st.SURFACE_HSV[kind])
    raise ValueError(f"unknown surface kind {kind!r}")


def roof_color(kind: str, rng: np.random.Generator) -> np.ndarray:
    """A random base colour for a roof material (a flat roof's, or "tiles" for a pitched roof)."""
    if kind == "corrugated":
        return paint_color(rng, st.CORRUGATED_PAINT)
    if kind == "tiles":
        return random_hsv(rng, st.CLAY_TILES_HSV if rng.random() < st.CLAY_TILES_P else st.SLATE_HSV)
    return random_hsv(rng, st.FLAT_ROOF_HSV[kind])


def wall_color(rng: np.random.Generator) -> np.ndarray:
    """A random facade colour from one of the wall families."""
    return random_hsv(rng, st.WALL_HSV[int(rng.integers(len(st.WALL_HSV)))])


def car_color(rng: np.random.Generator) -> np.ndarray:
    """A random car colour: white, black, silver or grey, or a paint."""
    r = rng.random()
    for below, colour in st.CAR_COLOURS:
        if r < below:
            return random_hsv(rng, colour)
    return paint_color(rng, st.CAR_PAINT)


# --- ground textures ----------------------------------------------------------------------
PAVER_SIZE_M = {"slabs": 2.2, "tiles": 0.5, "bricks": 0.18, "checker45": 0.7, "cobbles": 0.14}
"""Side of one paver (a brick is twice as long)."""

def surface_texture(spec: SurfaceSpec, xx: np.ndarray, yy: np.ndarray, fields: dict, ppm: float) -> np.ndarray:
    """Albedo (N, 3) of a ground surface at world points ``xx``, ``yy`` (metres, any shape (N,)).

    ``fields`` holds the scene's shared noise at the same points ("mid", "big", "small" in
    [-0.5, 0.5], "patch" in [0, 1], "fine" ~ N(0, 1)), so neighbouring surfaces join seamlessly.
    """
    kind, base, angle = spec.kind, np.asarray(spec.rgb, np.float32), spec.angle
    mid, big, small, patch, fine = (fields[k] for k in ("mid", "big", "small", "patch", "fine"))
    tint = None
    if kind == "asphalt":
        repaired = (patch > 0.8).astype(np.float32)  # patched-up repairs, a little darker
        shade = 1 + 0.16 * mid + 0.1 * big + 0.05 * fine - 0.12 * repaired
        shade -= 0.35 * (np.abs(small) < 0.006)  # hairline cracks along the noise's zero lines
    elif kind in ("slabs", "tiles", "bricks", "checker45", "cobbles"):
        size = PAVER_SIZE_M[kind]
        a_angle = angle + (math.pi / 4 if kind == "checker45" else 0)
        a, b = _rotated(xx, yy, a_angle, size)
        if kind == "bricks":
            a = a / 2 + 0.5 * (np.floor(b) % 2)  # a brick is twice as long as wide, rows staggered
        if kind == "cobbles":
            a = a + cell_hash(np.floor(b), np.zeros_like(b), 3)
        ia, ib = np.floor(a), np.floor(b)
        var = cell_hash(ia, ib, spec.salt) - 0.5
        joint = min(0.4, max(0.04, 0.015 / size * (3 if kind == "cobbles" else 1)))
        joints = np.maximum(_lines(a - ia, joint), _lines(b - ib, joint))
        amount = {"slabs": 0.1, "tiles": 0.14, "bricks": 0.24, "checker45": 0.08, "cobbles": 0.4}[kind]
        shade = 1 + amount * 2 * var + 0.12 * mid + 0.1 * big + 0.04 * fine
        if spec.two_tone:
            other = np.asarray(base * 0.6 if spec.rgb2 is None else spec.rgb2, np.float32)
            tint = np.where(((ia + ib) % 2 == 1)[..., None], other, base)
        depth = 0.4 if size * ppm > 3 else 0.12  # joints blur away when a tile is a few pixels
        shade = shade * (1 - depth * joints)
    elif kind == "lawn":
        a, _ = _rotated(xx, yy, angle, 1.2 if spec.stripe is None else spec.stripe)
        stripes = (np.floor(a) % 2) * 2 - 1
        shade = 1 + 0.07 * stripes + 0.2 * mid + 0.15 * big + 0.06 * fine
        dry = np.clip((patch - 0.72) * 4, 0, 1)[..., None]  # worn, dry patches and paths
        tint = base * (1 - dry) + hsv(35, 0.35, 0.5) * dry
    elif kind in ("meadow", "soil", "gravel"):
        grain = {"meadow": 0.12, "soil": 0.08, "gravel": 0.25}[kind]
        shade = 1 + 0.35 * big + 0.2 * mid + 0.15 * small + grain * fine
        if kind == "meadow":  # greener and drier patches
            tint = base * (0.75 + 0.5 * patch[..., None]) * np.array([1.0, 1.0, 0.9], np.float32)
    elif kind == "field":
        a, _ = _rotated(xx, yy, angle, 0.8 if spec.stripe is None else spec.stripe)
        rows = np.abs(np.sin(a * math.pi)).astype(np.float32)[..., None]
        soil = np.asarray(hsv(30, 0.35, 0.4) if spec.rgb2 is None else spec.rgb2, np.float32)
        tint = soil + (base - soil) * np.sqrt(rows)
        shade = 1 + 0.2 * mid + 0.15 * big + 0.08 * fine
    elif kind in ("water", "pool"):
        shade = 1 + 0.1 * mid + 0.15 * small
        if kind == "water":  # the sky reflected where the wind is calm
            calm = np.clip((patch - 0.6) * 3, 0, 1)[..., None]
            tint = base * (1 - 0.5 * calm) + 0.5 * calm * hsv(205, 0.15, 0.75)
    else:
        raise ValueError(f"unknown surface kind {kind!r}")
    albedo = (base if tint is None else tint) * shade[..., None]
    stains = spec.stains
    if stains and kind not in ("water", "pool"):
        albedo = albedo * (1 - stains * np.clip((patch - 0.55) * 2.5, 0, 1) * (0.6 + 0.8 * (small + 0.5)))[..., None]
    return albedo.astype(np.float32)


# --- roofs and vehicles (painted top-down into the roof layer) ------------------------------
def roof_texture(spec: RoofSpec, footprint: np.ndarray, xx, yy, fields: dict, sun_elevation: float,
                 sun_azimuth: float) -> np.ndarray:
    """Albedo (N, 3) of a roof at points ``xx``, ``yy``: flat materials or pitched tile planes
    shaded by their slope towards the sun."""
    base = np.asarray(spec.rgb, np.float32)
    mid, big, small, patch, fine = (fields[k] for k in ("mid", "big", "small", "patch", "fine"))
    fp = np.asarray(footprint, float)
    edge = fp[1] - fp[0]
    angle = math.atan2(edge[1], edge[0])
    material = spec.material
    if spec.shape in ("gable", "hip"):
        # which plane a point is on: the side of the ridge (gable) or the nearest edge (hip)
        u = np.array([math.cos(angle), math.sin(angle)])
        v = np.array([-u[1], u[0]])
        c = fp.mean(0)
        a = (xx - c[0]) * u[0] + (yy - c[1]) * u[1]
        b = (xx - c[0]) * v[0] + (yy - c[1]) * v[1]
        half_l, half_w = np.linalg.norm(fp[1] - fp[0]) / 2, np.linalg.norm(fp[3] - fp[0]) / 2
        if half_w > half_l:
            a, b, u, v, half_l, half_w = b, a, v, u, half_w, half_l
        side_b = np.sign(b)
        normal = np.stack([v[0] * side_b, v[1] * side_b], -1)
        if spec.shape == "hip":
            end = (half_l - np.abs(a)) < (half_w - np.abs(b))
            normal = np.where(end[..., None], np.stack([u[0] * np.sign(a), u[1] * np.sign(a)], -1), normal)
        pitch = math.radians(spec.pitch)
        to_sun = np.array([math.cos(sun_azimuth), math.sin(sun_azimuth)])
        cos_i = math.sin(sun_elevation) * math.cos(pitch) + math.cos(sun_elevation) * math.sin(pitch) * (normal @ to_sun)
        light = np.clip(0.45 + 0.75 * cos_i, 0.25, 1.3)
        rows = np.abs(np.sin(np.abs(b) / 0.33 * math.pi))
        shade = light * (0.9 + 0.12 * rows) * (1 + 0.12 * mid + 0.05 * fine)
        ridge = np.abs(b) < 0.25
        shade = np.where(ridge, shade * 0.8, shade)
        return (base * shade[..., None]).astype(np.float32)
    u = np.array([math.cos(angle), math.sin(angle)])
    a = xx * u[0] + yy * u[1]
    if material == "metal" or material == "corrugated":
        ribs = np.abs(np.sin(a / 0.5 * math.pi))  # a rib every 0.5 m
        shade = 0.88 + 0.2 * ribs + 0.05 * mid + 0.03 * fine
    elif material == "gravel":
        shade = 1 + 0.22 * fine + 0.12 * mid + 0.1 * small
    elif material == "membrane":
        seams = (np.abs(((a / 1.9) % 1) - 0.5) > 0.47).astype(np.float32)
        shade = 1 - 0.06 * seams + 0.06 * mid + 0.02 * fine
    elif material == "painted":
        court = (np.abs(((a / 12) % 1) - 0.5) > 0.48).astype(np.float32)
        shade = 1 + 0.05 * mid + 0.03 * fine + 0.6 * court
    else:  # concrete, bitumen
        shade = 1 + 0.14 * mid + 0.14 * big + 0.06 * fine
    stains = spec.stains
    shade = shade * (1 - stains * np.clip((patch - 0.5) * 2, 0, 1) * (0.5 + small + 0.5))
    return (base * shade[..., None]).astype(np.float32)


def _fill_m(layer, m, poly, rgb) -> None:
    cv2.fillPoly(layer, [to_fixed(m.px(poly))], tuple(float(c) for c in rgb), lineType=cv2.LINE_8, shift=SHIFT)


def _ring_m(layer, m, poly, rgb, thickness: int) -> None:
    cv2.polylines(layer, [to_fixed(m.px(poly))], True, tuple(float(c) for c in rgb), thickness, cv2.LINE_8, SHIFT)


def _box(c, u, length, width) -> np.ndarray:
    v = np.array([-u[1], u[0]])
    return np.array([c - u * length / 2 - v * width / 2, c + u * length / 2 - v * width / 2,
                     c + u * length / 2 + v * width / 2, c - u * length / 2 + v * width / 2])


def roof_details(layer, footprint, spec: RoofSpec, m, rng: np.random.Generator, shadow_vec) -> None:
    """Parapet, HVAC units, water tanks, solar panels and skylights on a flat roof, each with
    its little shadow."""
    fp = np.asarray(footprint, float)
    c = fp.mean(0)
    u = (fp[1] - fp[0]) / (np.linalg.norm(fp[1] - fp[0]) + 1e-9)
    v = np.array([-u[1], u[0]])
    half = np.array([np.linalg.norm(fp[1] - fp[0]), np.linalg.norm(fp[3] - fp[0])]) / 2
    base = np.asarray(spec.rgb, np.float32)
    if spec.parapet:  # a raised rim along the edge, and its shadow on the roof
        thick = max(1, int(round(2 * spec.parapet * m.ppm)))
        _ring_m(layer, m, fp + shadow_vec * 0.8, base * 0.55, thick * 2)
        _ring_m(layer, m, fp, np.asarray(spec.parapet_rgb, np.float32), thick)

    def spot(size):
        room = np.maximum(half - size / 2 - 0.8, 0.1)
        return c + u * rng.uniform(-room[0], room[0]) + v * rng.uniform(-room[1], room[1])
    items = []  # (kind, centre, size, colour, height)
    for _ in range(spec.hvac):
        size = np.array(st.uniform_each(rng, st.HVAC_SIZE_M))
        items.append(("box", spot(size), size, random_hsv(rng, st.HVAC_HSV), rng.uniform(*st.HVAC_HEIGHT_M)))
    for _ in range(spec.tanks):
        r = rng.uniform(*st.TANK_RADIUS_M)
        items.append(("tank", spot(np.array([2 * r, 2 * r])), np.array([r, r]), random_hsv(rng, st.TANK_HSV),
                      rng.uniform(*st.TANK_HEIGHT_M)))
    for _ in range(spec.skylights):
        size = np.array(st.uniform_each(rng, st.SKYLIGHT_SIZE_M))
        items.append(("flat", spot(size), size, random_hsv(rng, st.SKYLIGHT_HSV), 0))
    if spec.solar and half.min() > 4:
        rows = int(half[1] * 2 // 2.4) - 1
        for r in range(max(rows, 0)):
            at = c + v * (-half[1] + 1.8 + r * 2.4)
            items.append(("flat", at, np.array([half[0] * 1.5, 1.1]), random_hsv(rng, st.SOLAR_PANEL_HSV), 0.5))
    for kind, at, size, rgb, height in items:
        shape = _box(at, u, *size) if kind != "tank" else at + np.stack(
            [np.cos(t := np.linspace(0, 2 * math.pi, 14, endpoint=False)), np.sin(t)], 1) * size[0]
        if height:
            _fill_m(layer, m, shape + shadow_vec * height, base * 0.5)
        _fill_m(layer, m, shape, rgb)


def car_details(layer, footprint, rgb, m, big: bool) -> None:
    """Windscreen, rear window and roof of a vehicle seen from above."""
    fp = np.asarray(footprint, float)
    c = fp.mean(0)
    axis = fp[1] - fp[0]
    length, width = np.linalg.norm(axis), np.linalg.norm(fp[3] - fp[0])
    u = axis / (length + 1e-9)
    glass = hsv(210, 0.15, 0.12)
    if big:
        _fill_m(layer, m, _box(c + u * length * 0.42, u, length * 0.12, width * 0.9), glass)
        return
    _fill_m(layer, m, _box(c + u * length * 0.18, u, length * 0.16, width * 0.86), glass)
    _fill_m(layer, m, _box(c - u * length * 0.24, u, length * 0.1, width * 0.8), glass)
    _fill_m(layer, m, _box(c - u * length * 0.03, u, length * 0.3, width * 0.8), np.clip(rgb * 1.08 + 6, 0, 255))


# --- facades ------------------------------------------------------------------------------
def facade_texture(width_m: float, height_m: float, spec: FacadeSpec, ppm: float,
                   rng: np.random.Generator) -> np.ndarray:
    """A wall of ``width_m`` x ``height_m`` (row 0 = top) with floors and windows, (H, W, 3)."""
    th, tw = max(2, int(math.ceil(height_m * ppm))), max(2, int(math.ceil(width_m * ppm)))
    t = (np.arange(th, dtype=np.float32)[:, None] + 0.5) / ppm  # metres from the top
    s = (np.arange(tw, dtype=np.float32)[None, :] + 0.5) / ppm
    wall = np.asarray(spec.rgb, np.float32)
    glass = np.asarray(spec.glass, np.float32)
    floor_h, bay = spec.floor_height, spec.bay_width
    z = height_m - t  # height above ground
    fz, fs = (z / floor_h) % 1.0, (s / bay) % 1.0
    if spec.curtain:  # glass curtain wall with mullions
        window = np.ones((th, tw), bool)
        mull = (np.minimum(fz, 1 - fz) * floor_h < 0.12) | (np.minimum(fs, 1 - fs) * bay < 0.08)
    else:
        window = (np.abs(fz - 0.55) < spec.window_height / 2) & (np.abs(fs - 0.5) < spec.window_width / 2)
        mull = np.zeros((th, tw), bool)
    window &= (z > 0.6) & (z < height_m - 0.8)
    lit = cell_hash(*np.broadcast_arrays(np.floor(z / floor_h), np.floor(s / bay)), 5)  # (th, tw)
    sky = (0.75 + 0.5 * (1 - t / max(height_m, 1))) * (0.85 + 0.3 * lit)  # glass reflects the sky
    img = np.broadcast_to(wall, (th, tw, 3)).copy()
    img[window] = glass * sky[window][:, None]
    img[mull] = wall * 0.85
    if spec.balconies:
        band = (np.abs(fz - 0.05) < 0.05) & (z > 2)
        img[np.broadcast_to(band, (th, tw))] = wall * 1.1
    grime = noise(rng, th, tw, cell=max(2.0, 4 * ppm), octaves=2)
    img *= (0.88 + 0.2 * grime)[..., None]
    return np.clip(img, 0, 255).astype(np.float32)


def facade_spec(rng: np.random.Generator, storeys: int) -> FacadeSpec:
    """The walls of a building of ``storeys`` floors (curtain walls only on tall ones)."""
    u = rng.uniform
    curtain = storeys >= 6 and rng.random() < st.CURTAIN_WALL_P
    return FacadeSpec(
        rgb=wall_color(rng), glass=random_hsv(rng, st.GLASS_HSV), floor_height=u(*st.FLOOR_SPACING_M),
        bay_width=u(*st.BAY_WIDTH_M), window_width=u(*st.WINDOW_WIDTH_SHARE), window_height=u(*st.WINDOW_HEIGHT_SHARE),
        curtain=curtain, balconies=rng.random() < st.BALCONIES_P,
    )
