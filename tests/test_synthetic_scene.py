"""What a scene shows (``landinglib.synthetic.scene``): the same frame for the same seed, the things of each
view and district, labels aligned with the image under every effect, filled info, legible classes, swatches.

Frames are small and cached: several tests look at the same frames (never modify them).
"""
import functools

import cv2
import numpy as np
import pytest

from landinglib import classes, synthetic
from landinglib.synthetic import styles

FRAME = (270, 512)
DISTRICTS = ("urban", "suburban", "industrial", "rural")
GROUND = (synthetic.SOIL, synthetic.GRASS, synthetic.ROAD, synthetic.WATER)
SEEDS = (0, 1)
VIEWS = ("nadir", "oblique", "horizon")


@functools.lru_cache(maxsize=None)
def scene(style, seed, view=None, district=None, lighting=None, size=FRAME):
    """A rendered scene, cached: several tests look at the same frames (never modify them)."""
    return synthetic.render_scene(style, seed, size, view=view, district=district, lighting=lighting)


def _share(sems, code) -> float:
    return float(np.mean([np.mean(s == code) for s in sems]))


def urban(style, seed, view):
    """The urban frames most tests below look at: every view of a few seeds (cached)."""
    return scene(style, seed, view=view, district="urban")


def orthomosaics():
    return [scene("dronedeploy", (1, i), district=d, size=(384, 384)) for i, d in enumerate(DISTRICTS)]


# --- frames ------------------------------------------------------------------------------------
def test_same_seed_renders_identical_scenes():
    a = synthetic.render_scene("udd6-unseen", 11, (135, 256))
    b = synthetic.render_scene("udd6-unseen", 11, (135, 256))
    assert all(np.array_equal(x, y) for x, y in zip(a[:3], b[:3])) and a.info == b.info


def test_scenes_contain_the_expected_things():
    dd = [s.semantic for s in orthomosaics()]
    ud = [urban("udd6", seed, view).semantic for seed in SEEDS for view in VIEWS]
    for code in (synthetic.GRASS, synthetic.ROAD, synthetic.ROOF, synthetic.TREE, synthetic.CAR):
        assert _share(dd, code) > 0.001 and _share(ud, code) > 0.001, synthetic.SEMANTIC_NAMES[code]
    assert _share(dd, synthetic.NODATA) > 0 and _share(ud, synthetic.NODATA) == 0


@pytest.mark.parametrize("style", ["udd6", "udd6-unseen"])
def test_nadir_views_show_no_sky(style):
    for seed in SEEDS:
        s = urban(style, seed, "nadir")
        assert s.info["view"] == "nadir" and not (s.semantic == synthetic.SKY).any()


@pytest.mark.parametrize("style", ["udd6", "udd6-unseen"])
def test_horizon_views_show_sky_on_top_and_ground_below(style):
    for seed in SEEDS:
        sem = urban(style, seed, "horizon").semantic
        sky = sem == synthetic.SKY
        assert sky[:3].mean() > 0.8, seed  # the top rows are (almost all) sky
        assert not sky[-sem.shape[0] // 3:].any(), seed  # the lower third is all below the horizon
        assert np.all(np.diff(sky.mean(1)) <= 0.02), seed  # sky thins out from the top down: one horizon


def test_perspective_urban_views_show_facades():
    oblique = [urban("udd6", seed, "oblique").semantic for seed in SEEDS]
    nadir = [urban("udd6", seed, "nadir").semantic for seed in SEEDS]
    horizon = [urban(style, seed, "horizon").semantic for style in ("udd6", "udd6-unseen") for seed in SEEDS]
    assert _share(oblique, synthetic.FACADE) > 0.005
    assert _share(oblique, synthetic.FACADE) > _share(nadir, synthetic.FACADE)  # straight down: mostly roofs
    assert _share(horizon, synthetic.FACADE) > 0.05


def test_orthomosaics_show_no_facades_and_no_sky():
    for s in orthomosaics():
        assert s.info["view"] == "nadir" and s.info["tilt_deg"] == 0
        assert not np.isin(s.semantic, [synthetic.FACADE, synthetic.SKY]).any(), s.info["district"]
        assert (s.semantic == synthetic.NODATA).any()  # an orthomosaic's footprint has a border
        assert (s.image[s.semantic == synthetic.NODATA] == 0).all()


# --- labels are aligned with the image ---------------------------------------------------------
def _gradient(image: np.ndarray) -> np.ndarray:
    g = image.astype(np.float32)
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)
    return np.sqrt((gx**2 + gy**2).sum(-1))


