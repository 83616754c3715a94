"""Procedural aerial scenes, written to disk in the real DroneDeploy and UDD6 layouts.

A scene is drawn in two layers that always agree: a *semantic* map (what each pixel is:
soil, grass, tree, road, roof, facade, car, water, clutter) and the RGB image painted from
the same shapes. Roads with markings come first, then parking lots, buildings (gabled roofs
in the DroneDeploy style; flat roofs with visible facades in the oblique UDD6 style), pools,
clutter, cars and trees; shadows follow the sun; light, haze and sensor noise finish it.

The semantic map is then written with the real palettes:

* ``generate(root, "dronedeploy")`` -> ``images/<scene>-ortho.tif``, ``labels/<scene>-label.png``
  (BGR palette, IGNORE outside the orthomosaic footprint), ``elevations/<scene>-elev.tif``,
  ``index.csv``;
* ``generate(root, "udd6")`` -> ``{train,val}/src/*.JPG`` and ``{train,val}/gt/*.png`` (RGB palette).

Everything is seeded: the same seed writes byte-identical files.
"""
from __future__ import annotations

import json
import math
import multiprocessing
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from . import classes

# Semantic codes used while drawing (not a taxonomy: they are mapped to one when written).
SOIL, GRASS, TREE, ROAD, ROOF, FACADE, CAR, WATER, CLUTTER, NODATA = range(10)
SEMANTIC_NAMES = ("soil", "grass", "tree", "road", "roof", "facade", "car", "water", "clutter", "nodata")

SEMANTIC_TO_DRONEDEPLOY = np.array([5, 3, 3, 5, 1, 1, 6, 4, 2, 0], np.uint8)
"""semantic code -> DroneDeploy label value (GROUND, VEGETATION, ..., IGNORE)."""
SEMANTIC_TO_UDD6 = np.array([0, 3, 3, 2, 5, 1, 4, 0, 0, 0], np.uint8)
"""semantic code -> UDD6 index (Other, Facade, Road, Vegetation, Vehicle, Roof)."""

FORMAT_VERSION = 1  # bump when the drawing changes, so cached data is regenerated


@dataclass(frozen=True)
class Style:
    """How one dataset looks: scale, camera, sun, materials and what the town contains."""

    name: str
    px_per_m: float
    frame: tuple[int, int] | None  # fixed (H, W) for camera frames; None = random scene size
    scene_side: tuple[int, int] = (1024, 1536)
    oblique: tuple[float, float] = (0.0, 0.0)  # facade displacement, px per px of height
    sun_elevation_deg: tuple[float, float] = (40, 65)
    house_m: tuple[float, float] = (9, 16)
    height_m: tuple[float, float] = (5, 8)
    n_buildings: tuple[int, int] = (6, 14)
    flat_roof_p: float = 0.15
    road_width_m: tuple[float, float] = (6, 8)
    n_roads: tuple[int, int] = (1, 3)
    pool_p: float = 0.35
    pond_p: float = 0.3
    parking_p: float = 0.4
    grass_fraction: tuple[float, float] = (0.45, 0.75)
    tree_clusters: tuple[int, int] = (8, 20)
    grass_rgb: tuple = (92, 128, 58)
    soil_rgb: tuple = (150, 128, 98)
    asphalt_rgb: tuple = (88, 88, 92)
    sidewalk_rgb: tuple = (172, 168, 160)
    tree_rgb: tuple = (46, 78, 38)
    water_rgb: tuple = (46, 86, 92)
    pool_rgb: tuple = (70, 170, 200)
    roof_rgbs: tuple = ((150, 72, 52), (120, 60, 48), (96, 96, 100), (70, 70, 76), (160, 150, 132))
    facade_rgbs: tuple = ((190, 180, 165),)
    tint: tuple = (1.05, 1.0, 0.92)  # warm afternoon light
    haze: float = 0.0
    vignette: float = 0.0
    noise_sigma: float = 3.0
    nodata_border: bool = False


DRONEDEPLOY_STYLE = Style(
    name="dronedeploy", px_per_m=10.0, frame=None, nodata_border=True,
)
"""Suburban orthomosaics at 10 cm/px, seen straight down (no facades), warm light."""

