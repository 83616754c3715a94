"""Fixtures: tiny datasets in the real layouts, drawn from the documented palettes; builders of folders of your
own data; the fake models the tests share (each small enough that a test can work out its output by hand); and
helpers (the message of an expected error, tensor equality)."""
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


# --- fake models: tiny networks whose every output a test can work out -----------------------------------
class RecordingModel(torch.nn.Module):
    """A 3x3 convolution that records, at each forward, its autocast state and whether its input is
    channels_last (``calls``) and whether its weight is (``weights_channels_last``); optionally also returns an
    auxiliary head in training (as BiSeNetV2 does)."""

    def __init__(self, num_classes=3, aux=False):
        super().__init__()
        self.num_classes = num_classes
        self.head = torch.nn.Conv2d(3, num_classes, 3, padding=1)  # 3x3: its weight has a memory layout to check
        self.aux_head = torch.nn.Conv2d(3, num_classes, 3, padding=1) if aux else None
        self.calls, self.weights_channels_last = [], []

    def forward(self, x):
        self.calls.append({"autocast": torch.is_autocast_enabled("cpu"), "dtype": torch.get_autocast_dtype("cpu"),
                           "channels_last": x.is_contiguous(memory_format=torch.channels_last) and x.shape[1] > 1})
        self.weights_channels_last.append(self.head.weight.is_contiguous(memory_format=torch.channels_last))
        if self.aux_head is not None and self.training:
            return self.head(x), self.aux_head(x)
        return self.head(x)


class DropoutModel(RecordingModel):
    """RecordingModel with dropout on its logits: training draws from torch's global generator."""

    def forward(self, x):
        return torch.nn.functional.dropout(super().forward(x), 0.5, self.training)


class ConstantModel(torch.nn.Module):
    """Predicts ``cls`` everywhere: its scores are known without running anything."""

    def __init__(self, cls: int, num_classes: int = 4):
        super().__init__()
        self.cls, self.num_classes = cls, num_classes
        self.bias = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x):
        logits = torch.zeros(x.shape[0], self.num_classes, *x.shape[2:]) + self.bias
        logits[:, self.cls] = 1.0
        return logits


class FakeSession:
    """Stands in for an onnxruntime session: ``run(None, {"image": array})`` -> [logits of ``model``]."""

    def __init__(self, model):
        self.model = model

    def run(self, outputs, feeds):
        with torch.no_grad():
            return [self.model(torch.from_numpy(feeds["image"])).numpy()]


class PixelModel(torch.nn.Module):
    """A 1x1-conv 'network': no context, so tiled and whole-image predictions must agree exactly."""

    num_classes = 4

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 4, 1)

    def forward(self, x):
        return self.conv(x)


class ContextModel(torch.nn.Module):
    """A 9x9 convolution with zero padding: each output depends on its neighbours and on where the tile's border
    is, so two overlapping tiles predict their shared pixels differently (unlike ``PixelModel``)."""

    num_classes = 4

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 4, 9, padding=4)

    def forward(self, x):
        return self.conv(x) * 3  # sharper softmax: tiles that disagree disagree visibly


class _LandingLogitsFromPixels(torch.nn.Module):
    """A fake landing model (4 classes) whose logits are read off the pixels, with one learnable gain."""

    num_classes = 4

    def __init__(self, gain: float):
        super().__init__()
        self.gain = torch.nn.Parameter(torch.tensor(gain))


class SafeAbove(_LandingLogitsFromPixels):
    """Safe where the image is bright, Danger where it is dark: sites are known in advance."""

    def __init__(self):
        super().__init__(8.0)

    def forward(self, x):
        bright = x.mean(1, keepdim=True) * self.gain
        zero = torch.zeros_like(bright)
        return torch.cat([zero, bright, zero, -bright], 1)


class SafeFromRedChannel(_LandingLogitsFromPixels):
    """Landing logits read off the image: P(Safe) = sigmoid(red), the rest goes to Danger."""

    def __init__(self):
        super().__init__(1.0)

    def forward(self, x):
        red = x[:, :1] * self.gain
        low = torch.full_like(red, -30.0)
        return torch.cat([low, red, low, torch.zeros_like(red)], 1)


# --- the Training Guide's state-dict layout (UltraFastBiSeNet's published weights) ---------------------------
ORIGIN_CONVS = {"backbone": [(3, 32), (32, 64), (64, 128), (128, 128)], "decoder": [(128, 64), (64, 32)]}


def origin_state_dict(num_classes: int, seed: int = 0) -> dict:
    """A state dict in the guide's layout (flat Sequentials, ReLUs counted), random values."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for block, convs in ORIGIN_CONVS.items():
        for k, (c_in, c_out) in enumerate(convs):
            conv, bn = 3 * k, 3 * k + 1
            state[f"{block}.{conv}.weight"] = torch.randn(c_out, c_in, 3, 3, generator=g) * 0.1
            state[f"{block}.{bn}.weight"] = torch.rand(c_out, generator=g) + 0.5
            state[f"{block}.{bn}.bias"] = torch.randn(c_out, generator=g) * 0.1
            state[f"{block}.{bn}.running_mean"] = torch.randn(c_out, generator=g) * 0.1
            state[f"{block}.{bn}.running_var"] = torch.rand(c_out, generator=g) + 0.5
            state[f"{block}.{bn}.num_batches_tracked"] = torch.tensor(7)
    state["classifier.weight"] = torch.randn(num_classes, 32, 1, 1, generator=g) * 0.1
    state["classifier.bias"] = torch.randn(num_classes, generator=g)
    return state


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
