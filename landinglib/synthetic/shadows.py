"""Shadows on the ground maps: cast shadows are polygons swept along the sun on the ground and on lower
roofs; ``apply_light`` multiplies a map's albedo by sunlight where lit and by the dimmer, bluer sky light
in shadow."""
from __future__ import annotations

import math

import cv2
import numpy as np

from .lighting import Light
from .maps import GroundMap
from .styles import ROOF
from .world import World


def cast_shadows(world: World, m: GroundMap, light: Light) -> tuple[np.ndarray, np.ndarray]:
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


def apply_light(albedo: np.ndarray, shadow: np.ndarray, light: Light) -> np.ndarray:
    """Albedo times light, in place: the sun's colour where lit, the sky's (dimmer, bluer) in shadow."""
    gain = (light.shadow * light.shadow_rgb - light.sun_rgb).astype(np.float32)
    affine = np.concatenate([np.diag(gain), light.sun_rgb.astype(np.float32)[:, None]], 1)  # shadow * gain + sun
    light_map = cv2.transform(cv2.merge([shadow] * 3), affine)  # 3 -> 3 channels: OpenCV's fast path
    cv2.multiply(albedo, light_map, dst=albedo)
    return albedo
