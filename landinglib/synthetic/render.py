"""From a ``World`` and a ``Camera`` to an image and its label, pixel for pixel.

1. *Maps* (top view, metres -> px): the ground's albedo and semantic codes, road markings,
   and a *roof layer* with every roof, car top and box top painted at its footprint.
2. *Light*: a sun (elevation, azimuth, colour) and a sky; cast shadows are polygons swept along
   the sun on the ground and on lower roofs.
3. *Projection*: the ground map and each roof are warped by the homography of their plane;
   walls are textured quads; trees are clusters of lit crowns; nearer things are painted last.
   Sky fills what no ray of the ground reaches.
4. *The camera*: haze with distance, exposure, white balance, vignetting, lens distortion, blur,
   sensor noise, JPEG. None of these moves a label; the lens distortion warps both.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from . import styles as st
from . import textures as tx
from .textures import SHIFT, to_fixed
from .camera import Camera
from .world import Prism, Tree, World
from .specs import SurfaceSpec
from .styles import CAR, FACADE, ROOF, SKY, SOIL, TREE, Style



@dataclass
class Light:
    kind: str
    elevation: float  # radians
    azimuth: float  # radians; the direction the sun shines *from*
    sun_rgb: np.ndarray  # multiplier of lit surfaces
    shadow: float  # brightness of shadow relative to sun (0..1)
    shadow_rgb: np.ndarray  # tint of shadow (blue sky light)
    haze_rgb: np.ndarray
    visibility: float  # metres

    @property
    def shadow_vector(self) -> np.ndarray:
        """Ground offset of a shadow per metre of height (points away from the sun)."""
        return -np.array([math.cos(self.azimuth), math.sin(self.azimuth)]) / math.tan(self.elevation)


def make_light(style: Style, rng: np.random.Generator) -> Light:
    """A random light of one of ``style``'s lightings (its ranges: ``styles.LIGHT_RANGES``)."""
    kind = style.lightings[int(rng.integers(len(style.lightings)))]
    r, u = st.LIGHT_RANGES[kind], rng.uniform
    warm = u(*r.warmth)
    sun = np.array([1 + warm, 1.0, 1 - 1.3 * warm], np.float32) * (u(*r.strength) if r.strength else 1.0)
    shadow_rgb = np.array(r.shadow_tint, np.float32)
    haze = tx.random_hsv(rng, r.haze_hsv)
    return Light(kind, math.radians(u(*r.sun_elevation_deg)), u(*st.SUN_AZIMUTH_RAD), sun, u(*r.shadow), shadow_rgb,
                 haze, u(*r.visibility_m))


class _Map:
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


