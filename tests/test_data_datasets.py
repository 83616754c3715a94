"""landinglib.data.datasets: the UDD6 and DroneDeploy layouts, and what every dataset shares."""
import os
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from landinglib import classes, data
from landinglib.classes import IGNORE_INDEX, UnknownColorWarning
from landinglib.data import DroneDeployDataset, FolderDataset, UDD6Dataset

from .conftest import dd_label_values, error_message, own_grey_folder, same_tensors, udd6_index_mask


# --- UDD6 -----------------------------------------------------------------------------------------
def test_udd6_index_rgb_and_palette_labels_decode_alike(udd6_root):
    ds = UDD6Dataset(udd6_root, "train", target="udd6")
    assert len(ds) == 3  # one RGB, one grey-index and one palette-index label
    for i in range(3):
        image, mask = ds[i]
        assert image.shape == (48, 64, 3) and image.dtype == np.uint8
        np.testing.assert_array_equal(mask, udd6_index_mask(48, 64, shift=i))


def test_udd6_landing_target_uses_the_lookup_table(udd6_root):
    ds6 = UDD6Dataset(udd6_root, "train", target="udd6")
    ds4 = UDD6Dataset(udd6_root, "train", target="landing")
    assert ds4.classes is classes.LANDING and ds6.classes is classes.UDD6
    np.testing.assert_array_equal(ds4[0][1], classes.UDD6_TO_LANDING[ds6[0][1]])
    assert set(np.unique(ds4[0][1])) == {0, 1, 2, 3}


def test_udd6_test_split_is_held_out_from_val_and_seeded(udd6_root):
    val, test = UDD6Dataset(udd6_root, "val"), UDD6Dataset(udd6_root, "test")
    assert len(val) + len(test) == 4 and len(test) == 2
    assert not {p for p, _ in val.pairs} & {p for p, _ in test.pairs}
    assert UDD6Dataset(udd6_root, "test").pairs == test.pairs
    others = [UDD6Dataset(udd6_root, "test", split_seed=s).pairs for s in range(1, 8)]
    assert any(o != test.pairs for o in others)


def test_the_udd6_val_and_test_halves_stay_the_same_across_versions(tmp_path):
    """Which val/ frames are held out for the test must never change (by default, split seed 0), or a model
    would be tested on frames that selected its checkpoint in an earlier version. The split looks only at
    file names, so empty files do here."""
    root = tmp_path / "UDD6"
    for split, n in (("train", 1), ("val", 10)):
        for sub, suffix in (("src", ".JPG"), ("gt", ".png")):
            (root / split / sub).mkdir(parents=True)
            for i in range(n):
                (root / split / sub / f"{split}{i}{suffix}").touch()

    def stems(split, **kwargs):
        return [image.stem for image, _ in UDD6Dataset(root, split, **kwargs).pairs]
    assert stems("test") == stems("test", split_seed=0) == ["val1", "val2", "val4", "val5", "val7"]
    assert stems("val") == ["val0", "val3", "val6", "val8", "val9"]


def test_udd6_unknown_label_colour_is_reported_with_file(udd6_root):
    label = sorted((udd6_root / "train" / "gt").glob("*.png"))[0]  # the RGB one
    rgb = cv2.imread(str(label))
    rgb[0:2, 0:3] = (9, 9, 9)
    cv2.imwrite(str(label), rgb)
    with pytest.warns(UnknownColorWarning, match=label.name):
        _, mask = UDD6Dataset(udd6_root, "train", target="udd6")[0]
    assert (mask[0:2, 0:3] == IGNORE_INDEX).all()


def test_udd6_folder_one_level_down_is_found_and_a_missing_one_explains_itself(udd6_root, tmp_path):
    assert UDD6Dataset(udd6_root.parent, "train").root == udd6_root  # the archive unpacks to UDD6/
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError) as err:
        UDD6Dataset(missing, "train")
    assert str(err.value) == (f"UDD6 folder not found: {missing}. Expected {missing}/train/src and {missing}/train/gt; "
                              "pass the path of your UDD6 copy, or leave it out to use the built-in data")


def test_a_udd6_folder_is_used_as_given_even_when_it_holds_a_udd6_subfolder(udd6_root):
    """Only a folder without its own train/ is searched one level down."""
    (udd6_root / "UDD6" / "train").mkdir(parents=True)  # e.g. a half-unpacked archive inside the copy
    assert UDD6Dataset(udd6_root, "train").root == udd6_root


