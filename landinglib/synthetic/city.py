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

from . import styles as st
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
        rgb, salt, stains = tx.surface_color(kind, rng), int(rng.integers(1 << 20)), rng.uniform(*st.SURFACE_STAINS)
        two_tone = False
        if kind in ("tiles", "checker45") and rgb2 is None:
            two_tone = kind == "checker45" or rng.random() < st.TWO_TONE_TILES_P
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
            kind = self.pavement if rng.random() < st.FAVOURITE_PAVEMENT_P else allowed[int(rng.integers(len(allowed)))]
        self.surface(poly, kind, ROAD, angle)

    def green(self, poly, angle: float) -> None:
        self.surface(poly, "lawn" if self.rng.random() < st.LAWN_P else "meadow", GRASS, angle,
                     stripe=self.rng.uniform(*st.MOWING_STRIPE_M))

    def mark(self, polys: list, rgb=None, opacity=None) -> None:
        """Paint on the ground: a group of polygons (e.g. the dashes of one lane line) in one colour."""
        rng = self.rng
        if not len(polys):
            return
        if rgb is None:
            rgb = tx.random_hsv(rng, st.WHITE_PAINT_HSV if rng.random() < st.WHITE_PAINT_P else st.YELLOW_PAINT_HSV)
        self.w.markings.append(Marking([np.asarray(p, float) for p in polys], rgb,
                                       rng.uniform(*st.PAINT_OPACITY) if opacity is None else opacity))

    # --- objects --------------------------------------------------------------------------
    def building(self, poly, storeys: int, roof: str | None = None) -> Prism | None:
        rng = self.rng
        height = storeys * rng.uniform(*st.STOREY_HEIGHT_M)
        if height > self.max_height:
            storeys = max(1, int(self.max_height / 3.2))
            height = storeys * 3.0
        if roof is None:
            pitched = rng.random() < (st.LOW_RISE_PITCHED_P if storeys <= 3 else st.HIGH_RISE_PITCHED_P)
            roof = rng.choice(st.PITCHED_ROOFS) if pitched else "flat"
        if roof == "flat":
            pool = self.style.flat_roofs
            if self.style.unseen_roof_p and rng.random() < self.style.unseen_roof_p:
                pool = UNSEEN_FLAT_ROOFS
            material = pool[int(rng.integers(len(pool)))]
            spec = RoofSpec(shape="flat", material=material, rgb=tx.roof_color(material, rng),
                            parapet=rng.uniform(*st.PARAPET_HEIGHT_M) if rng.random() < st.PARAPET_P else 0.0,
                            parapet_rgb=tx.roof_color("concrete", rng), hvac=st.count(rng, st.HVAC_UNITS),
                            tanks=st.count(rng, st.WATER_TANKS) if rng.random() < st.WATER_TANKS_P else 0,
                            solar=rng.random() < st.SOLAR_P,
                            skylights=st.count(rng, st.SKYLIGHTS) if rng.random() < st.SKYLIGHTS_P else 0,
                            stains=rng.uniform(*st.ROOF_STAINS), salt=int(rng.integers(1 << 20)))
        else:
            spec = RoofSpec(shape=roof, material="tiles", rgb=tx.roof_color("tiles", rng),
                            pitch=rng.uniform(*st.ROOF_PITCH_DEG), salt=int(rng.integers(1 << 20)))
        prism = Prism(np.asarray(poly, float), height, ROOF, spec, tx.facade_spec(rng, storeys))
        self.w.prisms.append(prism)
        return prism

    def vehicle(self, centre, angle: float, big: bool = False) -> None:
        rng = self.rng
        if self.far(centre):
            return
        length, width, height = st.uniform_each(rng, st.TRUCK_SIZE_M if big else st.CAR_SIZE_M)
        c, u = np.asarray(centre, float), np.array([math.cos(angle), math.sin(angle)])
        v = np.array([-u[1], u[0]])
        poly = np.array([c - u * length / 2 - v * width / 2, c + u * length / 2 - v * width / 2,
                         c + u * length / 2 + v * width / 2, c - u * length / 2 + v * width / 2])
        rgb = tx.car_color(rng) if not big or rng.random() < st.TRUCK_CAR_COLOUR_P else tx.random_hsv(rng, st.TRUCK_HSV)
        self.w.prisms.append(Prism(poly, height, CAR, BodySpec(rgb, big), WallSpec(rgb * 0.7)))

    def box(self, block: _Block, a, b, length, width, height) -> None:
        """A shed, kiosk or container: Other in UDD6, Clutter in DroneDeploy."""
        rgb = tx.random_hsv(self.rng, st.BOX_HSV)
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
        r = rng.uniform(*(st.SMALL_TREE_CROWN_RADIUS_M if small else st.TREE_CROWN_RADIUS_M))
        height = r * rng.uniform(*st.TREE_HEIGHT_PER_RADIUS) + rng.uniform(*st.TRUNK_M)
        self.w.trees.append(Tree(float(x), float(y), r, height))

    def storeys(self, n: st.Count) -> int:
        return st.count(self.rng, n)


