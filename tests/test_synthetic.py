import json
import warnings

import numpy as np
import pytest

from landinglib import classes, synthetic
from landinglib.data import DroneDeployDataset, UDD6Dataset, read_image, read_label

SMALL_DD = dict(n_scenes=3, size=(320, 384), workers=1)
SMALL_UDD6 = dict(n_train=2, n_val=2, size=(135, 256), workers=1)


def _files(root):
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
            and p.name != "GENERATED.json"}


@pytest.mark.parametrize("style,kwargs", [("dronedeploy", SMALL_DD), ("udd6", SMALL_UDD6)])
def test_same_seed_writes_byte_identical_files(tmp_path, style, kwargs):
    a = _files(synthetic.generate(tmp_path / "a", style, seed=5, **kwargs))
    b = _files(synthetic.generate(tmp_path / "b", style, seed=5, **kwargs))
    c = _files(synthetic.generate(tmp_path / "c", style, seed=6, **kwargs))
    assert a.keys() == b.keys() and all(a[k] == b[k] for k in a)
    assert any(a[k] != c[k] for k in a)


def test_parallel_generation_matches_serial(tmp_path):
    serial = _files(synthetic.generate(tmp_path / "s", "udd6", n_train=4, n_val=1, size=(64, 128), workers=1))
    parallel = _files(synthetic.generate(tmp_path / "p", "udd6", n_train=4, n_val=1, size=(64, 128), workers=2))
    assert serial == parallel


def test_dronedeploy_layout_and_palette(tmp_path):
    root = synthetic.generate(tmp_path / "dd", "dronedeploy", elevations=True, **SMALL_DD)
    names = [f"scene{i:03d}" for i in range(3)]
    for n in names:
        assert (root / "images" / f"{n}-ortho.tif").is_file()
        assert (root / "elevations" / f"{n}-elev.tif").is_file()
        label = read_label(root / "labels" / f"{n}-label.png")
        assert label.ndim == 3  # colour-coded, like the real benchmark
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


def test_generated_data_reads_back_through_the_real_data_loaders(tmp_path):
    dd = synthetic.generate(tmp_path / "dd", "dronedeploy", n_scenes=8, size=(512, 512), workers=1)
    udd = synthetic.generate(tmp_path / "udd6", "udd6", **SMALL_UDD6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no unknown colours anywhere
        chips = [DroneDeployDataset(dd, s, chip_size=256) for s in ("train", "val", "test")]
        frames = [UDD6Dataset(udd, s, target="udd6") for s in ("train", "val", "test")]
        masks = [ds[i][1] for ds in chips + frames for i in range(len(ds))]
    assert sum(len(c.scenes) for c in chips) == 8 and all(len(c) for c in chips)
    assert all(set(np.unique(m).tolist()) <= set(range(6)) | {255} for m in masks)


def test_scenes_contain_the_expected_things_and_styles_differ():
    dd = [synthetic.render_scene("dronedeploy", (0, i), size=(1024, 1024))[1] for i in range(3)]
    ud = [synthetic.render_scene("udd6", (0, i))[1] for i in range(3)]
    share = lambda sems, code: np.mean([np.mean(s == code) for s in sems])  # noqa: E731
    for code in (synthetic.GRASS, synthetic.ROAD, synthetic.ROOF, synthetic.TREE, synthetic.CAR):
        assert share(dd, code) > 0.001 and share(ud, code) > 0.001, synthetic.SEMANTIC_NAMES[code]
    assert share(ud, synthetic.FACADE) > 0.005 and share(dd, synthetic.FACADE) == 0  # oblique vs ortho
    assert share(dd, synthetic.NODATA) > 0 and share(ud, synthetic.NODATA) == 0


def test_scenes_are_learnable_not_noise():
    """Class colours differ far more than the noise within a class."""
    image, sem, _ = synthetic.render_scene("udd6", (0, 1))
    means = {c: image[sem == c].mean(0) for c in (synthetic.GRASS, synthetic.ROAD, synthetic.ROOF)}
    spread = max(image[sem == c].std(0).mean() for c in means)
    gaps = [np.abs(means[a] - means[b]).max() for a in means for b in means if a < b]
    assert min(gaps) > 0.5 * spread and min(gaps) > 10
    assert means[synthetic.GRASS][1] > means[synthetic.GRASS][2]  # grass is green


def test_generate_reuses_complete_data_and_leaves_no_partial_folder(tmp_path):
    root = synthetic.generate(tmp_path / "u", "udd6", **SMALL_UDD6)
    stamp = (root / "GENERATED.json").read_text()
    synthetic.generate(tmp_path / "u", "udd6", **SMALL_UDD6)
    assert (root / "GENERATED.json").read_text() == stamp  # not regenerated
    synthetic.generate(tmp_path / "u", "udd6", **{**SMALL_UDD6, "n_val": 3})
    assert len(list((root / "val" / "src").glob("*.JPG"))) == 3  # settings changed: regenerated
    assert not (tmp_path / "u.partial").exists()


def test_unknown_style_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="unknown style"):
        synthetic.generate(tmp_path, "cityscapes")


def test_ensure_builtin_uses_the_data_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LANDINGLIB_DATA", str(tmp_path))
    monkeypatch.setitem(synthetic.FAST_SETTINGS, "udd6", dict(n_train=2, n_val=2, size=(64, 128)))
    path = synthetic.ensure_builtin("udd6", fast=True)
    assert path == tmp_path / "synthetic" / "fast" / "udd6"
    assert "generated built-in udd6 data" in capsys.readouterr().out
    synthetic.ensure_builtin("udd6", fast=True)
    assert capsys.readouterr().out == ""  # second call finds it
