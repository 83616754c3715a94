"""What the built-in world is made of: semantic codes, their mapping to the two taxonomies, and
the *styles* — the ranges a scene's district, materials, light and camera are drawn from.

Domain randomisation lives here: every scene draws its own colours, textures, sun and camera
from wide ranges, so that a real photo is one more sample of the generator. Some *families*
(pavement patterns, roof materials, a lighting and a lens) are held out of training and used
only by the ``udd6-unseen`` style: a test of how the model copes with what it never saw.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

# Semantic codes used while drawing (not a taxonomy: they are mapped to one when written).
SOIL, GRASS, TREE, ROAD, ROOF, FACADE, CAR, WATER, CLUTTER, NODATA, SKY = range(11)
SEMANTIC_NAMES = ("soil", "grass", "tree", "road", "roof", "facade", "car", "water", "clutter", "nodata", "sky")

SEMANTIC_TO_DRONEDEPLOY = np.array([5, 3, 3, 5, 1, 1, 6, 4, 2, 0, 0], np.uint8)
"""semantic code -> DroneDeploy label value (paved and bare ground are GROUND, nodata IGNORE)."""
SEMANTIC_TO_UDD6 = np.array([0, 3, 3, 2, 5, 1, 4, 0, 0, 0, 0], np.uint8)
"""semantic code -> UDD6 index: all paved ground (streets, plazas, parking) is Road; sky is Other."""
SEMANTIC_TO_AERIAL = np.full(256, 255, np.uint8)
"""semantic code -> ``classes.AERIAL`` index (stage 0): one class per code, nodata ignored (255)."""
SEMANTIC_TO_AERIAL[:11] = (0, 1, 2, 3, 4, 5, 6, 7, 8, 255, 9)

# --- families: training draws from the first tuple, the unseen-style test from the second ---
PAVEMENTS = ("asphalt", "slabs", "tiles", "bricks")
UNSEEN_PAVEMENTS = ("checker45", "cobbles")
FLAT_ROOFS = ("concrete", "bitumen", "gravel", "membrane", "metal")
UNSEEN_FLAT_ROOFS = ("corrugated", "painted")
LIGHTINGS = ("sunny", "hazy", "overcast")
UNSEEN_LIGHTINGS = ("golden",)


@dataclass(frozen=True)
class Style:
    """How one dataset is drawn: districts, camera, materials and light (ranges to sample from)."""

    name: str
    frame: tuple[int, int] | None  # fixed (H, W) of camera frames; None = orthomosaic of random size
    scene_side: tuple[int, int] = (1024, 1536)  # orthomosaics: side length range in px
    camera: str = "drone"  # "drone": perspective frames; "ortho": true orthomosaic
    gsd_m: tuple[float, float] = (0.05, 0.22)  # ground sampling distance (m/px) at the frame centre
    views: tuple[float, float, float] = (0.45, 0.43, 0.12)  # P(nadir), P(oblique), P(oblique with horizon)
    districts: tuple[tuple[str, float], ...] = (("urban", 0.55), ("suburban", 0.2), ("industrial", 0.1),
                                                ("rural", 0.15))
    pavements: tuple[str, ...] = PAVEMENTS
    flat_roofs: tuple[str, ...] = FLAT_ROOFS
    unseen_roof_p: float = 0.0  # share of flat roofs drawn from UNSEEN_FLAT_ROOFS
    lightings: tuple[str, ...] = LIGHTINGS
    lens_k1: tuple[float, float] = (0.0, 0.0)  # barrel distortion of the lens (negative = barrel)
    nodata_border: bool = False
    jpeg_quality: tuple[int, int] = (60, 95)


DRONEDEPLOY_STYLE = Style(
    name="dronedeploy", frame=None, camera="ortho", gsd_m=(0.1, 0.1), views=(1.0, 0.0, 0.0),
    districts=(("suburban", 0.45), ("urban", 0.25), ("industrial", 0.12), ("rural", 0.18)),
    nodata_border=True, jpeg_quality=(80, 98),
)
"""Orthomosaics at 10 cm/px seen straight down (roofs only, no facades), with a no-data border."""

UDD6_STYLE = Style(name="udd6", frame=(540, 1024))
"""Drone camera frames (1024x540): mostly city, nadir and oblique, GSD 5-22 cm/px, some with sky."""

UDD6_UNSEEN_STYLE = replace(
    UDD6_STYLE, name="udd6-unseen", pavements=UNSEEN_PAVEMENTS, unseen_roof_p=0.6,
    lightings=UNSEEN_LIGHTINGS, lens_k1=(-0.28, -0.12),
)
"""The unseen-style test: pavements, roofs, light (golden hour) and a wide-angle lens that the
training styles never draw. The gap between it and the in-distribution test measures robustness."""

STYLES = {s.name: s for s in (DRONEDEPLOY_STYLE, UDD6_STYLE, UDD6_UNSEEN_STYLE)}


def pick(rng: np.random.Generator, weighted: tuple[tuple[str, float], ...]) -> str:
    """One name from ``((name, weight), ...)``."""
    names, weights = zip(*weighted)
    p = np.array(weights, float)
    return names[int(rng.choice(len(names), p=p / p.sum()))]
