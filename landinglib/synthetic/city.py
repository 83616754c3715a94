"""The world in metres: a street grid, blocks filled by type, buildings, cars, trees.

``build_world(extent, district, style, rng, max_height)`` returns a ``World``: ground
*surfaces* (polygons with a material), road *markings*, *prisms* (buildings, vehicles,
sheds: a footprint and a height) and *trees*. Nothing here knows about pixels or cameras.
Coordinates: x east, y south, z up, metres.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import cv2
import numpy as np

from . import textures as tx
from .specs import BodySpec, FacadeSpec, RoofSpec, SurfaceSpec, WallSpec
from .styles import CAR, CLUTTER, GRASS, ROAD, ROOF, SOIL, UNSEEN_FLAT_ROOFS, WATER, Style


DETAIL_MARGIN_M = 15.0  # vehicles and trees this far outside the camera's view are still drawn


@dataclass
class Prism:
    """A box standing on the ground: footprint (4, 2) metres, height, what it is, how it looks."""

    footprint: np.ndarray
    height: float
    code: int  # ROOF (a building: walls are FACADE), CAR or CLUTTER
    roof: RoofSpec | BodySpec  # RoofSpec for buildings
    wall: FacadeSpec | WallSpec  # FacadeSpec for buildings


class Surface(NamedTuple):
    """A patch of ground: a polygon (N, 2) metres and its material."""

    polygon: np.ndarray
    spec: SurfaceSpec


class Marking(NamedTuple):
    """One painted line on the ground (e.g. the dashes of a lane line): polygons (N, 2) metres in one colour."""

    polygons: list[np.ndarray]
    rgb: np.ndarray
    opacity: float


class Tree(NamedTuple):
    """A tree standing at (x, y) metres: its crown radius and its height (metres)."""

    x: float
    y: float
    radius: float
    height: float


@dataclass
class World:
    """Everything ``build_world`` lays out over ``extent``."""

    extent: tuple[float, float, float, float]  # x0, y0, x1, y1 (metres)
    surfaces: list[Surface] = field(default_factory=list)  # painted in order: later ones cover earlier ones
    markings: list[Marking] = field(default_factory=list)
    prisms: list[Prism] = field(default_factory=list)
    trees: list[Tree] = field(default_factory=list)


@dataclass
class _Block:
    """A rectangle in the street grid: origin + u * [0, length] + v * [0, depth]."""

    origin: np.ndarray
    u: np.ndarray
    v: np.ndarray
    length: float
    depth: float

    def rect(self, u0, v0, u1, v1) -> np.ndarray:
        o, u, v = self.origin, self.u, self.v
        return np.array([o + u * u0 + v * v0, o + u * u1 + v * v0, o + u * u1 + v * v1, o + u * u0 + v * v1])

    def point(self, a, b) -> np.ndarray:
        return self.origin + self.u * a + self.v * b

    @property
    def angle(self) -> float:
        return math.atan2(self.u[1], self.u[0])


class _Builder:
    def __init__(self, world: World, style: Style, rng: np.random.Generator, max_height: float, detail=None):
        self.w, self.style, self.rng, self.max_height = world, style, rng, max_height
        self.detail = detail  # (centre, radius, outline): small things outside are not worth drawing
        self._outline = None if detail is None or detail[2] is None else np.asarray(detail[2], np.float32)
        self.pavement = style.pavements[int(rng.integers(len(style.pavements)))]  # this town's favourite

    # --- surfaces -------------------------------------------------------------------------
    def surface(self, poly, kind: str, code: int, angle: float = 0.0, stripe: float | None = None,
                rgb2: np.ndarray | None = None) -> None:
        rng = self.rng
        rgb, salt, stains = tx.surface_color(kind, rng), int(rng.integers(1 << 20)), rng.uniform(0, 0.35)
        two_tone = False
        if kind in ("tiles", "checker45") and rgb2 is None:
            two_tone = kind == "checker45" or rng.random() < 0.35
            rgb2 = tx.surface_color(kind, rng)
        spec = SurfaceSpec(kind, rgb, code, angle, salt, stains, two_tone, rgb2, stripe)
        self.w.surfaces.append(Surface(np.asarray(poly, float), spec))

    def paved(self, poly, angle: float, *prefer: str) -> None:
        """Paved ground (Road in UDD6). ``prefer``: kinds that suit the place ("asphalt" is always
        allowed); others are replaced by the style's pavements, so held-out families stay held out."""
        rng, allowed = self.rng, self.style.pavements
        options = [k for k in prefer if k == "asphalt" or k in allowed]
        if options:
            kind = options[int(rng.integers(len(options)))]
        else:
            kind = self.pavement if rng.random() < 0.6 else allowed[int(rng.integers(len(allowed)))]
        self.surface(poly, kind, ROAD, angle)

    def green(self, poly, angle: float) -> None:
        self.surface(poly, "lawn" if self.rng.random() < 0.6 else "meadow", GRASS, angle,
                     stripe=self.rng.uniform(0.8, 1.6))

    def mark(self, polys: list, rgb=None, opacity=None) -> None:
        """Paint on the ground: a group of polygons (e.g. the dashes of one lane line) in one colour."""
        rng = self.rng
        if not len(polys):
            return
        rgb = rgb if rgb is not None else (tx.hsv(0, 0, rng.uniform(0.8, 0.95)) if rng.random() < 0.75
                                           else tx.hsv(rng.uniform(40, 52), rng.uniform(0.5, 0.8), 0.85))
        self.w.markings.append(Marking([np.asarray(p, float) for p in polys], rgb,
                                       rng.uniform(0.35, 1.0) if opacity is None else opacity))

    # --- objects --------------------------------------------------------------------------
    def building(self, poly, storeys: int, roof: str | None = None) -> Prism | None:
        rng = self.rng
        height = storeys * rng.uniform(2.9, 3.4)
        if height > self.max_height:
            storeys = max(1, int(self.max_height / 3.2))
            height = storeys * 3.0
        if roof is None:
            pitched = rng.random() < (0.6 if storeys <= 3 else 0.15)
            roof = rng.choice(["gable", "hip"]) if pitched else "flat"
        if roof == "flat":
            pool = self.style.flat_roofs
            if self.style.unseen_roof_p and rng.random() < self.style.unseen_roof_p:
                pool = UNSEEN_FLAT_ROOFS
            material = pool[int(rng.integers(len(pool)))]
            spec = RoofSpec(shape="flat", material=material, rgb=tx.roof_color(material, rng),
                            parapet=rng.uniform(0.25, 0.7) if rng.random() < 0.8 else 0.0,
                            parapet_rgb=tx.roof_color("concrete", rng), hvac=int(rng.integers(0, 9)),
                            tanks=int(rng.integers(0, 3)) if rng.random() < 0.4 else 0,
                            solar=rng.random() < 0.2, skylights=int(rng.integers(0, 5)) if rng.random() < 0.3 else 0,
                            stains=rng.uniform(0, 0.45), salt=int(rng.integers(1 << 20)))
        else:
            spec = RoofSpec(shape=roof, material="tiles", rgb=tx.roof_color("tiles", rng),
                            pitch=rng.uniform(25, 40), salt=int(rng.integers(1 << 20)))
        prism = Prism(np.asarray(poly, float), height, ROOF, spec, tx.facade_spec(rng, storeys))
        self.w.prisms.append(prism)
        return prism

    def vehicle(self, centre, angle: float, big: bool = False) -> None:
        rng = self.rng
        if self.far(centre):
            return
        length, width, height = ((rng.uniform(7, 12), rng.uniform(2.4, 2.6), rng.uniform(2.8, 3.5)) if big else
                                 (rng.uniform(4.1, 5.0), rng.uniform(1.7, 2.0), rng.uniform(1.4, 1.7)))
        c, u = np.asarray(centre, float), np.array([math.cos(angle), math.sin(angle)])
        v = np.array([-u[1], u[0]])
        poly = np.array([c - u * length / 2 - v * width / 2, c + u * length / 2 - v * width / 2,
                         c + u * length / 2 + v * width / 2, c - u * length / 2 + v * width / 2])
        rgb = tx.car_color(rng) if not big or rng.random() < 0.5 else tx.hsv(0, 0, rng.uniform(0.7, 0.95))
        self.w.prisms.append(Prism(poly, height, CAR, BodySpec(rgb, big), WallSpec(rgb * 0.7)))

    def box(self, block: _Block, a, b, length, width, height) -> None:
        """A shed, kiosk or container: Other in UDD6, Clutter in DroneDeploy."""
        rgb = tx.hsv(self.rng.uniform(0, 360), self.rng.uniform(0, 0.5), self.rng.uniform(0.3, 0.85))
        self.w.prisms.append(Prism(block.rect(a, b, a + length, b + width), height, CLUTTER,
                                   BodySpec(rgb), WallSpec(rgb * 0.75)))

    def far(self, xy) -> bool:
        if self.detail is None:
            return False
        if math.dist(xy, self.detail[0]) > self.detail[1]:
            return True
        return self._outline is not None and cv2.pointPolygonTest(
            self._outline, (float(xy[0]), float(xy[1])), True) < -DETAIL_MARGIN_M

    def tree(self, x, y, small: bool = False) -> None:
        rng = self.rng
        if self.far((x, y)):
            return
        r = rng.uniform(1.2, 2.2) if small else rng.uniform(2.0, 5.0)
        self.w.trees.append(Tree(float(x), float(y), r, r * rng.uniform(1.6, 2.8) + rng.uniform(1, 4)))

    def storeys(self, lo: int, hi: int) -> int:
        return int(self.rng.integers(lo, hi + 1))


