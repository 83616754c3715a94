"""Cameras: a drone's pinhole camera (nadir or oblique, with the horizon when tilted far enough)
and the orthographic camera of an orthomosaic.

A plane at height ``z`` maps to the image by a homography, so the ground and every roof are
drawn by warping a map; walls are quads with their own homography. ``make_camera`` draws a
random camera from a style: field of view, ground sampling distance, tilt, heading, roll.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import styles as st
from .styles import Style


@dataclass
class Camera:
    height: int
    width: int
    kind: str  # "perspective" or "ortho"
    f: float = 0.0  # focal length in px
    pos: np.ndarray | None = None  # (3,) metres
    R: np.ndarray | None = None  # (3, 3) rows: right, down, forward (world directions)
    ppm: float = 0.0  # ortho: px per metre
    origin: np.ndarray | None = None  # ortho: world (x, y) of the image's top-left corner
    view: str = "nadir"
    tilt_deg: float = 0.0

    @property
    def K(self) -> np.ndarray:
        return np.array([[self.f, 0, self.width / 2], [0, self.f, self.height / 2], [0, 0, 1]])

    def project(self, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World points (N, 3) -> image (N, 2) px and depth along the view (N,) metres."""
        pts = np.asarray(pts, float)
        if self.kind == "ortho":
            uv = (pts[:, :2] - self.origin) * self.ppm
            return uv, 1000.0 - pts[:, 2]
        pc = (pts - self.pos) @ self.R.T
        depth = pc[:, 2]
        uv = self.f * pc[:, :2] / np.maximum(depth, 1e-6)[:, None] + [self.width / 2, self.height / 2]
        return uv, depth

    def plane_homography(self, z: float, origin: np.ndarray, ppm: float) -> np.ndarray:
        """3x3 map px -> image px for the horizontal plane at height ``z``; the map's pixel (0, 0)
        is world ``origin`` and it has ``ppm`` px per metre."""
        to_world = np.array([[1 / ppm, 0, origin[0]], [0, 1 / ppm, origin[1]], [0, 0, 1]])
        if self.kind == "ortho":
            return np.array([[self.ppm, 0, -self.origin[0] * self.ppm],
                             [0, self.ppm, -self.origin[1] * self.ppm], [0, 0, 1]]) @ to_world
        m = np.stack([self.R[:, 0], self.R[:, 1], self.R[:, 2] * z - self.R @ self.pos], axis=1)
        return self.K @ m @ to_world

    def rays(self) -> np.ndarray:
        """(H, W, 3) unnormalised world direction of each pixel's ray."""
        v, u = np.mgrid[0:self.height, 0:self.width].astype(np.float32)
        d = np.stack([(u + 0.5 - self.width / 2) / self.f, (v + 0.5 - self.height / 2) / self.f,
                      np.ones_like(u)], -1)
        return d @ self.R.astype(np.float32)

    def ground_distance(self, rays: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(distance to the ground along each ray in metres, sky mask) for a perspective camera;
        ``rays`` = ``self.rays()`` when the caller already has them."""
        d = self.rays() if rays is None else rays
        dz = d[..., 2]
        sky = dz > -1e-3
        t = self.pos[2] / np.maximum(-dz, 1e-3)
        return (t * np.linalg.norm(d, axis=-1)).astype(np.float32), sky

    def footprint(self, max_distance: float) -> np.ndarray:
        """World (x, y) points on the ground seen along the frame border (clipped at ``max_distance``)."""
        if self.kind == "ortho":
            w, h = self.width / self.ppm, self.height / self.ppm
            return self.origin + np.array([[0, 0], [w, 0], [w, h], [0, h]])
        us = np.linspace(0, self.width, 9)
        vs = np.linspace(0, self.height, 7)
        border = np.concatenate([np.stack([us, np.zeros_like(us)], 1), np.stack([us, np.full_like(us, self.height)], 1),
                                 np.stack([np.zeros_like(vs), vs], 1), np.stack([np.full_like(vs, self.width), vs], 1),
                                 [[self.width / 2, self.height / 2]]])
        d = np.stack([(border[:, 0] - self.width / 2) / self.f, (border[:, 1] - self.height / 2) / self.f,
                      np.ones(len(border))], 1) @ self.R
        pts = []
        for ray in d:
            horiz = ray[:2] / max(np.linalg.norm(ray[:2]), 1e-9)
            if ray[2] < -1e-3:
                t = self.pos[2] / -ray[2]
                hit = self.pos[:2] + ray[:2] * t
                if np.linalg.norm(hit - self.pos[:2]) <= max_distance:
                    pts.append(hit)
                    continue
            pts.append(self.pos[:2] + horiz * max_distance)
        return np.array(pts + [self.pos[:2]])


def _rotation(yaw: float, tilt: float, roll: float) -> np.ndarray:
    """Rows right, down, forward: nadir looks straight down with image-up = north (-y) at yaw 0;
    ``tilt`` raises the view towards image-up."""
    ct, st = math.cos(tilt), math.sin(tilt)
    right, down, fwd = np.array([1.0, 0, 0]), np.array([0, ct, -st]), np.array([0, -st, -ct])
    cr, sr = math.cos(roll), math.sin(roll)
    right, down = cr * right + sr * down, -sr * right + cr * down
    cy, sy = math.cos(yaw), math.sin(yaw)
    rz = np.array([[cy, -sy, 0], [sy, cy, 0], [0, 0, 1]])
    return np.stack([rz @ right, rz @ down, rz @ fwd])


def make_camera(style: Style, rng: np.random.Generator, height: int, width: int) -> Camera:
    """A random camera of ``style`` for a frame of ``height`` x ``width`` px (world origin below it)."""
    if style.camera == "ortho":
        ppm = 1.0 / rng.uniform(*style.gsd_m)
        return Camera(height, width, "ortho", ppm=ppm, origin=np.array([-width / 2, -height / 2]) / ppm)
    hfov = math.radians(rng.uniform(*st.FIELD_OF_VIEW_DEG))
    f = (width / 2) / math.tan(hfov / 2)
    half_v = math.atan((height / 2) / f)
    view = ("nadir", "oblique", "horizon")[int(rng.choice(3, p=np.array(style.views) / sum(style.views)))]
    gsd = math.exp(rng.uniform(math.log(style.gsd_m[0]), math.log(style.gsd_m[1])))
    if view == "nadir":
        tilt = math.radians(rng.uniform(*st.NADIR_TILT_DEG))
        altitude = gsd * f
    elif view == "oblique":
        tilt = math.radians(rng.uniform(*st.OBLIQUE_TILT_DEG))
        altitude = gsd * f * math.cos(tilt)
    else:  # far enough up that the top of the frame shows the horizon and sky
        tilt = math.pi / 2 - half_v + math.radians(rng.uniform(*st.HORIZON_TILT_DEG))
        altitude = rng.uniform(*st.HORIZON_ALTITUDE_M)
    altitude = max(altitude, st.MIN_ALTITUDE_M)
    R = _rotation(rng.uniform(*st.HEADING_RAD), tilt, math.radians(rng.normal(0, st.ROLL_SIGMA_DEG)))
    return Camera(height, width, "perspective", f=f, pos=np.array([0.0, 0.0, altitude]), R=R, view=view,
                  tilt_deg=math.degrees(tilt))
