"""How the world's things look: the specs ``builder`` writes and ``textures``, ``maps`` and ``projection`` read.

Colours are RGB float32 in 0..255, lengths metres, angles radians unless a name says otherwise.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .styles import SOIL


class _ReadByName:
    """``spec["kind"]`` reads ``spec.kind``: for callers that still read specs as the dicts they were."""

    def __getitem__(self, name: str):
        return getattr(self, name)


@dataclass(frozen=True)
class SurfaceSpec(_ReadByName):
    """A ground material laid on a polygon: what it is, its colours and its wear."""

    kind: str  # "asphalt", "slabs", "tiles", "bricks", "checker45", "cobbles", "lawn", "meadow", ...
    rgb: np.ndarray
    code: int = SOIL  # semantic code of the ground it makes
    angle: float = 0.0  # direction of joints, mowing stripes and field rows
    salt: int = 1  # seed of the per-tile colour variation
    stains: float = 0.0  # how much dirty patches darken it (0..1)
    two_tone: bool = False  # tiles: ``rgb`` and ``rgb2`` in a checkerboard
    rgb2: np.ndarray | None = None  # the second tile colour; a field's soil between the rows
    stripe: float | None = None  # lawn: mowing stripe width; field: row spacing (m); None: the kind's default


@dataclass(frozen=True)
class RoofSpec(_ReadByName):
    """A building's roof: a flat material with what stands on it, or a pitched tile roof."""

    shape: str  # "flat", "gable" or "hip"
    material: str  # flat: one of styles.FLAT_ROOFS or UNSEEN_FLAT_ROOFS; pitched: "tiles"
    rgb: np.ndarray
    salt: int = 0  # a per-roof seed (drawn for every roof; no texture reads it yet)
    stains: float = 0.0  # how much dirty patches darken a flat roof (0..1)
    pitch: float = 30.0  # slope of a pitched roof, degrees
    parapet: float = 0.0  # height of the raised rim of a flat roof; 0: none
    parapet_rgb: np.ndarray | None = None
    hvac: int = 0  # air-conditioning units
    tanks: int = 0  # water tanks
    solar: bool = False  # rows of solar panels
    skylights: int = 0


@dataclass(frozen=True)
class BodySpec(_ReadByName):
    """The top of a vehicle or a box: one colour (a vehicle also gets its windows)."""

    rgb: np.ndarray
    big: bool = False  # a truck or van: one windscreen, no rear window


@dataclass(frozen=True)
class WallSpec(_ReadByName):
    """The plain sides of a vehicle or a box."""

    rgb: np.ndarray


@dataclass(frozen=True)
class FacadeSpec(_ReadByName):
    """A building's walls: a colour, floors and bays of windows, or a glass curtain wall."""

    rgb: np.ndarray
    glass: np.ndarray
    floor_height: float  # metres between the floors drawn on the wall
    bay_width: float  # metres between window centres
    window_width: float  # share of a bay
    window_height: float  # share of a floor
    curtain: bool  # a glass curtain wall with mullions instead of windows
    balconies: bool