def edge_profile(frames, axis: int, shifts=range(-4, 5)) -> np.ndarray:
    """Mean image gradient on the label boundaries across ``axis`` (1: x, 0: y), with the
    boundary mask moved by each of ``shifts`` pixels: aligned labels peak at shift 0."""
    values = [[] for _ in shifts]
    for image, sem in frames:
        grad = _gradient(image)
        change = np.diff(sem.astype(np.int16), axis=axis) != 0
        boundary = np.zeros(sem.shape, bool)  # the pixels on both sides of a label change
        if axis == 1:
            boundary[:, 1:] |= change
            boundary[:, :-1] |= change
        else:
            boundary[1:] |= change
            boundary[:-1] |= change
        m = max(abs(k) for k in shifts) + 1
        boundary[:m], boundary[-m:], boundary[:, :m], boundary[:, -m:] = False, False, False, False
        for i, k in enumerate(shifts):
            values[i].append(np.roll(grad, -k, axis=axis)[boundary])
    return np.array([np.concatenate(v).mean() for v in values])


def assert_aligned(frames) -> None:
    for axis in (1, 0):
        profile = edge_profile(frames, axis)  # shifts -4..4
        assert profile.argmax() == 4, (axis, profile.round(1))
        assert profile[4] > 1.15 * max(profile[1], profile[7]), (axis, profile.round(1))  # vs 3 px off


@pytest.mark.parametrize("style", ["udd6", "udd6-unseen"])  # udd6-unseen: barrel lens distortion too
def test_labels_stay_aligned_with_image_edges_under_every_effect(style):
    """Perspective, walls, trees, blur, noise, JPEG and the lens: image edges sit on label edges."""
    frames = [urban(style, seed, view)[:2] for seed in SEEDS for view in VIEWS]
    assert sum(len(np.unique(sem)) > 1 for _, sem in frames) >= 4
    assert_aligned(frames)


def test_facade_pixels_look_like_walls_not_sky():
    """Walls show floors and windows in their own colours; the sky is smooth."""
    def inner(mask):
        return cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0

    checked = 0
    for style in ("udd6", "udd6-unseen"):
        for seed in SEEDS:
            s = urban(style, seed, "horizon")
            facade, sky = inner(s.semantic == synthetic.FACADE), inner(s.semantic == synthetic.SKY)
            if facade.sum() < 300 or sky.sum() < 300:
                continue
            img = s.image.astype(np.float32)
            assert np.abs(img[facade].mean(0) - img[sky].mean(0)).max() > 20, (style, seed)
            grey = cv2.cvtColor(s.image, cv2.COLOR_RGB2GRAY).astype(np.float32)
            texture = np.abs(cv2.Laplacian(grey, cv2.CV_32F))
            assert texture[facade].mean() > 3 * texture[sky].mean(), (style, seed)
            checked += 1
    assert checked >= 3


# --- Road is all paved ground -------------------------------------------------------------
def test_paved_plazas_and_courtyards_are_road_in_the_frames():
    frames = [urban("udd6", seed, view).semantic for seed in SEEDS for view in VIEWS]
    road = sum((f == synthetic.ROAD).sum() for f in frames)
    ground = sum(np.isin(f, GROUND).sum() for f in frames)
    assert road > 0.2 * ground
    assert sum((f == synthetic.ROOF).any() for f in frames) >= 2
    udd6 = dict(zip(classes.UDD6.names, range(6)))
    assert synthetic.SEMANTIC_TO_UDD6[synthetic.ROAD] == udd6["Road"]
    assert synthetic.SEMANTIC_TO_UDD6[synthetic.SKY] == udd6["Other"]
    assert synthetic.SEMANTIC_TO_UDD6[synthetic.ROOF] == udd6["Roof"]
    assert synthetic.SEMANTIC_TO_UDD6[synthetic.FACADE] == udd6["Facade"]


