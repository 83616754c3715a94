"""Streets: a grid of two families of parallel roads with sidewalks, lane lines and zebra crossings,
the blocks between them, and the street life (parked and moving cars, street trees)."""
from __future__ import annotations

import math

import numpy as np

from . import styles as st
from .builder import Builder
from .styles import ROAD
from .world import Block


def _positions(rng, lo: float, hi: float, block: tuple[float, float], width: tuple[float, float]):
    """Road centre lines across [lo, hi] with blocks between: [(centre, road width, sidewalk)]."""
    out, p = [], lo - rng.uniform(0, block[1])  # the first road at or before lo: no strip left unbuilt
    while p < hi + block[1]:
        wd = rng.uniform(*width)
        out.append((p, wd, rng.uniform(*st.SIDEWALK_M) if wd > 5.5 else 0.0))
        p += wd + rng.uniform(*block)
    return out


def _band(c, along, across, span: float, half: float) -> np.ndarray:
    """The rectangle of a road: ``span`` either way along it from ``c``, ``half`` either side."""
    return np.array([c - along * span - across * half, c + along * span - across * half,
                     c + along * span + across * half, c - along * span + across * half])


def street_grid(b: Builder, centre: np.ndarray, radius: float, angle: float, block: tuple[float, float],
                width: tuple[float, float]) -> tuple[list, list, list[Block], np.ndarray, np.ndarray]:
    """A street grid (two families of parallel roads) and the blocks between them: (cols, rows) as
    [(centre, road width, sidewalk)], the blocks, and the grid's axes u, v."""
    rng = b.rng
    u = np.array([math.cos(angle), math.sin(angle)])
    v = np.array([-u[1], u[0]])
    cols = _positions(rng, -radius, radius, block, width)
    rows = _positions(rng, -radius, radius, block, width) if rng.random() > st.NO_CROSS_STREETS_P else [
        (-radius - 50, 0.0, 0.0), (radius + 50, 0.0, 0.0)]
    span = radius + 60
    for fam, roads in ((0, cols), (1, rows)):
        along, across = (v, u) if fam == 0 else (u, v)
        for pos, wd, walk in roads:
            if wd <= 0:
                continue
            c = centre + across * pos
            road_angle = angle + (math.pi / 2 if fam == 0 else 0)
            if walk:
                b.paved(_band(c, along, across, span, wd / 2 + walk), road_angle, "slabs", "tiles", b.pavement)
            b.surface(_band(c, along, across, span, wd / 2), "asphalt", ROAD, road_angle)
            _road_markings(b, c, along, across, wd, span, [p for p, w, _ in (rows if fam == 0 else cols) if w > 0])
    blocks = []
    for (p0, w0, s0), (p1, w1, s1) in zip(cols, cols[1:]):
        for (q0, x0, t0), (q1, x1, t1) in zip(rows, rows[1:]):
            a0, a1 = p0 + w0 / 2 + s0, p1 - w1 / 2 - s1
            c0, c1 = q0 + x0 / 2 + t0, q1 - x1 / 2 - t1
            if a1 - a0 > 12 and c1 - c0 > 12:
                blocks.append(Block(centre + u * a0 + v * c0, u, v, a1 - a0, c1 - c0))
    return cols, rows, blocks, u, v


