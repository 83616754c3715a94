"""The three taxonomies of the course, their palettes, and colour <-> index codecs.

Facts (from the datasets' own documentation; the on-disk layouts are in data/README.md):

* DroneDeploy labels are colour PNGs with seven label values, palette given as **BGR**.
  Value 0 (IGNORE, magenta) is "unlabelled": it is not learnt, the loss ignores it (255).
  The six learnable classes keep the official order: Building 0, Clutter 1, Vegetation 2,
  Water 3, Ground 4, Car 5.
* UDD6 has six classes with an RGB palette; label PNGs hold indices or colours.
* The landing taxonomy has four classes; UDD6 maps onto it with ``UDD6_TO_LANDING``.

All palettes below are stored as RGB (the order images have after ``cv2.cvtColor(BGR2RGB)``).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

IGNORE_INDEX = 255
"""Mask value that the loss and the metrics skip."""

IGNORE_COLOR = (128, 128, 128)
"""RGB colour used to draw ignored pixels in colour masks made for people."""


@dataclass(frozen=True)
class Taxonomy:
    """A list of classes with display names and RGB colours (index i = class i)."""

    name: str
    names: tuple[str, ...]
    colors: tuple[tuple[int, int, int], ...]

    def __len__(self) -> int:
        return len(self.names)

    @property
    def num_classes(self) -> int:
        return len(self.names)

    def palette(self) -> np.ndarray:
        """(256, 3) uint8 lookup table: class index -> RGB, 255 and unused -> IGNORE_COLOR."""
        lut = np.tile(np.array(IGNORE_COLOR, np.uint8), (256, 1))
        lut[: len(self.colors)] = np.array(self.colors, np.uint8)
        return lut


def _bgr_to_rgb(colors):
    return tuple((r, g, b) for (b, g, r) in colors)


# --- DroneDeploy -----------------------------------------------------------------------
DRONEDEPLOY_LABEL_NAMES = ("IGNORE", "BUILDING", "CLUTTER", "VEGETATION", "WATER", "GROUND", "CAR")
DRONEDEPLOY_LABEL_COLORS_BGR = (
    (255, 0, 255),
    (75, 25, 230),
    (180, 30, 145),
    (75, 180, 60),
    (48, 130, 245),
    (255, 255, 255),
    (200, 130, 0),
)
DRONEDEPLOY_FRIENDLY_NAMES = ("Background", "Building", "Other", "Trees", "Pool", "Road", "Car")
"""The course's friendly names for the seven label values (IGNORE->Background, ...)."""

DRONEDEPLOY_LABELS = Taxonomy(
    "dronedeploy-labels", DRONEDEPLOY_LABEL_NAMES, _bgr_to_rgb(DRONEDEPLOY_LABEL_COLORS_BGR)
)
"""The seven label values as they appear in the label PNGs (value 0 = IGNORE)."""

DRONEDEPLOY = Taxonomy(
    "dronedeploy",
    ("Building", "Clutter", "Vegetation", "Water", "Ground", "Car"),
    DRONEDEPLOY_LABELS.colors[1:],
)
"""The six learnable classes of stage 1 (label value v -> class v - 1; IGNORE -> 255)."""

DRONEDEPLOY_LABEL_TO_TRAIN = np.full(256, IGNORE_INDEX, np.uint8)
DRONEDEPLOY_LABEL_TO_TRAIN[1:7] = np.arange(6)

# --- UDD6 ------------------------------------------------------------------------------
UDD6 = Taxonomy(
    "udd6",
    ("Other", "Facade", "Road", "Vegetation", "Vehicle", "Roof"),
    ((0, 0, 0), (102, 102, 156), (128, 64, 128), (107, 142, 35), (0, 0, 142), (70, 70, 70)),
)

# --- Landing ---------------------------------------------------------------------------
LANDING = Taxonomy(
    "landing",
    ("Background", "Safe", "Caution", "Danger"),
    ((60, 60, 60), (40, 200, 80), (250, 200, 40), (230, 40, 40)),
)

UDD6_TO_LANDING = np.full(256, IGNORE_INDEX, np.uint8)
"""(256,) uint8 lookup table: UDD6 index -> landing index, 255 stays 255."""
UDD6_TO_LANDING[:6] = (0, 3, 1, 2, 3, 2)  # Other, Facade, Road, Vegetation, Vehicle, Roof

DRONEDEPLOY_TO_LANDING = np.full(256, IGNORE_INDEX, np.uint8)
"""(256,) lookup table: stage-1 class -> landing class, for scoring a stage-1 model on landing
classes (Building, Vegetation -> Caution; Ground -> Safe; Car -> Danger; Clutter, Water -> Background)."""
DRONEDEPLOY_TO_LANDING[:6] = (2, 0, 2, 0, 1, 3)



# --- codecs ----------------------------------------------------------------------------
class UnknownColorWarning(UserWarning):
    """A label image holds colours that are in no palette (a data error)."""


@lru_cache(maxsize=8)
def _color_lut(colors: tuple[tuple[int, int, int], ...]) -> np.ndarray:
    """(2**24,) uint8 table: packed RGB -> class index, 255 for unknown colours."""
    lut = np.full(1 << 24, IGNORE_INDEX, np.uint8)
    for index, (r, g, b) in enumerate(colors):
        lut[(r << 16) | (g << 8) | b] = index
    return lut


def colors_to_index(
    rgb: np.ndarray, taxonomy: Taxonomy, source: str | None = None
) -> tuple[np.ndarray, int]:
    """Decode a colour label.

    rgb: (H, W, 3) uint8 in RGB order. Returns ``(mask, n_unknown)`` with ``mask`` (H, W)
    uint8 class indices and 255 where the colour is in no palette. Unknown colours are a data
    error: when there are any, an ``UnknownColorWarning`` names ``source`` and the count.
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB label, got {rgb.shape} {rgb.dtype}")
    packed = (rgb[..., 0].astype(np.int32) << 16) | (rgb[..., 1].astype(np.int32) << 8) | rgb[..., 2]
    mask = _color_lut(taxonomy.colors)[packed]
    unknown = mask == IGNORE_INDEX
    n_unknown = int(np.count_nonzero(unknown))
    if n_unknown:
        example = tuple(int(c) for c in rgb[unknown][0])
        warnings.warn(
            f"{source or 'label'}: {n_unknown} pixel{'s' if n_unknown > 1 else ''} with colours outside the {taxonomy.name} "
            f"palette (e.g. RGB {example}) mapped to ignore (255)",
            UnknownColorWarning,
            stacklevel=2,
        )
    return mask, n_unknown


def index_to_colors(mask: np.ndarray, taxonomy: Taxonomy) -> np.ndarray:
    """Colour a mask: (H, W) integer class indices -> (H, W, 3) uint8 RGB; 255 -> grey."""
    if mask.min(initial=0) < 0 or mask.max(initial=0) > 255:
        raise ValueError("mask values must lie in 0..255")
    return taxonomy.palette()[mask.astype(np.uint8)]


def remap(mask: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """Map a mask through a (256,) lookup table (e.g. ``UDD6_TO_LANDING``); keeps uint8."""
    return lut[mask.astype(np.uint8)]