def _fields(m: _Map, rng) -> dict:
    """Shared noise fields over the whole map (feature sizes in metres), read by every texture.
    Smooth fields are drawn at a coarser resolution and enlarged once: they have no fine detail."""
    h, w, p = m.h, m.w, m.ppm
    k = int(np.clip(1.5 * p // 3, 1, 4))  # the finest feature (1.5 m) still spans >= 3 coarse px
    hs, ws = -(-h // k), -(-w // k)

    def smooth(cell_m, octaves=3):
        field = tx.noise(rng, hs, ws, cell_m * p / k, octaves)
        return field if k == 1 else cv2.resize(field, (ws * k, hs * k), interpolation=cv2.INTER_LINEAR)[:h, :w]

    fine = np.empty((h, w), np.float32)
    cv2.setRNGSeed(int(rng.integers(1 << 31)))  # OpenCV's generator is 5x faster; seeded from ours
    cv2.randn(fine, 0.0, 1.0)
    fields = dict(mid=smooth(6) - 0.5, big=smooth(15) - 0.5, small=smooth(1.5, 2) - 0.5, patch=smooth(9, 2), fine=fine)
    return {k: np.ascontiguousarray(v) for k, v in fields.items()}  # contiguous: flat gathers are cheap


def _at(fields: dict, idx: np.ndarray) -> dict:
    """The shared noise fields at the flat pixel indices ``idx`` (row * width + column)."""
    return {k: v.ravel()[idx] for k, v in fields.items()}


def _ground(world: World, m: _Map, fields: dict, rng):
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
    rgb = np.dtype((np.void, 12))  # one pixel's three float32 as one item: a 1-D scatter is 4x faster

    def texture(spec: SurfaceSpec, idx):
        ys, xs = np.divmod(idx, m.w)
        pixels = tx.surface_texture(spec, *m.coords(ys, xs), _at(fields, idx), m.ppm)
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


def _roof_layer(world: World, m: _Map, fields: dict, rng, light: Light) -> np.ndarray:
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
            layer[ys, xs] = tx.roof_texture(spec, prism.footprint, xx, yy, _at(fields, ys * m.w + xs), light.elevation,
                                            light.azimuth)
            if spec.shape == "flat":
                tx.roof_details(layer, prism.footprint, spec, m, rng, s_vec)
        else:
            rgb = np.asarray(spec.rgb, np.float32)
            layer[ys, xs] = rgb * (1 + 0.06 * fields["fine"][ys, xs, None])
            if prism.code == CAR:
                tx.car_details(layer, prism.footprint, rgb, m, spec.big)
    return layer


def _shadows(world: World, m: _Map, light: Light) -> tuple[np.ndarray, np.ndarray]:
    """(ground shadow, roof shadow) maps in [0, 1]: 1 = in shadow."""
    ground = np.zeros((m.h, m.w), np.uint8)
    roofs = np.zeros((m.h, m.w), np.uint8)
    s = light.shadow_vector
    buildings = [p for p in world.prisms if p.code == ROOF]
    for p in world.prisms:
        hull = cv2.convexHull(np.concatenate([p.footprint, p.footprint + s * p.height]).astype(np.float32))[:, 0]
        if m.window(hull) is not None:
            m.mask(hull, ground)
    along = s / (np.linalg.norm(s) + 1e-9)
    stretch = min(3.0, 1 / math.sin(light.elevation))  # a crown's shadow is longer when the sun is low
    t = np.linspace(0, 2 * math.pi, 16, endpoint=False)
    circle = np.stack([np.cos(t), np.sin(t)], 1)
    circle = circle + np.outer(circle @ along, along) * (stretch - 1)
    for x, y, r, h in world.trees:
        c = np.array([x, y]) + s * (h - r * 0.7)
        crown = c + circle * r * 0.9
        if m.window(crown) is not None:
            m.mask(crown, ground)
            trunk = np.array([[x, y], [x, y] + s * (h - r), [x + 0.2, y + 0.2] + s * (h - r), [x + 0.2, y + 0.2]])
            m.mask(trunk, ground)
    if buildings:  # taller buildings shade lower roofs and vehicles
        heights = np.array([b.height for b in buildings])
        reach = np.stack([np.concatenate([b.footprint, b.footprint + s * b.height]) for b in buildings])
        lo_b, hi_b = reach.min(1), reach.max(1)
        for recv in world.prisms:
            win = m.window(recv.footprint)
            if win is None:
                continue
            lo, hi = recv.footprint.min(0), recv.footprint.max(0)
            near = np.nonzero((heights > recv.height) & np.all(hi_b >= lo, 1) & np.all(lo_b <= hi, 1))[0]
            if not len(near):
                continue
            inside = m.patch(recv.footprint, win)
            x0, y0, x1, y1 = win
            for k in near:
                b = buildings[k]
                if b is recv:
                    continue
                pts = np.concatenate([b.footprint, b.footprint + s * (b.height - recv.height)])
                roofs[y0:y1, x0:x1] |= m.patch(cv2.convexHull(pts.astype(np.float32))[:, 0], win) & inside
    soft = max(0.6, 0.15 * m.ppm)
    return (cv2.GaussianBlur(ground.astype(np.float32), (0, 0), soft),
            cv2.GaussianBlur(roofs.astype(np.float32), (0, 0), soft * 0.5))


def _lit(albedo: np.ndarray, shadow: np.ndarray, light: Light) -> np.ndarray:
    """Albedo times light, in place: the sun's colour where lit, the sky's (dimmer, bluer) in shadow."""
    gain = (light.shadow * light.shadow_rgb - light.sun_rgb).astype(np.float32)
    affine = np.concatenate([np.diag(gain), light.sun_rgb.astype(np.float32)[:, None]], 1)  # shadow * gain + sun
    light_map = cv2.transform(cv2.merge([shadow] * 3), affine)  # 3 -> 3 channels: OpenCV's fast path
    cv2.multiply(albedo, light_map, dst=albedo)
    return albedo


# --- projection ------------------------------------------------------------------------------
def _paste(img, sem, depth_map, quad_uv, value_img, code: int, z: float, win) -> None:
    """Composite ``value_img`` (bbox-sized) into ``img`` inside the projected polygon ``quad_uv``."""
    x0, y0, x1, y1 = win
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(mask, [to_fixed(quad_uv - [x0, y0])], 1, lineType=cv2.LINE_8, shift=SHIFT)
    sel = mask.view(bool)
    np.copyto(img[y0:y1, x0:x1], value_img, where=sel[..., None])
    sem[y0:y1, x0:x1][sel] = code
    depth_map[y0:y1, x0:x1][sel] = z


def _bbox(uv: np.ndarray, h: int, w: int):
    x0, y0 = np.floor(uv.min(0)).astype(int)
    x1, y1 = np.ceil(uv.max(0)).astype(int) + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    return None if x0 >= x1 or y0 >= y1 else (x0, y0, x1, y1)


def _warp_into(src, H, win, flags=cv2.INTER_LINEAR):
    x0, y0, x1, y1 = win
    T = np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]], float) @ H
    return cv2.warpPerspective(src, T, (x1 - x0, y1 - y0), flags=flags, borderMode=cv2.BORDER_REFLECT)