# --- streets --------------------------------------------------------------------------------
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


def _streets(b: _Builder, centre, radius, angle, block, width):
    """A street grid (two families of parallel roads) and the blocks between them."""
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
                blocks.append(_Block(centre + u * a0 + v * c0, u, v, a1 - a0, c1 - c0))
    return cols, rows, blocks, u, v


def _road_markings(b: _Builder, c, along, across, width, span, crossings) -> None:
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


def _street_life(b: _Builder, cols, rows, u, v, centre, radius) -> None:
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
    occupancy = rng.uniform(*st.STALL_OCCUPANCY)
    bb = b0
    while bb + 5 <= b1:
        stalls = np.arange(a0, a1 - 2.5, 2.5)[:, None, None]
        corners = np.array([[-0.06, 0], [0.06, 0], [0.06, 5], [-0.06, 5]])
        b.mark(list(blk.origin + blk.u * (stalls + corners[None, :, :1]) + blk.v * (bb + corners[None, :, 1:])),
               opacity=rng.uniform(*st.STALL_LINE_OPACITY))
        for a in np.arange(a0, a1 - 2.5, 2.5):
            if rng.random() < occupancy and _free(taken, a, bb, a + 2.5, bb + 5):
                heading = blk.angle + math.pi / 2 + rng.choice([0, math.pi]) + rng.normal(0, st.STALL_HEADING_SIGMA_RAD)
                b.vehicle(blk.point(a + 1.25, bb + 2.5), heading)
        bb += 5 + (6 if (bb - b0) % 16 < 1 else 0)


def _perimeter(b: _Builder, blk: _Block):
    """Buildings along the edges of the block around a courtyard."""
    rng = b.rng
    depth = min(rng.uniform(*st.PERIMETER_WING_DEPTH_M), blk.depth / 3, blk.length / 3)
    storeys = b.storeys(st.PERIMETER_STOREYS)
    paved = rng.random() < st.PAVED_COURTYARD_P
    if paved:
        b.paved(blk.rect(0, 0, blk.length, blk.depth), blk.angle)
    else:
        b.green(blk.rect(0, 0, blk.length, blk.depth), blk.angle)
    taken = []
    L, D = blk.length, blk.depth
    wings = [(0, 0, L, depth), (0, D - depth, L, D), (0, depth, depth, D - depth), (L - depth, depth, L, D - depth)]
    for a0, b0, a1, b1 in wings:
        if rng.random() < st.MISSING_WING_P:
            continue
        along_a = (a1 - a0) >= (b1 - b0)
        n = st.count(rng, st.BUILDINGS_PER_WING)
        cuts = np.sort(rng.uniform(0, 1, n - 1)) if n > 1 else []
        edges = [0.0, *cuts, 1.0]
        for e0, e1 in zip(edges, edges[1:]):
            gap = rng.uniform(*st.PASSAGE_M) if rng.random() < st.PASSAGE_P else 0.0
            if along_a:
                r = (a0 + (a1 - a0) * e0, b0, a0 + (a1 - a0) * e1 - gap, b1)
            else:
                r = (a0, b0 + (b1 - b0) * e0, a1, b0 + (b1 - b0) * e1 - gap)
            if r[2] - r[0] > 4 and r[3] - r[1] > 4:
                b.building(blk.rect(*r), max(2, storeys + st.count(rng, st.PERIMETER_STOREY_SPREAD)))
                taken.append(r)
    if paved and rng.random() < st.COURTYARD_PARKING_P:
        _parking_rows(b, blk, depth + 2, depth + 2, L - depth - 2, D - depth - 2, taken)
    _scatter_trees(b, blk, taken, st.count(rng, st.COURTYARD_TREES))
    return taken


