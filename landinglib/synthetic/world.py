"""What ``city.build_world`` lays out, in metres (x east, y south, z up): ground surfaces, road
markings, prisms (buildings, vehicles, sheds: a footprint and a height) and trees; and ``Block``,
a rectangle of the street grid that the block fillers build on. ``render`` reads these."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from .specs import BodySpec, FacadeSpec, RoofSpec, SurfaceSpec, WallSpec


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
class Block:
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
