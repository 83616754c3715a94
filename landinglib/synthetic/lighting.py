"""Light: a sun (elevation, azimuth, colour), the light of the sky in shadow, and haze, drawn from one of
the style's lightings (their ranges: ``styles.LIGHT_RANGES``)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import styles as st
from . import textures as tx
from .styles import Style


@dataclass
class Light:
    """The light of one scene: the sun, the sky's light in shadow, and the haze."""

    kind: str
    elevation: float  # radians
    azimuth: float  # radians; the direction the sun shines *from*
    sun_rgb: np.ndarray  # multiplier of lit surfaces
    shadow: float  # brightness of shadow relative to sun (0..1)
    shadow_rgb: np.ndarray  # tint of shadow (blue sky light)
    haze_rgb: np.ndarray
    visibility: float  # metres

    @property
    def shadow_vector(self) -> np.ndarray:
        """Ground offset of a shadow per metre of height (points away from the sun)."""
        return -np.array([math.cos(self.azimuth), math.sin(self.azimuth)]) / math.tan(self.elevation)


def make_light(style: Style, rng: np.random.Generator) -> Light:
    """A random light of one of ``style``'s lightings (its ranges: ``styles.LIGHT_RANGES``)."""
    kind = style.lightings[int(rng.integers(len(style.lightings)))]
    r, u = st.LIGHT_RANGES[kind], rng.uniform
    warm = u(*r.warmth)
    sun = np.array([1 + warm, 1.0, 1 - 1.3 * warm], np.float32) * (u(*r.strength) if r.strength else 1.0)
    shadow_rgb = np.array(r.shadow_tint, np.float32)
    haze = tx.random_hsv(rng, r.haze_hsv)
    return Light(kind, math.radians(u(*r.sun_elevation_deg)), u(*st.SUN_AZIMUTH_RAD), sun, u(*r.shadow), shadow_rgb,
                 haze, u(*r.visibility_m))
