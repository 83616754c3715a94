"""landinglib.data.splits: split names, limits, hashed and published splits, index.csv, chip windows."""
import csv
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from landinglib import data
from landinglib.data import DroneDeployDataset


# --- limits and hashed splits ---------------------------------------------------------------------
def test_select_spreads_a_limit_evenly_and_rejects_less_than_one():
    assert data._select(list(range(10)), 3) == [0, 3, 6]
    assert data._select(list(range(10)), 1) == [0]
    assert data._select(list(range(4)), 4) == [0, 1, 2, 3] and data._select(list(range(4)), 9) == [0, 1, 2, 3]
    assert data._select(list(range(4)), None) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="^limit must be at least 1, got 0$"):
        data._select([1, 2], 0)


GOLDEN_SPLITS_SEED0 = "rrrrarrrrrre"  # second letters of train/val/test for scene000..scene011, seed 0 (landinglib 0.1)


def test_hashed_splits_stay_the_same_across_versions_and_follow_the_seed():
    """The split of a scene without index.csv is a pure function of (seed, name): these values must never change,
    or a model would be tested on scenes it trained on in an earlier version."""
    names = [f"scene{i:03d}" for i in range(12)]
    assert "".join(data._hashed_split(n, 0)[1] for n in names) == GOLDEN_SPLITS_SEED0
    assert [data._hashed_split(n, 1) for n in names] != [data._hashed_split(n, 0) for n in names]


def test_hashed_splits_put_exactly_the_lower_15_percent_in_test_and_the_next_15_in_val():
    """The hash of (seed, name) is one of 10 000 values: 0-1499 are test, 1500-2999 val, the rest
    train. Names that hash to either side of both boundaries land where they must."""
    def bucket(name):
        return zlib.crc32(f"0:{name}".encode()) % 10_000
    expected = {"scene26257": (1499, "test"), "scene4763": (1500, "val"),
                "scene4649": (2999, "val"), "scene16722": (3000, "train")}
    for name, (value, split) in expected.items():
        assert bucket(name) == value, name
        assert data._hashed_split(name, 0) == split, name


def test_dronedeploy_without_split_column_gets_a_stable_seeded_split(dronedeploy_root):
    (dronedeploy_root / "index.csv").unlink()
    all_scenes = sorted(s for split in data.SPLITS for s in DroneDeployDataset(dronedeploy_root, split).scenes)
    assert all_scenes == ["abc0_TESTSCENE", "abc1_TESTSCENE", "abc2_TESTSCENE"]
    assert DroneDeployDataset(dronedeploy_root, "train").scenes == DroneDeployDataset(dronedeploy_root, "train").scenes


# --- the published DroneDeploy lists and index.csv ------------------------------------------------
def test_every_scene_of_the_published_lists_gets_its_published_split():
    """The shipped scene list is read in full, its first row included."""
    path = Path(data.__file__).parent.with_name("dronedeploy_splits.csv")  # shipped in landinglib/
    with path.open(newline="") as f:
        published = {row["scene"]: row["split"] for row in csv.DictReader(f)}
    assert len(published) > 10 and data._official_splits() == published


def test_dronedeploy_real_index_csv_uses_the_official_scene_lists(tmp_path):
    """The benchmark's index.csv has no split column; its published scene lists decide."""
    root = tmp_path / "dd"
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    scenes = {"1d4fbe33f3_F1BE1D4184INSPIRE": "train", "ec09336a6f_06BA0AF311OPENPIPELINE": "val",
              "12fa5e614f_53197F206FOPENPIPELINE": "test"}
    label = np.zeros((64, 64, 3), np.uint8) + np.array([255, 255, 255], np.uint8)
    for name in scenes:
        cv2.imwrite(str(root / "images" / f"{name}-ortho.tif"), np.zeros((64, 64, 3), np.uint8))
        cv2.imwrite(str(root / "labels" / f"{name}-label.png"), label)
    (root / "index.csv").write_text("ID scene\n" + "".join(f"{i} {n}\n" for i, n in enumerate(scenes)))
    for name, split in scenes.items():
        assert DroneDeployDataset(root, split, chip_size=32).scenes == [name]


def test_index_csv_rows_give_each_known_scene_its_split(tmp_path):
    path = tmp_path / "index.csv"
    path.write_text("index,scene,split\n0,s1,train\n1,s2,valid\n2,s3,test\n3,s4,val\n4,s5\n5,gone,train\n")
    assert data._read_index_csv(path, {"s1", "s2", "s3", "s4", "s5"}) == [
        ("s1", "train"), ("s2", "val"), ("s3", "test"), ("s4", "val"), ("s5", None)]
    assert data._read_index_csv(tmp_path / "missing.csv", {"s1"}) == []


# --- chip windows ---------------------------------------------------------------------------------
def test_windows_cover_the_length_once_each_and_the_last_ends_flush():
    assert data.window_starts(10, 4, 3) == [0, 3, 6]  # ends flush already: not added twice
    assert data.window_starts(11, 4, 3) == [0, 3, 6, 7]  # one more, flush with the border
    assert data.window_starts(10, 4, 1) == [0, 1, 2, 3, 4, 5, 6]  # every start, none past the border
    assert data.window_starts(4, 4, 2) == [0] and data.window_starts(3, 4, 2) == [0]
