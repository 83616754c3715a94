"""Your own data: a folder of images and a folder of label masks paired by stem, classes from a class file,
splits from a split file or hashed from each stem; ``find_folders`` recognises the usual layouts."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .. import classes
from ..classes import LANDING, ClassFile, read_class_file
from .cache import _cache_folder, _cached_pair
from .datasets import _SegmentationDataset, _shown
from .io import IMAGE_SUFFIXES, _pair_by_stem, decode_label
from .splits import _check_split, _hashed_split, _select

FOLDER_LAYOUTS = (("images", "labels"), ("original_images", "label_images_semantic"), ("src", "gt"))
"""(images, labels) sub-folder names that ``find_folders`` recognises in a dataset root: a plain
layout, the TU Graz Semantic Drone Dataset's, and UDD6's split folders."""
SEMANTIC_DRONE_CLASSES = Path(__file__).resolve().parent.parent / "semantic_drone.csv"
"""The class file of the TU Graz Semantic Drone Dataset (24 classes, its colours, a landing class
each): ``landinglib train --stage2-data semantic_drone_dataset --classes`` this file."""


def find_folders(root) -> tuple[Path, Path]:
    """(images, labels) folders of a dataset ``root`` (see ``FOLDER_LAYOUTS``)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset folder not found: {root}")
    for images, labels in FOLDER_LAYOUTS:
        if (root / images).is_dir() and (root / labels).is_dir():
            return root / images, root / labels
    names = ", ".join(f"{i}/ + {l}/" for i, l in FOLDER_LAYOUTS)
    raise FileNotFoundError(f"{root} has no image and label folders (looked for {names})")


def _listed_stem(token: str) -> str:
    """The file stem a split file's name stands for: its folder and an image suffix (``IMAGE_SUFFIXES``)
    dropped, any other dot kept (``site.north`` and ``site.north.jpg`` are both ``site.north``)."""
    name = Path(token).name
    suffix = Path(name).suffix
    return name[: -len(suffix)] if suffix.lower() in IMAGE_SUFFIXES else name


def _read_split_file(path: Path, stems: set[str]) -> dict[str, str]:
    """stem -> split from a text/CSV file of lines ``name split`` (train, val or test; a header and
    names of absent files are skipped; a name may carry its image suffix, see ``_listed_stem``)."""
    if not path.is_file():
        raise FileNotFoundError(f"split file not found: {path}")
    out = {}
    for line in path.read_text().splitlines():
        tokens = [t for t in re.split(r"[,;\s]+", line.strip()) if t]
        split = next((t.lower() for t in tokens if t.lower() in ("train", "val", "valid", "test")), None)
        name = next((s for s in map(_listed_stem, tokens) if s in stems), None)
        if split and name:
            out[name] = "val" if split == "valid" else split
    if not out:
        raise ValueError(f"{path} names none of the images (expected lines 'name split', split = train, val or test)")
    return out


class FolderDataset(_SegmentationDataset):
    """Your own data: a folder of images and a folder of label masks, paired by file stem.

    ``classes``: a class file (see ``classes.read_class_file``) or a ``classes.ClassFile``. Labels
    are index PNGs (pixel = class index, 255 = ignore) or colour PNGs decoded through the file's
    colours; unknown values become 255 with a warning. ``target``: "own" (the file's classes) or
    "landing" (through its landing column). Splits: from ``split_file`` (lines ``name split``) when
    given, else a stable 70/15/15 split hashed from each file's stem with ``split_seed``. Images
    larger than ``max_side`` on the long side are reduced when first decoded (labels by nearest
    neighbour), and cached as ``.npy`` in ``cache_dir`` (default: a ``.cache`` folder beside
    ``images``). Missing partners and size mismatches are errors naming the files.
    """

    def __init__(self, images, labels, classes, split: str = "train", transform=None, *, target: str = "own",
                 split_file=None, split_seed: int = 0, limit: int | None = None, repeat: int = 1,
                 max_side: int | None = 1024, cache_dir=None):
        _check_split(split)
        if target not in ("own", "landing"):
            raise ValueError(f"target must be 'own' or 'landing', got {target!r}")
        self.class_file = classes if isinstance(classes, ClassFile) else read_class_file(classes)
        if target == "landing" and self.class_file.to_landing is None:
            raise ValueError(f"{self.class_file.path} has no landing column: add one (Background, Safe, Caution, "
                             "Danger or ignore per class) to train landing classes on this data")
        self.images_dir, self.labels_dir = Path(images), Path(labels)
        for folder, what in ((self.images_dir, "image"), (self.labels_dir, "label")):
            if not folder.is_dir():
                raise FileNotFoundError(f"{what} folder not found: {folder}")
        self.split, self.target, self.transform, self.max_side = split, target, transform, max_side
        self.classes = LANDING if target == "landing" else self.class_file.taxonomy
        pairs = _pair_by_stem(self.images_dir, self.labels_dir)
        chosen = (_read_split_file(Path(split_file), set(pairs)) if split_file else
                  {stem: _hashed_split(stem, split_seed) for stem in pairs})
        self.pairs = _select([pairs[s] for s in sorted(pairs) if chosen.get(s) == split], limit)
        self.repeat = repeat
        self.cache_dir = _cache_folder(cache_dir, self.images_dir.parent / ".cache")

    def __len__(self) -> int:
        return len(self.pairs) * self.repeat

    def _load(self, index: int):
        image_path, label_path = self.pairs[index % len(self.pairs)]
        taxonomy = self.class_file.taxonomy

        def decode():
            return decode_label(label_path, taxonomy)

        key = f"{self.images_dir.name}-{image_path.stem}-{self.max_side or 'full'}"
        image, mask = _cached_pair(image_path, label_path, decode, self.cache_dir / key, max_side=self.max_side)
        image, mask = np.array(image), np.array(mask)
        if self.target == "landing":
            mask = classes.remap(mask, self.class_file.to_landing)
        return image, mask

    def __repr__(self) -> str:
        times = f" x {self.repeat}" if self.repeat > 1 else ""
        return (f"FolderDataset({self.split!r}, {len(self.pairs)} images{times}, {len(self.class_file.taxonomy)} classes "
                f"from {Path(self.class_file.path).name}, target={self.target!r}, images={_shown(self.images_dir)!r})")