def _slabs(b: _Builder, blk: _Block):
    """One to three large buildings standing on a paved plaza."""
    rng = b.rng
    b.paved(blk.rect(0, 0, blk.length, blk.depth), blk.angle)
    taken = []
    for _ in range(st.count(rng, st.TOWERS) * 6):
        if len(taken) >= 3:
            break
        la, lb = rng.uniform(*st.TOWER_LENGTH_SHARE) * blk.length, rng.uniform(*st.TOWER_DEPTH_SHARE) * blk.depth
        a0, b0 = rng.uniform(2, max(2.1, blk.length - la - 2)), rng.uniform(2, max(2.1, blk.depth - lb - 2))
        if la > 8 and lb > 8 and _free(taken, a0, b0, a0 + la, b0 + lb, margin=6):
            b.building(blk.rect(a0, b0, a0 + la, b0 + lb), b.storeys(st.TOWER_STOREYS), roof="flat")
            taken.append((a0, b0, a0 + la, b0 + lb))
    if rng.random() < st.SQUARE_P:  # a decorated square in another pavement
        a0, b0 = rng.uniform(0, blk.length * 0.5), rng.uniform(0, blk.depth * 0.5)
        a1 = a0 + rng.uniform(st.SQUARE_MIN_SIDE_M, blk.length * 0.5)
        b1 = b0 + rng.uniform(st.SQUARE_MIN_SIDE_M, blk.depth * 0.5)
        if _free(taken, a0, b0, a1, b1):
            b.paved(blk.rect(a0, b0, a1, b1), blk.angle + rng.choice(st.SQUARE_ANGLES_RAD))
    for _ in range(st.count(rng, st.TOWER_PLAZA_CARS)):  # cars parked on the plaza, bicycles and benches are noise
        a, c = rng.uniform(3, blk.length - 3), rng.uniform(3, blk.depth - 3)
        if _free(taken, a - 3, c - 3, a + 3, c + 3):
            heading = blk.angle + rng.choice([0, math.pi / 2]) + rng.normal(0, st.TOWER_PLAZA_HEADING_SIGMA_RAD)
            b.vehicle(blk.point(a, c), heading)
            taken.append((a - 2.6, c - 2.6, a + 2.6, c + 2.6))
    _scatter_trees(b, blk, taken, st.count(rng, st.TOWER_PLAZA_TREES))
    for _ in range(st.count(rng, st.KIOSKS)):
        a, c = rng.uniform(2, blk.length - 6), rng.uniform(2, blk.depth - 4)
        if _free(taken, a, c, a + 4, c + 2.5):
            b.box(blk, a, c, *st.uniform_each(rng, st.KIOSK_SIZE_M))
    return taken


