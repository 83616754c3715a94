"""What the built-in world is made of: semantic codes, their mapping to the two taxonomies, the
*styles* (what differs between datasets) and the *ranges* every scene is drawn from.

Domain randomisation lives here: every scene draws its own colours, textures, sun and camera
from wide ranges, so that a real photo is one more sample of the generator. Some *families*
(pavement patterns, roof materials, a lighting and a lens) are held out of training and used
only by the ``udd6-unseen`` style: a test of how the model copes with what it never saw.

Every range the drawing modules (``camera``, ``city`` and its modules, ``render`` and its
modules, ``textures``) draw from is named here, grouped by topic: camera, light, sensor, streets,
blocks, buildings, vehicles, vegetation, the countryside, materials. Only where a thing sits (a
uniform position in the room left for it) and which way an axis-aligned thing faces are left to
the drawing code.
"""
from __future__ import annotations

import math
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


# ================================ the ranges every style shares ================================
# ``_P``: a probability; ``_SIGMA``: the standard deviation of a normal draw around 0; ``_SHARE``: a
# fraction of what it is measured on; units in the names: _M metres, _DEG degrees, _RAD radians, _PX pixels.
Range = tuple[float, float]
"""(lo, hi) of a uniform draw."""
Count = tuple[int, int]
"""(lo, hi) of a whole number, both included."""
HSV = tuple[float | Range, float | Range, float | Range]
"""A colour: hue (degrees), saturation and value (0..1), each fixed or a Range."""


@dataclass(frozen=True)
class Paint:
    """A colour of a few hues (one picked, then varied by ``hue_jitter`` degrees)."""

    hues: tuple[float, ...]
    hue_jitter: Range
    saturation: Range
    value: Range


# --- camera (drone frames; the style sets the ground sampling distance and the views) ---------
FIELD_OF_VIEW_DEG: Range = (60, 84)  # horizontal
NADIR_TILT_DEG: Range = (0, 8)
OBLIQUE_TILT_DEG: Range = (15, 50)
HORIZON_TILT_DEG: Range = (4, 13)  # beyond the tilt that puts the horizon on the frame's top edge
HORIZON_ALTITUDE_M: Range = (40, 150)  # horizon views; the others follow from the GSD
MIN_ALTITUDE_M = 18.0
HEADING_RAD: Range = (0, 2 * math.pi)
ROLL_SIGMA_DEG = 1.5


# --- light and sky --------------------------------------------------------------------------
@dataclass(frozen=True)
class LightRanges:
    """What one kind of light (``Style.lightings``) is drawn from."""

    sun_elevation_deg: Range
    shadow: Range  # brightness in shadow relative to sunlight
    visibility_m: Range  # haze: distance at which contrast falls to 1/e
    warmth: Range  # the sun's colour: red x (1 + w), blue x (1 - 1.3 w)
    haze_hsv: HSV
    sky_hsv: HSV  # the sky overhead
    strength: Range | None = None  # the sun's strength; None: full
    shadow_tint: tuple[float, float, float] = (0.92, 0.98, 1.12)  # RGB of shade: the bluish sky's light


_DAYLIGHT_HAZE: HSV = ((195, 220), (0.03, 0.18), (0.75, 0.95))
_BLUE_SKY: HSV = ((200, 225), (0.2, 0.55), (0.6, 0.9))
LIGHT_RANGES = {
    "sunny": LightRanges((25, 72), (0.28, 0.5), (900, 5000), (-0.06, 0.1), _DAYLIGHT_HAZE, _BLUE_SKY),
    "hazy": LightRanges((20, 60), (0.45, 0.65), (600, 1500), (-0.06, 0.1), _DAYLIGHT_HAZE, _BLUE_SKY),
    "overcast": LightRanges((30, 80), (0.8, 0.92), (500, 2500), (-0.06, 0.1), _DAYLIGHT_HAZE, (210, 0.04, (0.7, 0.9)),
                            strength=(0.85, 1.0), shadow_tint=(1.0, 1.0, 1.0)),
    "golden": LightRanges((7, 16), (0.22, 0.4), (500, 2500), (0.18, 0.35), ((25, 40), (0.15, 0.35), (0.8, 0.95)),
                          _BLUE_SKY),
}
SUN_AZIMUTH_RAD: Range = (0, 2 * math.pi)
CLOUD_SIZE_PX: Range = (40, 160)
CLOUD_COVER: Range = (0, 0.6)

