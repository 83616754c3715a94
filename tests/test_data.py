import os
import re
import warnings
import zlib
from pathlib import Path

import albumentations as A
import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from landinglib import classes, data
from landinglib.classes import IGNORE_INDEX, UnknownColorWarning
from landinglib.data import DroneDeployDataset, UDD6Dataset

from .conftest import dd_label_values, error_message, udd6_index_mask


# --- UDD6 ------------------------------------------------------------------------------
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


def test_udd6_rgb_image_is_converted_from_bgr(udd6_root):
    path = UDD6Dataset(udd6_root, "train").pairs[0][0]
    bgr = cv2.imread(str(path))
    np.testing.assert_array_equal(data.read_image(path), bgr[..., ::-1])


def test_udd6_test_split_is_held_out_from_val_and_seeded(udd6_root):
    val, test = UDD6Dataset(udd6_root, "val"), UDD6Dataset(udd6_root, "test")
    assert len(val) + len(test) == 4 and len(test) == 2
    assert not {p for p, _ in val.pairs} & {p for p, _ in test.pairs}
    assert UDD6Dataset(udd6_root, "test").pairs == test.pairs
    others = [UDD6Dataset(udd6_root, "test", split_seed=s).pairs for s in range(1, 8)]
    assert any(o != test.pairs for o in others)


def test_udd6_unknown_label_colour_is_reported_with_file(udd6_root):
    label = sorted((udd6_root / "train" / "gt").glob("*.png"))[0]  # the RGB one
    rgb = cv2.imread(str(label))
    rgb[0:2, 0:3] = (9, 9, 9)
    cv2.imwrite(str(label), rgb)
    with pytest.warns(UnknownColorWarning, match=label.name):
        _, mask = UDD6Dataset(udd6_root, "train", target="udd6")[0]
    assert (mask[0:2, 0:3] == IGNORE_INDEX).all()


def test_udd6_frames_are_decoded_once_and_again_when_a_file_changes(udd6_root, monkeypatch):
    first = UDD6Dataset(udd6_root, "train", target="udd6")[0][1].copy()
    decoded = []
    real_decode = data.decode_label
    monkeypatch.setattr(data, "decode_label", lambda *a, **k: decoded.append(a[0]) or real_decode(*a, **k))
    ds = UDD6Dataset(udd6_root, "train", target="udd6")
    np.testing.assert_array_equal(ds[0][1], first)
    assert decoded == []  # from the cache
    label = ds.pairs[0][1]  # the RGB label
    road = np.zeros((48, 64, 3), np.uint8)
    road[:] = classes.UDD6.colors[2][::-1]  # BGR
    cv2.imwrite(str(label), road)
    os.utime(label, ns=(0, label.stat().st_mtime_ns + 1_000_000))
    assert (UDD6Dataset(udd6_root, "train", target="udd6")[0][1] == 2).all() and not (first == 2).all()
    assert decoded == [label]


def test_udd6_index_value_out_of_range_is_reported(udd6_root):
    label = sorted((udd6_root / "train" / "gt").glob("*.png"))[1]  # the grey one
    grey = cv2.imread(str(label), cv2.IMREAD_UNCHANGED)
    grey[5, 5], grey[6, 6] = 6, 17  # UDD6 has classes 0..5: 6 is already outside
    cv2.imwrite(str(label), grey)
    with pytest.warns(UnknownColorWarning) as record:
        _, mask = UDD6Dataset(udd6_root, "train", target="udd6")[1]
    assert str(record[0].message) == (f"{label}: 2 pixels have index values outside 0..5 (e.g. 6); "
                                      "they are mapped to ignore (255)")
    assert mask[5, 5] == mask[6, 6] == IGNORE_INDEX and mask.dtype == np.uint8
    with pytest.warns(UnknownColorWarning):
        decoded = data.decode_label(label, classes.UDD6)
    assert decoded.dtype == np.uint8 and decoded[5, 5] == IGNORE_INDEX


# --- bad input -------------------------------------------------------------------------
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


def test_image_without_label_names_the_file(udd6_root):
    (udd6_root / "train" / "gt" / "DJI_train_01.png").unlink()
    with pytest.raises(FileNotFoundError, match=r"no label for .*DJI_train_01\.JPG .*expected .*DJI_train_01\.png"):
        UDD6Dataset(udd6_root, "train")


def test_label_without_image_names_the_file(dronedeploy_root):
    (dronedeploy_root / "images" / "abc1_TESTSCENE-ortho.tif").unlink()
    with pytest.raises(FileNotFoundError, match=r"abc1_TESTSCENE-label\.png has no image"):
        DroneDeployDataset(dronedeploy_root, "train")


def test_corrupt_image_is_a_clear_error(udd6_root):
    path = udd6_root / "train" / "src" / "DJI_train_00.JPG"
    path.write_bytes(b"this is not a jpeg")
    ds = UDD6Dataset(udd6_root, "train")
    with pytest.raises(ValueError, match=r"cannot read image .*DJI_train_00\.JPG.*corrupt"):
        ds[0]