def _plaza(b: _Builder, blk: _Block):
    rng = b.rng
    b.paved(blk.rect(0, 0, blk.length, blk.depth), blk.angle)
    inset = rng.uniform(*st.PLAZA_BORDER_M)
    if blk.length > 2 * inset + 8 and blk.depth > 2 * inset + 8:
        b.paved(blk.rect(inset, inset, blk.length - inset, blk.depth - inset), blk.angle)
    taken = []
    if rng.random() < st.FOUNTAIN_P:  # a fountain or a pond in the middle
        lo, hi = st.FOUNTAIN_RADIUS_M
        cx, cy, r = blk.length / 2, blk.depth / 2, rng.uniform(lo, min(hi, blk.depth / 4))
        t = np.linspace(0, 2 * math.pi, 24, endpoint=False)
        b.surface(np.array([blk.point(cx + r * math.cos(a), cy + r * math.sin(a)) for a in t]), "pool", WATER)
        taken.append((cx - r - 1, cy - r - 1, cx + r + 1, cy + r + 1))
    if rng.random() < st.PLANTERS_P:  # trees in a grid of planters
        step = rng.uniform(*st.PLANTER_SPACING_M)
        for a in np.arange(step / 2, blk.length, step):
            for c in (step / 2, blk.depth - step / 2):
                if _free(taken, a - 2, c - 2, a + 2, c + 2):
                    b.tree(*blk.point(a, c))
    _scatter_trees(b, blk, taken, st.count(rng, st.PLAZA_TREES), small=True)
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
    for _ in range(st.count(rng, st.PARK_PATHS)):  # paved paths across the park
        w = rng.uniform(*st.PARK_PATH_WIDTH_M)
        if rng.random() < 0.5:
            a = rng.uniform(0, blk.length - w)
            b.paved(blk.rect(a, 0, a + w, blk.depth), blk.angle)
        else:
            c = rng.uniform(0, blk.depth - w)
            b.paved(blk.rect(0, c, blk.length, c + w), blk.angle)
    if rng.random() < st.POND_P:
        cx, cy = blk.length * rng.uniform(0.3, 0.7), blk.depth * rng.uniform(0.3, 0.7)
        lo, hi = st.POND_RADIUS_M
        rr = rng.uniform(lo, min(hi, blk.depth / 3))
        t = np.linspace(0, 2 * math.pi, 28, endpoint=False)
        radii = rr * (1 + 0.25 * np.sin(3 * t + rng.uniform(0, 6)))
        b.surface(np.array([blk.point(cx + q * math.cos(a), cy + q * math.sin(a)) for q, a in zip(radii, t)]),
                  "water", WATER)
        taken.append((cx - rr * 1.3, cy - rr * 1.3, cx + rr * 1.3, cy + rr * 1.3))
    for _ in range(st.count(rng, st.GROVES)):
        cx, cy = rng.uniform(0, blk.length), rng.uniform(0, blk.depth)
        for _ in range(st.count(rng, st.GROVE_TREES)):
            a, c = cx + rng.normal(0, st.GROVE_SPREAD_M), cy + rng.normal(0, st.GROVE_SPREAD_M)
            if 1 < a < blk.length - 1 and 1 < c < blk.depth - 1 and _free(taken, a - 1, c - 1, a + 1, c + 1):
                b.tree(*blk.point(a, c))
    return taken


def _houses(b: _Builder, blk: _Block):
    """Detached houses with gardens, driveways, pools and sheds along both long edges."""
    rng = b.rng
    b.green(blk.rect(0, 0, blk.length, blk.depth), blk.angle)
    taken = []
    lot_w = rng.uniform(*st.LOT_WIDTH_M)
    (w_lo, w_hi), (d_lo, d_hi) = st.HOUSE_WIDTH_M, st.HOUSE_DEPTH_M
    rows = [(0.0, 1)] + ([(blk.depth, -1)] if blk.depth > 30 else [])
    for edge, sign in rows:
        lot_d = min(blk.depth / len(rows), rng.uniform(*st.LOT_DEPTH_M))
        for a in np.arange(0, blk.length - lot_w + 1, lot_w):
            hw, hd = rng.uniform(w_lo, min(w_hi, lot_w - 3)), rng.uniform(d_lo, min(d_hi, lot_d - 6))
            set_back = rng.uniform(*st.HOUSE_SETBACK_M)
            a0 = a + rng.uniform(1, lot_w - hw - 1)
            b0 = edge + sign * set_back if sign > 0 else edge - set_back - hd
            b.building(blk.rect(a0, b0, a0 + hw, b0 + hd), b.storeys(st.HOUSE_STOREYS))
            taken.append((a0, b0, a0 + hw, b0 + hd))
            dw = rng.uniform(*st.DRIVEWAY_WIDTH_M)  # driveway from the street
            da = a0 + hw + 0.5 if a0 + hw + dw + 0.5 < a + lot_w else a0 - dw - 0.5
            if da > a:
                d0, d1 = (edge, b0 + hd) if sign > 0 else (b0, edge)
                b.paved(blk.rect(da, d0, da + dw, d1), blk.angle, "asphalt", "slabs", "bricks")
                if rng.random() < st.DRIVEWAY_CAR_P:
                    b.vehicle(blk.point(da + dw / 2, (d0 + d1) / 2), blk.angle + math.pi / 2)
            back = (b0 + hd + 2, b0 + hd + 2 + rng.uniform(*st.BACK_STRIP_M)) if sign > 0 else (b0 - 7, b0 - 2)
            if rng.random() < st.POOL_P:  # a pool behind the house
                pl = rng.uniform(st.POOL_LENGTH_M[0], min(st.POOL_LENGTH_M[1], hw))
                b.paved(blk.rect(a0 - 0.6, back[0] - 0.6, a0 + pl + 0.6, back[1] + 0.6), blk.angle, "slabs", "tiles")
                b.surface(blk.rect(a0, back[0], a0 + pl, back[1]), "pool", WATER)
                taken.append((a0 - 1, back[0] - 1, a0 + pl + 1, back[1] + 1))
            elif rng.random() < st.SHED_P:
                b.box(blk, a0 + rng.uniform(0, hw - 3), back[0], *st.uniform_each(rng, st.SHED_SIZE_M))
    _scatter_trees(b, blk, taken, st.count(rng, st.GARDEN_TREES))
    return taken


