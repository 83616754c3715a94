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

    def __post_init__(self) -> None:
        if len(self.colors) != len(self.names):
            raise ValueError(f"{self.name}: {len(self.names)} class names but {len(self.colors)} colours")
        for name, color in zip(self.names, self.colors):
            if len(color) != 3 or not all(0 <= int(c) <= 255 for c in color):
                raise ValueError(f"{self.name}: the colour of {name}, {tuple(color)}, is not three values 0-255")

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

BACKGROUND, SAFE, CAUTION, DANGER = range(4)
"""The landing classes by index."""

UDD6_TO_LANDING = np.full(256, IGNORE_INDEX, np.uint8)
"""(256,) uint8 lookup table: UDD6 index -> landing index, 255 stays 255."""
UDD6_TO_LANDING[:6] = (0, 3, 1, 2, 3, 2)  # Other, Facade, Road, Vegetation, Vehicle, Roof

DRONEDEPLOY_TO_LANDING = np.full(256, IGNORE_INDEX, np.uint8)
"""(256,) lookup table: stage-1 class -> landing class, for scoring a stage-1 model on landing
classes (Building, Vegetation -> Caution; Ground -> Safe; Car -> Danger; Clutter, Water -> Background)."""
DRONEDEPLOY_TO_LANDING[:6] = (2, 0, 2, 0, 1, 3)



# --- Aerial (stage 0) ------------------------------------------------------------------
AERIAL = Taxonomy(
    "aerial",
    ("Soil", "Grass", "Tree", "Road", "Roof", "Facade", "Car", "Water", "Clutter", "Sky"),
    ((150, 110, 70), (150, 220, 90), (35, 120, 35), (128, 64, 128), (70, 70, 70), (102, 102, 156), (0, 0, 142),
     (40, 130, 240), (180, 30, 145), (135, 205, 235)),
)
"""Stage 0's ten classes: what the built-in world is made of ("a Cityscapes of the air", see ``pretrain``).
Road covers all paved ground (streets, squares, parking), Roof every roof, Facade every wall."""


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


# --- your own classes ------------------------------------------------------------------
LANDING_CHOICES = {**{n.lower(): i for i, n in enumerate(LANDING.names)}, "ignore": IGNORE_INDEX}
"""Landing values a class file may give: Background, Safe, Caution, Danger, or ignore (not learnt)."""


@dataclass(frozen=True)
class ClassFile:
    """The classes of your own dataset, read by ``read_class_file``: the ``taxonomy`` (names and
    RGB colours, index = class value in index labels) and ``to_landing`` (a (256,) lookup table
    to landing classes, 255 = ignore), which is None when the file gives no landing column."""

    taxonomy: Taxonomy
    to_landing: np.ndarray | None
    path: str


def read_class_file(path) -> ClassFile:
    """Read a class file: CSV with a header (``name``, ``r``, ``g``, ``b`` and optionally
    ``landing`` and ``index``; ``class`` is accepted for ``name``) or JSON (a list of objects with
    ``name``, ``color`` [r, g, b] and optionally ``landing`` and ``index``, or ``{"classes": [...]}``).
    Rows are classes in index order unless an ``index`` is given; ``landing`` is one of Background,
    Safe, Caution, Danger or ignore (any case). Mistakes are reported with the file and the row."""
    import csv
    import json
    from pathlib import Path

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"class file not found: {path}")
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".json":
        data = json.loads(text)
        rows = data["classes"] if isinstance(data, dict) else data
        rows = [{**r, **({"r": r["color"][0], "g": r["color"][1], "b": r["color"][2]} if "color" in r else {})}
                for r in rows]
    else:
        reader = csv.DictReader(text.splitlines(), skipinitialspace=True)
        rows = []
        for number, row in enumerate(reader, 1):
            if None in row:  # DictReader keeps the cells beyond the header's columns under None
                raise ValueError(f"{path}, class {number}: {len(reader.fieldnames) + len(row[None])} cells, but the "
                                 f"header names {len(reader.fieldnames)} columns ({', '.join(reader.fieldnames)})")
            rows.append({k.strip().lower(): (v or "").strip() for k, v in row.items()})
    names, colors, landing, indices = [], [], [], []
    for number, row in enumerate(rows, 1):
        where = f"{path}, class {number}"
        name = row.get("name", row.get("class"))
        if not name:
            raise ValueError(f"{where}: no name (columns: name, r, g, b[, landing][, index])")
        try:
            color = tuple(int(row[k]) for k in ("r", "g", "b"))
        except (KeyError, ValueError, TypeError):
            raise ValueError(f"{where} ({name}): r, g, b must be integers 0-255") from None
        if not all(0 <= c <= 255 for c in color):
            raise ValueError(f"{where} ({name}): colour {color} is outside 0-255")
        value = str(row.get("landing", "") or "").strip().lower()
        if value and value not in LANDING_CHOICES:
            raise ValueError(f"{where} ({name}): landing {row.get('landing')!r} is not one of "
                             f"{', '.join(LANDING.names)} or ignore")
        names.append(str(name))
        colors.append(color)
        landing.append(LANDING_CHOICES[value] if value else None)
        indices.append(int(row["index"]) if str(row.get("index", "")).strip() else number - 1)
    if not names:
        raise ValueError(f"{path} lists no classes")
    if sorted(indices) != list(range(len(names))):
        raise ValueError(f"{path}: class indices must be 0..{len(names) - 1}, each once; got {sorted(indices)}")
    if len(names) > 255:
        raise ValueError(f"{path}: at most 255 classes (255 means ignore), got {len(names)}")
    order = np.argsort(indices)
    colors = [colors[i] for i in order]
    duplicates = {c for c in colors if colors.count(c) > 1}
    if duplicates:
        raise ValueError(f"{path}: colour {sorted(duplicates)[0]} is given to more than one class")
    lut = None
    if any(v is not None for v in landing):
        missing = [names[i] for i in order if landing[i] is None]
        if missing:
            raise ValueError(f"{path}: no landing class for {', '.join(missing)} (every class needs one, or none)")
        lut = np.full(256, IGNORE_INDEX, np.uint8)
        lut[: len(names)] = [landing[i] for i in order]
    taxonomy = Taxonomy(path.stem, tuple(names[i] for i in order), tuple(colors))
    return ClassFile(taxonomy, lut, str(path))