# --- sensor: the camera's own look -----------------------------------------------------------
EXPOSURE_SIGMA = 0.22  # of the log gain
WHITE_BALANCE_SIGMA = 0.05  # of each channel's gain around 1
SATURATION: Range = (0.65, 1.35)
VIGNETTING: Range = (0, 0.45)  # darkening at the corners
GAMMA: Range = (0.8, 1.25)
CONTRAST: Range = (0.85, 1.2)
BLUR_SIGMA_PX: Range = (0.35, 1.1)
MOTION_BLUR_P = 0.12
MOTION_BLUR_PX: Count = (3, 7)
MOTION_BLUR_ANGLE_RAD: Range = (0, math.pi)
SENSOR_NOISE_SIGMA: Range = (1.0, 6.0)  # grey levels

# --- streets: the grid, its paint and its traffic ---------------------------------------------
STREET_GRID = {  # district: (block size, road width) ranges, metres
    "urban": ((45, 130), (7, 22)),
    "suburban": ((45, 90), (6, 10)),
    "industrial": ((70, 160), (8, 14)),
}
GRID_ANGLE_RAD: Range = (0, math.pi)  # also the direction of the countryside's fields
NO_CROSS_STREETS_P = 0.2  # a grid of parallel roads only
SIDEWALK_M: Range = (1.5, 5.0)  # on roads wider than 5.5 m
LANE_LINE_WIDTH_M: Range = (0.12, 0.2)
LANE_DASH_M: Range = (2, 4)
LANE_GAP_M: Range = (3, 8)
SOLID_CENTRE_LINE_P = 0.4
NO_ZEBRA_P = 0.4  # an intersection without zebra crossings
ZEBRA_SETBACK_M: Range = (6, 10)  # from the crossing road's centre line
ZEBRA_OPACITY: Range = (0.4, 0.95)
WHITE_PAINT_P = 0.75  # else yellow
WHITE_PAINT_HSV: HSV = (0, 0, (0.8, 0.95))
YELLOW_PAINT_HSV: HSV = ((40, 52), (0.5, 0.8), 0.85)
PAINT_OPACITY: Range = (0.35, 1.0)  # paint wears off
KERB_PARKING_P = 0.75  # a street with cars parked along it
KERB_OCCUPANCY: Range = (0.2, 0.9)  # share of its kerb slots taken
KERB_SHIFT_SIGMA_M = 0.4  # a parked car off its slot, along the road
KERB_HEADING_SIGMA_RAD = 0.03
MOVING_CAR_P = 0.08  # per free slot, on roads wider than 7 m
MOVING_TRUCK_P = 0.1  # share of trucks among moving vehicles
STREET_TREES_P = 0.55  # on sidewalks wider than 2 m
STREET_TREE_SPACING_M: Range = (7, 14)

