"""landinglib.data.io: reading images and labels, decoding labels to class indices, pairing files by stem."""
import inspect
import re

import cv2
import numpy as np
import pytest
from PIL import Image

from landinglib import classes, data
from landinglib.classes import IGNORE_INDEX, UnknownColorWarning
from landinglib.data import UDD6Dataset

from .conftest import OWN_CLASSES_CSV, error_message


# --- reading images -------------------------------------------------------------------------------
def test_udd6_rgb_image_is_converted_from_bgr(udd6_root):
    path = UDD6Dataset(udd6_root, "train").pairs[0][0]
    bgr = cv2.imread(str(path))
    np.testing.assert_array_equal(data.read_image(path), bgr[..., ::-1])


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


def test_missing_files_and_odd_channel_counts_are_named(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match=re.escape(f"image not found: {tmp_path / 'a.png'}")):
        data.read_image(tmp_path / "a.png")
    with pytest.raises(FileNotFoundError, match=re.escape(f"label not found: {tmp_path / 'a.png'}")):
        data.read_label(tmp_path / "a.png")
    cv2.imwrite(str(tmp_path / "two.tif"), np.zeros((4, 4, 3), np.uint8))
    with monkeypatch.context() as m:  # a 2-channel TIFF (OpenCV cannot write one)
        m.setattr(data.io.cv2, "imread", lambda *args: np.zeros((4, 4, 2), np.uint8))
        with pytest.raises(ValueError, match=re.escape(f"{tmp_path / 'two.tif'}: images with 2 channels are not supported")):
            data.read_image(tmp_path / "two.tif")
    cv2.imwrite(str(tmp_path / "w16.png"), np.full((2, 2), 65535, np.uint16))
    assert data.read_image(tmp_path / "w16.png").tolist() == [[[255] * 3] * 2] * 2  # 16 bit -> 8 bit, integers
    cv2.imwrite(str(tmp_path / "m16.png"), np.full((2, 2), 257 * 100 + 200, np.uint16))
    assert (data.read_image(tmp_path / "m16.png") == 100).all()


def test_corrupt_image_is_a_clear_error(udd6_root):
    path = udd6_root / "train" / "src" / "DJI_train_00.JPG"
    path.write_bytes(b"this is not a jpeg")
    ds = UDD6Dataset(udd6_root, "train")
    with pytest.raises(ValueError, match=r"cannot read image .*DJI_train_00\.JPG.*corrupt"):
        ds[0]


# --- reading and decoding labels ------------------------------------------------------------------
def test_corrupt_label_is_a_clear_error(udd6_root):
    (udd6_root / "train" / "gt" / "DJI_train_00.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(ValueError, match=r"cannot read label .*DJI_train_00\.png"):
        UDD6Dataset(udd6_root, "train")[0]


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


def test_a_16_bit_label_value_of_256_is_refused_not_wrapped_to_class_0(tmp_path):
    """256 is the first value that does not fit in 8 bits: it must be an error, not silently become 0."""
    path = tmp_path / "deep.png"
    cv2.imwrite(str(path), np.array([[0, 1], [255, 256]], np.uint16))
    message = error_message(lambda: data.read_label(path), ValueError)
    assert message == f"{path}: label values go up to 256, expected class indices < 256"


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


def test_an_out_of_range_index_warning_points_at_the_line_that_decoded_the_label(tmp_path):
    """The warning names the caller's line, not a line inside landinglib (deselected under mutmut: its
    trampoline adds a stack frame)."""
    path = tmp_path / "label.png"
    Image.fromarray(np.array([[0, 9]], np.uint8), "L").save(path)  # UDD6 has classes 0..5
    with pytest.warns(UnknownColorWarning) as record:
        line = inspect.currentframe().f_lineno + 1
        data.decode_label(path, classes.UDD6)
    assert (record[0].filename, record[0].lineno) == (__file__, line)


# --- pairs: same size, paired by stem -------------------------------------------------------------
def test_label_of_wrong_size_is_a_clear_error(udd6_root):
    path = udd6_root / "train" / "gt" / "DJI_train_01.png"
    cv2.imwrite(str(path), np.zeros((10, 12), np.uint8))
    image = udd6_root / "train" / "src" / "DJI_train_01.JPG"
    with pytest.raises(ValueError) as err:
        UDD6Dataset(udd6_root, "train")[1]
    assert str(err.value) == (f"label {path} is 12x10 but image {image} is 64x48; "
                              "labels must match their image pixel for pixel")


def test_image_without_label_names_the_file(udd6_root):
    (udd6_root / "train" / "gt" / "DJI_train_01.png").unlink()
    with pytest.raises(FileNotFoundError, match=r"no label for .*DJI_train_01\.JPG .*expected .*DJI_train_01\.png"):
        UDD6Dataset(udd6_root, "train")


# --- issue 28: images and labels pair by their whole stem, dots and all ---------------------------
STEMS = {"site": 0, "site.north": 1, "site.south": 2}  # stem -> the class its label holds (and its image's grey / 80)


@pytest.mark.parametrize("layout", ["folder", "udd6"])
def test_images_and_labels_pair_by_file_stem_also_when_stems_contain_dots(layout, tmp_path):
    """``site.jpg``, ``site.north.jpg``, ``site.south.jpg`` pair with ``site.png``, ``site.north.png``,
    ``site.south.png``: sorted by name the labels come in another order (``site.north.png`` < ``site.png``), and
    cutting a name at its first dot would make all three "site"."""
    if layout == "folder":
        images, labels = tmp_path / "mine" / "images", tmp_path / "mine" / "labels"
    else:
        images, labels = tmp_path / "UDD6" / "train" / "src", tmp_path / "UDD6" / "train" / "gt"
        for sub in ("src", "gt"):
            (tmp_path / "UDD6" / "val" / sub).mkdir(parents=True)
    images.mkdir(parents=True)
    labels.mkdir(parents=True)
    for stem, k in STEMS.items():
        cv2.imwrite(str(images / f"{stem}.jpg"), np.full((30, 40, 3), 80 * k + 20, np.uint8))
        Image.fromarray(np.full((30, 40), k, np.uint8), "L").save(labels / f"{stem}.png")
    if layout == "folder":
        (tmp_path / "mine" / "classes.csv").write_text(OWN_CLASSES_CSV)
        sets = [data.FolderDataset(images, labels, tmp_path / "mine" / "classes.csv", split) for split in data.SPLITS]
    else:
        sets = [data.UDD6Dataset(tmp_path / "UDD6", "train", target="udd6")]
    pairs = [(image.name, label.name) for ds in sets for image, label in ds.pairs]
    assert sorted(pairs) == sorted((f"{stem}.jpg", f"{stem}.png") for stem in STEMS)
    items = [ds[i] for ds in sets for i in range(len(ds))]
    assert len(items) == len(STEMS)
    for image, mask in items:
        k = int(round((float(image.mean()) - 20) / 80))  # the image says which file it is
        assert abs(float(image.mean()) - (80 * k + 20)) < 3, image.mean()
        assert set(np.unique(mask)) == {k}, (image.mean(), np.unique(mask))  # the label of that same file