def _road_markings(b: Builder, c, along, across, width, span, crossings) -> None:
    rng = b.rng
    lanes = max(1, int(width // 3.3))
    line_w = rng.uniform(*st.LANE_LINE_WIDTH_M)
    dash, gap = rng.uniform(*st.LANE_DASH_M), rng.uniform(*st.LANE_GAP_M)
    crossings = np.array(crossings) if len(crossings) else np.array([1e9])

    def strips(t0, t1, off, half) -> np.ndarray:
        """(n, 4, 2) rectangles from t0[i] to t1[i] along the road, centred ``off`` across it."""
        t0, t1, off = (np.atleast_1d(np.asarray(x, float))[:, None] for x in (t0, t1, off))
        p = c + across * off
        return np.stack([p + along * t0 - across * half, p + along * t1 - across * half,
                         p + along * t1 + across * half, p + along * t0 + across * half], 1)

    for k in range(1, lanes):
        off = -width / 2 + k * width / lanes
        if k == lanes // 2 and rng.random() < st.SOLID_CENTRE_LINE_P:  # a solid centre line, broken at crossings
            cuts = np.sort(crossings[np.abs(crossings) < span])
            t0 = np.concatenate([[-span], cuts + 8])
            t1 = np.concatenate([cuts - 8, [span]])
        else:
            t0 = np.arange(-span, span, dash + gap)
            t1 = np.minimum(t0 + dash, span)
        keep = (t1 > t0) & np.all(np.abs(crossings[None, :] - ((t0 + t1) / 2)[:, None]) > 8, 1)
        b.mark(list(strips(t0[keep], t1[keep], off, line_w / 2)))
    for q in crossings:  # zebra crossings next to each intersection
        if abs(q) > span or rng.random() < st.NO_ZEBRA_P:
            continue
        for side in (-1, 1):
            t0 = q + side * rng.uniform(*st.ZEBRA_SETBACK_M)
            offs = np.arange(-width / 2 + 0.5, width / 2 - 0.3, 1.0)
            b.mark(list(strips(np.full(len(offs), t0 - 1.5), np.full(len(offs), t0 + 1.5), offs, 0.25)),
                   opacity=rng.uniform(*st.ZEBRA_OPACITY))


def street_life(b: Builder, cols: list, rows: list, u: np.ndarray, v: np.ndarray, centre: np.ndarray,
                radius: float) -> None:
    """Parked and moving cars along the roads, street trees on the sidewalks."""
    rng = b.rng
    for fam, roads, others in ((0, cols, rows), (1, rows, cols)):
        along, across = (v, u) if fam == 0 else (u, v)
        cross = np.array([p for p, w, _ in others if w > 0] or [1e9])
        for pos, wd, walk in roads:
            if wd <= 0:
                continue
            parked = rng.uniform(*st.KERB_OCCUPANCY) if rng.random() < st.KERB_PARKING_P else 0.0
            trees = walk > 2 and rng.random() < st.STREET_TREES_P
            tree_step = rng.uniform(*st.STREET_TREE_SPACING_M)
            heading = math.atan2(along[1], along[0])
            lo, hi = _span_near(b, centre + across * pos, along, radius)
            for t in np.arange(lo, hi, 5.5):
                if np.any(np.abs(cross - t) < 10):
                    continue
                for side in (-1, 1):
                    if rng.random() < parked:
                        shift = rng.normal(0, st.KERB_SHIFT_SIGMA_M)
                        b.vehicle(centre + across * (pos + side * (wd / 2 - 1.3)) + along * (t + shift),
                                  heading + rng.normal(0, st.KERB_HEADING_SIGMA_RAD))
                    elif wd > 7 and rng.random() < st.MOVING_CAR_P:
                        b.vehicle(centre + across * (pos + side * wd / 4) + along * t, heading + (side < 0) * math.pi,
                                  big=rng.random() < st.MOVING_TRUCK_P)
            if trees:
                for t in np.arange(lo + rng.uniform(0, tree_step), hi, tree_step):
                    if np.all(np.abs(cross - t) > 8):
                        for side in (-1, 1):
                            p = centre + across * (pos + side * (wd / 2 + walk * 0.5)) + along * t
                            b.tree(*p)


def _span_near(b: Builder, origin, along, radius) -> tuple[float, float]:
    """The stretch [lo, hi] of the line ``origin + t * along`` (|t| <= radius) near the drone."""
    if b.detail is None:
        return -radius, radius
    d = np.asarray(b.detail[0]) - origin
    t, off = float(d @ along), abs(float(d @ np.array([-along[1], along[0]])))
    if off >= b.detail[1]:
        return 0.0, 0.0
    half = math.sqrt(b.detail[1] ** 2 - off ** 2)
    return max(-radius, t - half), min(radius, t + half)