def test_corrupt_label_is_a_clear_error(udd6_root):
    (udd6_root / "train" / "gt" / "DJI_train_00.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(ValueError, match=r"cannot read label .*DJI_train_00\.png"):
        UDD6Dataset(udd6_root, "train")[0]


def test_label_of_wrong_size_is_a_clear_error(udd6_root):
    path = udd6_root / "train" / "gt" / "DJI_train_01.png"
    cv2.imwrite(str(path), np.zeros((10, 12), np.uint8))
    image = udd6_root / "train" / "src" / "DJI_train_01.JPG"
    with pytest.raises(ValueError) as err:
        UDD6Dataset(udd6_root, "train")[1]
    assert str(err.value) == (f"label {path} is 12x10 but image {image} is 64x48; "
                              "labels must match their image pixel for pixel")


def test_read_image_handles_grey_rgba_and_16_bit(tmp_path):
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    cv2.imwrite(str(tmp_path / "g.png"), grey)
    assert (data.read_image(tmp_path / "g.png") == grey[..., None]).all()
    bgra = np.dstack([np.full((3, 4), c, np.uint8) for c in (10, 20, 30, 0)])
    cv2.imwrite(str(tmp_path / "a.png"), bgra)
    assert tuple(data.read_image(tmp_path / "a.png")[0, 0]) == (30, 20, 10)
    deep = np.full((3, 4, 3), 65535, np.uint16)
    cv2.imwrite(str(tmp_path / "d.png"), deep)
    assert (data.read_image(tmp_path / "d.png") == 255).all()
    cv2.imwrite(str(tmp_path / "f.tif"), np.zeros((3, 4, 3), np.float32))
    with pytest.raises(ValueError, match="float32 images are not supported"):
        data.read_image(tmp_path / "f.tif")


# --- DroneDeploy -----------------------------------------------------------------------
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


def test_scenes_missing_from_index_csv_are_kept_with_a_warning(dronedeploy_root):
    lines = (dronedeploy_root / "index.csv").read_text().splitlines()
    (dronedeploy_root / "index.csv").write_text("\n".join(lines[:3]) + "\n")  # abc2 unlisted
    with pytest.warns(UserWarning) as record:
        found = [s for split in data.SPLITS for s in DroneDeployDataset(dronedeploy_root, split).scenes]
    assert str(record[0].message) == (f"1 scenes in {dronedeploy_root / 'images'} are not in index.csv "
                                      "(e.g. abc2_TESTSCENE); they get a split by scene name")
    assert Path(record[0].filename).name != "data.py"  # stacklevel: it points at the caller, not the library
    assert "abc2_TESTSCENE" in found


def test_udd6_test_split_does_not_depend_on_the_training_seed(udd6_root):
    a = data.make_datasets("udd6", udd6_root, size=32, seed=0)["test"].pairs
    b = data.make_datasets("udd6", udd6_root, size=32, seed=5)["test"].pairs
    assert a == b


def test_dronedeploy_without_split_column_gets_a_stable_seeded_split(dronedeploy_root):
    (dronedeploy_root / "index.csv").unlink()
    all_scenes = sorted(s for split in data.SPLITS for s in DroneDeployDataset(dronedeploy_root, split).scenes)
    assert all_scenes == ["abc0_TESTSCENE", "abc1_TESTSCENE", "abc2_TESTSCENE"]
    assert DroneDeployDataset(dronedeploy_root, "train").scenes == DroneDeployDataset(dronedeploy_root, "train").scenes


def test_dronedeploy_cache_is_rebuilt_when_the_label_changes(dronedeploy_root):
    before = DroneDeployDataset(dronedeploy_root, "train", chip_size=128)[0][1].copy()
    path = dronedeploy_root / "labels" / "abc0_TESTSCENE-label.png"
    bgr = cv2.imread(str(path))
    bgr[:] = (255, 255, 255)  # everything GROUND
    cv2.imwrite(str(path), bgr)
    ds = DroneDeployDataset(dronedeploy_root, "train", chip_size=128)
    assert len(ds) == 7 * 8  # no IGNORE chip left to skip
    assert (ds[0][1] == 4).all() and not (before == 4).all()


def test_bad_split_and_overlap_are_rejected(dronedeploy_root):
    with pytest.raises(ValueError, match="split must be one of"):
        DroneDeployDataset(dronedeploy_root, "training")
    with pytest.raises(ValueError, match="overlap"):
        DroneDeployDataset(dronedeploy_root, "train", chip_size=64, overlap=64)


# --- transforms and loaders ------------------------------------------------------------
def _blocks(seed: int = 0, size: int = 256, block: int = 32, n_classes: int = 4):
    rng = np.random.default_rng(seed)
    grid = rng.integers(0, n_classes, (size // block, size // block))
    mask = np.kron(grid, np.ones((block, block), np.int64)).astype(np.uint8)
    levels = np.array([40, 90, 140, 190], np.uint8)
    image = np.repeat(levels[mask][..., None], 3, axis=2)
    return image, mask


def _class_order_survives(img: np.ndarray, m: np.ndarray) -> bool:
    """Brightness/contrast change every pixel alike, so wherever image and mask moved together the
    intensities of the classes keep their order (checked away from resampled edges)."""
    ranges = []
    for k in range(4):
        core = cv2.erode((m == k).astype(np.uint8), np.ones((5, 5), np.uint8),
                         borderType=cv2.BORDER_CONSTANT, borderValue=0) > 0
        if core.any():
            ranges.append((img[core].min(), img[core].max()))
    return all(hi_a < lo_b for (_, hi_a), (lo_b, _) in zip(ranges, ranges[1:]))


def _edges_on_boundaries(img: np.ndarray, m: np.ndarray) -> float:
    """Mean image gradient on the mask's boundaries (0 when the mask has none)."""
    grey = cv2.GaussianBlur(img.astype(np.float32), (0, 0), 1.0)
    grad = np.hypot(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1))
    edge = cv2.dilate(m, np.ones((3, 3), np.uint8)) != cv2.erode(m, np.ones((3, 3), np.uint8))
    edge[:4], edge[-4:], edge[:, :4], edge[:, -4:] = False, False, False, False
    return float(grad[edge].mean()) if edge.sum() >= 20 else 0.0


def _edges_follow_mask(img: np.ndarray, m: np.ndarray, shift: int = 5) -> bool:
    """The image's edges lie on the mask's boundaries, not beside them: whatever colours, blur and
    noise did, the gradient on the boundaries beats the gradient on boundaries moved by ``shift``."""
    here = _edges_on_boundaries(img, m)
    if here == 0.0:
        return True  # a crop inside one block: nothing to compare
    moved = [_edges_on_boundaries(img, np.roll(m, s, axis)) for s in (-shift, shift) for axis in (0, 1)]
    return here > 1.15 * max(moved)


def _augmented(transform, image, mask, n: int, seed: int, side: int):
    """``n`` seeded draws of ``transform``: (uint8 RGB image, mask array), each checked to be side x side."""
    transform.set_random_seed(seed)
    for _ in range(n):
        out = transform(image=image, mask=mask)
        assert out["image"].shape == (3, side, side) and out["mask"].shape == (side, side)
        yield data.denormalize(out["image"]), out["mask"].numpy()


def test_light_augmentation_keeps_image_and_mask_aligned():
    image, mask = _blocks()
    transform = data.train_transform(128, scale=(0.3, 1.0), augment="light")
    for img, m in _augmented(transform, image, mask, n=20, seed=3, side=128):
        assert _class_order_survives(img[..., 0].astype(int), m)


def _runs(line: np.ndarray) -> list[int]:
    edges = np.flatnonzero(np.diff(line)) + 1
    return np.diff(np.concatenate([[0], edges, [len(line)]])).tolist()


def test_scale_matched_crops_keep_alignment_and_the_evaluation_scale():
    """crop=N: the image is first brought to the evaluation scale (short side ``size``), then a
    region of N/2 to 5N/4 of those pixels is cut and resized to N, so objects appear at 0.8-2x the
    size the evaluated network sees them (not at the far smaller scale of a whole-frame crop)."""
    band = 64  # 16 stripes across 1024 px: 16 px each at the evaluation scale (short side 256)
    mask = np.tile((np.arange(1024) // band % 4).astype(np.uint8), (1024, 1))
    image = np.repeat(np.array([40, 90, 140, 190], np.uint8)[mask][..., None], 3, axis=2)
    transform = data.train_transform(256, crop=64)
    widths = []
    for img, m in _augmented(transform, image, mask, n=40, seed=5, side=64):
        assert _class_order_survives(img[..., 0].astype(int), m)
        line = m[0] if len(_runs(m[0])) > 1 else m[:, 0]  # stripes run across after a 90-degree turn
        widths += _runs(line)[1:-1]  # stripes cut by the crop's edge do not count
    assert widths and 12 <= min(widths) and max(widths) <= 33  # 16 px x (0.8 to 2)


def test_strong_augmentation_keeps_image_and_mask_aligned():
    """Rotation, zoom, shadows, hue, blur, noise and JPEG: the mask still follows the image."""
    image, mask = _blocks()
    transform = data.train_transform(128, augment="strong")
    aligned = []
    for img, m in _augmented(transform, image, mask, n=30, seed=3, side=128):
        assert set(np.unique(m).tolist()) <= {0, 1, 2, 3, 255}  # nearest-neighbour masks, padding ignored
        aligned.append(_edges_follow_mask(img.mean(-1), m))
    assert sum(aligned) >= 27  # cast shadows add edges of their own now and then


def test_alignment_checks_catch_an_image_moved_without_its_mask():
    image, mask = _blocks()
    assert _class_order_survives(image[..., 0].astype(int), mask)
    assert not _class_order_survives(image[:, ::-1, 0].astype(int), mask)
    assert not _class_order_survives(np.rot90(image[..., 0]).astype(int), mask)
    assert _edges_follow_mask(image[..., 0], mask)
    assert not _edges_follow_mask(np.roll(image[..., 0], 5, axis=0), mask)
    assert not _edges_follow_mask(np.roll(image[..., 0], -5, axis=1), mask)


def test_unknown_augmentation_is_rejected():
    with pytest.raises(ValueError, match="augment"):
        data.train_transform(128, augment="extreme")


def test_eval_transform_keeps_aspect_and_pads_mask_with_ignore():
    image = np.zeros((540, 1024, 3), np.uint8)
    mask = np.ones((540, 1024), np.uint8)
    out = data.eval_transform(256)(image=image, mask=mask)
    assert tuple(out["image"].shape) == (3, 256, 512)
    m = out["mask"].numpy()
    assert (m[:, :485] == 1).all() and (m[:, 486:] == IGNORE_INDEX).all()


def test_dataset_with_transform_returns_model_ready_tensors(udd6_root):
    ds = UDD6Dataset(udd6_root, "train", transform=data.train_transform(32))
    image, mask = ds[0]
    assert image.dtype == torch.float32 and image.shape == (3, 32, 32)
    assert mask.dtype == torch.int64 and mask.shape == (32, 32)
    assert -3 < float(image.mean()) < 3


def test_make_loaders_gives_batches_for_all_splits(udd6_root):
    loaders = data.make_loaders("udd6", udd6_root, size=32, batch_size=2, num_workers=0)
    x, y = next(iter(loaders.train))
    assert x.shape == (2, 3, 32, 32) and y.dtype == torch.int64
    x, y = next(iter(loaders.val))
    assert x.shape[-2] == 32 and x.shape[-1] % 32 == 0
    assert len(loaders.test.dataset) == 2 and loaders.train.dataset.split == "train"


def test_make_loaders_rejects_unknown_dataset():
    with pytest.raises(ValueError, match="dronedeploy"):
        data.make_loaders("cityscapes")


def test_pad_collate_pads_masks_with_ignore():
    batch = [(torch.ones(3, 4, 6), torch.zeros(4, 6, dtype=torch.long)),
             (torch.ones(3, 2, 8), torch.zeros(2, 8, dtype=torch.long))]
    images, masks = data.pad_collate(batch)
    assert images.shape == (2, 3, 4, 8) and masks.shape == (2, 4, 8)
    assert masks[0, 0, 7] == IGNORE_INDEX and masks[1, 3, 0] == IGNORE_INDEX and masks[1, 1, 7] == 0


def test_class_counts_and_weights_favour_rare_classes(udd6_root):
    counts = data.class_pixel_counts(UDD6Dataset(udd6_root, "train", target="udd6"))
    assert counts.sum() == 3 * 48 * 64 and (counts > 0).all()
    weights = data.class_weights(np.array([1000, 100, 10, 0]))
    assert weights[2] > weights[1] > weights[0] and weights[3] == 0


def test_repeat_lists_each_training_frame_several_times(udd6_root):
    ds = UDD6Dataset(udd6_root, "train", target="udd6", repeat=3)
    assert len(ds) == 9 and "x 3" in repr(ds)
    np.testing.assert_array_equal(ds[4][1], ds[1][1])
    loaders = data.make_loaders("udd6", udd6_root, size=32, batch_size=2, num_workers=0, repeat=2)
    assert len(loaders.train.dataset) == 6 and len(loaders.val.dataset) == 2


def test_loader_workers_default_to_the_spare_cores_unless_the_environment_says(monkeypatch, udd6_root):
    from landinglib.runtime import default_workers

    monkeypatch.delenv("LANDINGLIB_WORKERS", raising=False)
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1, 2})
    assert default_workers() == 2
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(16)))
    assert default_workers() == 4
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0})
    assert default_workers() == 0
    monkeypatch.setenv("LANDINGLIB_WORKERS", "3")
    assert default_workers() == 3
    monkeypatch.setenv("LANDINGLIB_WORKERS", "1")  # the affinity above says 0
    assert data.make_loaders("udd6", udd6_root, size=64, batch_size=2).train.num_workers == 1
    monkeypatch.setenv("LANDINGLIB_WORKERS", "two")
    with pytest.raises(ValueError, match="LANDINGLIB_WORKERS must be a whole number"):
        default_workers()