def _outward_normals(fp: np.ndarray) -> np.ndarray:
    edges = np.roll(fp, -1, 0) - fp
    n = edges[:, ::-1] * [1, -1]
    n = n / (np.sqrt((n * n).sum(1, keepdims=True)) + 1e-9)
    flip = ((n * (fp + edges / 2 - fp.mean(0))).sum(1) < 0)[:, None]
    return np.where(flip, -n, n)


def _draw_prism(prism: Prism, cam: Camera, m: _Map, roof_lit, img, sem, hmap, light: Light, rng) -> None:
    h, w = img.shape[:2]
    fp = prism.footprint
    corners = np.zeros((8, 3))
    corners[:4, :2] = corners[4:, :2] = fp
    corners[4:, 2] = prism.height
    uv, depth = cam.project(corners)
    if np.any(depth < 1.0):
        return
    win = _bbox(uv, h, w)
    if win is None:
        return
    if cam.kind == "perspective":
        normals = _outward_normals(fp)
        sun = -np.array([math.cos(light.azimuth), math.sin(light.azimuth)])
        for i in range(4):
            j = (i + 1) % 4
            mid = (fp[i] + fp[j]) / 2
            if np.dot(normals[i], cam.pos[:2] - mid) <= 0:
                continue  # wall faces away from the camera
            quad = uv[[4 + i, 4 + j, j, i]]  # top-left, top-right, bottom-right, bottom-left
            fwin = _bbox(quad, h, w)
            if fwin is None:
                continue
            facing = float(np.dot(normals[i], -sun))  # > 0: wall turned to the sun
            shade = light.shadow + (1 - light.shadow) * max(0.0, facing) * math.cos(light.elevation) * 1.3
            tint = light.sun_rgb if facing > 0 else light.shadow_rgb
            width_m = math.dist(fp[j], fp[i])
            if prism.code == ROOF:
                scale = cam.f / max(float(depth[i] + depth[j]) / 2, 1.0)
                tex_ppm = float(np.clip(scale, 0.5, 10))
                tex = tx.facade_texture(width_m, prism.height, prism.wall, tex_ppm, rng)
                th, tw = tex.shape[:2]
                src = np.array([[0, 0], [tw, 0], [tw, th], [0, th]], np.float32)
                H = cv2.getPerspectiveTransform(src, quad.astype(np.float32))
                tex = tex * (shade * tint)
                warped = _warp_into(tex, H, fwin)
                _paste(img, sem, hmap, quad, warped, FACADE, prism.height / 2, fwin)
            else:  # vehicles and boxes: plain sides
                colour = np.asarray(prism.wall.rgb, np.float32) * shade * tint
                pts = [to_fixed(quad)]
                cv2.fillPoly(img, pts, tuple(float(c) for c in colour), cv2.LINE_8, SHIFT)
                cv2.fillPoly(sem, pts, int(prism.code), cv2.LINE_8, SHIFT)
                cv2.fillPoly(hmap, pts, prism.height / 2, cv2.LINE_8, SHIFT)
    top_uv = uv[4:]
    twin = _bbox(top_uv, h, w)
    if twin is None:
        return
    H = cam.plane_homography(prism.height, m.origin, m.ppm)
    roof = _warp_into(roof_lit, H, twin)
    _paste(img, sem, hmap, top_uv, roof, prism.code, prism.height, twin)


