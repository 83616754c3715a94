"""The built-in world (``landinglib.synthetic``): the files it writes, and what its scenes show.

Frames are small (64x96 to 270x512) and cached, so the whole file runs in about half a minute on 2 cores.
"""
import functools
import os
import json
import warnings

import cv2
import numpy as np
import pytest

from landinglib import classes, synthetic
from landinglib.data import DroneDeployDataset, UDD6Dataset, read_image, read_label
from landinglib.synthetic import styles
from landinglib.synthetic.city import build_world

SMALL_DD = dict(n_scenes=3, size=(320, 384), workers=1)
SMALL_UDD6 = dict(n_train=2, n_val=2, size=(135, 256), workers=1)
SMALL_UNSEEN = dict(n_val=2, size=(135, 256), workers=1)
FRAME = (270, 512)
DISTRICTS = ("urban", "suburban", "industrial", "rural")
GROUND = (synthetic.SOIL, synthetic.GRASS, synthetic.ROAD, synthetic.WATER)


@functools.lru_cache(maxsize=None)
def scene(style, seed, view=None, district=None, lighting=None, size=FRAME):
    """A rendered scene, cached: several tests look at the same frames (never modify them)."""
    return synthetic.render_scene(style, seed, size, view=view, district=district, lighting=lighting)


def _files(root):
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
            and p.name != "GENERATED.json"}


def _share(sems, code) -> float:
    return float(np.mean([np.mean(s == code) for s in sems]))


# --- files: layouts, palettes, determinism ---------------------------------------------------
@pytest.mark.parametrize("style,kwargs", [("dronedeploy", dict(n_scenes=2, size=(256, 256), workers=1)),
                                          ("udd6", dict(n_train=1, n_val=1, size=(96, 128), workers=1)),
                                          ("udd6-unseen", dict(n_val=2, size=(96, 128), workers=1))])
def test_same_seed_writes_byte_identical_files(tmp_path, style, kwargs):
    a = _files(synthetic.generate(tmp_path / "a", style, seed=5, **kwargs))
    b = _files(synthetic.generate(tmp_path / "b", style, seed=5, **kwargs))
    c = _files(synthetic.generate(tmp_path / "c", style, seed=6, **kwargs))
    assert a and a.keys() == b.keys() and all(a[k] == b[k] for k in a)
    assert any(a[k] != c[k] for k in a)


def test_same_seed_renders_identical_scenes():
    a = synthetic.render_scene("udd6-unseen", 11, (135, 256))
    b = synthetic.render_scene("udd6-unseen", 11, (135, 256))
    assert all(np.array_equal(x, y) for x, y in zip(a[:3], b[:3])) and a.info == b.info


def test_parallel_generation_matches_serial(tmp_path):
    serial = _files(synthetic.generate(tmp_path / "s", "udd6", n_train=4, n_val=1, size=(64, 128), workers=1))
    parallel = _files(synthetic.generate(tmp_path / "p", "udd6", n_train=4, n_val=1, size=(64, 128), workers=2))
    assert serial == parallel


def test_dronedeploy_layout_and_palette(tmp_path):
    root = synthetic.generate(tmp_path / "dd", "dronedeploy", elevations=True, **SMALL_DD)
    names = [f"scene{i:03d}" for i in range(3)]
    for n in names:
        assert read_image(root / "images" / f"{n}-ortho.tif").shape == (320, 384, 3)
        assert (root / "elevations" / f"{n}-elev.tif").is_file()
        label = read_label(root / "labels" / f"{n}-label.png")
        assert label.shape == (320, 384, 3)  # colour-coded, like the real benchmark
        colours = {tuple(c) for c in np.unique(label.reshape(-1, 3), axis=0)}
        assert colours <= set(classes.DRONEDEPLOY_LABELS.colors)
        assert classes.DRONEDEPLOY_LABELS.colors[0] in colours  # nodata border is IGNORE
    lines = (root / "index.csv").read_text().splitlines()
    assert lines[0].split()[:3] == ["index", "scene", "split"] and len(lines) == 4
    assert {line.split()[1] for line in lines[1:]} == set(names)
    info = json.loads((root / "GENERATED.json").read_text())
    assert info["count"] == {"scenes": 3}