def test_class_weights_are_the_capped_square_root_of_median_over_frequency():
    counts = np.array([100, 300, 0, 600, 1], np.int64)
    freq = counts / counts.sum()
    median = np.median(freq[counts > 0])
    expected = np.where(counts > 0, np.minimum(np.sqrt(median / np.maximum(freq, 1e-300)), 10.0), 0.0)
    weights = data.class_weights(counts)
    assert weights.dtype == torch.float32
    assert torch.allclose(weights, torch.tensor(expected, dtype=torch.float32), rtol=1e-6)
    assert weights[4] == 10.0 and weights[2] == 0.0  # a rare class is capped, an absent one gets nothing
    assert torch.allclose(data.class_weights(counts, power=1.0, max_weight=1e9)[:2],
                          torch.tensor([median / freq[0], median / freq[1]], dtype=torch.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no labelled pixel: zeros, without numpy's empty-median warning
        assert torch.equal(data.class_weights(np.zeros(3, np.int64)), torch.zeros(3))


def _pixels_per_class(ds, items) -> np.ndarray:
    """Pixels of each class (255 not counted) over the masks of ``ds[i]`` for ``i`` in ``items``."""
    return np.array([sum(int((ds[i][1] == c).sum()) for i in items) for c in range(len(ds.classes))], np.int64)


def test_class_pixel_counts_count_each_frame_once_and_stop_at_max_items(udd6_root):
    ds = UDD6Dataset(udd6_root, "train", target="udd6")
    truth = _pixels_per_class(ds, range(len(ds)))
    counts = data.class_pixel_counts(ds)
    assert counts.dtype == np.int64 and np.array_equal(counts, truth)
    repeated = UDD6Dataset(udd6_root, "train", target="udd6", repeat=3)
    assert len(repeated) == 3 * len(ds) and np.array_equal(data.class_pixel_counts(repeated), truth)
    assert np.array_equal(data.class_pixel_counts(ds, max_items=1), _pixels_per_class(ds, [0]))
    assert np.array_equal(data.class_pixel_counts(ds, max_items=99), truth)


def test_make_datasets_builds_each_kind_with_its_transforms(dronedeploy_root, udd6_root, tmp_path):
    dd = data.make_datasets("dronedeploy", dronedeploy_root, size=64)
    assert sorted(dd) == ["test", "train", "val"] and all(isinstance(d, DroneDeployDataset) for d in dd.values())
    image, mask = dd["train"][0]
    assert tuple(image.shape) == (3, 64, 64) and mask.shape == (64, 64)
    u = data.make_datasets("udd6", udd6_root, size=64, repeat=2)
    assert all(type(d) is UDD6Dataset for d in u.values())
    assert u["train"].repeat == 2 and u["val"].repeat == 1
    with pytest.raises(ValueError, match="dataset must be 'dronedeploy', 'udd6' or 'folder', got 'udd7'"):
        data.make_datasets("udd7", udd6_root)
    message = "the 'folder' dataset needs root (your dataset folder) and classes (its class file)"
    for args, kwargs in (((None,), {"classes": data.SEMANTIC_DRONE_CLASSES}), ((tmp_path,), {})):
        with pytest.raises(ValueError) as err:
            data.make_datasets("folder", *args, **kwargs)
        assert str(err.value) == message


# --- every setting reaches the split it is meant for ----------------------------------------
def _same(a, b) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b))


