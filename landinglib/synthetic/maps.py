"""Maps of the ground seen from above (world metres <-> map px): the noise fields every texture reads,
the ground's albedo and semantic codes with its road paint, and the roof layer (every roof, car top and
box top painted at its footprint). ``material`` shows one texture on a square map of its own."""
from __future__ import annotations

import math

import cv2
import numpy as np

from . import styles as st
from . import textures as tx
from .lighting import Light
from .specs import SurfaceSpec
from .styles import CAR, ROOF, SOIL
from .textures import SHIFT, to_fixed
from .world import World


class GroundMap:
    """A raster of the ground plane: world (x, y) metres <-> map px."""

    def __init__(self, extent, ppm: float):
        self.origin = np.array(extent[:2], float)
        self.ppm = ppm
        self.w = int(math.ceil((extent[2] - extent[0]) * ppm))
        self.h = int(math.ceil((extent[3] - extent[1]) * ppm))

    def px(self, poly: np.ndarray) -> np.ndarray:
        return (np.asarray(poly, float) - self.origin) * self.ppm

    def mask(self, poly: np.ndarray, out: np.ndarray | None = None, value: int = 1):
        """Fill ``poly`` (metres) into ``out`` (or a new (h, w) uint8 map); returns it."""
        out = np.zeros((self.h, self.w), np.uint8) if out is None else out
        cv2.fillPoly(out, [to_fixed(self.px(poly))], value, lineType=cv2.LINE_8, shift=SHIFT)
        return out

    def window(self, poly, pad: float = 0.0):
        """Integer bbox (x0, y0, x1, y1) of ``poly`` in map px, clipped; None when outside."""
        p = self.px(poly)
        x0, y0 = np.floor(p.min(0) - pad).astype(int)
        x1, y1 = np.ceil(p.max(0) + pad).astype(int) + 1
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, self.w), min(y1, self.h)
        return None if x0 >= x1 or y0 >= y1 else (x0, y0, x1, y1)

    def patch(self, poly, win) -> np.ndarray:
        """(y1 - y0, x1 - x0) uint8 mask of ``poly`` (metres) inside the window ``win``."""
        x0, y0, x1, y1 = win
        m = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillPoly(m, [to_fixed(self.px(poly) - [x0, y0])], 1, lineType=cv2.LINE_8, shift=SHIFT)
        return m

    def poly_pixels(self, poly):
        """(rows, cols) of map pixels inside ``poly``, via its bbox; None when outside."""
        win = self.window(poly)
        if win is None:
            return None
        ys, xs = np.nonzero(self.patch(poly, win))
        return ys + win[1], xs + win[0]

    def coords(self, ys, xs):
        return (self.origin[0] + (xs + 0.5) / self.ppm).astype(np.float32), \
               (self.origin[1] + (ys + 0.5) / self.ppm).astype(np.float32)


