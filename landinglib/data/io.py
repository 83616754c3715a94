"""Reading a dataset's files: images as RGB, label files as stored or as class indices, and the
pairing of image files with label files by their whole stem."""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from .. import classes
from ..classes import IGNORE_INDEX, Taxonomy

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff"}


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as (H, W, 3) uint8 RGB.

    Grey images are repeated to three channels, RGBA loses its alpha, 16-bit images are scaled
    to 8 bits. Anything else (float, 2-channel, unreadable) raises ``ValueError`` naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image not found: {path}")
    data = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if data is None:
        raise ValueError(f"cannot read image {path}: the file is corrupt or not an image")
    if data.dtype == np.uint16:
        data = (data // 257).astype(np.uint8)
    if data.dtype != np.uint8:
        raise ValueError(f"{path}: {data.dtype} images are not supported; convert to 8-bit RGB")
    if data.ndim == 2:
        return cv2.cvtColor(data, cv2.COLOR_GRAY2RGB)
    if data.shape[2] == 3:
        return cv2.cvtColor(data, cv2.COLOR_BGR2RGB)
    if data.shape[2] == 4:
        return cv2.cvtColor(data, cv2.COLOR_BGRA2RGB)
    raise ValueError(f"{path}: images with {data.shape[2]} channels are not supported")


def read_label(path: str | os.PathLike) -> np.ndarray:
    """Read a label PNG as stored: (H, W) indices ('P', grey) or (H, W, 3) uint8 RGB colours.

    Pillow is used here because OpenCV expands palette PNGs to colours and loses the indices.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"label not found: {path}")
    try:
        with Image.open(path) as im:
            im.load()
            mode = im.mode
            if mode in ("P", "L", "I;16", "I"):
                data = np.array(im)
            elif mode in ("RGB", "RGBA"):
                data = np.array(im.convert("RGB"))
            else:
                raise ValueError(f"{path}: label images in mode {mode!r} are not supported")
    except (OSError, SyntaxError) as err:
        raise ValueError(f"cannot read label {path}: the file is corrupt or not an image") from err
    if data.ndim == 2 and data.max(initial=0) > 255:
        raise ValueError(f"{path}: label values go up to {data.max()}, expected class indices < 256")
    return data.astype(np.uint8)


def decode_label(path: str | os.PathLike, taxonomy: Taxonomy) -> np.ndarray:
    """Read a label file into (H, W) uint8 indices of ``taxonomy``; unknown values -> 255.

    Index labels keep indices below ``len(taxonomy)`` and 255; any other value is a data error,
    reported like an unknown colour.
    """
    data = read_label(path)
    if data.ndim == 3:
        mask, _ = classes.colors_to_index(data, taxonomy, source=str(path))
        return mask
    bad = (data >= len(taxonomy)) & (data != IGNORE_INDEX)
    if bad.any():
        warnings.warn(
            f"{path}: {int(bad.sum())} pixels have index values outside 0..{len(taxonomy) - 1} "
            f"(e.g. {int(data[bad][0])}); they are mapped to ignore (255)",
            classes.UnknownColorWarning, stacklevel=2,
        )
        data = np.where(bad, IGNORE_INDEX, data).astype(np.uint8)
    return data


def _check_same_size(image: np.ndarray, mask: np.ndarray, image_path, label_path) -> None:
    if image.shape[:2] != mask.shape[:2]:
        raise ValueError(
            f"label {label_path} is {mask.shape[1]}x{mask.shape[0]} but image {image_path} is "
            f"{image.shape[1]}x{image.shape[0]}; labels must match their image pixel for pixel"
        )


def _images_in(folder: Path) -> dict[str, Path]:
    return {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES}


def _pair_by_stem(images: Path, labels: Path,
                  label_suffixes=(".png", ".tif", ".tiff", ".bmp")) -> dict[str, tuple[Path, Path]]:
    """stem -> (image, label) for two folders; an image without a label, or a label without an
    image, is an error naming the file."""
    found = _images_in(images)
    marks = {p.stem: p for p in sorted(labels.iterdir()) if p.suffix.lower() in label_suffixes}
    if not found:
        raise FileNotFoundError(f"no images in {images} (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
    missing = [p for stem, p in found.items() if stem not in marks]
    if missing:
        raise FileNotFoundError(f"no label for {missing[0]} (expected {labels / (missing[0].stem + '.png')})"
                                + (f" and {len(missing) - 1} more" if len(missing) > 1 else ""))
    orphans = [p for stem, p in marks.items() if stem not in found]
    if orphans:
        raise FileNotFoundError(f"label {orphans[0]} has no image in {images}"
                                + (f" (and {len(orphans) - 1} more)" if len(orphans) > 1 else ""))
    return {stem: (found[stem], marks[stem]) for stem in found}
