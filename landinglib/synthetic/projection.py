"""From maps to the picture through a camera: the ground map and each roof are warped by the homography
of their plane; walls are textured quads; trees are clusters of lit crowns; nearer things are painted
last. Sky fills what no ray of the ground reaches, and haze grows with the distance to what a pixel
shows. The semantic and height maps are painted with the same polygons and warps as the image."""
from __future__ import annotations

import math

import cv2
import numpy as np

from . import styles as st
from . import textures as tx
from .camera import Camera
from .lighting import Light
from .maps import GroundMap
from .styles import FACADE, ROOF, SKY, TREE
from .textures import SHIFT, to_fixed
from .world import Prism, Tree, World


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


def _draw_prism(prism: Prism, cam: Camera, m: GroundMap, roof_lit, img, sem, hmap, light: Light, rng) -> None:
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


def project(world: World, cam: Camera, m: GroundMap, ground_lit, ground_sem, roof_lit, light: Light,
            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