def test_make_datasets_gives_train_its_augmentation_and_val_test_a_fixed_transform(udd6_root):
    ds = data.make_datasets("udd6", udd6_root, size=32, crop=16, augment="strong", seed=3)
    image, mask = ds["train"][0]
    assert tuple(image.shape) == (3, 16, 16) and tuple(mask.shape) == (16, 16)  # crop reached the train split
    assert any(isinstance(t, A.Affine) for t in ds["train"].transform.transforms)  # the strong recipe
    for split in ("val", "test"):
        first, again = ds[split][0], ds[split][0]
        assert _same(first, again), split  # no augmentation: the same item twice is the same tensor
        assert first[0].shape[-2] == 32, split  # the evaluation scale
    light = data.make_datasets("udd6", udd6_root, size=32)
    assert not any(isinstance(t, A.Affine) for t in light["train"].transform.transforms)


def test_make_datasets_seeds_the_training_augmentation_and_limits_every_split(udd6_root):
    def first_train_item(seed):
        return data.make_datasets("udd6", udd6_root, size=32, seed=seed)["train"][0]
    assert _same(first_train_item(3), first_train_item(3))
    assert not _same(first_train_item(3), first_train_item(4))
    limited = data.make_datasets("udd6", udd6_root, size=32, limit=1)
    assert [len(limited[s]) for s in ("train", "val", "test")] == [1, 1, 1]


