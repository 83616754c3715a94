"""From a ``World`` and a ``Camera`` to an image and its label, pixel for pixel (``draw``).

1. *Maps* (``maps``, top view, metres -> px): the ground's albedo and semantic codes, road
   markings, and a *roof layer* with every roof, car top and box top painted at its footprint.
2. *Light* (``lighting``): a sun (elevation, azimuth, colour) and a sky; cast shadows
   (``shadows``) are polygons swept along the sun on the ground and on lower roofs.
3. *Projection* (``projection``): the ground map and each roof are warped by the homography of
   their plane; walls are textured quads; trees are clusters of lit crowns; nearer things are
   painted last. Sky fills what no ray of the ground reaches; haze grows with distance.
4. *The camera's look* (``sensor.develop``, applied after ``draw``): exposure, white balance,
   vignetting, lens distortion, blur, sensor noise, JPEG. None of these moves a label; the lens
   distortion warps both.
"""
from __future__ import annotations

import numpy as np

from .camera import Camera
from .lighting import Light
from .maps import GroundMap, ground_layer, noise_fields, roof_layer
from .projection import project
from .shadows import apply_light, cast_shadows
from .world import World


def draw(world: World, cam: Camera, light: Light, extent, ppm: float,
         rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Maps of ``world`` over ``extent`` at ``ppm``, lit and shadowed, seen through ``cam``: image
    (H, W, 3) float32, semantic (H, W) uint8, height (H, W) float32 (before ``develop``)."""
    m = GroundMap(extent, ppm)
    fields = noise_fields(m, rng)
    albedo, ground_sem = ground_layer(world, m, fields, rng)
    roofs = roof_layer(world, m, fields, rng, light)
    ground_shadow, roof_shadow = cast_shadows(world, m, light)
    return project(world, cam, m, apply_light(albedo, ground_shadow, light), ground_sem,
                   apply_light(roofs, roof_shadow, light), light, rng)
