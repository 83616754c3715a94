"""The decoded-pair cache: an image and its mask are decoded once into ``.npy`` files and memory-mapped
from then on, not decoded again every epoch. Several processes (loader workers, notebooks) share it
through a lock: one decodes, the others wait and use its files."""
from __future__ import annotations

import json
import tempfile
import zlib
from pathlib import Path

import cv2
import numpy as np

from ..runtime import exclusive, write_atomic
from .io import _check_same_size, read_image


def _cache_folder(cache_dir, default: Path) -> Path:
    """The folder for decoded frames: ``cache_dir`` when given (created; an error if it cannot be), else
    ``default`` or, when that is read-only, a folder under ``~/.cache/landinglib``."""
    if cache_dir:
        folder = Path(cache_dir)
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    return _writable(default)


def _writable(folder: Path) -> Path:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
        return folder
    except OSError:
        fallback = Path.home() / ".cache" / "landinglib" / "chips" / f"{zlib.crc32(str(folder).encode()):08x}"
        fallback.mkdir(parents=True, exist_ok=True)
        return fallback


def _cached_pair(image_path: Path, label_path: Path, decode_mask, stem: Path,
                 max_side: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Memory-mapped (image, mask) decoded once into ``<stem>.image.npy`` / ``<stem>.mask.npy``;
    decoded again when either source file changes (size or time), written atomically. With
    ``max_side``, a larger pair is reduced first (image by area, mask by nearest neighbour)."""
    source = {str(p.name): [p.stat().st_size, p.stat().st_mtime_ns] for p in (image_path, label_path)}
    meta_path = stem.with_name(stem.name + ".json")
    files = stem.with_name(stem.name + ".image.npy"), stem.with_name(stem.name + ".mask.npy")

    def fresh() -> bool:
        return meta_path.exists() and json.loads(meta_path.read_text()) == source and all(f.exists() for f in files)

    if not fresh():
        with exclusive(stem, say=False):  # several processes (workers, notebooks): one decodes, the others wait
            if not fresh():
                _decode_pair(image_path, label_path, decode_mask, files, meta_path, source, max_side)
    return np.load(files[0], mmap_mode="r"), np.load(files[1], mmap_mode="r")


def _decode_pair(image_path, label_path, decode_mask, files, meta_path, source, max_side) -> None:
    """Decode a pair once and write its cache files, each atomically (the metadata last)."""
    image = read_image(image_path)
    mask = decode_mask()
    _check_same_size(image, mask, image_path, label_path)
    if max_side and max(image.shape[:2]) > max_side:
        f = max_side / max(image.shape[:2])
        size = (max(1, round(image.shape[1] * f)), max(1, round(image.shape[0] * f)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        mask = cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST)
    write_atomic(files[0], lambda f: np.save(f, image))
    write_atomic(files[1], lambda f: np.save(f, mask))
    write_atomic(meta_path, json.dumps(source))  # last: a reader trusts the arrays once this names their sources