def test_select_spreads_a_limit_evenly_and_rejects_less_than_one():
    assert data._select(list(range(10)), 3) == [0, 3, 6]
    assert data._select(list(range(10)), 1) == [0]
    assert data._select(list(range(4)), 4) == [0, 1, 2, 3] and data._select(list(range(4)), 9) == [0, 1, 2, 3]
    assert data._select(list(range(4)), None) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="^limit must be at least 1, got 0$"):
        data._select([1, 2], 0)


def test_loaders_shuffle_and_drop_only_in_training_seeded_padded_and_with_the_given_workers(udd6_root):
    loaders = data.make_loaders("udd6", udd6_root, size=32, batch_size=1, num_workers=0, seed=5, limit=2)
    train_loader, val_loader = loaders.train, loaders.val
    assert isinstance(train_loader.sampler, torch.utils.data.RandomSampler)
    assert isinstance(val_loader.sampler, torch.utils.data.SequentialSampler)
    assert train_loader.drop_last and not val_loader.drop_last and len(val_loader.dataset) > 1
    assert train_loader.generator.initial_seed() == 5 and len(train_loader.dataset) == 2
    assert train_loader.collate_fn is data.pad_collate and train_loader.worker_init_fn is data.seed_worker
    assert train_loader.num_workers == 0 and train_loader.pin_memory is torch.cuda.is_available()
    one = data.make_loaders("udd6", udd6_root, size=32, batch_size=4, num_workers=0, limit=1)
    assert len(one.train.dataset) == 1 and not one.train.drop_last  # fewer items than a batch: keep them
    assert sum(len(x) for x, _ in one.train) == 1


