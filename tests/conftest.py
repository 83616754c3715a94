"""Fixtures: tiny datasets in the real layouts, drawn from the documented palettes; builders of folders of your
own data; and helpers the tests share (a model that records how it is called, the message of an expected error,
tensor equality)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

# The palettes as the datasets document them, written here independently of landinglib.classes.
DD_BGR = {0: (255, 0, 255), 1: (75, 25, 230), 2: (180, 30, 145), 3: (75, 180, 60),
          4: (48, 130, 245), 5: (255, 255, 255), 6: (200, 130, 0)}
UDD6_RGB = {0: (0, 0, 0), 1: (102, 102, 156), 2: (128, 64, 128), 3: (107, 142, 35),
            4: (0, 0, 142), 5: (70, 70, 70)}


def udd6_index_mask(h: int, w: int, shift: int = 0) -> np.ndarray:
    """Six vertical bands, classes 0..5 (rotated by ``shift``)."""
    return ((np.arange(w)[None, :].repeat(h, 0) * 6 // w + shift) % 6).astype(np.uint8)


@pytest.fixture
def udd6_root(tmp_path):
    """UDD6 layout: 3 train + 4 val frames of 64x48; labels as RGB, grey index and 'P' index."""
    root = tmp_path / "UDD6"
    rng = np.random.default_rng(0)
    kinds = ["rgb", "grey", "palette"]
    for split, n in (("train", 3), ("val", 4)):
        (root / split / "src").mkdir(parents=True)
        (root / split / "gt").mkdir(parents=True)
        for i in range(n):
            name = f"DJI_{split}_{i:02d}"
            image = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
            cv2.imwrite(str(root / split / "src" / f"{name}.JPG"), image)
            mask = udd6_index_mask(48, 64, shift=i)
            kind = kinds[i % 3]
            if kind == "rgb":
                rgb = np.array([UDD6_RGB[k] for k in range(6)], np.uint8)[mask]
                Image.fromarray(rgb, "RGB").save(root / split / "gt" / f"{name}.png")
            elif kind == "grey":
                Image.fromarray(mask, "L").save(root / split / "gt" / f"{name}.png")
            else:
                im = Image.fromarray(mask, "P")
                im.putpalette([c for k in range(6) for c in UDD6_RGB[k]] + [0] * (256 - 6) * 3)
                im.save(root / split / "gt" / f"{name}.png")
    return root


def dd_label_values(h: int, w: int) -> np.ndarray:
    """Label values: a 200 px IGNORE border on the left, then bands of values 1..6."""
    values = (1 + (np.arange(w)[None, :].repeat(h, 0) // 100) % 6).astype(np.uint8)
    values[:, :200] = 0
    return values


@pytest.fixture
def dronedeploy_root(tmp_path):
    """DroneDeploy layout with one 1000x800 (W x H) scene per split, labels in the BGR palette."""
    root = tmp_path / "dronedeploy"
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    rows = ["idx scene split"]
    for i, split in enumerate(("train", "val", "test")):
        name = f"abc{i}_TESTSCENE"
        values = dd_label_values(800, 1000)
        image = np.zeros((800, 1000, 3), np.uint8)
        image[..., 0] = values * 40  # red channel encodes the label: lets tests check alignment
        image[..., 1] = 7
        cv2.imwrite(str(root / "images" / f"{name}-ortho.tif"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        bgr = np.array([DD_BGR[k] for k in range(7)], np.uint8)[values]
        cv2.imwrite(str(root / "labels" / f"{name}-label.png"), bgr)
        rows.append(f"{i} {name} {split}")
    (root / "index.csv").write_text("\n".join(rows) + "\n")
    return root


class RecordingModel(torch.nn.Module):
    """A 3x3 convolution that records, at each forward, its autocast state and whether its input is
    channels_last; optionally also returns an auxiliary head in training (as BiSeNetV2 does)."""

    def __init__(self, num_classes=3, aux=False):
        super().__init__()
        self.num_classes = num_classes
        self.head = torch.nn.Conv2d(3, num_classes, 3, padding=1)  # 3x3: its weight has a memory layout to check
        self.aux_head = torch.nn.Conv2d(3, num_classes, 3, padding=1) if aux else None
        self.calls = []

    def forward(self, x):
        self.calls.append({"autocast": torch.is_autocast_enabled("cpu"), "dtype": torch.get_autocast_dtype("cpu"),
                           "channels_last": x.is_contiguous(memory_format=torch.channels_last) and x.shape[1] > 1})
        if self.aux_head is not None and self.training:
            return self.head(x), self.aux_head(x)
        return self.head(x)


def error_message(call, kind=Exception) -> str:
    """The message of the ``kind`` error that ``call()`` raises (the test fails when it raises none)."""
    with pytest.raises(kind) as err:
        call()
    return str(err.value)


# --- your own data: folders of images and label masks (tests of landinglib.data) ---------------------
# Three classes of a made-up dataset, written here independently of the library.
OWN_CLASSES_CSV = ("name, r, g, b, landing\nground, 120, 120, 120, Safe\nbush, 0, 120, 0, Caution\n"
                   "house, 200, 0, 0, Danger\n")
OWN_RGB = {0: (120, 120, 120), 1: (0, 120, 0), 2: (200, 0, 0)}
GREY_CLASSES_CSV = "name, r, g, b, landing\nground, 120, 120, 120, Safe\nhouse, 200, 0, 0, Danger\n"


def own_bands(h=30, w=40, shift=0) -> np.ndarray:
    """Three vertical bands, classes 0..2 (rotated by ``shift``)."""
    return ((np.arange(w)[None, :].repeat(h, 0) * 3 // w + shift) % 3).astype(np.uint8)


def own_dataset(root, n=10, colour_every=2):
    """``root/images`` + ``root/labels``: ``n`` 40x30 frames ``f00.png``... of ``own_bands``, every
    ``colour_every``-th label in ``OWN_RGB`` colours and the others as indices; ``root/classes.csv``."""
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    for i in range(n):
        cv2.imwrite(str(root / "images" / f"f{i:02d}.png"), np.full((30, 40, 3), (10 * i) % 256, np.uint8))
        mask = own_bands(shift=i)
        if i % colour_every == 0:  # colour labels and index labels may be mixed
            colours = np.array([OWN_RGB[k] for k in range(3)], np.uint8)[mask]
            Image.fromarray(colours, "RGB").save(root / "labels" / f"f{i:02d}.png")
        else:
            Image.fromarray(mask, "L").save(root / "labels" / f"f{i:02d}.png")
    (root / "classes.csv").write_text(OWN_CLASSES_CSV)
    return root


def own_grey_folder(root, n=6, h=48, w=64):
    """``root/images`` + ``root/labels`` with ``n`` grey frames and index labels, a class file and a split file
    that puts every frame in train."""
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    for i in range(n):
        cv2.imwrite(str(root / "images" / f"f{i}.png"), np.full((h, w, 3), 20 * i, np.uint8))
        Image.fromarray((np.arange(w)[None, :].repeat(h, 0) * 2 // w).astype(np.uint8), "L").save(
            root / "labels" / f"f{i}.png")
    (root / "classes.csv").write_text(GREY_CLASSES_CSV)
    (root / "all_train.txt").write_text("".join(f"f{i}.png train\n" for i in range(n)))
    return root


def same_tensors(a, b) -> bool:
    """Whether two sequences of tensors (an item, a batch) are equal element by element."""
    return all(torch.equal(x, y) for x, y in zip(a, b))