def test_udd6_layout_and_palette(tmp_path):
    root = synthetic.generate(tmp_path / "udd6", "udd6", **SMALL_UDD6)
    for split in ("train", "val"):
        srcs = sorted((root / split / "src").glob("*.JPG"))
        gts = sorted((root / split / "gt").glob("*.png"))
        assert len(srcs) == len(gts) == 2
        assert [p.stem for p in srcs] == [p.stem for p in gts]
        label = read_label(gts[0])
        colours = {tuple(c) for c in np.unique(label.reshape(-1, 3), axis=0)}
        assert colours <= set(classes.UDD6.colors)
    assert read_image(srcs[0]).shape == (135, 256, 3)


def test_udd6_unseen_writes_only_val_frames_in_the_udd6_layout(tmp_path):
    root = synthetic.generate(tmp_path / "unseen", "udd6-unseen", **SMALL_UNSEEN)
    assert sorted(p.name for p in (root / "val" / "src").iterdir()) == ["DJI_0000.JPG", "DJI_0001.JPG"]
    assert sorted(p.name for p in (root / "val" / "gt").iterdir()) == ["DJI_0000.png", "DJI_0001.png"]
    for sub in ("src", "gt"):
        assert (root / "train" / sub).is_dir() and not any((root / "train" / sub).iterdir())
    assert json.loads((root / "GENERATED.json").read_text())["count"] == {"train": 0, "val": 2}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no unknown colours
        test = UDD6Dataset(root, "test", target="landing", test_fraction=1.0)
        masks = [test[i][1] for i in range(len(test))]
    assert len(test) == 2 and len(UDD6Dataset(root, "val", test_fraction=1.0)) == 0
    assert all(np.asarray(m).shape == (135, 256) for m in masks)
    assert all(set(np.unique(m).tolist()) <= set(range(len(classes.LANDING))) for m in masks)