def test_loaders_seed_reaches_the_augmentation(udd6_root):
    def first_batch(seed):  # one frame: the shuffle cannot differ, only the augmentation
        return next(iter(data.make_loaders("udd6", udd6_root, size=32, batch_size=1, num_workers=0, seed=seed,
                                           limit=1).train))
    assert _same(first_batch(1), first_batch(1)) and not _same(first_batch(1), first_batch(2))


def test_unseen_style_split_is_every_frame_of_its_folder_as_landing_classes(udd6_root):
    every = data.unseen_style_dataset(udd6_root, size=None)
    assert every.split == "test" and every.target == "landing" and len(every) == 4  # all val/ frames
    image, mask = every[0]
    assert image.shape == (48, 64, 3) and mask.max() < 4  # raw arrays, landing classes
    sized = data.unseen_style_dataset(udd6_root, size=32, limit=2)
    assert len(sized) == 2 and sized[0][0].shape[-2] == 32
    loader = data.unseen_style_loader(udd6_root, size=32, batch_size=1, num_workers=0, limit=3)
    assert len(loader.dataset) == 3 and loader.dataset.root == udd6_root and loader.num_workers == 0
    assert isinstance(loader.sampler, torch.utils.data.SequentialSampler) and not loader.drop_last
    assert loader.dataset[0][0].shape[-2] == 32


def test_udd6_folder_one_level_down_is_found_and_a_missing_one_explains_itself(udd6_root, tmp_path):
    assert UDD6Dataset(udd6_root.parent, "train").root == udd6_root  # the archive unpacks to UDD6/
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError) as err:
        UDD6Dataset(missing, "train")
    assert str(err.value) == (f"UDD6 folder not found: {missing}. Expected {missing}/train/src and {missing}/train/gt; "
                              "pass the path of your UDD6 copy, or leave it out to use the built-in data")


def test_items_outside_the_dataset_raise_index_error_and_negative_indices_count_from_the_end(udd6_root):
    ds = UDD6Dataset(udd6_root, "train")
    assert _same(map(torch.as_tensor, ds[-3]), map(torch.as_tensor, ds[0]))
    for bad in (3, -4):
        with pytest.raises(IndexError, match=f"^index {bad} out of range for 3 items$"):
            ds[bad]
    assert repr(ds).startswith("UDD6Dataset('train', 3 images, target='landing', root=")
    assert "3 images x 2," in repr(UDD6Dataset(udd6_root, "train", repeat=2))


def test_16_bit_and_rgba_labels_are_read_and_values_above_255_rejected(tmp_path):
    values = np.array([[0, 1, 5, 255]], np.uint16).repeat(2, 0)
    cv2.imwrite(str(tmp_path / "i16.png"), values)
    assert data.read_label(tmp_path / "i16.png").tolist() == values.tolist()  # 255 (ignore) is a valid value
    cv2.imwrite(str(tmp_path / "big.png"), values * 2)
    with pytest.raises(ValueError, match=re.escape(f"{tmp_path / 'big.png'}: label values go up to 510, "
                                                   "expected class indices < 256")):
        data.read_label(tmp_path / "big.png")
    Image.fromarray(values.astype(np.int32), "I").save(tmp_path / "i32.tif")
    assert data.read_label(tmp_path / "i32.tif").tolist() == values.tolist()
    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[..., :3], rgba[..., 3] = (128, 64, 128), 200
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    assert data.read_label(tmp_path / "rgba.png").tolist() == [[[128, 64, 128]] * 3] * 2
    Image.fromarray(np.zeros((2, 2), np.float32), "F").save(tmp_path / "float.tif")
    with pytest.raises(ValueError, match=re.escape(f"{tmp_path / 'float.tif'}: label images in mode 'F' are not supported")):
        data.read_label(tmp_path / "float.tif")