# --- blocks: what fills a block of the grid ---------------------------------------------------
BLOCK_TYPES = {  # district: (block type, weight), ...
    "urban": (("perimeter", 0.33), ("slabs", 0.27), ("plaza", 0.12), ("parking", 0.1), ("park", 0.1), ("bare", 0.04),
              ("houses", 0.04)),
    "suburban": (("houses", 0.62), ("park", 0.1), ("slabs", 0.12), ("parking", 0.06), ("plaza", 0.04),
                 ("bare", 0.06)),
    "industrial": (("industrial", 0.6), ("parking", 0.15), ("bare", 0.15), ("slabs", 0.1)),
}
FAVOURITE_PAVEMENT_P = 0.6  # paved ground in the town's own pavement (else any of the style's)
LAWN_P = 0.6  # green ground is a mown lawn, else a meadow
MOWING_STRIPE_M: Range = (0.8, 1.6)
# perimeter: buildings along the edges of the block around a courtyard
PERIMETER_WING_DEPTH_M: Range = (10, 18)  # at most a third of the block
PERIMETER_STOREYS: Count = (4, 20)
PERIMETER_STOREY_SPREAD: Count = (-2, 2)  # per building, around the block's own
MISSING_WING_P = 0.12
BUILDINGS_PER_WING: Count = (1, 3)
PASSAGE_P = 0.4  # a gap after a building
PASSAGE_M: Range = (0, 6)
PAVED_COURTYARD_P = 0.6  # else green
COURTYARD_PARKING_P = 0.5  # in a paved courtyard
COURTYARD_TREES: Count = (0, 9)
# slabs: one to three large buildings on a paved plaza
TOWERS: Count = (1, 3)  # x 6 tries to find room; at most 3 are built
TOWER_LENGTH_SHARE: Range = (0.25, 0.75)
TOWER_DEPTH_SHARE: Range = (0.25, 0.7)
TOWER_STOREYS: Count = (3, 24)
SQUARE_P = 0.6  # a decorated square in another pavement
SQUARE_MIN_SIDE_M = 8  # up to half the block
SQUARE_ANGLES_RAD = (0, math.pi / 4)
TOWER_PLAZA_CARS: Count = (0, 29)
TOWER_PLAZA_HEADING_SIGMA_RAD = 0.05
TOWER_PLAZA_TREES: Count = (0, 13)
KIOSKS: Count = (0, 2)
KIOSK_SIZE_M = ((2, 4), (1.5, 2.5), (2, 3))  # length, width, height ranges
# plaza: paved, with a fountain and trees in planters
PLAZA_BORDER_M: Range = (3, 10)  # a band in another pavement
FOUNTAIN_P = 0.35
FOUNTAIN_RADIUS_M: Range = (3, 10)  # at most a quarter of the block's depth
PLANTERS_P = 0.6
PLANTER_SPACING_M: Range = (6, 12)
PLAZA_TREES: Count = (0, 4)  # small ones
# parking lots and rows of stalls (2.5 m x 5 m)
STALL_OCCUPANCY: Range = (0.3, 0.95)
STALL_LINE_OPACITY: Range = (0.4, 0.9)
STALL_HEADING_SIGMA_RAD = 0.04
# park: lawn, paths, a pond and groves
PARK_PATHS: Count = (1, 3)
PARK_PATH_WIDTH_M: Range = (2, 5)
POND_P = 0.3
POND_RADIUS_M: Range = (5, 20)  # at most a third of the block's depth
GROVES: Count = (2, 7)
GROVE_TREES: Count = (2, 9)
GROVE_SPREAD_M = 5.0  # standard deviation around the grove's centre
# houses: detached, with gardens, driveways, pools and sheds along both long edges
LOT_WIDTH_M: Range = (14, 26)
LOT_DEPTH_M: Range = (20, 35)
HOUSE_WIDTH_M: Range = (7, 14)  # 3 m narrower than the lot at most
HOUSE_DEPTH_M: Range = (7, 12)  # 6 m shallower than the lot at most
HOUSE_SETBACK_M: Range = (3, 7)
HOUSE_STOREYS: Count = (1, 3)
DRIVEWAY_WIDTH_M: Range = (3, 4)
DRIVEWAY_CAR_P = 0.5
BACK_STRIP_M: Range = (3, 5)  # behind a house on the near side of the block (far side: 5 m)
POOL_P = 0.25
POOL_LENGTH_M: Range = (5, 9)  # at most the house's width
SHED_P = 0.35  # where there is no pool
SHED_SIZE_M = ((2, 4), (2, 3), (2, 3))  # length, width, height ranges
GARDEN_TREES: Count = (2, 13)
# industrial: halls, containers, trucks
HALL_LENGTH_SHARE: Range = (0.3, 0.85)
HALL_DEPTH_SHARE: Range = (0.3, 0.8)
HALL_STOREYS: Count = (2, 4)
YARD_ITEMS: Count = (0, 11)  # containers and trucks
CONTAINER_P = 0.5  # else a truck
CONTAINER_LENGTHS_M = (6.1, 12.2)  # 20 ft and 40 ft
YARD_PARKING_P = 0.4
# bare: an empty lot of soil or gravel
BARE_LOT_KINDS = ("soil", "gravel")
BARE_LOT_BOXES: Count = (0, 5)
BARE_LOT_BOX_SIZE_M = ((2, 7), (1.5, 3), (1, 3))  # length, width, height ranges
BARE_LOT_TREES: Count = (0, 5)