UDD6_STYLE = Style(
    name="udd6",
    px_per_m=6.0,
    frame=(540, 1024),
    oblique=(0.35, 0.6),
    sun_elevation_deg=(30, 50),
    house_m=(14, 32),
    height_m=(10, 30),
    n_buildings=(5, 10),
    flat_roof_p=0.85,
    road_width_m=(8, 12),
    n_roads=(1, 3),
    pool_p=0.05,
    pond_p=0.1,
    parking_p=0.5,
    grass_fraction=(0.3, 0.55),
    tree_clusters=(6, 16),
    grass_rgb=(104, 122, 70),
    soil_rgb=(128, 118, 104),
    asphalt_rgb=(78, 80, 86),
    sidewalk_rgb=(150, 150, 148),
    tree_rgb=(52, 74, 44),
    water_rgb=(60, 80, 90),
    roof_rgbs=((120, 120, 124), (140, 136, 130), (96, 100, 108), (150, 110, 90), (170, 170, 172)),
    facade_rgbs=((196, 190, 180), (172, 150, 128), (210, 206, 198), (150, 156, 168)),
    tint=(0.94, 0.98, 1.06),  # cooler, overcast city light
    haze=0.12,
    vignette=0.25,
    noise_sigma=4.0,
)
"""Oblique urban camera frames (1024x540, ~17 cm/px): tall blocks with facades, haze, JPEG."""

STYLES = {"dronedeploy": DRONEDEPLOY_STYLE, "udd6": UDD6_STYLE}


# --- small drawing helpers -------------------------------------------------------------
def _noise(rng: np.random.Generator, h: int, w: int, cell: float, octaves: int = 3) -> np.ndarray:
    """Smooth value noise in [0, 1], (h, w) float32; ``cell`` is the feature size in px."""
    out = np.zeros((h, w), np.float32)
    total, amp = 0.0, 1.0
    for octave in range(octaves):
        c = max(2.0, cell / 2**octave)
        grid = rng.random((int(h / c) + 2, int(w / c) + 2), dtype=np.float32)
        out += amp * cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
        total += amp
        amp *= 0.5
    out /= total
    lo, hi = float(out.min()), float(out.max())
    return (out - lo) / max(hi - lo, 1e-6)


def _rect(cx: float, cy: float, length: float, width: float, angle: float) -> np.ndarray:
    """Corners (4, 2) float of a rectangle centred at (cx, cy), long side along ``angle``."""
    u = np.array([math.cos(angle), math.sin(angle)]) * length / 2
    v = np.array([-math.sin(angle), math.cos(angle)]) * width / 2
    c = np.array([cx, cy])
    return np.array([c - u - v, c + u - v, c + u + v, c - u + v])


def _fill(canvas: np.ndarray, poly: np.ndarray, value) -> None:
    pts = np.round(poly).astype(np.int32).reshape(-1, 1, 2)
    value = tuple(float(v) for v in value) if np.ndim(value) else float(value)
    cv2.fillPoly(canvas, [pts], value)


def _fill_both(img, sem, poly, color, code) -> None:
    _fill(img, poly, tuple(float(c) for c in color))
    _fill(sem, poly, int(code))


def _hull(*polys: np.ndarray) -> np.ndarray:
    pts = np.concatenate(polys).astype(np.float32)
    return cv2.convexHull(pts).reshape(-1, 2)


def _is_free(occupied: np.ndarray, poly: np.ndarray, margin: int = 0) -> bool:
    """True when ``poly`` (plus ``margin`` px) lies inside the frame on unoccupied pixels."""
    h, w = occupied.shape
    x0, y0 = np.floor(poly.min(0)).astype(int) - margin
    x1, y1 = np.ceil(poly.max(0)).astype(int) + margin
    if x0 < 0 or y0 < 0 or x1 >= w or y1 >= h:
        return False
    patch = np.zeros((y1 - y0 + 1, x1 - x0 + 1), np.uint8)
    _fill(patch, poly - [x0, y0], 1)
    if margin:
        patch = cv2.dilate(patch, np.ones((2 * margin + 1,) * 2, np.uint8))
    return not np.any(occupied[y0 : y1 + 1, x0 : x1 + 1][patch > 0])


def _jitter(rgb, rng, amount=0.12) -> tuple:
    return tuple(float(c) * (1 + rng.uniform(-amount, amount)) for c in rgb)


# --- the scene -------------------------------------------------------------------------
@dataclass
class _Scene:
    rng: np.random.Generator
    style: Style
    img: np.ndarray  # (H, W, 3) float32 RGB, 0..255
    sem: np.ndarray  # (H, W) uint8 semantic codes
    height: np.ndarray  # (H, W) float32 metres above ground
    occupied: np.ndarray  # (H, W) uint8, 1 where no new object may be placed
    shadow: np.ndarray  # (H, W) uint8, 1 where something casts a shadow
    sun: np.ndarray  # shadow displacement in px per metre of height
    tilt: np.ndarray  # oblique displacement in px per metre of height
    roads: list = field(default_factory=list)  # (p0, p1, width_px, angle)

    @property
    def ppm(self) -> float:
        return self.style.px_per_m

    def m(self, lo_hi) -> float:
        """A random length in metres from the range, returned in pixels."""
        return self.rng.uniform(*lo_hi) * self.ppm


