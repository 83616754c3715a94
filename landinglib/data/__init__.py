"""Read DroneDeploy, UDD6 and your own folders (real or built-in, same code), augment, and load.

One module per job, each importing only those above it:

* ``io``: ``read_image`` (RGB), ``read_label`` (as stored), ``decode_label`` (class indices, unknown
  values -> 255), ``IMAGE_SUFFIXES``, and the pairing of image and label files by stem;
* ``splits``: ``SPLITS``, the DroneDeploy scene lists and ``index.csv``, hashed splits, ``limit``,
  ``window_starts`` (the chips of a large scene);
* ``cache``: each image/mask pair decoded once into memory-mapped ``.npy`` files, shared by processes;
* ``datasets``: ``UDD6Dataset``, ``DroneDeployDataset`` and the part every dataset shares;
* ``folders``: your own data: ``FolderDataset``, ``find_folders`` (``FOLDER_LAYOUTS``), split files,
  ``SEMANTIC_DRONE_CLASSES``;
* ``transforms``: ``train_transform`` (``AUGMENTATIONS``), ``eval_transform``, ``denormalize``;
* ``class_balance``: ``class_pixel_counts`` and ``class_weights`` for the loss;
* ``loaders``: ``make_datasets``, ``make_loaders`` (``Loaders``), ``unseen_style_dataset`` and
  ``unseen_style_loader``, ``pad_collate``, ``seed_worker``.

Everything is used as ``landinglib.data.NAME``; this file only gathers the names.
"""
from .cache import _cached_pair, _writable
from .class_balance import class_pixel_counts, class_weights
from .datasets import DroneDeployDataset, UDD6Dataset, _SegmentationDataset, _shown
from .folders import FOLDER_LAYOUTS, SEMANTIC_DRONE_CLASSES, FolderDataset, _read_split_file, find_folders
from .io import IMAGE_SUFFIXES, _pair_by_stem, decode_label, read_image, read_label
from .loaders import (Loaders, make_datasets, make_loaders, pad_collate, seed_worker, unseen_style_dataset,
                      unseen_style_loader)
from .splits import SPLITS, _hashed_split, _official_splits, _read_index_csv, _select, window_starts
from .transforms import AUGMENTATIONS, IMAGENET_MEAN, IMAGENET_STD, denormalize, eval_transform, train_transform

__all__ = [
    "UDD6Dataset", "DroneDeployDataset", "FolderDataset", "find_folders", "SEMANTIC_DRONE_CLASSES", "read_image", "read_label", "decode_label",
    "train_transform", "eval_transform", "denormalize", "class_pixel_counts", "class_weights",
    "make_datasets", "make_loaders", "unseen_style_dataset", "unseen_style_loader", "pad_collate", "Loaders",
    "AUGMENTATIONS", "IMAGENET_MEAN", "IMAGENET_STD",
]