def test_missing_files_and_odd_channel_counts_are_named(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match=re.escape(f"image not found: {tmp_path / 'a.png'}")):
        data.read_image(tmp_path / "a.png")
    with pytest.raises(FileNotFoundError, match=re.escape(f"label not found: {tmp_path / 'a.png'}")):
        data.read_label(tmp_path / "a.png")
    cv2.imwrite(str(tmp_path / "two.tif"), np.zeros((4, 4, 3), np.uint8))
    with monkeypatch.context() as m:  # a 2-channel TIFF (OpenCV cannot write one)
        m.setattr(data.cv2, "imread", lambda *args: np.zeros((4, 4, 2), np.uint8))
        with pytest.raises(ValueError, match=re.escape(f"{tmp_path / 'two.tif'}: images with 2 channels are not supported")):
            data.read_image(tmp_path / "two.tif")
    cv2.imwrite(str(tmp_path / "w16.png"), np.full((2, 2), 65535, np.uint16))
    assert data.read_image(tmp_path / "w16.png").tolist() == [[[255] * 3] * 2] * 2  # 16 bit -> 8 bit, integers
    cv2.imwrite(str(tmp_path / "m16.png"), np.full((2, 2), 257 * 100 + 200, np.uint16))
    assert (data.read_image(tmp_path / "m16.png") == 100).all()


def test_a_read_only_dataset_folder_caches_under_the_home_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    folder = tmp_path / "readonly" / ".cache"

    def refuse(*args, **kwargs):
        raise PermissionError("read-only file system")
    monkeypatch.setattr(data.tempfile, "NamedTemporaryFile", refuse)
    fallback = data._writable(folder)
    expected = tmp_path / "home" / ".cache" / "landinglib" / "chips" / f"{zlib.crc32(str(folder).encode()):08x}"
    assert fallback == expected and expected.is_dir()
    monkeypatch.undo()
    assert data._writable(folder) == folder and folder.is_dir()