# --- streets --------------------------------------------------------------------------------
def _positions(rng, lo: float, hi: float, block: tuple[float, float], width: tuple[float, float]):
    """Road centre lines across [lo, hi] with blocks between: [(centre, road width, sidewalk)]."""
    out, p = [], lo - rng.uniform(0, block[1])  # the first road at or before lo: no strip left unbuilt
    while p < hi + block[1]:
        wd = rng.uniform(*width)
        out.append((p, wd, rng.uniform(1.5, 5.0) if wd > 5.5 else 0.0))
        p += wd + rng.uniform(*block)
    return out


def _band(c, along, across, span: float, half: float) -> np.ndarray:
    """The rectangle of a road: ``span`` either way along it from ``c``, ``half`` either side."""
    return np.array([c - along * span - across * half, c + along * span - across * half,
                     c + along * span + across * half, c - along * span + across * half])


def _streets(b: _Builder, centre, radius, angle, block, width, one_way_p=0.2):
    """A street grid (two families of parallel roads) and the blocks between them."""
    rng = b.rng
    u = np.array([math.cos(angle), math.sin(angle)])
    v = np.array([-u[1], u[0]])
    cols = _positions(rng, -radius, radius, block, width)
    rows = _positions(rng, -radius, radius, block, width) if rng.random() > one_way_p else [
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
                blocks.append(_Block(centre + u * a0 + v * c0, u, v, a1 - a0, c1 - c0))
    return cols, rows, blocks, u, v


def _road_markings(b: _Builder, c, along, across, width, span, crossings) -> None:
    rng = b.rng
    lanes = max(1, int(width // 3.3))
    line_w = rng.uniform(0.12, 0.2)
    dash, gap = rng.uniform(2, 4), rng.uniform(3, 8)
    crossings = np.array(crossings) if len(crossings) else np.array([1e9])

    def strips(t0, t1, off, half) -> np.ndarray:
        """(n, 4, 2) rectangles from t0[i] to t1[i] along the road, centred ``off`` across it."""
        t0, t1, off = (np.atleast_1d(np.asarray(x, float))[:, None] for x in (t0, t1, off))
        p = c + across * off
        return np.stack([p + along * t0 - across * half, p + along * t1 - across * half,
                         p + along * t1 + across * half, p + along * t0 + across * half], 1)

    for k in range(1, lanes):
        off = -width / 2 + k * width / lanes
        if k == lanes // 2 and rng.random() < 0.4:  # a solid centre line, broken at crossings
            cuts = np.sort(crossings[np.abs(crossings) < span])
            t0 = np.concatenate([[-span], cuts + 8])
            t1 = np.concatenate([cuts - 8, [span]])
        else:
            t0 = np.arange(-span, span, dash + gap)
            t1 = np.minimum(t0 + dash, span)
        keep = (t1 > t0) & np.all(np.abs(crossings[None, :] - ((t0 + t1) / 2)[:, None]) > 8, 1)
        b.mark(list(strips(t0[keep], t1[keep], off, line_w / 2)))
    for q in crossings:  # zebra crossings next to each intersection
        if abs(q) > span or rng.random() < 0.4:
            continue
        for side in (-1, 1):
            t0 = q + side * rng.uniform(6, 10)
            offs = np.arange(-width / 2 + 0.5, width / 2 - 0.3, 1.0)
            b.mark(list(strips(np.full(len(offs), t0 - 1.5), np.full(len(offs), t0 + 1.5), offs, 0.25)),
                   opacity=rng.uniform(0.4, 0.95))


def _street_life(b: _Builder, cols, rows, u, v, centre, radius) -> None:
    """Parked and moving cars along the roads, street trees on the sidewalks."""
    rng = b.rng
    for fam, roads, others in ((0, cols, rows), (1, rows, cols)):
        along, across = (v, u) if fam == 0 else (u, v)
        cross = np.array([p for p, w, _ in others if w > 0] or [1e9])
        for pos, wd, walk in roads:
            if wd <= 0:
                continue
            parked = rng.uniform(0.2, 0.9) if rng.random() < 0.75 else 0.0
            trees = walk > 2 and rng.random() < 0.55
            tree_step = rng.uniform(7, 14)
            heading = math.atan2(along[1], along[0])
            lo, hi = _span_near(b, centre + across * pos, along, radius)
            for t in np.arange(lo, hi, 5.5):
                if np.any(np.abs(cross - t) < 10):
                    continue
                for side in (-1, 1):
                    if rng.random() < parked:
                        b.vehicle(centre + across * (pos + side * (wd / 2 - 1.3)) + along * (t + rng.normal(0, 0.4)),
                                  heading + rng.normal(0, 0.03))
                    elif wd > 7 and rng.random() < 0.08:
                        b.vehicle(centre + across * (pos + side * wd / 4) + along * t, heading + (side < 0) * math.pi,
                                  big=rng.random() < 0.1)
            if trees:
                for t in np.arange(lo + rng.uniform(0, tree_step), hi, tree_step):
                    if np.all(np.abs(cross - t) > 8):
                        for side in (-1, 1):
                            p = centre + across * (pos + side * (wd / 2 + walk * 0.5)) + along * t
                            b.tree(*p)


def _span_near(b: _Builder, origin, along, radius) -> tuple[float, float]:
    """The stretch [lo, hi] of the line ``origin + t * along`` (|t| <= radius) near the drone."""
    if b.detail is None:
        return -radius, radius
    d = np.asarray(b.detail[0]) - origin
    t, off = float(d @ along), abs(float(d @ np.array([-along[1], along[0]])))
    if off >= b.detail[1]:
        return 0.0, 0.0
    half = math.sqrt(b.detail[1] ** 2 - off ** 2)
    return max(-radius, t - half), min(radius, t + half)


# --- blocks -------------------------------------------------------------------------------
def _free(taken: list, a0, b0, a1, b1, margin=0.0) -> bool:
    return all(a1 + margin <= x0 or a0 - margin >= x1 or b1 + margin <= y0 or b0 - margin >= y1
               for x0, y0, x1, y1 in taken)


def _scatter_trees(b: _Builder, blk: _Block, taken, n, small=False, margin=2.0):
    rng = b.rng
    for _ in range(n):
        a, c = rng.uniform(margin, blk.length - margin), rng.uniform(margin, blk.depth - margin)
        if _free(taken, a - 2, c - 2, a + 2, c + 2):
            b.tree(*blk.point(a, c), small=small)


def _parking_rows(b: _Builder, blk: _Block, a0, b0, a1, b1, taken) -> None:
    """Stall lines and parked cars in the rectangle; stalls are 2.5 m x 5 m."""
    rng = b.rng
    occupancy = rng.uniform(0.3, 0.95)
    bb = b0
    while bb + 5 <= b1:
        stalls = np.arange(a0, a1 - 2.5, 2.5)[:, None, None]
        corners = np.array([[-0.06, 0], [0.06, 0], [0.06, 5], [-0.06, 5]])
        b.mark(list(blk.origin + blk.u * (stalls + corners[None, :, :1]) + blk.v * (bb + corners[None, :, 1:])),
               opacity=rng.uniform(0.4, 0.9))
        for a in np.arange(a0, a1 - 2.5, 2.5):
            if rng.random() < occupancy and _free(taken, a, bb, a + 2.5, bb + 5):
                p = blk.point(a + 1.25, bb + 2.5)
                b.vehicle(p, blk.angle + math.pi / 2 + rng.choice([0, math.pi]) + rng.normal(0, 0.04))
        bb += 5 + (6 if (bb - b0) % 16 < 1 else 0)


def _perimeter(b: _Builder, blk: _Block):
    """Buildings along the edges of the block around a courtyard."""
    rng = b.rng
    depth = min(rng.uniform(10, 18), blk.depth / 3, blk.length / 3)
    storeys = b.storeys(4, 20)
    inner = rng.random()
    b.paved(blk.rect(0, 0, blk.length, blk.depth), blk.angle) if inner < 0.6 else b.green(
        blk.rect(0, 0, blk.length, blk.depth), blk.angle)
    taken = []
    L, D = blk.length, blk.depth
    wings = [(0, 0, L, depth), (0, D - depth, L, D), (0, depth, depth, D - depth), (L - depth, depth, L, D - depth)]
    for a0, b0, a1, b1 in wings:
        if rng.random() < 0.12:
            continue
        along_a = (a1 - a0) >= (b1 - b0)
        n = int(rng.integers(1, 4))
        cuts = np.sort(rng.uniform(0, 1, n - 1)) if n > 1 else []
        edges = [0.0, *cuts, 1.0]
        for e0, e1 in zip(edges, edges[1:]):
            gap = rng.uniform(0, 6) if rng.random() < 0.4 else 0.0
            if along_a:
                r = (a0 + (a1 - a0) * e0, b0, a0 + (a1 - a0) * e1 - gap, b1)
            else:
                r = (a0, b0 + (b1 - b0) * e0, a1, b0 + (b1 - b0) * e1 - gap)
            if r[2] - r[0] > 4 and r[3] - r[1] > 4:
                b.building(blk.rect(*r), max(2, storeys + int(rng.integers(-2, 3))))
                taken.append(r)
    if inner < 0.6 and rng.random() < 0.5:
        _parking_rows(b, blk, depth + 2, depth + 2, L - depth - 2, D - depth - 2, taken)
    _scatter_trees(b, blk, taken, int(rng.integers(0, 10)))
    return taken


def _slabs(b: _Builder, blk: _Block):
    """One to three large buildings standing on a paved plaza."""
    rng = b.rng
    b.paved(blk.rect(0, 0, blk.length, blk.depth), blk.angle)
    taken = []
    for _ in range(int(rng.integers(1, 4)) * 6):
        if len(taken) >= 3:
            break
        la, lb = rng.uniform(0.25, 0.75) * blk.length, rng.uniform(0.25, 0.7) * blk.depth
        a0, b0 = rng.uniform(2, max(2.1, blk.length - la - 2)), rng.uniform(2, max(2.1, blk.depth - lb - 2))
        if la > 8 and lb > 8 and _free(taken, a0, b0, a0 + la, b0 + lb, margin=6):
            b.building(blk.rect(a0, b0, a0 + la, b0 + lb), b.storeys(3, 24), roof="flat")
            taken.append((a0, b0, a0 + la, b0 + lb))
    if rng.random() < 0.6:  # a decorated square in another pavement
        a0, b0 = rng.uniform(0, blk.length * 0.5), rng.uniform(0, blk.depth * 0.5)
        a1, b1 = a0 + rng.uniform(8, blk.length * 0.5), b0 + rng.uniform(8, blk.depth * 0.5)
        if _free(taken, a0, b0, a1, b1):
            b.paved(blk.rect(a0, b0, a1, b1), blk.angle + rng.choice([0, math.pi / 4]))
    for _ in range(int(rng.integers(0, 30))):  # cars parked on the plaza, bicycles and benches are noise
        a, c = rng.uniform(3, blk.length - 3), rng.uniform(3, blk.depth - 3)
        if _free(taken, a - 3, c - 3, a + 3, c + 3):
            b.vehicle(blk.point(a, c), blk.angle + rng.choice([0, math.pi / 2]) + rng.normal(0, 0.05))
            taken.append((a - 2.6, c - 2.6, a + 2.6, c + 2.6))
    _scatter_trees(b, blk, taken, int(rng.integers(0, 14)))
    for _ in range(int(rng.integers(0, 3))):
        a, c = rng.uniform(2, blk.length - 6), rng.uniform(2, blk.depth - 4)
        if _free(taken, a, c, a + 4, c + 2.5):
            b.box(blk, a, c, rng.uniform(2, 4), rng.uniform(1.5, 2.5), rng.uniform(2, 3))
    return taken


def _plaza(b: _Builder, blk: _Block):
    rng = b.rng
    b.paved(blk.rect(0, 0, blk.length, blk.depth), blk.angle)
    inset = rng.uniform(3, 10)
    if blk.length > 2 * inset + 8 and blk.depth > 2 * inset + 8:
        b.paved(blk.rect(inset, inset, blk.length - inset, blk.depth - inset), blk.angle)
    taken = []
    if rng.random() < 0.35:  # a fountain or a pond in the middle
        cx, cy, r = blk.length / 2, blk.depth / 2, rng.uniform(3, min(10, blk.depth / 4))
        t = np.linspace(0, 2 * math.pi, 24, endpoint=False)
        b.surface(np.array([blk.point(cx + r * math.cos(a), cy + r * math.sin(a)) for a in t]), "pool", WATER)
        taken.append((cx - r - 1, cy - r - 1, cx + r + 1, cy + r + 1))
    if rng.random() < 0.6:  # trees in a grid of planters
        step = rng.uniform(6, 12)
        for a in np.arange(step / 2, blk.length, step):
            for c in (step / 2, blk.depth - step / 2):
                if _free(taken, a - 2, c - 2, a + 2, c + 2):
                    b.tree(*blk.point(a, c))
    _scatter_trees(b, blk, taken, int(rng.integers(0, 5)), small=True)
    return taken


def _parking_lot(b: _Builder, blk: _Block):
    b.surface(blk.rect(0, 0, blk.length, blk.depth), "asphalt", ROAD, blk.angle)
    taken = []
    _parking_rows(b, blk, 2, 2, blk.length - 2, blk.depth - 2, taken)
    return taken


def _park(b: _Builder, blk: _Block):
    rng = b.rng
    b.green(blk.rect(0, 0, blk.length, blk.depth), blk.angle)
    taken = []
    for _ in range(int(rng.integers(1, 4))):  # paved paths across the park
        w = rng.uniform(2, 5)
        if rng.random() < 0.5:
            a = rng.uniform(0, blk.length - w)
            b.paved(blk.rect(a, 0, a + w, blk.depth), blk.angle)
        else:
            c = rng.uniform(0, blk.depth - w)
            b.paved(blk.rect(0, c, blk.length, c + w), blk.angle)
    if rng.random() < 0.3:
        cx, cy = blk.length * rng.uniform(0.3, 0.7), blk.depth * rng.uniform(0.3, 0.7)
        rr = rng.uniform(5, min(20, blk.depth / 3))
        t = np.linspace(0, 2 * math.pi, 28, endpoint=False)
        radii = rr * (1 + 0.25 * np.sin(3 * t + rng.uniform(0, 6)))
        b.surface(np.array([blk.point(cx + q * math.cos(a), cy + q * math.sin(a)) for q, a in zip(radii, t)]),
                  "water", WATER)
        taken.append((cx - rr * 1.3, cy - rr * 1.3, cx + rr * 1.3, cy + rr * 1.3))
    for _ in range(int(rng.integers(2, 8))):  # clusters of trees
        cx, cy = rng.uniform(0, blk.length), rng.uniform(0, blk.depth)
        for _ in range(int(rng.integers(2, 10))):
            a, c = cx + rng.normal(0, 5), cy + rng.normal(0, 5)
            if 1 < a < blk.length - 1 and 1 < c < blk.depth - 1 and _free(taken, a - 1, c - 1, a + 1, c + 1):
                b.tree(*blk.point(a, c))
    return taken


def _houses(b: _Builder, blk: _Block):
    """Detached houses with gardens, driveways, pools and sheds along both long edges."""
    rng = b.rng
    b.green(blk.rect(0, 0, blk.length, blk.depth), blk.angle)
    taken = []
    lot_w = rng.uniform(14, 26)
    rows = [(0.0, 1)] + ([(blk.depth, -1)] if blk.depth > 30 else [])
    for edge, sign in rows:
        lot_d = min(blk.depth / len(rows), rng.uniform(20, 35))
        for a in np.arange(0, blk.length - lot_w + 1, lot_w):
            hw, hd = rng.uniform(7, min(14, lot_w - 3)), rng.uniform(7, min(12, lot_d - 6))
            set_back = rng.uniform(3, 7)
            a0 = a + rng.uniform(1, lot_w - hw - 1)
            b0 = edge + sign * set_back if sign > 0 else edge - set_back - hd
            b.building(blk.rect(a0, b0, a0 + hw, b0 + hd), b.storeys(1, 3))
            taken.append((a0, b0, a0 + hw, b0 + hd))
            dw = rng.uniform(3, 4)  # driveway from the street
            da = a0 + hw + 0.5 if a0 + hw + dw + 0.5 < a + lot_w else a0 - dw - 0.5
            if da > a:
                d0, d1 = (edge, b0 + hd) if sign > 0 else (b0, edge)
                b.paved(blk.rect(da, d0, da + dw, d1), blk.angle, "asphalt", "slabs", "bricks")
                if rng.random() < 0.5:
                    b.vehicle(blk.point(da + dw / 2, (d0 + d1) / 2), blk.angle + math.pi / 2)
            back = (b0 + hd + 2, b0 + hd + 2 + rng.uniform(3, 5)) if sign > 0 else (b0 - 7, b0 - 2)
            if rng.random() < 0.25:  # a pool behind the house
                pl = rng.uniform(5, min(9, hw))
                b.paved(blk.rect(a0 - 0.6, back[0] - 0.6, a0 + pl + 0.6, back[1] + 0.6), blk.angle, "slabs", "tiles")
                b.surface(blk.rect(a0, back[0], a0 + pl, back[1]), "pool", WATER)
                taken.append((a0 - 1, back[0] - 1, a0 + pl + 1, back[1] + 1))
            elif rng.random() < 0.35:
                b.box(blk, a0 + rng.uniform(0, hw - 3), back[0], rng.uniform(2, 4), rng.uniform(2, 3), rng.uniform(2, 3))
    _scatter_trees(b, blk, taken, int(rng.integers(2, 14)))
    return taken


def _industrial(b: _Builder, blk: _Block):
    rng = b.rng
    b.paved(blk.rect(0, 0, blk.length, blk.depth), blk.angle, "asphalt", "slabs")
    taken = []
    for _ in range(12):
        la, lb = rng.uniform(0.3, 0.85) * blk.length, rng.uniform(0.3, 0.8) * blk.depth
        a0, b0 = rng.uniform(2, max(2.1, blk.length - la - 2)), rng.uniform(2, max(2.1, blk.depth - lb - 2))
        if la > 10 and lb > 10 and _free(taken, a0, b0, a0 + la, b0 + lb, margin=8):
            b.building(blk.rect(a0, b0, a0 + la, b0 + lb), b.storeys(2, 4), roof="flat")
            taken.append((a0, b0, a0 + la, b0 + lb))
    for _ in range(int(rng.integers(0, 12))):  # containers, trucks
        a, c = rng.uniform(2, blk.length - 14), rng.uniform(2, blk.depth - 4)
        if _free(taken, a, c, a + 13, c + 3, margin=1):
            if rng.random() < 0.5:
                b.box(blk, a, c, rng.choice([6.1, 12.2]), 2.44, 2.6)
            else:
                b.vehicle(blk.point(a + 6, c + 1.3), blk.angle, big=True)
            taken.append((a, c, a + 13, c + 3))
    if rng.random() < 0.4:
        _parking_rows(b, blk, 2, 2, blk.length - 2, min(blk.depth - 2, 14), taken)
    return taken


def _bare(b: _Builder, blk: _Block):
    rng = b.rng
    b.surface(blk.rect(0, 0, blk.length, blk.depth), rng.choice(["soil", "gravel"]), SOIL, blk.angle)
    taken = []
    for _ in range(int(rng.integers(0, 6))):
        a, c = rng.uniform(2, blk.length - 8), rng.uniform(2, blk.depth - 4)
        if _free(taken, a, c, a + 7, c + 3):
            b.box(blk, a, c, rng.uniform(2, 7), rng.uniform(1.5, 3), rng.uniform(1, 3))
            taken.append((a, c, a + 7, c + 3))
    _scatter_trees(b, blk, taken, int(rng.integers(0, 6)))
    return taken


BLOCK_TYPES = {
    "urban": (("perimeter", 0.33), ("slabs", 0.27), ("plaza", 0.12), ("parking", 0.1), ("park", 0.1), ("bare", 0.04),
              ("houses", 0.04)),
    "suburban": (("houses", 0.62), ("park", 0.1), ("slabs", 0.12), ("parking", 0.06), ("plaza", 0.04),
                 ("bare", 0.06)),
    "industrial": (("industrial", 0.6), ("parking", 0.15), ("bare", 0.15), ("slabs", 0.1)),
}
_FILL = {"perimeter": _perimeter, "slabs": _slabs, "plaza": _plaza, "parking": _parking_lot, "park": _park,
         "houses": _houses, "industrial": _industrial, "bare": _bare}
_GRID = {  # block size, road width (m)
    "urban": ((45, 130), (7, 22)),
    "suburban": ((45, 90), (6, 10)),
    "industrial": ((70, 160), (8, 14)),
}


def _rural(b: _Builder, centre, radius):
    """Fields in strips, a country road, a farm with sheds, tree lines and a pond."""
    rng = b.rng
    angle = rng.uniform(0, math.pi)
    u = np.array([math.cos(angle), math.sin(angle)])
    v = np.array([-u[1], u[0]])
    blk = _Block(centre - (u + v) * radius, u, v, 2 * radius, 2 * radius)
    b.surface(blk.rect(0, 0, 2 * radius, 2 * radius), "meadow", GRASS, angle)
    pos = 0.0
    while pos < 2 * radius:
        wd = rng.uniform(20, 80)
        kind = rng.choice(["field", "field", "soil", "meadow", "lawn"])
        code = SOIL if kind == "soil" else GRASS
        b.surface(blk.rect(0, pos, 2 * radius, pos + wd), kind, code, angle + rng.choice([0, math.pi / 2]),
                  stripe=rng.uniform(0.5, 1.5), rgb2=tx.surface_color("soil", rng))
        if rng.random() < 0.4:  # a tree line along the field edge
            for a in np.arange(0, 2 * radius, rng.uniform(4, 8)):
                b.tree(*blk.point(a + rng.normal(0, 1), pos + rng.normal(0, 0.8)))
        pos += wd
    road = radius + rng.uniform(-radius * 0.5, radius * 0.5)
    wd = rng.uniform(4.5, 7)
    b.surface(blk.rect(0, road - wd / 2, 2 * radius, road + wd / 2), "asphalt", ROAD, angle)
    if rng.random() < 0.5:
        b.mark([blk.rect(0, road - 0.07, 2 * radius, road + 0.07)])
    for a in np.arange(0, 2 * radius, 9):
        if rng.random() < 0.04:
            b.vehicle(blk.point(a, road + rng.choice([-1, 1]) * wd / 4), angle)
    farm = _Block(blk.point(rng.uniform(0.2, 0.6) * 2 * radius, road + wd / 2 + 3), u, v, rng.uniform(40, 80),
                  rng.uniform(30, 60))
    if rng.random() < 0.6:
        b.surface(farm.rect(0, 0, farm.length, farm.depth), rng.choice(["gravel", "soil"]), SOIL, angle)
    else:
        b.paved(farm.rect(0, 0, farm.length, farm.depth), angle, "slabs", "asphalt")
    taken = []
    for _ in range(10):
        la, lb = rng.uniform(8, 30), rng.uniform(7, 16)
        a0, b0 = rng.uniform(0, farm.length - la), rng.uniform(0, farm.depth - lb)
        if _free(taken, a0, b0, a0 + la, b0 + lb, margin=3):
            b.building(farm.rect(a0, b0, a0 + la, b0 + lb), b.storeys(1, 2), roof=rng.choice(["gable", "flat"]))
            taken.append((a0, b0, a0 + la, b0 + lb))
    _scatter_trees(b, farm, taken, int(rng.integers(0, 8)))
    for _ in range(int(rng.integers(1, 6))):
        cx, cy = centre + rng.uniform(-radius, radius, 2)
        for _ in range(int(rng.integers(3, 15))):
            b.tree(cx + rng.normal(0, 8), cy + rng.normal(0, 8))


def build_world(extent, district: str, style: Style, rng: np.random.Generator, max_height: float = 80.0,
                detail=None) -> World:
    """Lay out a ``district`` ("urban", "suburban", "industrial", "rural") covering ``extent``
    (x0, y0, x1, y1 metres). ``detail`` = ((x, y), radius, outline or None): no vehicles or trees
    beyond ``radius`` of (x, y), nor more than ``DETAIL_MARGIN_M`` outside the ``outline`` polygon
    (the ground the camera sees)."""
    x0, y0, x1, y1 = extent
    world = World(extent=tuple(float(e) for e in extent))
    b = _Builder(world, style, rng, max_height, detail)
    centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    radius = math.hypot(x1 - x0, y1 - y0) / 2 + 10
    if district == "rural":
        _rural(b, centre, radius)
        return world
    block, width = _GRID[district]
    angle = rng.uniform(0, math.pi)
    cols, rows, blocks, u, v = _streets(b, centre, radius, angle, block, width)
    for blk in blocks:
        kind = _pick_block(rng, district)
        _FILL[kind](b, blk)
    _street_life(b, cols, rows, u, v, centre, radius)
    return world


def _pick_block(rng, district) -> str:
    names, weights = zip(*BLOCK_TYPES[district])
    p = np.array(weights)
    return names[int(rng.choice(len(names), p=p / p.sum()))]
