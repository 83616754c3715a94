"""What fills a block of the street grid: perimeter blocks around courtyards, towers on a plaza, a
plaza, a parking lot, a park, houses with gardens, an industrial yard or a bare lot (``FILL``); the
types and their weights per district are ``styles.BLOCK_TYPES``. Positions in a block are (a, b)
metres along its length and depth; ``taken`` lists the rectangles already built on."""
from __future__ import annotations

import math

import numpy as np

from . import styles as st
from .builder import Builder
from .styles import ROAD, SOIL, WATER
from .world import Block


def free(taken: list, a0: float, b0: float, a1: float, b1: float, margin: float = 0.0) -> bool:
    """Whether the rectangle (a0, b0)-(a1, b1) keeps ``margin`` metres from every rectangle in ``taken``."""
    return all(a1 + margin <= x0 or a0 - margin >= x1 or b1 + margin <= y0 or b0 - margin >= y1
               for x0, y0, x1, y1 in taken)


def scatter_trees(b: Builder, blk: Block, taken: list, n: int, small: bool = False, margin: float = 2.0) -> None:
    """Up to ``n`` trees at random places of ``blk`` (``margin`` from its edges), none near ``taken``."""
    rng = b.rng
    for _ in range(n):
        a, c = rng.uniform(margin, blk.length - margin), rng.uniform(margin, blk.depth - margin)
        if free(taken, a - 2, c - 2, a + 2, c + 2):
            b.tree(*blk.point(a, c), small=small)


def _parking_rows(b: Builder, blk: Block, a0, b0, a1, b1, taken) -> None:
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
            if rng.random() < occupancy and free(taken, a, bb, a + 2.5, bb + 5):
                heading = blk.angle + math.pi / 2 + rng.choice([0, math.pi]) + rng.normal(0, st.STALL_HEADING_SIGMA_RAD)
                b.vehicle(blk.point(a + 1.25, bb + 2.5), heading)
        bb += 5 + (6 if (bb - b0) % 16 < 1 else 0)


def _perimeter(b: Builder, blk: Block):
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
    scatter_trees(b, blk, taken, st.count(rng, st.COURTYARD_TREES))
    return taken


def _slabs(b: Builder, blk: Block):
    """One to three large buildings standing on a paved plaza."""
    rng = b.rng
    b.paved(blk.rect(0, 0, blk.length, blk.depth), blk.angle)
    taken = []
    for _ in range(st.count(rng, st.TOWERS) * 6):
        if len(taken) >= 3:
            break
        la, lb = rng.uniform(*st.TOWER_LENGTH_SHARE) * blk.length, rng.uniform(*st.TOWER_DEPTH_SHARE) * blk.depth
        a0, b0 = rng.uniform(2, max(2.1, blk.length - la - 2)), rng.uniform(2, max(2.1, blk.depth - lb - 2))
        if la > 8 and lb > 8 and free(taken, a0, b0, a0 + la, b0 + lb, margin=6):
            b.building(blk.rect(a0, b0, a0 + la, b0 + lb), b.storeys(st.TOWER_STOREYS), roof="flat")
            taken.append((a0, b0, a0 + la, b0 + lb))
    if rng.random() < st.SQUARE_P:  # a decorated square in another pavement
        a0, b0 = rng.uniform(0, blk.length * 0.5), rng.uniform(0, blk.depth * 0.5)
        a1 = a0 + rng.uniform(st.SQUARE_MIN_SIDE_M, blk.length * 0.5)
        b1 = b0 + rng.uniform(st.SQUARE_MIN_SIDE_M, blk.depth * 0.5)
        if free(taken, a0, b0, a1, b1):
            b.paved(blk.rect(a0, b0, a1, b1), blk.angle + rng.choice(st.SQUARE_ANGLES_RAD))
    for _ in range(st.count(rng, st.TOWER_PLAZA_CARS)):  # cars parked on the plaza, bicycles and benches are noise
        a, c = rng.uniform(3, blk.length - 3), rng.uniform(3, blk.depth - 3)
        if free(taken, a - 3, c - 3, a + 3, c + 3):
            heading = blk.angle + rng.choice([0, math.pi / 2]) + rng.normal(0, st.TOWER_PLAZA_HEADING_SIGMA_RAD)
            b.vehicle(blk.point(a, c), heading)
            taken.append((a - 2.6, c - 2.6, a + 2.6, c + 2.6))
    scatter_trees(b, blk, taken, st.count(rng, st.TOWER_PLAZA_TREES))
    for _ in range(st.count(rng, st.KIOSKS)):
        a, c = rng.uniform(2, blk.length - 6), rng.uniform(2, blk.depth - 4)
        if free(taken, a, c, a + 4, c + 2.5):
            b.box(blk, a, c, *st.uniform_each(rng, st.KIOSK_SIZE_M))
    return taken


