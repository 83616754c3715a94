"""One scene: ``render_scene`` lays out a world, points a camera at it, lights and draws it, and
develops the picture as the camera would; ``swatch`` shows one material on its own."""
from __future__ import annotations

import math
from dataclasses import replace
from typing import NamedTuple

import cv2
import numpy as np

from .camera import make_camera
from .city import build_world
from .lighting import make_light
from .maps import material
from .render import draw
from .sensor import develop
from .styles import NODATA, STYLES, Style, pick

MAP_PIXELS = 500_000  # the ground map of one frame holds at most this many pixels
MAP_OVERSAMPLE = 1.1  # map px per image px at the nearest ground the camera sees
DETAIL_M = 280.0  # beyond this distance from the drone only buildings are drawn


class Scene(NamedTuple):
    """One drawn frame: the picture, what each pixel shows, how high it is, and how it was drawn."""

    image: np.ndarray  # (H, W, 3) uint8 RGB
    semantic: np.ndarray  # (H, W) uint8 codes, see styles.SEMANTIC_NAMES
    height: np.ndarray  # (H, W) float32 metres above ground of what each pixel shows
    info: dict  # district, view, tilt, altitude, GSD, lighting, sun elevation


def render_scene(style: Style | str, seed: int | tuple = 0, size: tuple[int, int] | None = None, *,
                 view: str | None = None, district: str | None = None, lighting: str | None = None) -> Scene:
    """Draw one scene of ``style``; ``view`` ("nadir", "oblique", "horizon"), ``district``
    ("urban", "suburban", "industrial", "rural") and ``lighting`` override the random draw."""
    style = STYLES[style] if isinstance(style, str) else style
    if view is not None:
        style = replace(style, views=tuple(float(view == v) for v in ("nadir", "oblique", "horizon")))
    if lighting is not None:
        style = replace(style, lightings=(lighting,))
    if district is not None:
        style = replace(style, districts=((district, 1.0),))
    rng = np.random.default_rng(seed)
    if size is None:
        size = style.frame or tuple(int(v) for v in rng.integers(style.scene_side[0], style.scene_side[1] + 1, 2))
    h, w = size
    cam = make_camera(style, rng, h, w)
    light = make_light(style, rng)
    kind = pick(rng, style.districts)
    if cam.kind == "ortho":
        extent = (*cam.origin, cam.origin[0] + w / cam.ppm, cam.origin[1] + h / cam.ppm)
        ppm, max_height = cam.ppm, 60.0
    else:
        pts = cam.footprint(max_distance=min(DETAIL_M * 1.4, 10 * cam.pos[2]))
        lo, hi = pts.min(0) - 20, pts.max(0) + 20
        extent = (*lo, *hi)
        near = float(np.min(np.linalg.norm(np.c_[pts - cam.pos[:2], np.full(len(pts), cam.pos[2])], axis=1)))
        area = float(np.prod(hi - lo))
        ppm = max(0.8, min(MAP_OVERSAMPLE * cam.f / near, math.sqrt(MAP_PIXELS / area), 16.0))
        max_height = cam.pos[2] - 12
    detail = None  # far away, or out of view, only buildings count
    if cam.kind == "perspective":
        detail = (tuple(cam.pos[:2]), DETAIL_M, cv2.convexHull(pts.astype(np.float32))[:, 0])
    world = build_world(extent, kind, style, rng, max_height=max_height, detail=detail)
    img, sem, height = draw(world, cam, light, extent, ppm, rng)
    if style.nodata_border:  # an orthomosaic covers an irregular footprint; outside is nodata
        centre = np.array([w, h]) / 2
        angles = np.sort(rng.uniform(0, 2 * math.pi, 9))
        radii = rng.uniform(0.55, 0.8, 9) * max(w, h)
        poly = centre + np.stack([np.cos(angles), np.sin(angles)], 1) * radii[:, None] * [w / max(w, h), h / max(w, h)]
        inside = np.zeros((h, w), np.uint8)
        cv2.fillPoly(inside, [np.round(poly).astype(np.int32).reshape(-1, 1, 2)], 1)
        sem[inside == 0] = NODATA
    image, sem, height = develop(img, sem, height, style, rng)
    image[sem == NODATA] = 0
    info = dict(style=style.name, district=kind, view=cam.view, tilt_deg=round(cam.tilt_deg, 1),
                altitude_m=round(float(cam.pos[2]), 1) if cam.pos is not None else None,
                gsd_m=round(1 / cam.ppm if cam.kind == "ortho" else float(cam.pos[2]) / cam.f, 3),
                lighting=light.kind, sun_elevation_deg=round(math.degrees(light.elevation), 1))
    return Scene(image, sem, height, info)


def swatch(kind: str, seed: int = 0, size: int = 160, ppm: float = 20.0) -> np.ndarray:
    """A (size, size, 3) uint8 sample of a material under flat light, ``ppm`` px per metre.

    ``kind``: a ground material ("asphalt", "slabs", "tiles", "bricks", "checker45", "cobbles",
    "lawn", "meadow", "soil", "gravel", "field", "water", "pool") or "roof:<material>" for a flat
    roof ("roof:concrete", "roof:gravel", ..., "roof:corrugated", "roof:painted")."""
    from . import textures as tx
    from .specs import RoofSpec, SurfaceSpec

    rng = np.random.default_rng(seed)

    def albedo_of(xx, yy, fields, ppm):  # called after the noise fields are drawn
        if kind.startswith("roof:"):
            name = kind.split(":", 1)[1]
            spec = RoofSpec(shape="flat", material=name, rgb=tx.roof_color(name, rng), stains=0.3)
            square = np.array([[0, 0], [size / ppm, 0], [size / ppm, size / ppm], [0, size / ppm]])
            return tx.roof_texture(spec, square, xx, yy, fields, math.radians(45), 0.0)
        spec = SurfaceSpec(kind=kind, rgb=tx.surface_color(kind, rng), angle=0.3, salt=seed, stains=0.2,
                           two_tone=kind == "checker45", rgb2=tx.surface_color(kind, rng))
        return tx.surface_texture(spec, xx, yy, fields, ppm)

    return material(albedo_of, size, ppm, rng)