def _industrial(b: _Builder, blk: _Block):
    rng = b.rng
    b.paved(blk.rect(0, 0, blk.length, blk.depth), blk.angle, "asphalt", "slabs")
    taken = []
    for _ in range(12):
        la, lb = rng.uniform(*st.HALL_LENGTH_SHARE) * blk.length, rng.uniform(*st.HALL_DEPTH_SHARE) * blk.depth
        a0, b0 = rng.uniform(2, max(2.1, blk.length - la - 2)), rng.uniform(2, max(2.1, blk.depth - lb - 2))
        if la > 10 and lb > 10 and _free(taken, a0, b0, a0 + la, b0 + lb, margin=8):
            b.building(blk.rect(a0, b0, a0 + la, b0 + lb), b.storeys(st.HALL_STOREYS), roof="flat")
            taken.append((a0, b0, a0 + la, b0 + lb))
    for _ in range(st.count(rng, st.YARD_ITEMS)):  # containers, trucks
        a, c = rng.uniform(2, blk.length - 14), rng.uniform(2, blk.depth - 4)
        if _free(taken, a, c, a + 13, c + 3, margin=1):
            if rng.random() < st.CONTAINER_P:
                b.box(blk, a, c, rng.choice(st.CONTAINER_LENGTHS_M), 2.44, 2.6)
            else:
                b.vehicle(blk.point(a + 6, c + 1.3), blk.angle, big=True)
            taken.append((a, c, a + 13, c + 3))
    if rng.random() < st.YARD_PARKING_P:
        _parking_rows(b, blk, 2, 2, blk.length - 2, min(blk.depth - 2, 14), taken)
    return taken


def _bare(b: _Builder, blk: _Block):
    rng = b.rng
    b.surface(blk.rect(0, 0, blk.length, blk.depth), rng.choice(st.BARE_LOT_KINDS), SOIL, blk.angle)
    taken = []
    for _ in range(st.count(rng, st.BARE_LOT_BOXES)):
        a, c = rng.uniform(2, blk.length - 8), rng.uniform(2, blk.depth - 4)
        if _free(taken, a, c, a + 7, c + 3):
            b.box(blk, a, c, *st.uniform_each(rng, st.BARE_LOT_BOX_SIZE_M))
            taken.append((a, c, a + 7, c + 3))
    _scatter_trees(b, blk, taken, st.count(rng, st.BARE_LOT_TREES))
    return taken


_FILL = {"perimeter": _perimeter, "slabs": _slabs, "plaza": _plaza, "parking": _parking_lot, "park": _park,
         "houses": _houses, "industrial": _industrial, "bare": _bare}