def _plaza(b: Builder, blk: Block):
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
                if free(taken, a - 2, c - 2, a + 2, c + 2):
                    b.tree(*blk.point(a, c))
    scatter_trees(b, blk, taken, st.count(rng, st.PLAZA_TREES), small=True)
    return taken


def _parking_lot(b: Builder, blk: Block):
    b.surface(blk.rect(0, 0, blk.length, blk.depth), "asphalt", ROAD, blk.angle)
    taken = []
    _parking_rows(b, blk, 2, 2, blk.length - 2, blk.depth - 2, taken)
    return taken


def _park(b: Builder, blk: Block):
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
            if 1 < a < blk.length - 1 and 1 < c < blk.depth - 1 and free(taken, a - 1, c - 1, a + 1, c + 1):
                b.tree(*blk.point(a, c))
    return taken


def _houses(b: Builder, blk: Block):
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
    scatter_trees(b, blk, taken, st.count(rng, st.GARDEN_TREES))
    return taken


def _industrial(b: Builder, blk: Block):
    rng = b.rng
    b.paved(blk.rect(0, 0, blk.length, blk.depth), blk.angle, "asphalt", "slabs")
    taken = []
    for _ in range(12):
        la, lb = rng.uniform(*st.HALL_LENGTH_SHARE) * blk.length, rng.uniform(*st.HALL_DEPTH_SHARE) * blk.depth
        a0, b0 = rng.uniform(2, max(2.1, blk.length - la - 2)), rng.uniform(2, max(2.1, blk.depth - lb - 2))
        if la > 10 and lb > 10 and free(taken, a0, b0, a0 + la, b0 + lb, margin=8):
            b.building(blk.rect(a0, b0, a0 + la, b0 + lb), b.storeys(st.HALL_STOREYS), roof="flat")
            taken.append((a0, b0, a0 + la, b0 + lb))
    for _ in range(st.count(rng, st.YARD_ITEMS)):  # containers, trucks
        a, c = rng.uniform(2, blk.length - 14), rng.uniform(2, blk.depth - 4)
        if free(taken, a, c, a + 13, c + 3, margin=1):
            if rng.random() < st.CONTAINER_P:
                b.box(blk, a, c, rng.choice(st.CONTAINER_LENGTHS_M), 2.44, 2.6)
            else:
                b.vehicle(blk.point(a + 6, c + 1.3), blk.angle, big=True)
            taken.append((a, c, a + 13, c + 3))
    if rng.random() < st.YARD_PARKING_P:
        _parking_rows(b, blk, 2, 2, blk.length - 2, min(blk.depth - 2, 14), taken)
    return taken


def _bare(b: Builder, blk: Block):
    rng = b.rng
    b.surface(blk.rect(0, 0, blk.length, blk.depth), rng.choice(st.BARE_LOT_KINDS), SOIL, blk.angle)
    taken = []
    for _ in range(st.count(rng, st.BARE_LOT_BOXES)):
        a, c = rng.uniform(2, blk.length - 8), rng.uniform(2, blk.depth - 4)
        if free(taken, a, c, a + 7, c + 3):
            b.box(blk, a, c, *st.uniform_each(rng, st.BARE_LOT_BOX_SIZE_M))
            taken.append((a, c, a + 7, c + 3))
    scatter_trees(b, blk, taken, st.count(rng, st.BARE_LOT_TREES))
    return taken


FILL = {"perimeter": _perimeter, "slabs": _slabs, "plaza": _plaza, "parking": _parking_lot, "park": _park,
         "houses": _houses, "industrial": _industrial, "bare": _bare}
"""What fills a block of each type (the types and their weights per district: ``styles.BLOCK_TYPES``)."""