def _draw_tree(tree: Tree, cam: Camera, img, sem, hmap, light: Light, rng) -> None:
    x, y, r, th = tree
    centre = np.array([[x, y, th - r * 0.7]])
    sun = -np.array([math.cos(light.azimuth), math.sin(light.azimuth), 0.0])  # towards the sun
    uv, depth = cam.project(np.concatenate([centre, centre + r * np.array([[1.0, 0, 0]]), centre - sun * 1.0]))
    if depth[0] < 1.0:
        return
    if cam.kind == "ortho":
        rad = r * cam.ppm
    else:
        rad = cam.f * r / depth[0]
    c = uv[0]
    if not (-rad <= c[0] < img.shape[1] + rad and -rad <= c[1] < img.shape[0] + rad) or rad < 0.5:
        return
    to_sun = uv[2] - c
    to_sun = to_sun / (np.linalg.norm(to_sun) + 1e-9)
    foliage = tx.random_hsv(rng, st.FOLIAGE_HSV)
    n = st.count(rng, st.CROWN_CLUMPS)
    offsets = rng.normal(0, st.CLUMP_SPREAD_SIGMA, (n, 2)) * rad
    radii = rad * rng.uniform(*st.CLUMP_RADIUS_SHARE, n)
    toward = offsets @ to_sun
    order = np.argsort(toward)  # shaded side first, lit side on top
    lit = np.clip(0.5 + 0.5 * toward / max(rad * 0.5, 1e-6), 0, 1)
    colours = (foliage * (light.shadow * 1.3 + (1 - light.shadow) * lit[:, None] * 1.6) * light.sun_rgb).tolist()
    one = 1 << SHIFT
    centres = np.round((c + offsets) * one).astype(int).tolist()
    highlights = np.round((c + offsets + to_sun * radii[:, None] * 0.35) * one).astype(int).tolist()
    rrs = np.round(radii * one).astype(int).tolist()
    for k in order.tolist():  # plain Python numbers: a tree is a dozen small circles
        ctr, rr = tuple(centres[k]), rrs[k]
        cv2.circle(img, ctr, rr, colours[k], -1, cv2.LINE_8, SHIFT)
        cv2.circle(sem, ctr, rr, TREE, -1, cv2.LINE_8, SHIFT)
        cv2.circle(hmap, ctr, rr, float(th), -1, cv2.LINE_8, SHIFT)
        if radii[k] > 3:  # dappled: a highlight on the sunny edge of each clump
            cv2.circle(img, tuple(highlights[k]), int(rr * 0.45), [v * 1.25 for v in colours[k]], -1, cv2.LINE_8, SHIFT)