def test_generated_data_reads_back_through_the_real_data_loaders(tmp_path):
    dd = synthetic.generate(tmp_path / "dd", "dronedeploy", n_scenes=8, size=(256, 256), workers=1)
    udd = synthetic.generate(tmp_path / "udd6", "udd6", **{**SMALL_UDD6, "size": (64, 128)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no unknown colours anywhere
        chips = [DroneDeployDataset(dd, s, chip_size=128) for s in ("train", "val", "test")]
        frames = [UDD6Dataset(udd, s, target="udd6") for s in ("train", "val", "test")]
        masks = [ds[i][1] for ds in chips + frames for i in range(len(ds))]
    assert sum(len(c.scenes) for c in chips) == 8 and all(len(c) for c in chips)
    assert sum(len(f) for f in frames) == 4
    assert all(set(np.unique(m).tolist()) <= set(range(6)) | {255} for m in masks)


def test_generate_reuses_complete_data_and_leaves_no_partial_folder(tmp_path):
    small = dict(n_train=1, n_val=1, size=(64, 128), workers=1)
    root = synthetic.generate(tmp_path / "u", "udd6", **small)
    stamp = (root / "GENERATED.json").read_text()
    synthetic.generate(tmp_path / "u", "udd6", **small)
    assert (root / "GENERATED.json").read_text() == stamp  # not regenerated
    synthetic.generate(tmp_path / "u", "udd6", **{**small, "n_val": 2})
    assert len(list((root / "val" / "src").glob("*.JPG"))) == 2  # settings changed: regenerated
    assert not (tmp_path / "u.partial").exists()


def test_unknown_style_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="unknown style"):
        synthetic.generate(tmp_path, "cityscapes")
    assert not any(tmp_path.iterdir())


def test_ensure_builtin_uses_the_data_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LANDINGLIB_DATA", str(tmp_path))
    monkeypatch.setitem(synthetic.FAST_SETTINGS, "udd6", dict(n_train=2, n_val=2, size=(64, 128)))
    path = synthetic.ensure_builtin("udd6", fast=True)
    assert path == tmp_path / "synthetic" / "fast" / "udd6"
    assert "generated built-in udd6 data" in capsys.readouterr().out
    synthetic.ensure_builtin("udd6", fast=True)
    assert capsys.readouterr().out == ""  # second call finds it


# --- what a scene shows ----------------------------------------------------------------------
SEEDS = (0, 1)
VIEWS = ("nadir", "oblique", "horizon")


def urban(style, seed, view):
    """The urban frames most tests below look at: every view of a few seeds (cached)."""
    return scene(style, seed, view=view, district="urban")


def orthomosaics():
    return [scene("dronedeploy", (1, i), district=d, size=(384, 384)) for i, d in enumerate(DISTRICTS)]


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


def test_haze_grows_with_the_distance_to_what_a_pixel_shows(monkeypatch):
    """Aerial perspective: a roof or a wall is hazed by its own distance, not by that of the
    ground behind it (the same scene is drawn with and without haze, before the camera's look)."""
    from landinglib.synthetic import render

    seen, draw_camera = {}, synthetic.make_camera

    def make_camera(*args):
        seen["camera"] = cam = draw_camera(*args)
        return cam

    def make_light(visibility):
        def make(style, rng):
            seen["light"] = light = render.make_light(style, rng)
            light.visibility = visibility
            return light
        return make

    monkeypatch.setattr(synthetic, "make_camera", make_camera)
    monkeypatch.setattr(synthetic, "develop", lambda img, sem, hmap, style, rng: (img, sem, hmap))
    visibility, roofs = 400.0, 0
    for seed in SEEDS:
        frames = []
        for v in (1e12, visibility):
            monkeypatch.setattr(synthetic, "make_light", make_light(v))
            frames.append(synthetic.render_scene("udd6", seed, FRAME, view="horizon", district="urban"))
        clear, hazy = frames
        haze, cam = seen["light"].haze_rgb, seen["camera"]
        away = haze - clear.image  # hazy = clear + fog * (haze - clear)
        fog = ((hazy.image - clear.image) * away).sum(-1) / np.maximum((away**2).sum(-1), 1e-6)
        valid = (away**2).sum(-1) > 30**2  # where the colour differs enough from the haze to tell
        ground_distance, _ = cam.ground_distance()
        distance = ground_distance * (1 - clear.height / cam.pos[2])  # along the ray to the plane shown
        expected = 1 - np.exp(-distance / visibility)
        for code in (synthetic.ROAD, synthetic.ROOF):
            sel = valid & (clear.semantic == code)
            if sel.sum() >= 100:
                assert np.median(np.abs(fog[sel] - expected[sel])) < 0.03, (seed, synthetic.SEMANTIC_NAMES[code])
                roofs += code == synthetic.ROOF
        walls = valid & (clear.semantic == synthetic.FACADE)
        behind = 1 - np.exp(-ground_distance / visibility)  # the haze of the ground behind a wall
        assert walls.sum() >= 100 and fog[walls].mean() < behind[walls].mean() - 0.02, seed
    assert roofs >= 1


# --- held-out families stay held out --------------------------------------------------------
@functools.lru_cache(maxsize=None)
def world(style_name, district, seed, extent=(-150, -100, 150, 100)):
    return build_world(extent, district, synthetic.STYLES[style_name], np.random.default_rng(seed))


def worlds(style_name, seeds=range(3)):
    return [(d, seed, world(style_name, d, seed)) for d in DISTRICTS for seed in seeds]


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


def test_held_out_lighting_is_only_in_the_unseen_style():
    from landinglib.synthetic.render import make_light

    for seed in range(4):
        for style in ("udd6", "dronedeploy"):
            lighting = scene(style, seed, size=(64, 96)).info["lighting"]
            assert lighting in styles.LIGHTINGS and lighting not in styles.UNSEEN_LIGHTINGS
        assert scene("udd6-unseen", seed, size=(64, 96)).info["lighting"] == "golden"
    rng = np.random.default_rng(0)
    assert {make_light(styles.UDD6_STYLE, rng).kind for _ in range(200)} == set(styles.LIGHTINGS)
    assert {make_light(styles.UDD6_UNSEEN_STYLE, rng).kind for _ in range(20)} == {"golden"}


# --- Road is all paved ground -------------------------------------------------------------
def test_paved_plazas_and_courtyards_are_road():
    paved = 0
    for _, _, w in worlds("udd6"):
        for _, spec in w.surfaces:
            if spec["kind"] in styles.PAVEMENTS + styles.UNSEEN_PAVEMENTS:
                assert spec["code"] == synthetic.ROAD, spec["kind"]
                paved += spec["kind"] != "asphalt"
    assert paved
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


def test_vehicles_and_trees_are_only_built_where_the_camera_looks():
    from landinglib.synthetic import city

    extent = (-150.0, -150.0, 150.0, 150.0)
    view = np.array([[-40, -30], [40, -30], [40, 30], [-40, 30]], np.float32)  # the ground a camera sees
    everywhere = city.build_world(extent, "urban", styles.UDD6_STYLE, np.random.default_rng(4))
    in_view = city.build_world(extent, "urban", styles.UDD6_STYLE, np.random.default_rng(4),
                               detail=((0.0, 0.0), 500.0, view))
    small = [p.footprint.mean(0) for p in in_view.prisms if p.code == synthetic.CAR] + [t[:2] for t in in_view.trees]
    margin = [cv2.pointPolygonTest(view, (float(x), float(y)), True) for x, y in small]
    assert small and min(margin) >= -city.DETAIL_MARGIN_M
    outside = [p for p in everywhere.prisms if p.code == synthetic.CAR
               and cv2.pointPolygonTest(view, tuple(map(float, p.footprint.mean(0))), True) < -city.DETAIL_MARGIN_M]
    assert outside  # without an outline, cars are built all over the world
    assert sum(p.code == synthetic.ROOF for p in in_view.prisms) > 0  # buildings are kept everywhere


def test_no_worker_processes_draws_the_scenes_in_this_process(tmp_path, monkeypatch):
    """LANDINGLIB_WORKERS=0: nothing is forked (e.g. under a mutation tester, or where processes cannot start)."""
    import landinglib.synthetic as synthetic_module

    def refuse(*args, **kwargs):
        raise AssertionError("a process pool was started")

    monkeypatch.setattr(synthetic_module, "ProcessPoolExecutor", refuse)
    monkeypatch.setenv("LANDINGLIB_WORKERS", "0")
    root = synthetic_module.generate(tmp_path / "u", "udd6", 0, n_train=4, n_val=1, size=(96, 128))
    assert len(list((root / "train" / "src").iterdir())) == 4
    monkeypatch.setenv("LANDINGLIB_WORKERS", "2")
    with pytest.raises(AssertionError, match="process pool"):
        synthetic_module.generate(tmp_path / "v", "udd6", 0, n_train=4, n_val=1, size=(96, 128))


def test_two_processes_generating_the_built_in_data_at_once_both_succeed_and_draw_it_once(tmp_path):
    """Two notebooks (or two sweep processes) opened at once on a fresh machine: one draws, the other waits for
    it; the files are those a single process writes."""
    import subprocess
    import sys

    script = "from landinglib import synthetic; synthetic.ensure_builtin('udd6'); synthetic.ensure_builtin('dronedeploy')"

    def start(folder):
        env = dict(os.environ, LANDINGLIB_FAST="1", LANDINGLIB_DATA=str(folder), OMP_NUM_THREADS="1")
        return subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)

    together = [start(tmp_path / "shared") for _ in range(2)]
    outputs = [p.communicate(timeout=600) for p in together]
    for p, (out, err) in zip(together, outputs):
        assert p.returncode == 0, err[-3000:]
    for style in ("udd6", "dronedeploy"):
        assert sum(f"generated built-in {style} data" in out for out, _ in outputs) == 1  # drawn once
    alone = start(tmp_path / "alone")
    assert alone.wait(timeout=600) == 0
    shared, single = tmp_path / "shared" / "synthetic" / "fast", tmp_path / "alone" / "synthetic" / "fast"
    def data_files(folder):  # GENERATED.json holds timings, a .lock file is the lock's own
        return sorted(p.relative_to(folder) for p in folder.rglob("*")
                      if p.is_file() and p.name != "GENERATED.json" and p.suffix != ".lock")

    names = data_files(single)
    assert names and names == data_files(shared)
    for name in names:
        assert (shared / name).read_bytes() == (single / name).read_bytes(), name
    assert not list(shared.glob("*.partial"))  # nothing half-drawn left behind


def test_an_interrupted_generation_leaves_no_half_dataset_and_the_next_run_completes_it(tmp_path, monkeypatch):
    calls = []
    real = synthetic.pool_map

    def dying(fn, jobs, workers):
        calls.append(len(jobs))
        raise KeyboardInterrupt  # as a participant pressing Stop would

    monkeypatch.setattr(synthetic, "pool_map", dying)
    with pytest.raises(KeyboardInterrupt):
        synthetic.generate(tmp_path / "udd6", "udd6", n_train=2, n_val=1, size=(64, 96))
    assert not (tmp_path / "udd6").exists() and calls
    monkeypatch.setattr(synthetic, "pool_map", real)
    root = synthetic.generate(tmp_path / "udd6", "udd6", n_train=2, n_val=1, size=(64, 96))
    assert (root / "GENERATED.json").is_file() and len(list((root / "train" / "src").iterdir())) == 2


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
