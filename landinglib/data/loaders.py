"""From a dataset's name to batches: ``make_datasets`` (train / val / test with their transforms),
``make_loaders`` (seeded, padded batches), the unseen-style test set and its loader; ``pad_collate``
and ``seed_worker`` for loaders of your own."""
from __future__ import annotations

from collections import namedtuple
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, get_worker_info

from .. import synthetic
from ..classes import IGNORE_INDEX, ClassFile, read_class_file
from ..runtime import default_workers
from .datasets import DroneDeployDataset, UDD6Dataset, _SegmentationDataset
from .folders import FolderDataset, find_folders
from .splits import SPLITS
from .transforms import eval_transform, train_transform

Loaders = namedtuple("Loaders", "train val test")


def pad_collate(batch):
    """Stack (image, mask) pairs, padding to the largest size in the batch (mask with 255)."""
    h = max(img.shape[-2] for img, _ in batch)
    w = max(img.shape[-1] for img, _ in batch)
    images = torch.zeros(len(batch), batch[0][0].shape[0], h, w, dtype=batch[0][0].dtype)
    masks = torch.full((len(batch), h, w), IGNORE_INDEX, dtype=torch.long)
    for i, (img, mask) in enumerate(batch):
        images[i, :, : img.shape[-2], : img.shape[-1]] = img
        masks[i, : mask.shape[-2], : mask.shape[-1]] = mask
    return images, masks


def seed_worker(worker_id: int) -> None:
    """A DataLoader's ``worker_init_fn``: seeds NumPy and the dataset's transform from the worker's torch seed
    (which the loader draws anew each epoch)."""
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    info = get_worker_info()
    transform = getattr(info.dataset, "transform", None) if info else None
    if hasattr(transform, "set_random_seed"):
        transform.set_random_seed(seed)


def make_datasets(dataset: str, root=None, *, size: int = 256, limit: int | None = None,
                  seed: int = 0, augment: str = "light", crop: int | None = None, **kwargs) -> dict[str, _SegmentationDataset]:
    """Train / val / test datasets of ``dataset`` ("dronedeploy", "udd6" or "folder") with transforms.

    root None = the built-in data (generated on first use). ``limit`` caps items per split;
    ``augment`` picks the training augmentation (see ``train_transform``) and ``seed`` seeds it
    (the split itself has its own ``split_seed``, default 0).
    "folder" is your own data (``FolderDataset``): ``root`` its folder, ``classes`` its class file.
    Extra keyword arguments go to the dataset class (``target``, ``chip_size``, ``overlap``...);
    ``repeat`` applies to the train split only.
    """
    if dataset not in ("dronedeploy", "udd6", "folder"):
        raise ValueError(f"dataset must be 'dronedeploy', 'udd6' or 'folder', got {dataset!r}")
    if dataset == "folder":  # your own data: root is its folder (or an (images, labels) pair)
        if root is None or "classes" not in kwargs:
            raise ValueError("the 'folder' dataset needs root (your dataset folder) and classes (its class file)")
        images, labels = root if isinstance(root, (tuple, list)) else find_folders(root)
        class_file = kwargs.pop("classes")
        class_file = class_file if isinstance(class_file, ClassFile) else read_class_file(class_file)
        root = None

        def cls(_root, split, **kw):
            return FolderDataset(images, labels, class_file, split, **kw)
    else:
        root = synthetic.ensure_builtin(dataset) if root is None else Path(root)
        cls = DroneDeployDataset if dataset == "dronedeploy" else UDD6Dataset
    repeat = kwargs.pop("repeat", 1)
    out = {}
    for split in SPLITS:
        transform = train_transform(size, augment=augment, crop=crop) if split == "train" else eval_transform(size)
        extra = {"repeat": repeat} if split == "train" and repeat > 1 else {}
        if split == "train":
            transform.set_random_seed(seed)
        out[split] = cls(root, split, transform=transform, limit=limit, **kwargs, **extra)
    return out


def _loader(ds, batch_size: int, num_workers: int | None, seed: int, train: bool) -> DataLoader:
    if len(ds) == 0:
        raise ValueError(f"the {ds.split} split of {ds!r} is empty")
    workers = default_workers() if num_workers is None else num_workers
    return DataLoader(
        ds, batch_size=batch_size, shuffle=train, drop_last=train and len(ds) > batch_size,
        num_workers=workers, pin_memory=torch.cuda.is_available(), collate_fn=pad_collate,
        worker_init_fn=seed_worker, generator=torch.Generator().manual_seed(seed),
    )  # workers are not persistent: each epoch reseeds them, which makes resume exact


def make_loaders(dataset: str, root=None, *, size: int = 256, batch_size: int = 6,
                 num_workers: int | None = None, limit: int | None = None, seed: int = 0,
                 **kwargs) -> Loaders:
    """DataLoaders ``Loaders(train, val, test)`` for ``dataset`` (see ``make_datasets``).

    Train shuffles with a seeded generator and drops a last incomplete batch; workers default to
    the spare cores; memory is pinned when CUDA is present.
    """
    datasets = make_datasets(dataset, root, size=size, limit=limit, seed=seed, **kwargs)
    return Loaders(*(_loader(ds, batch_size, num_workers, seed, split == "train") for split, ds in datasets.items()))


def unseen_style_dataset(root=None, *, size: int | None = 256, limit: int | None = None) -> UDD6Dataset:
    """The unseen-style test: every frame of the built-in ``udd6-unseen`` set (pavements, roofs,
    light and a lens that training never draws), as landing classes. ``size`` None = raw arrays."""
    root = synthetic.ensure_builtin("udd6-unseen") if root is None else Path(root)
    transform = eval_transform(size) if size else None
    return UDD6Dataset(root, "test", target="landing", transform=transform, test_fraction=1.0, limit=limit)


def unseen_style_loader(root=None, *, size: int = 256, batch_size: int = 6, num_workers: int | None = None,
                        limit: int | None = None) -> DataLoader:
    """A loader over ``unseen_style_dataset`` for evaluation."""
    return _loader(unseen_style_dataset(root, size=size, limit=limit), batch_size, num_workers, 0, False)
