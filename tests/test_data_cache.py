"""landinglib.data.cache: each pair decoded once into memory-mapped files, its folder, and processes sharing it."""
import os
import tempfile
import zlib
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from landinglib import classes, data
from landinglib.data import DroneDeployDataset, UDD6Dataset


# --- decoded once, again when a file changes ------------------------------------------------------
def test_udd6_frames_are_decoded_once_and_again_when_a_file_changes(udd6_root, monkeypatch):
    first = UDD6Dataset(udd6_root, "train", target="udd6")[0][1].copy()
    decoded = []
    real_decode = data.datasets.decode_label
    monkeypatch.setattr(data.datasets, "decode_label", lambda *a, **k: decoded.append(a[0]) or real_decode(*a, **k))
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


def test_the_frame_cache_notices_a_changed_image_and_maps_its_arrays_from_disk(udd6_root, tmp_path):
    ds = UDD6Dataset(udd6_root, "train", target="udd6")
    image_path, label_path = ds.pairs[0]
    image, mask = data._cached_pair(image_path, label_path, lambda: data.read_label(label_path)[..., 0], tmp_path / "f")
    assert isinstance(image, np.memmap) and isinstance(mask, np.memmap)  # not read into memory
    assert not (ds[0][0] == 7).all()  # the dataset's own cache is filled now
    cv2.imwrite(str(image_path), np.full((48, 64, 3), 7, np.uint8))
    os.utime(image_path, ns=(0, image_path.stat().st_mtime_ns + 1_000_000))
    assert (UDD6Dataset(udd6_root, "train", target="udd6")[0][0] == 7).all()  # the image alone changed


def test_dronedeploy_cache_is_rebuilt_when_the_label_changes(dronedeploy_root):
    before = DroneDeployDataset(dronedeploy_root, "train", chip_size=128)[0][1].copy()
    path = dronedeploy_root / "labels" / "abc0_TESTSCENE-label.png"
    bgr = cv2.imread(str(path))
    bgr[:] = (255, 255, 255)  # everything GROUND
    cv2.imwrite(str(path), bgr)
    ds = DroneDeployDataset(dronedeploy_root, "train", chip_size=128)
    assert len(ds) == 7 * 8  # no IGNORE chip left to skip
    assert (ds[0][1] == 4).all() and not (before == 4).all()


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


# --- the cache's folder ---------------------------------------------------------------------------
def test_a_cache_folder_you_name_can_be_used_again(udd6_root, tmp_path):
    """A second dataset (or a second run) pointed at an existing cache folder reuses it."""
    cache = tmp_path / "my-cache"
    first = UDD6Dataset(udd6_root, "train", cache_dir=cache)
    again = UDD6Dataset(udd6_root, "train", cache_dir=cache)
    assert first.cache_dir == again.cache_dir == cache
    np.testing.assert_array_equal(again[0][1], first[0][1])


def test_a_read_only_dataset_folder_caches_under_the_home_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    folder = tmp_path / "readonly" / ".cache"

    def refuse(*args, **kwargs):
        raise PermissionError("read-only file system")
    monkeypatch.setattr(data.cache.tempfile, "NamedTemporaryFile", refuse)
    fallback = data._writable(folder)
    expected = tmp_path / "home" / ".cache" / "landinglib" / "chips" / f"{zlib.crc32(str(folder).encode()):08x}"
    assert fallback == expected and expected.is_dir()
    monkeypatch.undo()
    assert data._writable(folder) == folder and folder.is_dir()


def test_a_read_only_dataset_folder_falls_back_to_the_same_home_folder_every_time(tmp_path, monkeypatch):
    """The fallback cache under ~/.cache is made once and found again by the next dataset."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))

    def refuse(*args, **kwargs):
        raise PermissionError("read-only file system")
    monkeypatch.setattr(data.cache.tempfile, "NamedTemporaryFile", refuse)
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
    monkeypatch.setattr(data.cache.tempfile, "NamedTemporaryFile", refuse_in_folder)
    assert data._writable(folder) == tmp_path / "home" / ".cache" / "landinglib" / "chips" / (
        f"{zlib.crc32(str(folder).encode()):08x}")


# --- reduced pairs (max_side) ---------------------------------------------------------------------
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


# --- processes sharing the cache ------------------------------------------------------------------
def test_a_pair_decoded_while_another_process_holds_its_lock_waits_without_a_word(tmp_path, capsys):
    """A loader worker that waits while another process decodes the same pair says nothing (``exclusive(...,
    say=False)``), or the output of a training run would fill with "waiting" lines; the lock still makes it wait."""
    import threading
    import time

    from filelock import FileLock

    image_path, label_path, decode = _pair(tmp_path, 4, 6)
    stem = tmp_path / "held"
    held = threading.Event()

    def hold():  # another process decoding this pair: the same lock file, held for a moment
        with FileLock(str(stem) + ".lock"):
            held.set()
            time.sleep(0.5)
    holder = threading.Thread(target=hold)
    holder.start()
    held.wait()
    start = time.perf_counter()
    image, mask = data._cached_pair(image_path, label_path, decode, stem)
    waited = time.perf_counter() - start
    holder.join()
    assert waited > 0.25 and image.shape == (4, 6, 3) and mask.shape == (4, 6)  # it did wait, then decoded
    assert capsys.readouterr().out == ""


def test_two_processes_reading_a_frame_first_decode_it_once(udd6_root, tmp_path):
    """Two notebooks (or loader workers) that read the same frame on first use: one decodes it into the cache,
    the other waits and uses that copy."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(f"""
        import time
        from landinglib import data
        real = data.cache.read_image  # what the cache decodes with
        def slow(path):
            with open({str(tmp_path / 'decoded.log')!r}, "a") as log:
                log.write("decoded\\n")
            time.sleep(4)  # a long decode: the other process arrives while it runs
            return real(path)
        data.cache.read_image = slow
        data.UDD6Dataset({str(udd6_root)!r}, "train", cache_dir={str(tmp_path / 'c')!r})[0]
    """)
    processes = [subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for p in processes:
        assert p.wait(timeout=120) == 0, p.stderr.read()
    assert (tmp_path / "decoded.log").read_text().count("decoded") == 1