def test_udd6_labels_are_png_files_only(udd6_root):
    """A stray file of another image type in gt/ (a preview, a converted copy) is not taken for a label."""
    cv2.imwrite(str(udd6_root / "train" / "gt" / "preview.bmp"), np.zeros((4, 4, 3), np.uint8))
    stem = UDD6Dataset(udd6_root, "train").pairs[0][0].stem
    cv2.imwrite(str(udd6_root / "train" / "gt" / f"{stem}.tif"), np.zeros((4, 4), np.uint8))
    ds = UDD6Dataset(udd6_root, "train", target="udd6")
    assert len(ds) == 3 and all(label.suffix == ".png" for _, label in ds.pairs)
    assert ds[0][1].shape == (48, 64)


# --- bad folders ----------------------------------------------------------------------------------
def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="UDD6 folder not found"):
        UDD6Dataset(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="DroneDeploy folder not found"):
        DroneDeployDataset(tmp_path / "nope")


def test_empty_folder_is_a_clear_error(tmp_path):
    for sub in ("train/src", "train/gt", "val/src", "val/gt"):
        (tmp_path / "u" / sub).mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="no images in"):
        UDD6Dataset(tmp_path / "u")
    (tmp_path / "d" / "images").mkdir(parents=True)
    (tmp_path / "d" / "labels").mkdir()
    with pytest.raises(FileNotFoundError, match="no scenes in"):
        DroneDeployDataset(tmp_path / "d")
    with pytest.raises(FileNotFoundError, match="is missing"):
        UDD6Dataset(tmp_path / "d")


def test_dronedeploy_layout_errors_name_the_path_and_what_was_expected(tmp_path, dronedeploy_root):
    """The whole message of each layout error: the path that is wrong and the file names the loader looks for."""
    root = tmp_path / "d"
    (root / "images").mkdir(parents=True)
    with pytest.raises(FileNotFoundError) as err:
        DroneDeployDataset(root)
    assert str(err.value) == f"{root} is not a DroneDeploy folder: {root / 'labels'} is missing"
    (root / "labels").mkdir()
    (root / "images").rmdir()
    with pytest.raises(FileNotFoundError) as err:
        DroneDeployDataset(root)
    assert str(err.value) == f"{root} is not a DroneDeploy folder: {root / 'images'} is missing"
    (root / "images").mkdir()
    with pytest.raises(FileNotFoundError) as err:
        DroneDeployDataset(root)
    assert str(err.value) == f"no scenes in {root / 'images'} (expected <scene>-ortho.tif files)"

    label = dronedeploy_root / "labels" / "abc1_TESTSCENE-label.png"
    moved = label.read_bytes()
    label.unlink()
    with pytest.raises(FileNotFoundError) as err:
        DroneDeployDataset(dronedeploy_root)
    image = dronedeploy_root / "images" / "abc1_TESTSCENE-ortho.tif"
    assert str(err.value) == f"no label for {image} (expected {label})"
    label.write_bytes(moved)
    image.unlink()
    with pytest.raises(FileNotFoundError) as err:
        DroneDeployDataset(dronedeploy_root)
    assert str(err.value) == f"label {label} has no image (expected {image})"
    assert re.search("not found: .*nope. Expected .*nope/images/<scene>-ortho.tif and .*nope/labels/<scene>-label.png",
                     error_message(lambda: DroneDeployDataset(tmp_path / "nope"), FileNotFoundError))


def test_label_without_image_names_the_file(dronedeploy_root):
    (dronedeploy_root / "images" / "abc1_TESTSCENE-ortho.tif").unlink()
    with pytest.raises(FileNotFoundError, match=r"abc1_TESTSCENE-label\.png has no image"):
        DroneDeployDataset(dronedeploy_root, "train")


# --- DroneDeploy ----------------------------------------------------------------------------------
def test_dronedeploy_scene_is_cut_into_chips_and_all_ignore_chips_are_skipped(dronedeploy_root):
    ds = DroneDeployDataset(dronedeploy_root, "train", chip_size=128)
    # 800 rows -> 7 chip rows (last flush with the border); 1000 cols -> 8 columns, the first
    # of which lies entirely in the 200 px IGNORE border and is skipped.
    assert len(ds) == 7 * 7
    assert ds.scenes == ["abc0_TESTSCENE"]
    assert {x for _, _, x in ds.chips} == {128, 256, 384, 512, 640, 768, 872}
    image, mask = ds[0]
    assert image.shape == (128, 128, 3) and mask.shape == (128, 128)


