"""Data edge cases: the frame cache and its folders, reduced images, hashed and official splits,
loader settings and defaults, collating and class weights at their boundaries."""
import csv
import os
import tempfile
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from landinglib import data
from landinglib.classes import IGNORE_INDEX
from landinglib.data import UDD6Dataset


# --- the frame cache and its folder ---------------------------------------------------------
def test_a_cache_folder_you_name_can_be_used_again(udd6_root, tmp_path):
    """A second dataset (or a second run) pointed at an existing cache folder reuses it."""
    cache = tmp_path / "my-cache"
    first = UDD6Dataset(udd6_root, "train", cache_dir=cache)
    again = UDD6Dataset(udd6_root, "train", cache_dir=cache)
    assert first.cache_dir == again.cache_dir == cache
    np.testing.assert_array_equal(again[0][1], first[0][1])


def test_a_read_only_dataset_folder_falls_back_to_the_same_home_folder_every_time(tmp_path, monkeypatch):
    """The fallback cache under ~/.cache is made once and found again by the next dataset."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))

    def refuse(*args, **kwargs):
        raise PermissionError("read-only file system")
    monkeypatch.setattr(data.tempfile, "NamedTemporaryFile", refuse)
    folder = tmp_path / "readonly" / ".cache"
    first = data._writable(folder)
    assert data._writable(folder) == first and first.is_dir() and first != folder


def test_the_writability_check_is_made_in_the_dataset_folder_itself(tmp_path, monkeypatch):
    """A folder where no file can be created is not used for the cache, even when the system's
    temporary folder is writable."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    folder = tmp_path / "readonly" / ".cache"
    real = tempfile.NamedTemporaryFile

    def refuse_in_folder(*args, dir=None, **kwargs):
        if dir is not None and Path(dir) == folder:
            raise PermissionError("read-only file system")
        return real(*args, dir=dir, **kwargs)
    monkeypatch.setattr(data.tempfile, "NamedTemporaryFile", refuse_in_folder)
    assert data._writable(folder) == tmp_path / "home" / ".cache" / "landinglib" / "chips" / (
        f"{zlib.crc32(str(folder).encode()):08x}")


def test_the_cache_holds_an_image_a_mask_and_a_record_per_frame_named_as_documented(udd6_root, tmp_path):
    """Each decoded frame is stored as <key>.image.npy, <key>.mask.npy and <key>.json, so the
    cache can be inspected and cleaned by name; <key>.lock lets several processes share it."""
    ds = UDD6Dataset(udd6_root, "train", cache_dir=tmp_path / "c")
    ds[0]
    key = f"train-{ds.pairs[0][0].stem}"
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == [f"{key}.image.npy", f"{key}.json", f"{key}.lock",
                                                                 f"{key}.mask.npy"]
    image, mask = ds[0]
    np.testing.assert_array_equal(np.load(tmp_path / "c" / f"{key}.image.npy"), image)
    assert np.load(tmp_path / "c" / f"{key}.mask.npy").shape == mask.shape


def _pair(tmp_path, h, w):
    """An (h, w) noise image and an all-ones index label on disk, and a decoder for the label."""
    image_path, label_path = tmp_path / f"i{h}x{w}.png", tmp_path / f"l{h}x{w}.png"
    cv2.imwrite(str(image_path), np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8))
    Image.fromarray(np.ones((h, w), np.uint8), "L").save(label_path)
    return image_path, label_path, lambda: data.read_label(label_path)


def test_a_thin_strip_is_reduced_to_one_pixel_across_not_two(tmp_path):
    """max_side keeps the aspect: 400x4 at max_side 100 is 100x1 (either way round)."""
    for h, w, expected in ((4, 400, (1, 100)), (400, 4, (100, 1))):
        image_path, label_path, decode = _pair(tmp_path, h, w)
        image, mask = data._cached_pair(image_path, label_path, decode, tmp_path / f"s{h}", max_side=100)
        assert image.shape[:2] == expected and mask.shape == expected, (h, w)


def test_an_image_already_within_max_side_is_never_enlarged(tmp_path):
    """Only larger images are reduced; a 1x1 image stays 1x1 even with a tiny max_side."""
    image_path, label_path, decode = _pair(tmp_path, 1, 1)
    image, mask = data._cached_pair(image_path, label_path, decode, tmp_path / "one", max_side=2)
    assert image.shape == (1, 1, 3) and mask.shape == (1, 1)


# --- where a UDD6 folder is, and what counts as a label --------------------------------------
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


# --- splits --------------------------------------------------------------------------------
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


def test_every_scene_of_the_published_lists_gets_its_published_split():
    """The shipped scene list is read in full, its first row included."""
    path = Path(data.__file__).with_name("dronedeploy_splits.csv")
    with path.open(newline="") as f:
        published = {row["scene"]: row["split"] for row in csv.DictReader(f)}
    assert len(published) > 10 and data._official_splits() == published


# --- loaders -------------------------------------------------------------------------------
def test_loaders_use_the_workers_you_ask_for_even_when_the_environment_says_otherwise(udd6_root, monkeypatch):
    """num_workers=0 means no worker processes, whatever the default would be."""
    monkeypatch.setenv("LANDINGLIB_WORKERS", "2")
    loaders = data.make_loaders("udd6", udd6_root, size=32, batch_size=2, num_workers=0)
    assert [loader.num_workers for loader in loaders] == [0, 0, 0]
    assert data.make_loaders("udd6", udd6_root, size=32, batch_size=2, num_workers=1).val.num_workers == 1


