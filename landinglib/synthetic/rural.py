"""The countryside: fields in strips, a country road, a farm with sheds, tree lines and woods."""
from __future__ import annotations

import math

import numpy as np

from . import styles as st
from . import textures as tx
from .blocks import free, scatter_trees
from .builder import Builder
from .styles import GRASS, ROAD, SOIL
from .world import Block


def countryside(b: Builder, centre: np.ndarray, radius: float) -> None:
    """Fields in strips, a country road, a farm with sheds, tree lines and a pond."""
    rng = b.rng
    angle = rng.uniform(*st.GRID_ANGLE_RAD)
    u = np.array([math.cos(angle), math.sin(angle)])
    v = np.array([-u[1], u[0]])
    blk = Block(centre - (u + v) * radius, u, v, 2 * radius, 2 * radius)
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
    farm = Block(blk.point(rng.uniform(0.2, 0.6) * 2 * radius, road + wd / 2 + 3), u, v,
                  *st.uniform_each(rng, st.FARM_SIZE_M))
    if rng.random() < st.FARM_YARD_P:
        b.surface(farm.rect(0, 0, farm.length, farm.depth), rng.choice(st.FARM_YARD_KINDS), SOIL, angle)
    else:
        b.paved(farm.rect(0, 0, farm.length, farm.depth), angle, "slabs", "asphalt")
    taken = []
    for _ in range(10):
        la, lb = st.uniform_each(rng, st.BARN_SIZE_M)
        a0, b0 = rng.uniform(0, farm.length - la), rng.uniform(0, farm.depth - lb)
        if free(taken, a0, b0, a0 + la, b0 + lb, margin=3):
            b.building(farm.rect(a0, b0, a0 + la, b0 + lb), b.storeys(st.BARN_STOREYS), roof=rng.choice(st.BARN_ROOFS))
            taken.append((a0, b0, a0 + la, b0 + lb))
    scatter_trees(b, farm, taken, st.count(rng, st.FARM_TREES))
    for _ in range(st.count(rng, st.WOODS)):
        cx, cy = centre + rng.uniform(-radius, radius, 2)
        for _ in range(st.count(rng, st.WOOD_TREES)):
            b.tree(cx + rng.normal(0, st.WOOD_SPREAD_M), cy + rng.normal(0, st.WOOD_SPREAD_M))
