"""The files ``landinglib.synthetic.write`` puts on disk: the real layouts and palettes, the same bytes for
the same seed, and data that the real loaders read."""
import json
import warnings

import numpy as np
import pytest

from landinglib import classes, synthetic
from landinglib.data import DroneDeployDataset, UDD6Dataset, read_image, read_label

SMALL_DD = dict(n_scenes=3, size=(320, 384), workers=1)
SMALL_UDD6 = dict(n_train=2, n_val=2, size=(135, 256), workers=1)
SMALL_UNSEEN = dict(n_val=2, size=(135, 256), workers=1)


def dataset_files(root):
    """{path: bytes} of every file a dataset holds, but its stamp (which holds timings)."""
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
            and p.name != "GENERATED.json"}


@pytest.mark.parametrize("style,kwargs", [("dronedeploy", dict(n_scenes=2, size=(256, 256), workers=1)),
                                          ("udd6", dict(n_train=1, n_val=1, size=(96, 128), workers=1)),
                                          ("udd6-unseen", dict(n_val=2, size=(96, 128), workers=1))])
def test_same_seed_writes_byte_identical_files(tmp_path, style, kwargs):
    a = dataset_files(synthetic.generate(tmp_path / "a", style, seed=5, **kwargs))
    b = dataset_files(synthetic.generate(tmp_path / "b", style, seed=5, **kwargs))
    c = dataset_files(synthetic.generate(tmp_path / "c", style, seed=6, **kwargs))
    assert a and a.keys() == b.keys() and all(a[k] == b[k] for k in a)
    assert any(a[k] != c[k] for k in a)


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