def test_loaders_pin_memory_when_cuda_is_present(udd6_root, monkeypatch):
    """With a GPU, batches are pinned for faster copies to the device."""
    monkeypatch.setattr(data.torch.cuda, "is_available", lambda: True)
    loaders = data.make_loaders("udd6", udd6_root, size=32, batch_size=2, num_workers=0)
    assert [loader.pin_memory for loader in loaders] == [True, True, True]


def test_an_empty_split_is_an_error_that_names_the_split_and_the_dataset(udd6_root):
    """A split without items would train or evaluate on nothing: the error says which one."""
    with pytest.raises(ValueError, match=r"^the val split of UDD6Dataset\('val', 0 images, .* is empty$"):
        data.make_loaders("udd6", udd6_root, size=32, num_workers=0, test_fraction=1.0)


def test_make_loaders_defaults_are_batches_of_6_at_256_px_with_seed_0(udd6_root):
    """Left out, the size is 256 px, the batch size 6 and the seed 0 (shuffle and augmentation)."""
    default = data.make_loaders("udd6", udd6_root, num_workers=0)
    assert [loader.batch_size for loader in default] == [6, 6, 6]
    images, _ = next(iter(default.val))
    assert tuple(images.shape[-2:]) == (256, 352)  # 48x64 frames: short side 256, padded to a multiple of 32
    train_images, train_masks = next(iter(default.train))
    assert tuple(train_images.shape[-2:]) == (256, 256)
    seeded = data.make_loaders("udd6", udd6_root, num_workers=0, seed=0)
    again_images, again_masks = next(iter(seeded.train))
    assert torch.equal(train_images, again_images) and torch.equal(train_masks, again_masks)


def test_seed_worker_works_for_a_dataset_without_a_transform(monkeypatch):
    """seed_worker is public: a plain dataset of your own (no transform attribute) still gets numpy seeded."""
    class Info:
        dataset = torch.utils.data.TensorDataset(torch.zeros(2))
    monkeypatch.setattr(data, "get_worker_info", lambda: Info())
    numpy_state = np.random.get_state()
    with torch.random.fork_rng():
        torch.manual_seed(77)
        data.seed_worker(0)
        assert np.random.random() == np.random.RandomState(77).random()
    np.random.set_state(numpy_state)


# --- collating and statistics --------------------------------------------------------------
def test_pad_collate_accepts_masks_with_a_leading_channel_of_one():
    """Masks shaped (1, H, W), as some transforms give them, are padded like (H, W) masks."""
    batch = [(torch.ones(3, 2, 5), torch.ones(1, 2, 5, dtype=torch.long)),
             (torch.ones(3, 4, 3), torch.zeros(1, 4, 3, dtype=torch.long))]
    _, masks = data.pad_collate(batch)
    assert masks.shape == (2, 4, 5)
    assert masks[0].tolist() == [[1] * 5] * 2 + [[IGNORE_INDEX] * 5] * 2
    assert masks[1].tolist() == [[0, 0, 0, IGNORE_INDEX, IGNORE_INDEX]] * 4


def test_class_weights_of_billions_of_pixels_match_those_of_the_same_proportions():
    """Pixel counts of a large dataset (billions per class) give the same weights as small counts
    in the same proportions: nothing overflows."""
    small = np.array([4_000, 3_000, 1_000, 500], np.int64)
    assert torch.equal(data.class_weights(small * 1_000_000), data.class_weights(small))


def test_weights_from_half_precision_counts_are_capped_at_exactly_max_weight():
    """Counts (or frequencies) in float16 are capped at max_weight itself, not at its float16 rounding."""
    weights = data.class_weights(np.array([60, 20, 1], np.float16), max_weight=0.1)
    assert torch.equal(weights, torch.full((3,), 0.1))


# --- how paths are shown -------------------------------------------------------------------
def test_a_relative_path_no_shorter_than_the_full_one_is_not_used(monkeypatch):
    """From /p/q, /p/r/s is ../r/s: as long as the full path, so the full path is shown."""
    monkeypatch.setattr(os, "getcwd", lambda: "/p/q")
    assert data._shown(Path("/p/r/s")) == "/p/r/s"
    assert data._shown(Path("/p/q/r/s")) == "r/s"


def test_a_path_on_another_drive_is_shown_in_full(monkeypatch):
    """On Windows a path on another drive has no relative form: the full path is shown."""
    def other_drive(*args, **kwargs):
        raise ValueError("path is on mount 'D:', start on mount 'C:'")
    monkeypatch.setattr(data.os.path, "relpath", other_drive)
    assert data._shown(Path("/data/frames")) == str(Path("/data/frames"))


def test_two_processes_reading_a_frame_first_decode_it_once(udd6_root, tmp_path):
    """Two notebooks (or loader workers) that read the same frame on first use: one decodes it into the cache,
    the other waits and uses that copy."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(f"""
        import time
        from landinglib import data
        real = data.read_image
        def slow(path):
            with open({str(tmp_path / 'decoded.log')!r}, "a") as log:
                log.write("decoded\\n")
            time.sleep(4)  # a long decode: the other process arrives while it runs
            return real(path)
        data.read_image = slow
        data.UDD6Dataset({str(udd6_root)!r}, "train", cache_dir={str(tmp_path / 'c')!r})[0]
    """)
    processes = [subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for p in processes:
        assert p.wait(timeout=120) == 0, p.stderr.read()
    assert (tmp_path / "decoded.log").read_text().count("decoded") == 1