# --- buildings ------------------------------------------------------------------------------
STOREY_HEIGHT_M: Range = (2.9, 3.4)  # a building's height per storey
LOW_RISE_PITCHED_P = 0.6  # a pitched roof on a building of up to 3 storeys
HIGH_RISE_PITCHED_P = 0.15
PITCHED_ROOFS = ("gable", "hip")
ROOF_PITCH_DEG: Range = (25, 40)
ROOF_STAINS: Range = (0, 0.45)  # flat roofs
PARAPET_P = 0.8
PARAPET_HEIGHT_M: Range = (0.25, 0.7)
HVAC_UNITS: Count = (0, 8)
HVAC_SIZE_M = ((1.2, 4.5), (1.0, 3.0))  # length, width ranges
HVAC_HEIGHT_M: Range = (0.8, 2.0)
HVAC_HSV: HSV = (0, 0, (0.55, 0.92))
WATER_TANKS_P = 0.4
WATER_TANKS: Count = (0, 2)
TANK_RADIUS_M: Range = (0.8, 2.0)
TANK_HEIGHT_M: Range = (1.5, 3)
TANK_HSV: HSV = ((0, 360), (0, 0.4), (0.4, 0.9))
SOLAR_P = 0.2
SOLAR_PANEL_HSV: HSV = ((215, 235), 0.5, 0.28)
SKYLIGHTS_P = 0.3
SKYLIGHTS: Count = (0, 4)
SKYLIGHT_SIZE_M = ((1, 3), (1, 3))  # length, width ranges
SKYLIGHT_HSV: HSV = ((180, 220), 0.15, (0.6, 0.95))
# facades (floors are drawn apart from STOREY_HEIGHT_M)
CURTAIN_WALL_P = 0.15  # on buildings of 6 storeys or more
BALCONIES_P = 0.3
FLOOR_SPACING_M: Range = (2.8, 3.6)
BAY_WIDTH_M: Range = (2.4, 4.2)
WINDOW_WIDTH_SHARE: Range = (0.35, 0.7)  # of a bay
WINDOW_HEIGHT_SHARE: Range = (0.35, 0.6)  # of a floor
GLASS_HSV: HSV = ((190, 225), (0.05, 0.35), (0.15, 0.45))
WALL_HSV: tuple[HSV, ...] = (  # one family each, equally likely
    ((25, 50), (0.05, 0.25), (0.6, 0.9)),  # beige, cream
    ((0, 360), (0, 0.05), (0.55, 0.95)),  # white, grey
    ((5, 25), (0.3, 0.6), (0.35, 0.6)),  # brick
    ((0, 360), (0.1, 0.35), (0.5, 0.85)),  # painted
)

# --- vehicles and boxes ---------------------------------------------------------------------
CAR_SIZE_M = ((4.1, 5.0), (1.7, 2.0), (1.4, 1.7))  # length, width, height ranges
TRUCK_SIZE_M = ((7, 12), (2.4, 2.6), (2.8, 3.5))
CAR_COLOURS: tuple[tuple[float, HSV], ...] = (  # (r below which it is chosen, colour), r ~ U(0, 1); else CAR_PAINT
    (0.35, (0, 0, (0.82, 0.97))),  # white
    (0.55, (0, 0, (0.06, 0.16))),  # black
    (0.86, ((0, 360), (0, 0.06), (0.45, 0.7))),  # silver, grey
)
CAR_PAINT = Paint((0, 215, 30, 120), (-12, 12), (0.4, 0.75), (0.3, 0.7))  # red, blue, orange, green
TRUCK_CAR_COLOUR_P = 0.5  # else white or grey
TRUCK_HSV: HSV = (0, 0, (0.7, 0.95))
BOX_HSV: HSV = ((0, 360), (0, 0.5), (0.3, 0.85))  # sheds, kiosks, containers

# --- vegetation -----------------------------------------------------------------------------
TREE_CROWN_RADIUS_M: Range = (2.0, 5.0)
SMALL_TREE_CROWN_RADIUS_M: Range = (1.2, 2.2)  # in planters and on plazas
TREE_HEIGHT_PER_RADIUS: Range = (1.6, 2.8)  # height = crown radius x this + TRUNK_M
TRUNK_M: Range = (1, 4)
FOLIAGE_HSV: HSV = ((70, 135), (0.3, 0.7), (0.16, 0.38))
CROWN_CLUMPS: Count = (5, 11)
CLUMP_SPREAD_SIGMA = 0.35  # of the crown radius
CLUMP_RADIUS_SHARE: Range = (0.35, 0.6)  # of the crown radius