def _terrain(s: _Scene) -> None:
    h, w = s.sem.shape
    st, rng = s.style, s.rng
    field_noise = _noise(rng, h, w, cell=35 * s.ppm)
    grass = field_noise < np.quantile(field_noise, rng.uniform(*st.grass_fraction))
    s.sem[:] = np.where(grass, GRASS, SOIL)
    tone = _noise(rng, h, w, cell=12 * s.ppm)[..., None]
    grass_rgb = np.array(_jitter(st.grass_rgb, rng), np.float32)
    soil_rgb = np.array(_jitter(st.soil_rgb, rng), np.float32)
    s.img[:] = np.where(grass[..., None], grass_rgb * (0.8 + 0.4 * tone), soil_rgb * (0.85 + 0.3 * tone))
    if rng.random() < st.pond_p:  # a pond where the noise is lowest
        pond = _noise(rng, h, w, cell=25 * s.ppm, octaves=2)
        water = pond > np.quantile(pond, 0.97)
        s.sem[water] = WATER
        s.img[water] = np.array(_jitter(st.water_rgb, rng), np.float32)
        s.occupied[cv2.dilate(water.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0] = 1


def _roads(s: _Scene) -> None:
    h, w = s.sem.shape
    rng, st = s.rng, s.style
    theta = rng.uniform(0, math.pi)
    diag = math.hypot(h, w)
    centre = np.array([w, h]) / 2
    offsets: dict[int, list[float]] = {0: [], 1: []}
    n = int(rng.integers(st.n_roads[0], st.n_roads[1] + 1))
    for i in range(n):
        family = i % 2  # roads alternate between two perpendicular directions
        angle = theta + family * math.pi / 2 + rng.normal(0, 0.03)
        normal = np.array([-math.sin(angle), math.cos(angle)])
        for _ in range(20):  # parallel roads keep a block (>= 35 m) between them
            offset = rng.uniform(-0.35, 0.35) * min(h, w)
            if all(abs(offset - o) > 35 * s.ppm for o in offsets[family]):
                break
        else:
            continue
        offsets[family].append(offset)
        width = s.m(st.road_width_m)
        c = centre + normal * offset
        d = np.array([math.cos(angle), math.sin(angle)]) * diag
        p0, p1 = c - d, c + d
        walk = int(width + 2.5 * s.ppm * 2)
        a, b = tuple(np.round(p0).astype(int)), tuple(np.round(p1).astype(int))
        cv2.line(s.img, a, b, _jitter(st.sidewalk_rgb, rng, 0.05), walk)
        cv2.line(s.sem, a, b, ROAD, walk)
        cv2.line(s.img, a, b, _jitter(st.asphalt_rgb, rng, 0.08), int(width))
        cv2.line(s.occupied, a, b, 1, walk + int(1.5 * s.ppm))
        s.roads.append((p0, p1, width, angle))
    for p0, p1, width, angle in s.roads:  # markings on top of every road
        u = (p1 - p0) / np.linalg.norm(p1 - p0)
        dash, gap = 3 * s.ppm, 6 * s.ppm
        thick = max(1, int(round(0.15 * s.ppm)))
        paint = (225.0, 215.0, 170.0) if rng.random() < 0.4 else (230.0, 230.0, 225.0)
        for t in np.arange(0, np.linalg.norm(p1 - p0), dash + gap):
            a, b = p0 + u * t, p0 + u * (t + dash)
            cv2.line(s.img, tuple(np.round(a).astype(int)), tuple(np.round(b).astype(int)), paint, thick)
    s._theta = theta


def _car(s: _Scene, cx: float, cy: float, angle: float) -> bool:
    rng = s.rng
    length, width = rng.uniform(4.2, 5.0) * s.ppm, rng.uniform(1.7, 2.0) * s.ppm
    body = _rect(cx, cy, length, width, angle)
    if not _is_free(s.occupied, body, margin=1) and not _on_free_road(s, body):
        return False
    palette = ((235, 235, 235), (25, 25, 28), (150, 152, 158), (165, 30, 30), (30, 60, 140), (90, 90, 95))
    color = np.array(palette[rng.integers(len(palette))], np.float32) * rng.uniform(0.9, 1.1)
    _fill_both(s.img, s.sem, body, tuple(color), CAR)
    u = np.array([math.cos(angle), math.sin(angle)])
    glass = _rect(cx + u[0] * length * 0.12, cy + u[1] * length * 0.12, length * 0.18, width * 0.8, angle)
    _fill(s.img, glass, (30.0, 34.0, 40.0))
    roof = _rect(cx - u[0] * length * 0.08, cy - u[1] * length * 0.08, length * 0.35, width * 0.75, angle)
    _fill(s.img, roof, tuple(np.clip(color * 1.12 + 8, 0, 255)))
    _fill(s.occupied, body, 1)
    _fill(s.shadow, body + s.sun * 1.4 * s.ppm, 1)
    _fill(s.height, body, 1.5)
    return True


def _on_free_road(s: _Scene, poly: np.ndarray) -> bool:
    """Cars may stand on roads: every pixel must be road and not another car."""
    h, w = s.sem.shape
    x0, y0 = np.floor(poly.min(0)).astype(int) - 1
    x1, y1 = np.ceil(poly.max(0)).astype(int) + 1
    if x0 < 0 or y0 < 0 or x1 >= w or y1 >= h:
        return False
    patch = np.zeros((y1 - y0 + 1, x1 - x0 + 1), np.uint8)
    _fill(patch, poly - [x0, y0], 1)
    region = s.sem[y0 : y1 + 1, x0 : x1 + 1][patch > 0]
    return bool(np.all(region == ROAD))


def _cars_on_roads(s: _Scene) -> None:
    rng = s.rng
    for p0, p1, width, angle in s.roads:
        u = (p1 - p0) / np.linalg.norm(p1 - p0)
        n = np.array([-u[1], u[0]])
        t = rng.uniform(0, 15) * s.ppm
        while t < np.linalg.norm(p1 - p0):
            lane = rng.choice([-1, 1]) * width * 0.22
            c = p0 + u * t + n * lane
            if rng.random() < 0.5:
                _car(s, c[0], c[1], angle + (0 if lane > 0 else math.pi))
            t += rng.uniform(6, 30) * s.ppm


def _parking(s: _Scene) -> None:
    rng = s.rng
    if rng.random() > s.style.parking_p:
        return
    h, w = s.sem.shape
    angle = s._theta + rng.choice([0, math.pi / 2])
    rows, stalls = int(rng.integers(1, 3)), int(rng.integers(4, 10))
    stall_w, stall_l = 2.6 * s.ppm, 5.2 * s.ppm
    length, depth = stalls * stall_w, rows * stall_l + 6 * s.ppm * (rows > 1)
    for _ in range(30):
        cx, cy = rng.uniform(0.1, 0.9) * w, rng.uniform(0.1, 0.9) * h
        lot = _rect(cx, cy, length + 2 * s.ppm, depth + 2 * s.ppm, angle)
        if _is_free(s.occupied, lot):
            break
    else:
        return
    _fill_both(s.img, s.sem, lot, _jitter(s.style.asphalt_rgb, rng, 0.1), ROAD)
    u = np.array([math.cos(angle), math.sin(angle)])
    v = np.array([-math.sin(angle), math.cos(angle)])
    corner = np.array([cx, cy]) - u * length / 2 - v * depth / 2
    thick = max(1, int(round(0.12 * s.ppm)))
    for r in range(rows):
        row0 = corner + v * (r * (stall_l + 6 * s.ppm))
        for k in range(stalls + 1):
            a, b = row0 + u * k * stall_w, row0 + u * k * stall_w + v * stall_l
            cv2.line(s.img, tuple(np.round(a).astype(int)), tuple(np.round(b).astype(int)), (225.0,) * 3, thick)
        for k in range(stalls):
            if rng.random() < 0.6:
                c = row0 + u * (k + 0.5) * stall_w + v * stall_l / 2
                _car(s, c[0], c[1], angle + math.pi / 2 + rng.choice([0, math.pi]))
    _fill(s.occupied, lot, 1)


def _buildings(s: _Scene) -> list:
    rng, st = s.rng, s.style
    h, w = s.sem.shape
    placed = []
    target = int(rng.integers(st.n_buildings[0], st.n_buildings[1] + 1))
    for _ in range(target * 40):
        if len(placed) >= target:
            break
        length, width = s.m(st.house_m), s.m(st.house_m) * rng.uniform(0.55, 0.9)
        angle = s._theta + rng.choice([0, math.pi / 2]) + rng.normal(0, 0.02)
        cx, cy = rng.uniform(0.05, 0.95) * w, rng.uniform(0.05, 0.95) * h
        base = _rect(cx, cy, length, width, angle)
        height_m = rng.uniform(*st.height_m)
        top = base + s.tilt * height_m * s.ppm
        outline = _hull(base, top)
        if not _is_free(s.occupied, outline, margin=int(2 * s.ppm)):
            continue
        _fill(s.occupied, outline, 1)
        placed.append((base, top, height_m, angle))
        _fill(s.shadow, _hull(base, base + s.sun * height_m * s.ppm), 1)
    return placed


def _draw_building(s: _Scene, base, top, height_m, angle) -> None:
    rng, st = s.rng, s.style
    sun_dir = -s.sun / (np.linalg.norm(s.sun) + 1e-9)  # from the building towards the sun
    if np.any(s.tilt):  # oblique view: walls between footprint and roof are visible
        wall = np.array(st.facade_rgbs[rng.integers(len(st.facade_rgbs))], np.float32) * rng.uniform(0.85, 1.1)
        _fill_both(s.img, s.sem, _hull(base, top), tuple(wall), FACADE)
        floors = max(2, int(height_m / 3.2))
        for k in range(1, floors):  # rows of dark windows, one per floor
            row = base + s.tilt * (k * height_m / floors) * s.ppm
            pts = np.round(row).astype(np.int32).reshape(-1, 1, 2)
            cv2.polylines(s.img, [pts], True, tuple(float(c) for c in wall * 0.45), max(1, int(0.6 * s.ppm)))
    roof = np.array(st.roof_rgbs[rng.integers(len(st.roof_rgbs))], np.float32) * rng.uniform(0.85, 1.15)
    if rng.random() < st.flat_roof_p:  # flat roof: parapet, a few boxes on top
        _fill_both(s.img, s.sem, top, tuple(np.clip(roof * 1.15, 0, 255)), ROOF)
        centre = top.mean(0)
        _fill(s.img, centre + (top - centre) * 0.9, tuple(roof))
        for _ in range(int(rng.integers(0, 4))):
            c = centre + (top[rng.integers(4)] - centre) * rng.uniform(0.1, 0.6)
            box = _rect(c[0], c[1], rng.uniform(1.5, 4) * s.ppm, rng.uniform(1.5, 3) * s.ppm, angle)
            _fill(s.img, box, tuple(np.clip(roof * 1.3 + 10, 0, 255)))
    else:  # gabled roof: two planes lit differently, a ridge along the long side
        a, b, c, d = top
        mid_l, mid_r = (a + d) / 2, (b + c) / 2
        normal = (mid_l + mid_r) / 2 - (a + b) / 2
        lit = 0.85 + 0.3 * float(np.dot(-normal / (np.linalg.norm(normal) + 1e-9), sun_dir))
        _fill_both(s.img, s.sem, np.array([a, b, mid_r, mid_l]), tuple(np.clip(roof * lit, 0, 255)), ROOF)
        _fill_both(s.img, s.sem, np.array([mid_l, mid_r, c, d]), tuple(np.clip(roof * (2 - lit), 0, 255)), ROOF)
        cv2.line(s.img, tuple(np.round(mid_l).astype(int)), tuple(np.round(mid_r).astype(int)),
                 tuple(float(x) for x in np.clip(roof * 0.7, 0, 255)), max(1, int(0.25 * s.ppm)))
    mask = np.zeros_like(s.sem)
    _fill(mask, _hull(base, top), 1)
    s.height[mask > 0] = height_m


def _pools_and_clutter(s: _Scene, buildings) -> None:
    rng, st = s.rng, s.style
    h, w = s.sem.shape
    for base, _top, _h, angle in buildings:
        if rng.random() > st.pool_p:
            continue
        centre = base.mean(0) + (base[2] - base[1]) * rng.uniform(1.0, 1.4) * rng.choice([-1, 1])
        pool = _rect(centre[0], centre[1], rng.uniform(6, 10) * s.ppm, rng.uniform(3, 5) * s.ppm, angle)
        rim = _rect(centre[0], centre[1], np.linalg.norm(pool[1] - pool[0]) + 1.2 * s.ppm,
                    np.linalg.norm(pool[3] - pool[0]) + 1.2 * s.ppm, angle)
        if not _is_free(s.occupied, rim):
            continue
        _fill_both(s.img, s.sem, rim, (205.0, 200.0, 190.0), CLUTTER)
        _fill_both(s.img, s.sem, pool, _jitter(st.pool_rgb, rng, 0.08), WATER)
        _fill(s.occupied, rim, 1)
    for _ in range(int(rng.integers(3, 12))):  # sheds, containers, heaps
        length, width = rng.uniform(2, 7) * s.ppm, rng.uniform(1.5, 3) * s.ppm
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        box = _rect(cx, cy, length, width, s._theta + rng.uniform(-0.3, 0.3))
        if not _is_free(s.occupied, box, margin=2):
            continue
        color = (rng.uniform(60, 200), rng.uniform(60, 180), rng.uniform(50, 170))
        _fill_both(s.img, s.sem, box, color, CLUTTER)
        _fill(s.img, box.mean(0) + (box - box.mean(0)) * 0.6, tuple(c * 0.8 for c in color))
        _fill(s.occupied, box, 1)
        _fill(s.shadow, box + s.sun * 2.0 * s.ppm, 1)


def _trees(s: _Scene) -> list:
    rng, st = s.rng, s.style
    h, w = s.sem.shape
    crowns = []
    for _ in range(int(rng.integers(*st.tree_clusters))):
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        for _ in range(int(rng.integers(1, 8))):
            x, y = cx + rng.normal(0, 4 * s.ppm), cy + rng.normal(0, 4 * s.ppm)
            if not (0 <= x < w and 0 <= y < h) or s.occupied[int(y), int(x)]:
                continue
            r = rng.uniform(1.8, 4.5) * s.ppm
            tree_h = rng.uniform(5, 12)
            crowns.append((x, y, r, tree_h))
            shadow_c = np.array([x, y]) + s.sun * tree_h * 0.6 * s.ppm  # crown shadow, joined to the foot
            cv2.circle(s.shadow, tuple(np.round(shadow_c).astype(int)), int(r), 1, -1)
            cv2.line(s.shadow, (int(x), int(y)), tuple(np.round(shadow_c).astype(int)), 1, max(1, int(0.8 * r)))
    return crowns


def _draw_trees(s: _Scene, crowns) -> None:
    rng = s.rng
    sun_dir = -s.sun / (np.linalg.norm(s.sun) + 1e-9)
    for x, y, r, tree_h in crowns:
        c = np.array([x, y]) + s.tilt * tree_h * s.ppm
        color = np.array(_jitter(s.style.tree_rgb, rng, 0.15), np.float32)
        cv2.circle(s.img, tuple(np.round(c).astype(int)), int(r), tuple(float(v) for v in color), -1)
        cv2.circle(s.sem, tuple(np.round(c).astype(int)), int(r), TREE, -1)
        lit = c + sun_dir * r * 0.3
        cv2.circle(s.img, tuple(np.round(lit).astype(int)), int(r * 0.6),
                   tuple(float(v) for v in np.clip(color * 1.35, 0, 255)), -1)
        cv2.circle(s.height, tuple(np.round(c).astype(int)), int(r), float(tree_h), -1)


def _finish(s: _Scene) -> np.ndarray:
    """Texture, shadows already applied; add light, haze, vignette, blur, sensor noise."""
    rng, st = s.rng, s.style
    h, w = s.sem.shape
    grain = _noise(rng, h, w, cell=max(2.0, 0.4 * s.ppm), octaves=2) - 0.5
    strength = np.array([0.35, 0.45, 0.7, 0.12, 0.08, 0.1, 0.05, 0.1, 0.25, 0.0], np.float32)[s.sem]
    img = s.img * (1 + strength * grain)[..., None]
    light = 0.9 + 0.2 * _noise(rng, h, w, cell=60 * s.ppm, octaves=1)
    img *= (light[..., None] * np.array(st.tint, np.float32) * rng.uniform(0.9, 1.1))
    if st.haze:
        img = img * (1 - st.haze) + st.haze * np.array([200, 205, 215], np.float32)
    if st.vignette:
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        r2 = ((xx - w / 2) / (w / 2)) ** 2 + ((yy - h / 2) / (h / 2)) ** 2
        img *= (1 - st.vignette * 0.5 * r2)[..., None]
    img = cv2.GaussianBlur(img, (0, 0), 0.7)
    img += rng.normal(0, st.noise_sigma, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def render_scene(style: Style | str, seed: int | tuple = 0, size: tuple[int, int] | None = None):
    """Draw one scene. Returns ``(image, semantic, height)``.

    image: (H, W, 3) uint8 RGB; semantic: (H, W) uint8 codes (see ``SEMANTIC_NAMES``);
    height: (H, W) float32 metres above ground.
    """
    style = STYLES[style] if isinstance(style, str) else style
    rng = np.random.default_rng(seed)
    if size is None:
        size = style.frame or tuple(int(v) for v in rng.integers(style.scene_side[0], style.scene_side[1] + 1, 2))
    h, w = size
    elevation = math.radians(rng.uniform(*style.sun_elevation_deg))
    azimuth = rng.uniform(0, 2 * math.pi)
    sun = np.array([math.cos(azimuth), math.sin(azimuth)]) / math.tan(elevation)
    tilt = np.zeros(2)
    if style.oblique[1] > 0:  # roofs lean away from the camera, towards the top of the frame
        t_angle = -math.pi / 2 + rng.uniform(-0.5, 0.5)
        tilt = np.array([math.cos(t_angle), math.sin(t_angle)]) * rng.uniform(*style.oblique)
    s = _Scene(
        rng=rng, style=style,
        img=np.zeros((h, w, 3), np.float32), sem=np.zeros((h, w), np.uint8),
        height=np.zeros((h, w), np.float32), occupied=np.zeros((h, w), np.uint8),
        shadow=np.zeros((h, w), np.uint8), sun=sun, tilt=tilt,
    )
    _terrain(s)
    _roads(s)
    _parking(s)
    buildings = _buildings(s)
    _pools_and_clutter(s, buildings)
    _cars_on_roads(s)
    crowns = _trees(s)
    # shadows fall on everything drawn so far; taller things drawn next cover their own shadow
    soft = cv2.GaussianBlur(s.shadow.astype(np.float32), (0, 0), 0.8 * style.px_per_m / 4)
    s.img *= (1 - 0.5 * soft)[..., None] * np.array([0.95, 0.98, 1.08], np.float32) ** soft[..., None]
    for base, top, height_m, angle in sorted(buildings, key=lambda b: -float(b[0][:, 1].mean())):
        _draw_building(s, base, top, height_m, angle)
    _draw_trees(s, crowns)
    if style.nodata_border:  # an orthomosaic covers an irregular footprint; outside is nodata
        centre = np.array([w, h]) / 2
        angles = np.sort(rng.uniform(0, 2 * math.pi, 9))
        radii = rng.uniform(0.55, 0.8, 9) * np.array([w, h]).max()
        poly = centre + np.stack([np.cos(angles), np.sin(angles)], 1) * radii[:, None] * [w / max(w, h), h / max(w, h)]
        inside = np.zeros((h, w), np.uint8)
        _fill(inside, poly, 1)
        s.sem[inside == 0] = NODATA
    image = _finish(s)
    image[s.sem == NODATA] = 0
    return image, s.sem, s.height


# --- writing the two layouts -----------------------------------------------------------
def _write_dronedeploy_scene(args) -> tuple[str, int, int]:
    root, name, seed, size, elevations = args
    image, sem, height = render_scene(DRONEDEPLOY_STYLE, seed, size)
    label_values = SEMANTIC_TO_DRONEDEPLOY[sem]
    label_bgr = np.array(classes.DRONEDEPLOY_LABEL_COLORS_BGR, np.uint8)[label_values]
    cv2.imwrite(str(root / "images" / f"{name}-ortho.tif"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(root / "labels" / f"{name}-label.png"), label_bgr)
    if elevations:
        cv2.imwrite(str(root / "elevations" / f"{name}-elev.tif"), height)
    return name, image.shape[0], image.shape[1]


def _write_udd6_frame(args) -> str:
    root, split, name, seed, size = args
    image, sem, _ = render_scene(UDD6_STYLE, seed, size)
    label_rgb = np.array(classes.UDD6.colors, np.uint8)[SEMANTIC_TO_UDD6[sem]]
    cv2.imwrite(str(root / split / "src" / f"{name}.JPG"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                [cv2.IMWRITE_JPEG_QUALITY, 92])
    cv2.imwrite(str(root / split / "gt" / f"{name}.png"), cv2.cvtColor(label_rgb, cv2.COLOR_RGB2BGR))
    return name


def _pool_map(fn, jobs, workers: int):
    if workers <= 1 or len(jobs) < 4:
        return [fn(j) for j in jobs]
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method)) as ex:
        return list(ex.map(fn, jobs, chunksize=2))


def generate(
    root: str | os.PathLike,
    style: str,
    seed: int = 0,
    *,
    n_scenes: int = 55,
    n_train: int = 106,
    n_val: int = 35,
    size: tuple[int, int] | None = None,
    elevations: bool = False,
    workers: int | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a built-in dataset in the real on-disk layout of ``style`` and return its path.

    style "dronedeploy": ``n_scenes`` orthomosaics (``size`` = (H, W) or random 1024-1536 px
    sides) with ``index.csv`` (scene and split); style "udd6": ``n_train`` + ``n_val`` frames
    (``size`` defaults to 540x1024). Generation happens in a temporary folder that is renamed
    into place when complete, so an interrupted run never leaves half a dataset. If ``root``
    already holds a complete dataset made with the same settings it is returned as is.
    """
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; choose one of {sorted(STYLES)}")
    root = Path(root)
    settings = dict(style=style, seed=seed, version=FORMAT_VERSION, size=list(size) if size else None,
                    **({"n_scenes": n_scenes, "elevations": elevations} if style == "dronedeploy"
                       else {"n_train": n_train, "n_val": n_val}))
    stamp = root / "GENERATED.json"
    if stamp.exists() and not overwrite:
        if json.loads(stamp.read_text()).get("settings") == settings:
            return root
    workers = workers or min(4, os.cpu_count() or 1)
    tmp = root.with_name(root.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    start = time.perf_counter()
    style_id = list(STYLES).index(style)
    if style == "dronedeploy":
        for sub in ("images", "labels") + (("elevations",) if elevations else ()):
            (tmp / sub).mkdir(parents=True)
        names = [f"scene{i:03d}" for i in range(n_scenes)]
        jobs = [(tmp, n, (seed, style_id, i), size, elevations) for i, n in enumerate(names)]
        scenes = _pool_map(_write_dronedeploy_scene, jobs, workers)
        splits = _scene_splits(len(names), seed)
        lines = ["index scene split height width"]
        lines += [f"{i} {n} {splits[i]} {h} {w}" for i, (n, h, w) in enumerate(scenes)]
        (tmp / "index.csv").write_text("\n".join(lines) + "\n")
        count = {"scenes": n_scenes}
    else:
        jobs = []
        for split, n in (("train", n_train), ("val", n_val)):
            (tmp / split / "src").mkdir(parents=True)
            (tmp / split / "gt").mkdir(parents=True)
            offset = 0 if split == "train" else n_train
            jobs += [(tmp, split, f"DJI_{offset + i:04d}", (seed, style_id, offset + i), size) for i in range(n)]
        _pool_map(_write_udd6_frame, jobs, workers)
        count = {"train": n_train, "val": n_val}
    seconds = time.perf_counter() - start
    (tmp / "GENERATED.json").write_text(json.dumps(
        {"settings": settings, "count": count, "seconds": round(seconds, 2),
         "note": "procedural data written by landinglib.synthetic; not real imagery"}, indent=2))
    if root.exists():
        shutil.rmtree(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp.rename(root)
    return root


def _scene_splits(n: int, seed: int, val: float = 0.15, test: float = 0.15) -> list[str]:
    """Seeded scene-level split, written into index.csv (train / val / test)."""
    order = np.random.default_rng([seed, 7]).permutation(n)
    n_test, n_val = max(1, round(n * test)), max(1, round(n * val))
    split = ["train"] * n
    for k, i in enumerate(order):
        split[i] = "test" if k < n_test else "val" if k < n_test + n_val else "train"
    return split


FAST_SETTINGS = {
    "dronedeploy": dict(n_scenes=6, size=(768, 768)),
    "udd6": dict(n_train=12, n_val=8),
}
"""Tiny built-in sets for ``LANDINGLIB_FAST=1`` (tests and nbval)."""


def ensure_builtin(style: str, fast: bool | None = None, seed: int = 0, verbose: bool = True) -> Path:
    """Path of the built-in ``style`` dataset under ``data/synthetic/``, generating it on first use.

    ``fast`` (default: ``LANDINGLIB_FAST``) selects a tiny version under ``data/synthetic/fast/``.
    """
    from .runtime import data_dir, fast_mode

    fast = fast_mode() if fast is None else fast
    root = data_dir() / "synthetic" / ("fast" if fast else "") / style
    kwargs = FAST_SETTINGS[style] if fast else {}
    stamp = root / "GENERATED.json"
    before = stamp.read_text() if stamp.exists() else None
    path = generate(root, style, seed, **kwargs)
    if verbose and stamp.read_text() != before:
        info = json.loads(stamp.read_text())
        print(f"generated built-in {style} data in {path}: {info['count']} in {info['seconds']} s")
    return path
