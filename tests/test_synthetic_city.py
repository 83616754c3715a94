"""Laying out a world (``landinglib.synthetic.city``): every district covers its whole extent."""
import cv2
import numpy as np
import pytest

from landinglib.synthetic import styles
from landinglib.synthetic.city import build_world

DISTRICTS = ("urban", "suburban", "industrial", "rural")


@pytest.mark.parametrize("district", DISTRICTS)
def test_districts_are_built_everywhere(district):
    """Every metre of the world is a surface of the district: no strip of bare fallback ground."""
    for seed in range(3):
        for extent in ((-60, -40, 60, 40), (-200, -120, 200, 120)):
            w = build_world(extent, district, styles.UDD6_STYLE, np.random.default_rng(seed))
            x0, y0, x1, y1 = extent
            covered = np.zeros((y1 - y0, x1 - x0), np.uint8)  # 1 px per metre
            for poly, _ in w.surfaces:
                pts = np.round((poly - [x0, y0]) * 16).astype(np.int32).reshape(-1, 1, 2)
                cv2.fillPoly(covered, [pts], 1, shift=4)
            assert covered.mean() > 0.98, (seed, extent, covered.mean())