def test_denormalize_clamps_to_the_displayable_range():
    mean = torch.tensor(data.IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(data.IMAGENET_STD).view(3, 1, 1)
    image = (torch.tensor([-0.5, 0.5, 1.5]).view(3, 1, 1).expand(3, 2, 2) - mean) / std  # below, inside, above
    out = data.denormalize(image)
    assert out.dtype == np.uint8 and out[0, 0, 0] == 0 and out[0, 0, 2] == 255
    assert abs(int(out[0, 0, 1]) - 128) <= 1


def test_pad_collate_keeps_the_image_dtype_and_long_masks():
    batch = [(torch.ones(3, 2, 2, dtype=torch.float16), torch.zeros(2, 2, dtype=torch.uint8)),
             (torch.ones(3, 2, 3, dtype=torch.float16), torch.ones(2, 3, dtype=torch.uint8))]
    images, masks = data.pad_collate(batch)
    assert images.dtype == torch.float16 and masks.dtype == torch.long
    assert masks[0].tolist() == [[0, 0, 255], [0, 0, 255]] and masks[1].tolist() == [[1, 1, 1], [1, 1, 1]]


def test_rotation_padding_is_ignored_in_the_mask():
    """A free rotation (strong) uncovers corners: the mask marks them ignore, never a class."""
    image = np.full((128, 128, 3), 200, np.uint8)
    mask = np.ones((128, 128), np.uint8)
    transform = data.train_transform(128, augment="strong")
    transform.set_random_seed(0)
    padded_draws = 0
    for _ in range(30):
        m = transform(image=image, mask=mask)["mask"].numpy()
        assert set(np.unique(m).tolist()) <= {1, 255}
        padded_draws += int((m == 255).sum() > 200)
    assert padded_draws >= 5


def test_eval_padding_is_black_in_the_image():
    out = data.eval_transform(256)(image=np.full((540, 1024, 3), 255, np.uint8), mask=np.ones((540, 1024), np.uint8))
    black = (0 - torch.tensor(data.IMAGENET_MEAN)) / torch.tensor(data.IMAGENET_STD)
    torch.testing.assert_close(out["image"][:, :, -1], black.view(3, 1).expand(3, 256))


def test_class_pixel_counts_of_chips_count_every_chip(dronedeploy_root):
    ds = DroneDeployDataset(dronedeploy_root, "train")
    assert data.class_pixel_counts(ds).tolist() == _pixels_per_class(ds, range(len(ds))).tolist()


def test_split_files_read_every_spelling_of_the_three_splits(tmp_path):
    path = tmp_path / "splits.csv"
    path.write_text("name;split\nA.png;TRAIN\nb.jpg, Valid\nc test\nd.png val\nzzz.png train\ne.png\n")
    assert data._read_split_file(path, {"A", "b", "c", "d", "e"}) == {"A": "train", "b": "val", "c": "test", "d": "val"}
    with pytest.raises(FileNotFoundError, match=re.escape(f"split file not found: {tmp_path / 'none.txt'}")):
        data._read_split_file(tmp_path / "none.txt", {"A"})
    path.write_text("name split\ne.png\nzzz.png train\n")  # a name without split, a split without a known name
    with pytest.raises(ValueError) as err:
        data._read_split_file(path, {"e"})
    assert str(err.value) == f"{path} names none of the images (expected lines 'name split', split = train, val or test)"


def test_index_csv_rows_give_each_known_scene_its_split(tmp_path):
    path = tmp_path / "index.csv"
    path.write_text("index,scene,split\n0,s1,train\n1,s2,valid\n2,s3,test\n3,s4,val\n4,s5\n5,gone,train\n")
    assert data._read_index_csv(path, {"s1", "s2", "s3", "s4", "s5"}) == [
        ("s1", "train"), ("s2", "val"), ("s3", "test"), ("s4", "val"), ("s5", None)]
    assert data._read_index_csv(tmp_path / "missing.csv", {"s1"}) == []


def test_the_frame_cache_notices_a_changed_image_and_maps_its_arrays_from_disk(udd6_root, tmp_path):
    ds = UDD6Dataset(udd6_root, "train", target="udd6")
    image_path, label_path = ds.pairs[0]
    image, mask = data._cached_pair(image_path, label_path, lambda: data.read_label(label_path)[..., 0], tmp_path / "f")
    assert isinstance(image, np.memmap) and isinstance(mask, np.memmap)  # not read into memory
    assert not (ds[0][0] == 7).all()  # the dataset's own cache is filled now
    cv2.imwrite(str(image_path), np.full((48, 64, 3), 7, np.uint8))
    os.utime(image_path, ns=(0, image_path.stat().st_mtime_ns + 1_000_000))
    assert (UDD6Dataset(udd6_root, "train", target="udd6")[0][0] == 7).all()  # the image alone changed


def test_each_loader_worker_seeds_numpy_and_its_transform_from_its_torch_seed(monkeypatch):
    """In a worker process torch's seed differs per worker and epoch; numpy and the albumentations transform must
    follow it, or every worker would augment alike (and a resumed run would differ)."""
    seeds = []

    class Transform:
        def set_random_seed(self, seed):
            seeds.append(seed)

    class Info:
        dataset = type("D", (), {"transform": Transform()})()
    monkeypatch.setattr(data, "get_worker_info", lambda: Info())
    numpy_state = np.random.get_state()
    with torch.random.fork_rng():  # the global seeds are put back afterwards
        torch.manual_seed(2**32 + 123)  # torch seeds are 64-bit; numpy's are below 2**32
        data.seed_worker(0)
        assert seeds == [123] and np.random.random() == np.random.RandomState(123).random()
        monkeypatch.setattr(data, "get_worker_info", lambda: None)  # the main process: numpy only
        data.seed_worker(0)
        assert seeds == [123]
    np.random.set_state(numpy_state)


def test_dronedeploy_dataset_says_what_it_holds(dronedeploy_root):
    ds = DroneDeployDataset(dronedeploy_root, "train")
    assert repr(ds).startswith(f"DroneDeployDataset('train', {len(ds)} chips of 512 px from 1 scenes, root=")


GOLDEN_SPLITS_SEED0 = "rrrrarrrrrre"  # second letters of train/val/test for scene000..scene011, seed 0 (landinglib 0.1)


def test_hashed_splits_stay_the_same_across_versions_and_follow_the_seed():
    """The split of a scene without index.csv is a pure function of (seed, name): these values must never change,
    or a model would be tested on scenes it trained on in an earlier version."""
    names = [f"scene{i:03d}" for i in range(12)]
    assert "".join(data._hashed_split(n, 0)[1] for n in names) == GOLDEN_SPLITS_SEED0
    assert [data._hashed_split(n, 1) for n in names] != [data._hashed_split(n, 0) for n in names]


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


def test_paths_are_shown_relative_when_that_is_shorter():
    assert data._shown(Path.cwd() / "a" / "b.png") == os.path.join("a", "b.png")
    assert data._shown(Path("/")) == "/"


def test_windows_cover_the_length_once_each_and_the_last_ends_flush():
    assert data.window_starts(10, 4, 3) == [0, 3, 6]  # ends flush already: not added twice
    assert data.window_starts(11, 4, 3) == [0, 3, 6, 7]  # one more, flush with the border
    assert data.window_starts(10, 4, 1) == [0, 1, 2, 3, 4, 5, 6]  # every start, none past the border
    assert data.window_starts(4, 4, 2) == [0] and data.window_starts(3, 4, 2) == [0]


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