def _sky(cam: Camera, rays: np.ndarray, light: Light, rng) -> np.ndarray:
    """Sky colour (H, W, 3) for every pixel: haze at the horizon, blue above, clouds."""
    elev = rays[..., 2] / np.linalg.norm(rays, axis=-1)  # sine of the ray's elevation
    top = tx.random_hsv(rng, st.LIGHT_RANGES[light.kind].sky_hsv)
    t = np.clip(elev / 0.35, 0, 1)[..., None] ** 0.6
    sky = light.haze_rgb * (1 - t) + top * t
    clouds = tx.noise(rng, cam.height, cam.width, rng.uniform(*st.CLOUD_SIZE_PX), 3)
    cover = rng.uniform(*st.CLOUD_COVER)
    return sky + (np.clip((clouds - 1 + cover) * 3, 0, 1)[..., None] * (250 - sky))


def project(world: World, cam: Camera, m: _Map, ground_lit, ground_sem, roof_lit, light: Light, rng):
    """Image (H, W, 3) float32, semantic (H, W) uint8 and height (H, W) float32 of the world."""
    h, w = cam.height, cam.width
    H0 = cam.plane_homography(0.0, m.origin, m.ppm)
    img = cv2.warpPerspective(ground_lit, H0, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    sem = cv2.warpPerspective(ground_sem, H0, (w, h), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_REFLECT)
    hmap = np.zeros((h, w), np.float32)
    dist = None
    if cam.kind == "perspective":
        rays = cam.rays()
        dist, sky = cam.ground_distance(rays)
        if sky.any():
            img[sky] = _sky(cam, rays, light, rng)[sky]
            sem[sky] = SKY
    objects = [("prism", p, p.footprint.mean(0), p.height) for p in world.prisms] + \
              [("tree", t, np.array([t.x, t.y]), t.height) for t in world.trees]
    if cam.kind == "perspective":
        key = [-float(np.linalg.norm(c - cam.pos[:2])) for _, _, c, _ in objects]
    else:
        key = [z for _, _, _, z in objects]
    for i in np.argsort(key, kind="stable"):
        kind, obj, _, _ = objects[i]
        if kind == "prism":
            _draw_prism(obj, cam, m, roof_lit, img, sem, hmap, light, rng)
        else:
            _draw_tree(obj, cam, img, sem, hmap, light, rng)
    trees = sem == TREE
    if trees.any():  # leaves: a dappled, clumpy texture instead of flat discs
        small = cv2.resize(rng.random((h // 3 + 1, w // 3 + 1), dtype=np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
        np.multiply(img, (0.65 + 0.6 * small)[..., None], out=img, where=trees[..., None])
    if dist is not None:  # aerial perspective: far things fade into the haze (the sky already is haze)
        dist = dist * np.clip(1 - hmap / cam.pos[2], 0, 1)  # to what the pixel shows, not the ground behind it
        fog = (1 - np.exp(-np.minimum(dist, 1e5) / light.visibility)) * (sem != SKY)
        haze = light.haze_rgb.astype(np.float32)
        img -= haze  # img = haze + (img - haze) * (1 - fog), in place
        img *= (1 - fog.astype(np.float32))[..., None]
        img += haze
    return img, sem, hmap


def draw(world: World, cam: Camera, light: Light, extent, ppm: float, rng):
    """Maps of ``world`` over ``extent`` at ``ppm``, lit and shadowed, seen through ``cam``: image
    (H, W, 3) float32, semantic (H, W) uint8, height (H, W) float32 (before ``develop``)."""
    m = _Map(extent, ppm)
    fields = _fields(m, rng)
    albedo, ground_sem = _ground(world, m, fields, rng)
    roofs = _roof_layer(world, m, fields, rng, light)
    ground_shadow, roof_shadow = _shadows(world, m, light)
    return project(world, cam, m, _lit(albedo, ground_shadow, light), ground_sem, _lit(roofs, roof_shadow, light),
                   light, rng)


def material(albedo_of, size: int, ppm: float, rng) -> np.ndarray:
    """(size, size, 3) uint8 of a material: ``albedo_of(xx, yy, fields, ppm)`` over a square map."""
    m = _Map((0.0, 0.0, size / ppm, size / ppm), ppm)
    fields = _fields(m, rng)
    ys, xs = np.mgrid[0:m.h, 0:m.w]
    ys, xs = ys.ravel(), xs.ravel()
    albedo = albedo_of(*m.coords(ys, xs), _at(fields, ys * m.w + xs), ppm)
    return np.clip(albedo.reshape(m.h, m.w, 3), 0, 255).astype(np.uint8)[:size, :size]


def develop(img: np.ndarray, sem: np.ndarray, hmap: np.ndarray, style: Style, rng):
    """The camera's own look: exposure, white balance, saturation, vignetting, tone curve, lens,
    blur, noise and JPEG. Returns (image uint8, semantic, height); only the lens moves labels."""
    h, w = sem.shape
    u = rng.uniform
    gain = math.exp(rng.normal(0, st.EXPOSURE_SIGMA)) * rng.normal(1, st.WHITE_BALANCE_SIGMA, 3)
    sat = u(*st.SATURATION)
    colour = (np.eye(3) * sat + (1 - sat) / 3) * gain[:, None]  # saturation about the grey axis
    yy, xx = np.ogrid[0:h, 0:w]
    dx, dy = xx.astype(np.float32) - np.float32(w / 2), yy.astype(np.float32) - np.float32(h / 2)
    r2 = (dx * dx + dy * dy) / np.float32((w / 2) ** 2 + (h / 2) ** 2)
    vignette = 1 - u(*st.VIGNETTING) * r2
    x = cv2.transform(img, colour.astype(np.float32)) * vignette[..., None]
    x = cv2.convertScaleAbs(x)  # saturating cast to uint8
    gamma, contrast = u(*st.GAMMA), u(*st.CONTRAST)
    curve = np.clip(0.5 + ((np.arange(256) / 255) ** gamma - 0.5) * contrast, 0, 1)
    x = cv2.LUT(x, np.round(curve * 255).astype(np.uint8))
    k1 = u(*style.lens_k1) if style.lens_k1 != (0.0, 0.0) else 0.0
    if k1:  # barrel distortion; corners stay corners, the centre is magnified
        scale = (1 - k1 * r2) / (1 - k1)
        mx = (w / 2 + (xx - w / 2) * scale).astype(np.float32)
        my = (h / 2 + (yy - h / 2) * scale).astype(np.float32)
        x = cv2.remap(x, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        sem = cv2.remap(sem, mx, my, cv2.INTER_NEAREST, borderMode=cv2.BORDER_REFLECT)
        hmap = cv2.remap(hmap, mx, my, cv2.INTER_NEAREST, borderMode=cv2.BORDER_REFLECT)
    x = cv2.GaussianBlur(x, (0, 0), u(*st.BLUR_SIGMA_PX))
    if rng.random() < st.MOTION_BLUR_P:  # motion blur along a random direction
        n = st.count(rng, st.MOTION_BLUR_PX)
        k = np.zeros((n, n), np.float32)
        a = u(*st.MOTION_BLUR_ANGLE_RAD)
        cv2.line(k, (int(n / 2 - math.cos(a) * n / 2), int(n / 2 - math.sin(a) * n / 2)),
                 (int(n / 2 + math.cos(a) * n / 2), int(n / 2 + math.sin(a) * n / 2)), 1.0, 1)
        x = cv2.filter2D(x, -1, k / max(k.sum(), 1))
    cv2.setRNGSeed(int(rng.integers(1 << 31)))  # sensor noise from OpenCV's fast generator, seeded from ours
    noise = np.empty(x.shape, np.int16)
    cv2.randn(noise, 0, u(*st.SENSOR_NOISE_SIGMA))
    x = cv2.add(x, noise, dtype=cv2.CV_8U)
    q = int(rng.integers(style.jpeg_quality[0], style.jpeg_quality[1] + 1))
    ok, buf = cv2.imencode(".jpg", x[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, q])
    out = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1].copy()
    return out, sem, hmap
