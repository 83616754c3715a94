"""The built-in world: procedural drone imagery, written in the real DroneDeploy and UDD6 layouts.

``render_scene`` (``scene``) draws one frame in three steps, each its own module or group of modules:

* ``city``: a world in metres (``world``: surfaces, markings, buildings, vehicles, sheds, trees) —
  a street grid (``streets``) whose blocks (``blocks``) are perimeter blocks around courtyards,
  towers on plazas, parking lots, parks, houses with gardens or industrial yards, or the
  countryside's fields and farms (``rural``); ``builder`` makes each thing and draws its looks;
* ``camera``: a drone camera (nadir, oblique, or tilted up to the horizon) or the orthographic
  camera of an orthomosaic;
* ``render``: ground and roof maps with textured materials (``maps``, ``textures``), the sun
  (``lighting``) and cast shadows (``shadows``), true perspective with walls, roofs displaced by
  their height, sky and haze (``projection``), then the camera's own look (``sensor``).

Every draw comes from wide ranges (``styles``: domain randomisation; ``specs``: how a drawn thing
looks); the semantic map is painted with the same polygons and warps as the image, so labels stay
aligned under every effect. ``write`` puts frames on disk in the real layouts with the real palettes
(``generate``, ``ensure_builtin``, ``write_semantic_drone_layout``), drawn by worker processes
(``pool``), once, then reused (``cache``).

Everything is seeded: the same seed writes byte-identical files.
"""
from __future__ import annotations

from .cache import FORMAT_VERSION
from .camera import make_camera
from .pool import generation_workers, pool_map
from .scene import Scene, render_scene, swatch
from .styles import (CAR, CLUTTER, DRONEDEPLOY_STYLE, FACADE, GRASS, NODATA, ROAD, ROOF, SEMANTIC_NAMES,
                     SEMANTIC_TO_DRONEDEPLOY, SEMANTIC_TO_UDD6, SKY, SOIL, STYLES, TREE, UDD6_STYLE,
                     UDD6_UNSEEN_STYLE, WATER, Style)
from .write import (FAST_SETTINGS, FRAME_COUNTS, SEMANTIC_TO_SEMANTIC_DRONE, ensure_builtin, generate,
                    write_semantic_drone_layout)

__all__ = [
    "Scene", "render_scene", "swatch", "make_camera",
    "generate", "ensure_builtin", "write_semantic_drone_layout", "FAST_SETTINGS", "FRAME_COUNTS", "FORMAT_VERSION",
    "pool_map", "generation_workers",
    "Style", "STYLES", "DRONEDEPLOY_STYLE", "UDD6_STYLE", "UDD6_UNSEEN_STYLE",
    "SEMANTIC_NAMES", "SEMANTIC_TO_DRONEDEPLOY", "SEMANTIC_TO_UDD6", "SEMANTIC_TO_SEMANTIC_DRONE",
    "SOIL", "GRASS", "TREE", "ROAD", "ROOF", "FACADE", "CAR", "WATER", "CLUTTER", "NODATA", "SKY",
]