def noise_fields(m: GroundMap, rng: np.random.Generator) -> dict:
    """Shared noise fields over the whole map (feature sizes in metres), read by every texture.
    Smooth fields are drawn at a coarser resolution and enlarged once: they have no fine detail."""
    h, w, p = m.h, m.w, m.ppm
    k = int(np.clip(1.5 * p // 3, 1, 4))  # the finest feature (1.5 m) still spans >= 3 coarse px
    hs, ws = -(-h // k), -(-w // k)

    def smooth(cell_m, octaves=3):
        field = tx.noise(rng, hs, ws, cell_m * p / k, octaves)
        return field if k == 1 else cv2.resize(field, (ws * k, hs * k), interpolation=cv2.INTER_LINEAR)[:h, :w]

    fine = np.empty((h, w), np.float32)
    cv2.setRNGSeed(int(rng.integers(1 << 31)))  # OpenCV's generator is faster than NumPy's; seeded from ours
    cv2.randn(fine, 0.0, 1.0)
    fields = dict(mid=smooth(6) - 0.5, big=smooth(15) - 0.5, small=smooth(1.5, 2) - 0.5, patch=smooth(9, 2), fine=fine)
    return {k: np.ascontiguousarray(v) for k, v in fields.items()}  # contiguous: flat gathers are cheap


def fields_at(fields: dict, idx: np.ndarray) -> dict:
    """The shared noise fields at the flat pixel indices ``idx`` (row * width + column)."""
    return {k: v.ravel()[idx] for k, v in fields.items()}


def ground_layer(world: World, m: GroundMap, fields: dict, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Ground albedo (h, w, 3) and semantic codes (h, w) of the map: surfaces, then road paint.

    Surfaces are filled, in order, into a map of surface numbers (the last one painted wins);
    one stable sort of that map then gives every surface its pixels, each textured once."""
    ids = np.zeros((m.h, m.w), np.uint16)  # 0: no surface; k: world.surfaces[k - 1]
    for k, surface in enumerate(world.surfaces, 1):
        if m.window(surface.polygon) is not None:
            m.mask(surface.polygon, ids, k)
    flat = ids.ravel()
    order = np.argsort(flat, kind="stable")  # pixels grouped by surface, in raster order
    bounds = np.concatenate([[0], np.cumsum(np.bincount(flat, minlength=len(world.surfaces) + 1))])
    albedo = np.zeros((m.h * m.w, 3), np.float32)
    sem = np.full(m.h * m.w, SOIL, np.uint8)
    rgb = np.dtype((np.void, 12))  # one pixel's three float32 as one item: a 1-D scatter is faster

    def texture(spec: SurfaceSpec, idx):
        ys, xs = np.divmod(idx, m.w)
        pixels = tx.surface_texture(spec, *m.coords(ys, xs), fields_at(fields, idx), m.ppm)
        albedo.view(rgb).ravel()[idx] = np.ascontiguousarray(pixels).view(rgb).ravel()
        sem[idx] = spec.code

    for k in range(1, len(world.surfaces) + 1):
        if bounds[k + 1] > bounds[k]:
            texture(world.surfaces[k - 1].spec, order[bounds[k]:bounds[k + 1]])
    if bounds[1]:  # whatever no surface covers: bare ground, smooth or rough
        bare = SurfaceSpec(kind=rng.choice(st.FALLBACK_GROUND_KINDS), rgb=tx.surface_color("soil", rng), code=SOIL)
        texture(bare, order[:bounds[1]])
    albedo, sem = albedo.reshape(m.h, m.w, 3), sem.reshape(m.h, m.w)
    if world.markings:  # paint, worn away in places
        paint = np.zeros_like(albedo)
        alpha = np.zeros((m.h, m.w), np.float32)
        for polys, rgb, opacity in world.markings:
            if m.window(np.concatenate(polys)) is None:
                continue
            pts = [to_fixed(m.px(p)) for p in polys]
            cv2.fillPoly(paint, pts, tuple(float(c) for c in rgb), lineType=cv2.LINE_AA, shift=SHIFT)
            cv2.fillPoly(alpha, pts, float(opacity), lineType=cv2.LINE_AA, shift=SHIFT)
        ys, xs = np.nonzero(alpha)
        a = (alpha[ys, xs] * np.clip(0.4 + 1.6 * fields["patch"][ys, xs], 0, 1))[:, None]
        albedo[ys, xs] += (paint[ys, xs] - albedo[ys, xs]) * a
    return albedo, sem


def roof_layer(world: World, m: GroundMap, fields: dict, rng, light: Light) -> np.ndarray:
    """Albedo (h, w, 3) of every roof, car top and box top, painted at its footprint on the map."""
    layer = np.zeros((m.h, m.w, 3), np.float32)
    s_vec = light.shadow_vector
    for prism in world.prisms:
        pix = m.poly_pixels(prism.footprint)
        if pix is None or not len(pix[0]):
            continue
        ys, xs = pix
        xx, yy = m.coords(ys, xs)
        spec = prism.roof
        if prism.code == ROOF:
            layer[ys, xs] = tx.roof_texture(spec, prism.footprint, xx, yy, fields_at(fields, ys * m.w + xs), light.elevation,
                                            light.azimuth)
            if spec.shape == "flat":
                tx.roof_details(layer, prism.footprint, spec, m, rng, s_vec)
        else:
            rgb = np.asarray(spec.rgb, np.float32)
            layer[ys, xs] = rgb * (1 + 0.06 * fields["fine"][ys, xs, None])
            if prism.code == CAR:
                tx.car_details(layer, prism.footprint, rgb, m, spec.big)
    return layer


def material(albedo_of, size: int, ppm: float, rng) -> np.ndarray:
    """(size, size, 3) uint8 of a material: ``albedo_of(xx, yy, fields, ppm)`` over a square map."""
    m = GroundMap((0.0, 0.0, size / ppm, size / ppm), ppm)
    fields = noise_fields(m, rng)
    ys, xs = np.mgrid[0:m.h, 0:m.w]
    ys, xs = ys.ravel(), xs.ravel()
    albedo = albedo_of(*m.coords(ys, xs), fields_at(fields, ys * m.w + xs), ppm)
    return np.clip(albedo.reshape(m.h, m.w, 3), 0, 255).astype(np.uint8)[:size, :size]