def test_dronedeploy_palette_decodes_to_learnable_classes_aligned_with_image(dronedeploy_root):
    ds = DroneDeployDataset(dronedeploy_root, "val", chip_size=256, overlap=64)
    values = dd_label_values(800, 1000)
    for i in range(len(ds)):
        name, y, x = ds.chips[i]
        image, mask = ds[i]
        expected = classes.DRONEDEPLOY_LABEL_TO_TRAIN[values[y : y + 256, x : x + 256]]
        np.testing.assert_array_equal(mask, expected)
        np.testing.assert_array_equal(image[..., 0], values[y : y + 256, x : x + 256] * 40)
    assert {x for _, _, x in ds.chips} == {0, 192, 384, 576, 744}


def test_dronedeploy_split_comes_from_index_csv(dronedeploy_root):
    for i, split in enumerate(("train", "val", "test")):
        assert DroneDeployDataset(dronedeploy_root, split).scenes == [f"abc{i}_TESTSCENE"]


def test_scenes_missing_from_index_csv_are_kept_with_a_warning(dronedeploy_root):
    lines = (dronedeploy_root / "index.csv").read_text().splitlines()
    (dronedeploy_root / "index.csv").write_text("\n".join(lines[:3]) + "\n")  # abc2 unlisted
    with pytest.warns(UserWarning) as record:
        found = [s for split in data.SPLITS for s in DroneDeployDataset(dronedeploy_root, split).scenes]
    assert str(record[0].message) == (f"1 scenes in {dronedeploy_root / 'images'} are not in index.csv "
                                      "(e.g. abc2_TESTSCENE); they get a split by scene name")
    assert Path(record[0].filename).parent != Path(data.__file__).parent  # stacklevel: the caller, not the library
    assert "abc2_TESTSCENE" in found


def test_bad_split_and_overlap_are_rejected(dronedeploy_root):
    with pytest.raises(ValueError, match="split must be one of"):
        DroneDeployDataset(dronedeploy_root, "training")
    with pytest.raises(ValueError, match="overlap"):
        DroneDeployDataset(dronedeploy_root, "train", chip_size=64, overlap=64)


# --- what every dataset shares: settings, items, reprs --------------------------------------------
def test_dataset_folders_cache_and_split_seed_settings(udd6_root, dronedeploy_root, tmp_path):
    assert UDD6Dataset(udd6_root, "train", cache_dir=tmp_path / "c" / "d").cache_dir == tmp_path / "c" / "d"
    (tmp_path / "a-file").write_text("")
    with pytest.raises(OSError):  # a cache folder you name must be usable: no silent fallback
        UDD6Dataset(udd6_root, "train", cache_dir=tmp_path / "a-file" / "cache")
    assert UDD6Dataset(udd6_root, "train").cache_dir == udd6_root / ".cache"
    assert UDD6Dataset(udd6_root, "test").pairs == UDD6Dataset(udd6_root, "test", split_seed=0).pairs
    with pytest.raises(ValueError, match="^target must be 'landing' or 'udd6', got 'own'$"):
        UDD6Dataset(udd6_root, "train", target="own")
    dd = DroneDeployDataset(dronedeploy_root, "train", cache_dir=tmp_path / "d", limit=1)
    assert dd.cache_dir == tmp_path / "d" and len(dd) == 1
    assert DroneDeployDataset(dronedeploy_root, "train").cache_dir == dronedeploy_root / ".cache"
    (dronedeploy_root / "index.csv").unlink()

    def splits(seed):
        return {s: split for split in data.SPLITS for s in DroneDeployDataset(dronedeploy_root, split, split_seed=seed).scenes}
    assert splits(0) == {n: data._hashed_split(n, 0) for n in splits(0)}
    assert splits(5) == {n: data._hashed_split(n, 5) for n in splits(5)}
    assert DroneDeployDataset(dronedeploy_root, "train").scenes == DroneDeployDataset(dronedeploy_root, "train", split_seed=0).scenes


def test_dataset_with_transform_returns_model_ready_tensors(udd6_root):
    ds = UDD6Dataset(udd6_root, "train", transform=data.train_transform(32))
    image, mask = ds[0]
    assert image.dtype == torch.float32 and image.shape == (3, 32, 32)
    assert mask.dtype == torch.int64 and mask.shape == (32, 32)
    assert -3 < float(image.mean()) < 3


