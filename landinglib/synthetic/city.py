"""The world in metres: a street grid, blocks filled by type, buildings, cars, trees.

``build_world(extent, district, style, rng, max_height)`` returns a ``World`` (``world``): ground
*surfaces* (polygons with a material), road *markings*, *prisms* (buildings, vehicles, sheds: a
footprint and a height) and *trees*. A town is a street grid (``streets``) whose blocks are filled
by type (``blocks``); the countryside is fields, a road and a farm (``rural``); every thing is made
by a ``Builder`` (``builder``). Nothing here knows about pixels or cameras.
Coordinates: x east, y south, z up, metres.
"""
from __future__ import annotations

import math

import numpy as np

from . import styles as st
from .blocks import FILL
from .builder import Builder
from .rural import countryside
from .streets import street_grid, street_life
from .styles import Style
from .world import World


def build_world(extent, district: str, style: Style, rng: np.random.Generator, max_height: float = 80.0,
                detail=None) -> World:
    """Lay out a ``district`` ("urban", "suburban", "industrial", "rural") covering ``extent``
    (x0, y0, x1, y1 metres). ``detail`` = ((x, y), radius, outline or None): no vehicles or trees
    beyond ``radius`` of (x, y), nor more than ``builder.DETAIL_MARGIN_M`` outside the ``outline`` polygon
    (the ground the camera sees)."""
    x0, y0, x1, y1 = extent
    world = World(extent=tuple(float(e) for e in extent))
    b = Builder(world, style, rng, max_height, detail)
    centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    radius = math.hypot(x1 - x0, y1 - y0) / 2 + 10
    if district == "rural":
        countryside(b, centre, radius)
        return world
    block, width = st.STREET_GRID[district]
    angle = rng.uniform(*st.GRID_ANGLE_RAD)
    cols, rows, blocks, u, v = street_grid(b, centre, radius, angle, block, width)
    for blk in blocks:
        FILL[st.pick(rng, st.BLOCK_TYPES[district])](b, blk)
    street_life(b, cols, rows, u, v, centre, radius)
    return world
