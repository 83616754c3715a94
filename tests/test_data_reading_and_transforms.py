"""Reading files and folders, the transforms' defaults and recipes, and what datasets say about themselves:
the behaviours of ``landinglib.data`` that the broader tests in test_data.py leave open."""
import inspect
import warnings

import albumentations as A
import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from landinglib import classes, data
from landinglib.classes import UnknownColorWarning
from landinglib.data import DroneDeployDataset, FolderDataset, UDD6Dataset

from .conftest import error_message

CLASSES_CSV = "name, r, g, b, landing\nground, 120, 120, 120, Safe\nhouse, 200, 0, 0, Danger\n"


def _own_folder(root, n=6, h=48, w=64):
    """``root/images`` + ``root/labels`` with ``n`` grey frames and index labels, a class file and a split file
    that puts every frame in train."""
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    for i in range(n):
        cv2.imwrite(str(root / "images" / f"f{i}.png"), np.full((h, w, 3), 20 * i, np.uint8))
        Image.fromarray((np.arange(w)[None, :].repeat(h, 0) * 2 // w).astype(np.uint8), "L").save(
            root / "labels" / f"f{i}.png")
    (root / "classes.csv").write_text(CLASSES_CSV)
    (root / "all_train.txt").write_text("".join(f"f{i}.png train\n" for i in range(n)))
    return root


def _steps(transform):
    """Every step of an albumentations pipeline, including those inside OneOf."""
    for step in transform.transforms:
        yield step
        if hasattr(step, "transforms"):
            yield from _steps(step)


# --- reading labels -----------------------------------------------------------------------
def test_an_out_of_range_index_warning_points_at_the_line_that_decoded_the_label(tmp_path):
    """The warning names the caller's line, not a line inside landinglib (deselected under mutmut: its
    trampoline adds a stack frame)."""
    path = tmp_path / "label.png"
    Image.fromarray(np.array([[0, 9]], np.uint8), "L").save(path)  # UDD6 has classes 0..5
    with pytest.warns(UnknownColorWarning) as record:
        line = inspect.currentframe().f_lineno + 1
        data.decode_label(path, classes.UDD6)
    assert (record[0].filename, record[0].lineno) == (__file__, line)


def test_a_16_bit_label_value_of_256_is_refused_not_wrapped_to_class_0(tmp_path):
    """256 is the first value that does not fit in 8 bits: it must be an error, not silently become 0."""
    path = tmp_path / "deep.png"
    cv2.imwrite(str(path), np.array([[0, 1], [255, 256]], np.uint16))
    message = error_message(lambda: data.read_label(path), ValueError)
    assert message == f"{path}: label values go up to 256, expected class indices < 256"


# --- finding your folders -------------------------------------------------------------------
def test_a_folder_without_image_and_label_folders_says_which_layouts_were_looked_for(tmp_path):
    """An images/ folder alone is not a dataset: both halves of a layout must be there."""
    root = tmp_path / "mine"
    (root / "images").mkdir(parents=True)
    assert error_message(lambda: data.find_folders(root), FileNotFoundError) == (
        f"{root} has no image and label folders (looked for images/ + labels/, "
        "original_images/ + label_images_semantic/, src/ + gt/)")
    (root / "original_images").mkdir()
    (root / "label_images_semantic").mkdir()
    assert data.find_folders(root) == (root / "original_images", root / "label_images_semantic")
    missing = tmp_path / "nowhere"
    assert error_message(lambda: data.find_folders(missing), FileNotFoundError) == f"dataset folder not found: {missing}"


# --- transforms -------------------------------------------------------------------------------
def test_the_transforms_work_at_256_px_unless_told_otherwise():
    """The documented default size: training squares of 256 px, evaluation with the short side at 256."""
    image, mask = np.zeros((100, 200, 3), np.uint8), np.zeros((100, 200), np.uint8)
    assert tuple(data.train_transform()(image=image, mask=mask)["image"].shape) == (3, 256, 256)
    assert tuple(data.eval_transform()(image=image, mask=mask)["image"].shape) == (3, 256, 512)


def test_every_augmentation_recipe_builds_without_warnings():
    """A recipe that albumentations has to adjust (an even blur kernel, say) warns on every run: none must."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for augment in data.AUGMENTATIONS:
            data.train_transform(augment=augment)
            data.train_transform(64, crop=32, augment=augment)
        data.eval_transform()


def test_the_strong_motion_blur_never_moves_a_point_off_its_own_pixel():
    """A shifted motion blur would move the image against its mask; the strong recipe's blur keeps every
    point lit where it was."""
    blur = next(s for s in _steps(data.train_transform(augment="strong")) if isinstance(s, A.MotionBlur))
    blur.p = 1.0  # inside the recipe it is one of two blurs; here it runs every time
    blur.set_random_seed(0)
    dot = np.zeros((15, 15, 3), np.uint8)
    dot[7, 7] = 255
    for _ in range(40):
        assert blur(image=dot)["image"][7, 7, 0] > 0


def test_the_strong_recipe_leaves_most_frames_unblurred(monkeypatch):
    """Blur is one random change among others (about a third of the frames): the network must also see
    sharp frames."""
    blurred = []
    for cls in (A.MotionBlur, A.GaussianBlur):
        monkeypatch.setattr(cls, "apply", lambda self, img, *a, _real=cls.apply, **k: blurred.append(1) or
                            _real(self, img, *a, **k))
    transform = data.train_transform(32, augment="strong")
    transform.set_random_seed(0)
    image, mask = np.full((32, 32, 3), 128, np.uint8), np.zeros((32, 32), np.uint8)
    for _ in range(60):
        transform(image=image, mask=mask)
    assert 5 <= len(blurred) <= 36


# --- datasets and loaders ---------------------------------------------------------------------
def test_make_datasets_works_at_256_px_and_seed_0_unless_told_otherwise(udd6_root):
    """The defaults make_loaders also has: a run without a seed augments as seed 0 does."""
    default = data.make_datasets("udd6", udd6_root, limit=1)
    image, _ = default["train"][0]
    assert tuple(image.shape) == (3, 256, 256) and default["val"][0][0].shape[-2] == 256
    seeded = data.make_datasets("udd6", udd6_root, limit=1, seed=0)["train"][0]
    assert torch.equal(image, seeded[0])


def test_without_a_root_make_datasets_uses_the_built_in_copy_of_the_named_dataset(udd6_root, monkeypatch):
    asked = []
    monkeypatch.setattr(data.synthetic, "ensure_builtin", lambda name: asked.append(name) or udd6_root)
    ds = data.make_datasets("udd6", size=32, limit=1)
    assert asked == ["udd6"] and ds["train"].root == udd6_root


def test_the_three_splits_of_your_folder_share_one_reading_of_its_class_file(tmp_path, monkeypatch):
    """The class file is read once, so every split decodes with the same classes."""
    root = _own_folder(tmp_path / "mine")
    reads = []
    real = data.read_class_file
    monkeypatch.setattr(data, "read_class_file", lambda path: reads.append(path) or real(path))
    ds = data.make_datasets("folder", root, size=32, classes=root / "classes.csv")
    assert reads == [root / "classes.csv"]
    assert ds["train"].class_file is ds["val"].class_file is ds["test"].class_file


def test_changing_max_side_reduces_the_frames_again_instead_of_reusing_the_cache(tmp_path):
    root = _own_folder(tmp_path / "mine", n=1)

    def first_image(max_side):
        return FolderDataset(root / "images", root / "labels", root / "classes.csv",
                             split_file=root / "all_train.txt", max_side=max_side)[0][0]
    assert first_image(32).shape == (24, 32, 3)
    assert first_image(16).shape == (12, 16, 3)
    assert first_image(None).shape == (48, 64, 3)


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


def test_unseen_style_evaluation_works_at_256_px_in_batches_of_6_like_make_loaders(udd6_root):
    assert data.unseen_style_dataset(udd6_root, limit=1)[0][0].shape[-2] == 256
    loader = data.unseen_style_loader(udd6_root, num_workers=0, limit=1)
    assert loader.batch_size == 6 and next(iter(loader))[0].shape[-2] == 256


def test_the_unseen_style_loader_uses_the_workers_it_is_given(udd6_root, monkeypatch):
    monkeypatch.setattr(data, "default_workers", lambda: 1)
    assert data.unseen_style_loader(udd6_root, num_workers=0).num_workers == 0
    assert data.unseen_style_loader(udd6_root).num_workers == 1


def test_each_dataset_says_where_its_files_are(udd6_root, dronedeploy_root, tmp_path):
    assert repr(UDD6Dataset(udd6_root, "train")) == (
        f"UDD6Dataset('train', 3 images, target='landing', root={data._shown(udd6_root)!r})")
    assert repr(DroneDeployDataset(dronedeploy_root, "train")).endswith(f" root={data._shown(dronedeploy_root)!r})")
    root = _own_folder(tmp_path / "mine", n=2)
    twice = FolderDataset(root / "images", root / "labels", root / "classes.csv", split_file=root / "all_train.txt",
                          repeat=2)
    assert repr(twice).startswith("FolderDataset('train', 2 images x 2, 2 classes from classes.csv,")