"""What fills a block of each type (the types and their weights per district: ``styles.BLOCK_TYPES``)."""


def _rural(b: _Builder, centre, radius):
    """Fields in strips, a country road, a farm with sheds, tree lines and a pond."""
    rng = b.rng
    angle = rng.uniform(*st.GRID_ANGLE_RAD)
    u = np.array([math.cos(angle), math.sin(angle)])
    v = np.array([-u[1], u[0]])
    blk = _Block(centre - (u + v) * radius, u, v, 2 * radius, 2 * radius)
    b.surface(blk.rect(0, 0, 2 * radius, 2 * radius), "meadow", GRASS, angle)
    pos = 0.0
    while pos < 2 * radius:
        wd = rng.uniform(*st.FIELD_STRIP_M)
        kind = rng.choice(st.FIELD_KINDS)
        code = SOIL if kind == "soil" else GRASS
        b.surface(blk.rect(0, pos, 2 * radius, pos + wd), kind, code, angle + rng.choice([0, math.pi / 2]),
                  stripe=rng.uniform(*st.FIELD_ROW_M), rgb2=tx.surface_color("soil", rng))
        if rng.random() < st.TREE_LINE_P:  # a tree line along the field edge
            along, across = st.TREE_LINE_SIGMA_M
            for a in np.arange(0, 2 * radius, rng.uniform(*st.TREE_LINE_SPACING_M)):
                b.tree(*blk.point(a + rng.normal(0, along), pos + rng.normal(0, across)))
        pos += wd
    road = radius + rng.uniform(-radius * 0.5, radius * 0.5)
    wd = rng.uniform(*st.COUNTRY_ROAD_WIDTH_M)
    b.surface(blk.rect(0, road - wd / 2, 2 * radius, road + wd / 2), "asphalt", ROAD, angle)
    if rng.random() < st.COUNTRY_CENTRE_LINE_P:
        b.mark([blk.rect(0, road - 0.07, 2 * radius, road + 0.07)])
    for a in np.arange(0, 2 * radius, 9):
        if rng.random() < st.COUNTRY_CAR_P:
            b.vehicle(blk.point(a, road + rng.choice([-1, 1]) * wd / 4), angle)
    farm = _Block(blk.point(rng.uniform(0.2, 0.6) * 2 * radius, road + wd / 2 + 3), u, v,
                  *st.uniform_each(rng, st.FARM_SIZE_M))
    if rng.random() < st.FARM_YARD_P:
        b.surface(farm.rect(0, 0, farm.length, farm.depth), rng.choice(st.FARM_YARD_KINDS), SOIL, angle)
    else:
        b.paved(farm.rect(0, 0, farm.length, farm.depth), angle, "slabs", "asphalt")
    taken = []
    for _ in range(10):
        la, lb = st.uniform_each(rng, st.BARN_SIZE_M)
        a0, b0 = rng.uniform(0, farm.length - la), rng.uniform(0, farm.depth - lb)
        if _free(taken, a0, b0, a0 + la, b0 + lb, margin=3):
            b.building(farm.rect(a0, b0, a0 + la, b0 + lb), b.storeys(st.BARN_STOREYS), roof=rng.choice(st.BARN_ROOFS))
            taken.append((a0, b0, a0 + la, b0 + lb))
    _scatter_trees(b, farm, taken, st.count(rng, st.FARM_TREES))
    for _ in range(st.count(rng, st.WOODS)):
        cx, cy = centre + rng.uniform(-radius, radius, 2)
        for _ in range(st.count(rng, st.WOOD_TREES)):
            b.tree(cx + rng.normal(0, st.WOOD_SPREAD_M), cy + rng.normal(0, st.WOOD_SPREAD_M))


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
    block, width = st.STREET_GRID[district]
    angle = rng.uniform(*st.GRID_ANGLE_RAD)
    cols, rows, blocks, u, v = _streets(b, centre, radius, angle, block, width)
    for blk in blocks:
        _FILL[st.pick(rng, st.BLOCK_TYPES[district])](b, blk)
    _street_life(b, cols, rows, u, v, centre, radius)
    return world
