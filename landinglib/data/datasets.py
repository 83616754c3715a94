"""The datasets of the two public layouts, read alike whether the folder is real or built in.

* ``UDD6Dataset(root, split, target)``: ``{train,val}/src/*.JPG`` + ``{train,val}/gt/*.png``.
  Labels may hold indices ('P' or grey PNG) or RGB colours; this is detected per file.
* ``DroneDeployDataset(root, split, chip_size, overlap)``: ``images/<scene>-ortho.tif`` +
  ``labels/<scene>-label.png`` (colour, BGR palette), cut into chips.

Both decode each frame or scene once into a memory-mapped cache (``root/.cache``, see ``cache``). With
``transform=None`` an item is ``(image, mask)``: image (H, W, 3) uint8 RGB, mask (H, W) uint8 class
indices, 255 = ignore. With a transform (``train_transform`` / ``eval_transform``) it is ``(image, mask)``
tensors: (3, H, W) float32 normalised, (H, W) int64. ``_SegmentationDataset`` is the part they share
with ``folders.FolderDataset``.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from .. import classes
from ..classes import IGNORE_INDEX, Taxonomy
from .cache import _cache_folder, _cached_pair
from .io import _pair_by_stem, decode_label
from .splits import _check_split, _chip_grid, _hashed_split, _official_splits, _read_index_csv, _select


def _shown(path: Path) -> str:
    """A path for messages and reprs: relative to the working folder when that is shorter."""
    try:
        rel = os.path.relpath(path)
        return rel if len(rel) < len(str(path)) else str(path)
    except ValueError:  # another drive on Windows
        return str(path)


class _SegmentationDataset(Dataset):
    """Shared part: apply the transform and return numpy or tensors."""

    classes: Taxonomy
    transform = None

    def _load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def __getitem__(self, index: int):
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} items")
        image, mask = self._load(index % len(self))
        if self.transform is None:
            return image, mask
        out = self.transform(image=image, mask=mask)
        image, mask = out["image"], out["mask"]
        if isinstance(mask, torch.Tensor):
            mask = mask.long()
        return image, mask


# --- UDD6 ------------------------------------------------------------------------------
class UDD6Dataset(_SegmentationDataset):
    """UDD6 frames: ``root/{train,val}/src/*.JPG`` with ``root/{train,val}/gt/<stem>.png``.

    split: "train" = the official train folder; "val" and "test" split the official val folder
    in two with a shuffle seeded by ``split_seed`` (``test_fraction`` goes to test), so a test set
    is held out from checkpoint selection. The split seed is not the training seed: the test set
    stays the same when you change the training seed. target: "landing" (4 classes) or "udd6" (6 classes).
    ``repeat`` lists every frame that many times per epoch (for random crops of large frames).
    Decoded frames are cached as ``.npy`` files in ``cache_dir`` (default ``root/.cache``): a
    JPEG and a colour label are decoded once, not once per epoch and crop.
    """

    def __init__(self, root, split: str = "train", target: str = "landing", transform=None,
                 *, split_seed: int = 0, test_fraction: float = 0.5, limit: int | None = None, repeat: int = 1,
                 cache_dir=None):
        _check_split(split)
        if target not in ("landing", "udd6"):
            raise ValueError(f"target must be 'landing' or 'udd6', got {target!r}")
        self.root = _udd6_root(Path(root))
        self.split, self.target, self.transform = split, target, transform
        self.classes = classes.LANDING if target == "landing" else classes.UDD6
        folder = "train" if split == "train" else "val"
        pairs = _pair_udd6(self.root / folder)
        if split != "train":
            order = np.random.default_rng([split_seed, 6]).permutation(len(pairs))
            n_test = int(round(len(pairs) * test_fraction))
            chosen = sorted(order[:n_test] if split == "test" else order[n_test:])
            pairs = [pairs[i] for i in chosen]
        self.pairs = _select(pairs, limit)
        self.repeat = repeat
        self.cache_dir = _cache_folder(cache_dir, self.root / ".cache")

    def __len__(self) -> int:
        return len(self.pairs) * self.repeat

    def _load(self, index: int):
        image_path, label_path = self.pairs[index % len(self.pairs)]
        key = f"{image_path.parent.parent.name}-{image_path.stem}"  # train-DJI_0001: stems repeat across folders
        image, mask = _cached_pair(image_path, label_path, lambda: decode_label(label_path, classes.UDD6),
                                   self.cache_dir / key)
        image, mask = np.array(image), np.array(mask)
        if self.target == "landing":
            mask = classes.remap(mask, classes.UDD6_TO_LANDING)
        return image, mask

    def __repr__(self) -> str:
        times = f" x {self.repeat}" if self.repeat > 1 else ""
        return f"UDD6Dataset({self.split!r}, {len(self.pairs)} images{times}, target={self.target!r}, root={_shown(self.root)!r})"


def _udd6_root(root: Path) -> Path:
    if not root.exists():
        raise FileNotFoundError(
            f"UDD6 folder not found: {root}. Expected {root}/train/src and {root}/train/gt; "
            "pass the path of your UDD6 copy, or leave it out to use the built-in data")
    if not (root / "train").is_dir() and (root / "UDD6" / "train").is_dir():
        root = root / "UDD6"  # the folder the archive unpacks to
    for split in ("train", "val"):
        for sub in ("src", "gt"):
            if not (root / split / sub).is_dir():
                raise FileNotFoundError(f"{root} is not a UDD6 folder: {root / split / sub} is missing")
    return root


def _pair_udd6(folder: Path) -> list[tuple[Path, Path]]:
    pairs = _pair_by_stem(folder / "src", folder / "gt", label_suffixes=(".png",))
    return [pairs[s] for s in sorted(pairs)]


# --- DroneDeploy -----------------------------------------------------------------------
class DroneDeployDataset(_SegmentationDataset):
    """DroneDeploy scenes cut into ``chip_size`` chips that overlap by ``overlap`` pixels.

    Targets are the six learnable classes (Building 0, Clutter 1, Vegetation 2, Water 3,
    Ground 4, Car 5); IGNORE pixels become 255 and chips that are entirely IGNORE are skipped.
    Splits are by scene: from the ``split`` column of ``index.csv`` when it has one (the built-in
    data), else the benchmark's official scene lists, else a stable split by scene name seeded
    with ``split_seed`` (70/15/15). Decoded scenes are cached as ``.npy`` files in
    ``cache_dir`` (default ``root/.cache``) and memory-mapped.
    """

    def __init__(self, root, split: str = "train", chip_size: int = 512, overlap: int = 0,
                 transform=None, *, split_seed: int = 0, cache_dir=None, limit: int | None = None):
        _check_split(split)
        if not 0 <= overlap < chip_size:
            raise ValueError(f"overlap must be in [0, chip_size), got {overlap} for chip_size {chip_size}")
        self.root = Path(root)
        self.split, self.transform = split, transform
        self.chip_size, self.overlap = chip_size, overlap
        self.classes = classes.DRONEDEPLOY
        scenes = _dronedeploy_scenes(self.root, split_seed)
        self.scenes = [name for name, s in scenes if s == split]
        self.cache_dir = _cache_folder(cache_dir, self.root / ".cache")
        self._maps: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        chips = []
        for name in self.scenes:
            _, mask = self._scene(name)
            for y, x in _chip_grid(mask.shape, chip_size, overlap):
                if np.any(mask[y : y + chip_size, x : x + chip_size] != IGNORE_INDEX):
                    chips.append((name, y, x))
        self._maps.clear()  # index built; workers reopen their own memory maps
        self.chips = _select(chips, limit)

    def __len__(self) -> int:
        return len(self.chips)

    def _scene(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        if name not in self._maps:
            self._maps[name] = _cached_scene(self.root, name, self.cache_dir)
        return self._maps[name]

    def _load(self, index: int):
        name, y, x = self.chips[index]
        image, mask = self._scene(name)
        c = self.chip_size
        image, mask = np.array(image[y : y + c, x : x + c]), np.array(mask[y : y + c, x : x + c])
        if image.shape[:2] != (c, c):  # a scene smaller than a chip: pad with nodata / ignore
            ph, pw = c - image.shape[0], c - image.shape[1]
            image = np.pad(image, ((0, ph), (0, pw), (0, 0)))
            mask = np.pad(mask, ((0, ph), (0, pw)), constant_values=IGNORE_INDEX)
        return image, mask

    def __repr__(self) -> str:
        return (f"DroneDeployDataset({self.split!r}, {len(self)} chips of {self.chip_size} px from "
                f"{len(self.scenes)} scenes, root={_shown(self.root)!r})")


def _dronedeploy_scenes(root: Path, seed: int) -> list[tuple[str, str]]:
    """(scene, split) for every scene, checking that images and labels pair up."""
    if not root.exists():
        raise FileNotFoundError(
            f"DroneDeploy folder not found: {root}. Expected {root}/images/<scene>-ortho.tif and "
            f"{root}/labels/<scene>-label.png; pass your copy's path, or leave it out for the built-in data")
    for sub in ("images", "labels"):
        if not (root / sub).is_dir():
            raise FileNotFoundError(f"{root} is not a DroneDeploy folder: {root / sub} is missing")
    images = {p.name[: -len("-ortho.tif")]: p for p in (root / "images").glob("*-ortho.tif")}
    labels = {p.name[: -len("-label.png")]: p for p in (root / "labels").glob("*-label.png")}
    if not images:
        raise FileNotFoundError(f"no scenes in {root / 'images'} (expected <scene>-ortho.tif files)")
    for name, path in sorted(images.items()):
        if name not in labels:
            raise FileNotFoundError(f"no label for {path} (expected {root / 'labels' / (name + '-label.png')})")
    for name, path in sorted(labels.items()):
        if name not in images:
            raise FileNotFoundError(f"label {path} has no image (expected {root / 'images' / (name + '-ortho.tif')})")
    listed = _read_index_csv(root / "index.csv", set(images))
    names = [n for n, _ in listed]
    unlisted = sorted(set(images) - set(names))
    if listed and unlisted:
        warnings.warn(f"{len(unlisted)} scenes in {root / 'images'} are not in index.csv (e.g. {unlisted[0]}); "
                      "they get a split by scene name", stacklevel=3)
    splits = {n: s for n, s in listed if s}
    official = _official_splits()
    return [(n, splits.get(n) or official.get(n) or _hashed_split(n, seed)) for n in names + unlisted]


def _cached_scene(root: Path, name: str, cache_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """Memory-mapped (image RGB uint8, mask in training indices) of one DroneDeploy scene."""
    label_path = root / "labels" / f"{name}-label.png"

    def mask():
        return classes.remap(decode_label(label_path, classes.DRONEDEPLOY_LABELS), classes.DRONEDEPLOY_LABEL_TO_TRAIN)

    return _cached_pair(root / "images" / f"{name}-ortho.tif", label_path, mask, cache_dir / name)