# --- the countryside: fields in strips, a country road, a farm and woods ----------------------
FIELD_STRIP_M: Range = (20, 80)
FIELD_KINDS = ("field", "field", "soil", "meadow", "lawn")  # equally likely (a field twice)
FIELD_ROW_M: Range = (0.5, 1.5)
TREE_LINE_P = 0.4  # along a field's edge
TREE_LINE_SPACING_M: Range = (4, 8)
TREE_LINE_SIGMA_M = (1, 0.8)  # along, across the line
COUNTRY_ROAD_WIDTH_M: Range = (4.5, 7)
COUNTRY_CENTRE_LINE_P = 0.5
COUNTRY_CAR_P = 0.04  # per 9 m of road
FARM_SIZE_M = ((40, 80), (30, 60))  # length, depth ranges
FARM_YARD_P = 0.6  # gravel or soil, else paved
FARM_YARD_KINDS = ("gravel", "soil")
BARN_SIZE_M = ((8, 30), (7, 16))  # length, width ranges
BARN_STOREYS: Count = (1, 2)
BARN_ROOFS = ("gable", "flat")
FARM_TREES: Count = (0, 7)
WOODS: Count = (1, 5)
WOOD_TREES: Count = (3, 14)
WOOD_SPREAD_M = 8.0  # standard deviation around the wood's centre

# --- materials: base colours ----------------------------------------------------------------
SURFACE_HSV: dict[str, HSV] = {  # ground materials (paver kinds: PAVER_HSV)
    "asphalt": ((0, 360), (0, 0.09), (0.2, 0.46)),
    "slabs": ((20, 55), (0, 0.14), (0.48, 0.8)),
    "lawn": ((65, 115), (0.3, 0.65), (0.28, 0.55)),
    "meadow": ((45, 100), (0.25, 0.55), (0.3, 0.55)),
    "soil": ((18, 42), (0.18, 0.5), (0.3, 0.62)),
    "gravel": ((20, 50), (0, 0.12), (0.5, 0.78)),
    "field": ((35, 100), (0.3, 0.6), (0.35, 0.6)),
    "water": ((160, 215), (0.2, 0.55), (0.18, 0.42)),
    "pool": ((178, 200), (0.4, 0.75), (0.6, 0.88)),
}
PAVER_KINDS = ("tiles", "bricks", "cobbles", "checker45")
PAVER_HSV: tuple[HSV, ...] = (  # one family each, equally likely
    ((0, 28), (0.25, 0.55), (0.35, 0.65)),  # red-brown clay
    ((0, 360), (0, 0.08), (0.35, 0.72)),  # grey
    ((28, 48), (0.12, 0.35), (0.45, 0.75)),  # sand, beige
)
TWO_TONE_TILES_P = 0.35  # tiles in a checkerboard of two colours (checker45 always)
SURFACE_STAINS: Range = (0, 0.35)
FALLBACK_GROUND_KINDS = ("meadow", "soil")  # under whatever no surface covers, in the colour of soil
FLAT_ROOF_HSV: dict[str, HSV] = {
    "concrete": ((20, 50), (0, 0.12), (0.45, 0.75)),
    "bitumen": ((0, 360), (0, 0.1), (0.15, 0.35)),
    "gravel": ((20, 45), (0.02, 0.15), (0.5, 0.8)),
    "membrane": ((0, 360), (0, 0.06), (0.72, 0.95)),
    "metal": ((0, 360), (0, 0.1), (0.5, 0.85)),
    "painted": ((0, 360), (0.3, 0.6), (0.45, 0.75)),
}
CORRUGATED_PAINT = Paint((5, 120, 205, 215), (-10, 10), (0.35, 0.7), (0.4, 0.75))  # red, green, blues
CLAY_TILES_P = 0.6  # pitched roofs: clay, else slate
CLAY_TILES_HSV: HSV = ((5, 25), (0.4, 0.7), (0.35, 0.65))
SLATE_HSV: HSV = ((180, 230), (0.02, 0.2), (0.22, 0.5))


# --- drawing from the ranges ----------------------------------------------------------------
def pick(rng: np.random.Generator, weighted: tuple[tuple[str, float], ...]) -> str:
    """One name from ``((name, weight), ...)``."""
    names, weights = zip(*weighted)
    p = np.array(weights, float)
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def count(rng: np.random.Generator, n: Count) -> int:
    """A whole number in ``n`` = (lo, hi), both included."""
    return int(rng.integers(n[0], n[1] + 1))


def uniform_each(rng: np.random.Generator, ranges: tuple[Range, ...]) -> tuple[float, ...]:
    """One uniform draw from each range, in order (e.g. a length, a width and a height)."""
    return tuple(rng.uniform(*r) for r in ranges)