def test_repeat_lists_each_training_frame_several_times(udd6_root):
    ds = UDD6Dataset(udd6_root, "train", target="udd6", repeat=3)
    assert len(ds) == 9 and "x 3" in repr(ds)
    np.testing.assert_array_equal(ds[4][1], ds[1][1])
    loaders = data.make_loaders("udd6", udd6_root, size=32, batch_size=2, num_workers=0, repeat=2)
    assert len(loaders.train.dataset) == 6 and len(loaders.val.dataset) == 2


def test_items_outside_the_dataset_raise_index_error_and_negative_indices_count_from_the_end(udd6_root):
    ds = UDD6Dataset(udd6_root, "train")
    assert same_tensors(map(torch.as_tensor, ds[-3]), map(torch.as_tensor, ds[0]))
    for bad in (3, -4):
        with pytest.raises(IndexError, match=f"^index {bad} out of range for 3 items$"):
            ds[bad]
    assert repr(ds).startswith("UDD6Dataset('train', 3 images, target='landing', root=")
    assert "3 images x 2," in repr(UDD6Dataset(udd6_root, "train", repeat=2))


def test_dronedeploy_dataset_says_what_it_holds(dronedeploy_root):
    ds = DroneDeployDataset(dronedeploy_root, "train")
    assert repr(ds).startswith(f"DroneDeployDataset('train', {len(ds)} chips of 512 px from 1 scenes, root=")


def test_each_dataset_says_where_its_files_are(udd6_root, dronedeploy_root, tmp_path):
    assert repr(UDD6Dataset(udd6_root, "train")) == (
        f"UDD6Dataset('train', 3 images, target='landing', root={data._shown(udd6_root)!r})")
    assert repr(DroneDeployDataset(dronedeploy_root, "train")).endswith(f" root={data._shown(dronedeploy_root)!r})")
    root = own_grey_folder(tmp_path / "mine", n=2)
    twice = FolderDataset(root / "images", root / "labels", root / "classes.csv", split_file=root / "all_train.txt",
                          repeat=2)
    assert repr(twice).startswith("FolderDataset('train', 2 images x 2, 2 classes from classes.csv,")


def test_paths_are_shown_relative_when_that_is_shorter():
    assert data._shown(Path.cwd() / "a" / "b.png") == os.path.join("a", "b.png")
    assert data._shown(Path("/")) == "/"


def test_a_relative_path_no_shorter_than_the_full_one_is_not_used(monkeypatch):
    """From /p/q, /p/r/s is ../r/s: as long as the full path, so the full path is shown."""
    monkeypatch.setattr(os, "getcwd", lambda: "/p/q")
    assert data._shown(Path("/p/r/s")) == "/p/r/s"
    assert data._shown(Path("/p/q/r/s")) == "r/s"


def test_a_path_on_another_drive_is_shown_in_full(monkeypatch):
    """On Windows a path on another drive has no relative form: the full path is shown."""
    def other_drive(*args, **kwargs):
        raise ValueError("path is on mount 'D:', start on mount 'C:'")
    monkeypatch.setattr(data.datasets.os.path, "relpath", other_drive)
    assert data._shown(Path("/data/frames")) == str(Path("/data/frames"))


def test_a_scene_smaller_than_a_chip_is_padded_with_ignore_not_a_class(tmp_path):
    root = tmp_path / "dd"
    for sub in ("images", "labels"):
        (root / sub).mkdir(parents=True)
    cv2.imwrite(str(root / "images" / "small-ortho.tif"), np.full((100, 150, 3), 90, np.uint8))
    label = np.zeros((100, 150, 3), np.uint8)
    label[:] = (255, 255, 255)  # DroneDeploy GROUND (white), train class 4
    cv2.imwrite(str(root / "labels" / "small-label.png"), label)
    (root / "index.csv").write_text("index scene split\n0 small train\n")
    image, mask = data.DroneDeployDataset(root, "train", chip_size=128)[0]
    assert image.shape == (128, 128, 3) and mask.shape == (128, 128)
    assert (mask[:100, :150] == 4).all() and (mask[100:] == IGNORE_INDEX).all() and (mask[:, 150:] == IGNORE_INDEX).all()