# --- info and learnability --------------------------------------------------------------------
@pytest.mark.parametrize("style", ["udd6", "udd6-unseen"])
def test_info_fields_are_filled(style):
    st = synthetic.STYLES[style]
    for seed in SEEDS:
        tilt = {}
        for view in VIEWS:
            info = urban(style, seed, view).info
            assert info["style"] == style and info["view"] == view and info["district"] == "urban"
            assert info["lighting"] in st.lightings and 0 < info["sun_elevation_deg"] < 90
            assert info["altitude_m"] >= 18 and info["gsd_m"] > 0
            tilt[view] = info["tilt_deg"]
        assert tilt["nadir"] <= 8 < 15 <= tilt["oblique"] <= 50 < tilt["horizon"] < 90
        nadir = urban(style, seed, "nadir").info
        assert st.gsd_m[0] - 1e-3 <= nadir["gsd_m"] <= st.gsd_m[1] + 1e-3, nadir
    drawn = [scene(style, seed, size=(64, 96)).info for seed in range(4)]  # nothing overridden
    assert all(i["district"] in DISTRICTS and i["view"] in VIEWS for i in drawn)
    info = scene(style, 0, district="rural", lighting=st.lightings[-1], size=(64, 96)).info
    assert info["district"] == "rural" and info["lighting"] == st.lightings[-1]  # overrides are honoured


def test_orthomosaic_info_is_filled():
    for s in orthomosaics():
        info = s.info
        assert info["style"] == "dronedeploy" and info["view"] == "nadir" and info["district"] in DISTRICTS
        assert info["gsd_m"] == 0.1 and info["altitude_m"] is None and info["lighting"] in styles.LIGHTINGS
    assert {s.info["district"] for s in orthomosaics()} == set(DISTRICTS)


def test_scenes_are_learnable_not_noise():
    """Grass is green, and in most frames the mean colours of grass, road and roof differ far more
    than the pixel noise within each of them (domain randomisation varies colours, not legibility)."""
    codes = (synthetic.GRASS, synthetic.ROAD, synthetic.ROOF)
    grass, margins = [], []
    for seed in range(6):
        s = scene("udd6", (5, seed), view="oblique", district="suburban")
        img, sem = s.image.astype(np.float32), s.semantic
        if min((sem == c).sum() for c in codes) < 500:
            continue
        means = {c: img[sem == c].mean(0) for c in codes}
        same = sem[:, 1:] == sem[:, :-1]
        step = np.abs(np.diff(img, axis=1))  # neighbour differences: noise, not shading
        noise = max(np.median(step[same & (sem[:, 1:] == c)], 0).mean() * 1.4826 / np.sqrt(2) for c in codes)
        gap = min(np.abs(means[a] - means[b]).max() for a in codes for b in codes if a < b)
        margins.append(gap / max(noise, 1.0))
        grass.append(means[synthetic.GRASS])
    assert len(margins) >= 3
    # a grey roof next to grey asphalt is as real as it gets, so single frames may be close; most are not
    assert np.median(margins) > 3, np.round(margins, 1)
    r, g, b = np.mean(grass, 0)
    assert g > r and g > b + 10, (r, g, b)  # green to yellow-green (meadows dry out, the sun can be warm)


def test_swatch_shows_each_material_at_its_physical_scale():
    tiles = synthetic.swatch("tiles", seed=1, size=96, ppm=20)
    assert tiles.shape == (96, 96, 3) and tiles.dtype == np.uint8
    assert np.array_equal(tiles, synthetic.swatch("tiles", seed=1, size=96, ppm=20))  # seeded
    for kind in ("asphalt", "bricks", "lawn", "checker45", "cobbles", "roof:gravel", "roof:corrugated"):
        assert synthetic.swatch(kind, seed=2, size=64).std() > 2, kind  # textured, not a flat fill
    lawn = synthetic.swatch("lawn", seed=3, size=64).reshape(-1, 3).mean(0)
    assert lawn[1] > lawn[0] and lawn[1] > lawn[2]  # green
    with pytest.raises(ValueError, match="unknown surface kind"):
        synthetic.swatch("lava")


def test_the_generator_writes_each_label_on_its_own_pixels():
    """Image edges lie exactly on label boundaries: a label one pixel off would not."""
    def edge_score(image, sem, dy, dx):
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
        grad = np.hypot(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1))
        s = np.roll(sem, (dy, dx), (0, 1))
        edge = np.zeros(s.shape, bool)  # both pixels beside every boundary: symmetric, so no shift is favoured
        for axis in (0, 1):
            step = s != np.roll(s, 1, axis)
            edge |= step | np.roll(step, -1, axis)
        edge[:4], edge[-4:], edge[:, :4], edge[:, -4:] = False, False, False, False
        return grad[edge].mean()

    for seed in range(3):
        scene = synthetic.render_scene("dronedeploy", (9, seed), (256, 256))
        scores = {(dy, dx): edge_score(scene.image, scene.semantic, dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)}
        assert max(scores, key=scores.get) == (0, 0), scores
