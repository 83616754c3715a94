"""How each thing of the world is made (``landinglib.synthetic.builder``): held-out families stay held out,
paved ground is Road, and vehicles and trees are built only where the camera looks."""
import functools

import cv2
import numpy as np
import pytest

from landinglib import synthetic
from landinglib.synthetic import builder, city, styles

DISTRICTS = ("urban", "suburban", "industrial", "rural")


@functools.lru_cache(maxsize=None)
def world(style_name, district, seed, extent=(-150, -100, 150, 100)):
    return city.build_world(extent, district, synthetic.STYLES[style_name], np.random.default_rng(seed))


def worlds(style_name, seeds=range(3)):
    return [(d, seed, world(style_name, d, seed)) for d in DISTRICTS for seed in seeds]


# --- held-out families stay held out --------------------------------------------------------
@pytest.mark.parametrize("style,allowed,forbidden", [
    ("udd6", styles.PAVEMENTS, styles.UNSEEN_PAVEMENTS),
    ("dronedeploy", styles.PAVEMENTS, styles.UNSEEN_PAVEMENTS),
    ("udd6-unseen", styles.UNSEEN_PAVEMENTS, styles.PAVEMENTS[1:]),
])
def test_held_out_pavements_stay_held_out(style, allowed, forbidden):
    kinds = set()
    for district, seed, w in worlds(style):
        for _, spec in w.surfaces:
            if spec["code"] == synthetic.ROAD:
                assert spec["kind"] == "asphalt" or spec["kind"] in allowed, (district, seed, spec["kind"])
                assert spec["kind"] not in forbidden
                kinds.add(spec["kind"])
    assert kinds - {"asphalt"}, "the style's own pavements are used"


def test_held_out_flat_roofs_stay_held_out():
    def flat_roofs(style):
        return {p.roof["material"] for _, _, w in worlds(style) for p in w.prisms
                if p.code == synthetic.ROOF and p.roof["shape"] == "flat"}

    for style in ("udd6", "dronedeploy"):
        used = flat_roofs(style)
        assert used and used <= set(styles.FLAT_ROOFS) and not used & set(styles.UNSEEN_FLAT_ROOFS)
    assert flat_roofs("udd6-unseen") & set(styles.UNSEEN_FLAT_ROOFS)


# --- Road is all paved ground -------------------------------------------------------------
def test_paved_plazas_and_courtyards_are_road_in_the_world():
    paved = 0
    for _, _, w in worlds("udd6"):
        for _, spec in w.surfaces:
            if spec["kind"] in styles.PAVEMENTS + styles.UNSEEN_PAVEMENTS:
                assert spec["code"] == synthetic.ROAD, spec["kind"]
                paved += spec["kind"] != "asphalt"
    assert paved


def test_vehicles_and_trees_are_only_built_where_the_camera_looks():
    extent = (-150.0, -150.0, 150.0, 150.0)
    view = np.array([[-40, -30], [40, -30], [40, 30], [-40, 30]], np.float32)  # the ground a camera sees
    everywhere = city.build_world(extent, "urban", styles.UDD6_STYLE, np.random.default_rng(4))
    in_view = city.build_world(extent, "urban", styles.UDD6_STYLE, np.random.default_rng(4),
                               detail=((0.0, 0.0), 500.0, view))
    small = [p.footprint.mean(0) for p in in_view.prisms if p.code == synthetic.CAR] + [t[:2] for t in in_view.trees]
    margin = [cv2.pointPolygonTest(view, (float(x), float(y)), True) for x, y in small]
    assert small and min(margin) >= -builder.DETAIL_MARGIN_M
    outside = [p for p in everywhere.prisms if p.code == synthetic.CAR
               and cv2.pointPolygonTest(view, tuple(map(float, p.footprint.mean(0))), True) < -builder.DETAIL_MARGIN_M]
    assert outside  # without an outline, cars are built all over the world
    assert sum(p.code == synthetic.ROOF for p in in_view.prisms) > 0  # buildings are kept everywhere
