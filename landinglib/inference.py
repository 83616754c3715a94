"""Prediction on whole images of any size: resize to the training scale, tile, blend, upsample.

``predict_tiled(model, image)`` returns class probabilities at the image's own resolution. The
image is first scaled (``scale``, e.g. so its shorter side matches what the model saw in
training), cut into overlapping ``tile`` x ``tile`` windows that are run in small batches, and the
windows' softmax outputs are blended with weights that fall off towards tile borders. Memory is
bounded by the tile batch and one (C, H, W) float32 accumulator, so a 4096x2160 frame fits.

``predict_bounded(model, path)`` is for files of any size (orthomosaics, 100 MP photos): it decodes
at a reduced size when it can, keeps probabilities at the network and working scales, and brings
only a uint8 mask to full size, in strips.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

from .data import IMAGENET_MEAN, IMAGENET_STD, window_starts
from .safety import landing_mask


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 RGB -> normalised (3, H, W) float32 tensor, as the eval transform does."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}")
    x = (image.astype(np.float32) / 255.0 - np.array(IMAGENET_MEAN, np.float32)) / np.array(IMAGENET_STD, np.float32)
    return torch.from_numpy(x.transpose(2, 0, 1).copy())


def _window(tile: int) -> np.ndarray:
    """(tile, tile) blending weights: 1 in the middle, falling linearly to 0.1 at the border."""
    ramp = np.minimum(np.arange(tile) + 1, np.arange(tile)[::-1] + 1) / (tile / 4)
    w = np.clip(ramp, 0.1, 1.0).astype(np.float32)
    return np.outer(w, w)


@torch.no_grad()
def predict_tiled(model: torch.nn.Module, image: np.ndarray, *, scale: float = 1.0, tile: int = 256, overlap: int = 64,
                  flip_tta: bool = False, batch_size: int = 4) -> np.ndarray:
    """Class probabilities (C, H, W) float32 for an (H, W, 3) uint8 RGB image of any size.

    scale: resize factor applied before the network (the output is returned at full size);
    tile / overlap: window size and overlap in network pixels; flip_tta: also run horizontally
    flipped windows and average.
    """
    if not 0 <= overlap < tile:
        raise ValueError(f"overlap must be in [0, tile), got {overlap} for tile {tile}")
    h, w = image.shape[:2]
    sh, sw = max(4, round(h * scale)), max(4, round(w * scale))
    small = cv2.resize(image, (sw, sh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    ph, pw = max(tile, -(-sh // 32) * 32), max(tile, -(-sw // 32) * 32)  # >= one tile, multiple of 32 (all archs)
    x = to_tensor(np.pad(small, ((0, ph - sh), (0, pw - sw), (0, 0)), mode="reflect"))
    device = next(model.parameters()).device
    model.eval()
    stride = tile - overlap
    positions = [(y, xx) for y in window_starts(ph, tile, stride) for xx in window_starts(pw, tile, stride)]
    window = torch.from_numpy(_window(tile))
    probs = weights = None
    for i in range(0, len(positions), batch_size):
        chunk = positions[i : i + batch_size]
        batch = torch.stack([x[:, y : y + tile, xx : xx + tile] for y, xx in chunk]).to(device)
        out = model(batch).float().softmax(1)
        if flip_tta:
            out = (out + model(batch.flip(-1)).float().softmax(1).flip(-1)) / 2
        out = out.cpu()
        if probs is None:
            probs = torch.zeros(out.shape[1], ph, pw)
            weights = torch.zeros(ph, pw)
        for (y, xx), p in zip(chunk, out):
            probs[:, y : y + tile, xx : xx + tile] += p * window
            weights[y : y + tile, xx : xx + tile] += window
    probs = (probs / weights).numpy()[:, :sh, :sw]
    if (sh, sw) == (h, w):
        return np.ascontiguousarray(probs)
    return np.stack([cv2.resize(p, (w, h), interpolation=cv2.INTER_LINEAR) for p in probs])


def predict_mask(model: torch.nn.Module, image: np.ndarray, **kwargs) -> np.ndarray:
    """(H, W) uint8 class mask of an RGB image; keyword arguments go to ``predict_tiled``."""
    return predict_tiled(model, image, **kwargs).argmax(0).astype(np.uint8)


def scale_for(image_shape: tuple[int, ...], short_side: int = 256) -> float:
    """The resize factor that gives the image's shorter side ``short_side`` pixels (the eval scale)."""
    return short_side / min(image_shape[:2])


def scale_for_gsd(gsd_m: float, train_gsd_m: float, limits: tuple[float, float] = (1 / 64, 4.0)) -> float:
    """The resize factor that shows an image of ``gsd_m`` (m/px) at the GSD the network was trained
    at: a 3 cm/px orthomosaic and a model trained at 22 cm/px give 0.136 (clipped to ``limits``)."""
    if gsd_m <= 0 or train_gsd_m <= 0:
        raise ValueError(f"ground sampling distances must be positive, got {gsd_m} and {train_gsd_m}")
    return float(min(max(gsd_m / train_gsd_m, limits[0]), limits[1]))


# --- any image size in bounded memory -------------------------------------------------------
MAX_IMAGE_PIXELS = 1 << 30
"""The largest image (width x height) ``predict_bounded`` accepts: OpenCV's own decoder limit."""
MIN_SIDE = 4  # no side of an image the network or the working scale sees is shorter (pixels)
MAX_NETWORK_PIXELS = 64_000_000
"""The most pixels the network is asked to see in one image (a coarse GSD can ask to enlarge a photo)."""
WORKING_SIDE = 2048
"""Landing sites and the overlay are computed at most this many pixels on the long side."""


@dataclass
class BoundedPrediction:
    """What ``predict_bounded`` returns. ``probs`` (C, h, w) are the network-scale probabilities,
    ``working_probs`` and ``working_image`` the same scene at the working scale (long side at most
    ``WORKING_SIDE``, never above full size); ``full_shape`` is the file's (H, W). ``full_mask()``
    brings the class mask to full size, in strips."""

    full_shape: tuple[int, int]
    probs: np.ndarray
    working_probs: np.ndarray
    working_image: np.ndarray

    @property
    def working_scale(self) -> float:
        """Working pixels per full-resolution pixel (1.0 for images up to ``WORKING_SIDE``)."""
        return self.working_image.shape[1] / self.full_shape[1]

    def to_full(self, xy) -> tuple[int, int]:
        """A working-scale pixel (x, y) as full-resolution pixel coordinates (pixel centres aligned)."""
        s = self.working_scale
        return tuple(int(round((v + 0.5) / s - 0.5)) for v in xy)

    def full_mask(self, strip_rows: int = 128, safe_threshold: float | None = None) -> np.ndarray:
        """(H, W) uint8 class mask at full resolution: the network-scale probabilities upsampled
        bilinearly (as ``predict_tiled`` does) ``strip_rows`` rows at a time, so memory stays at one
        uint8 mask plus one float strip. ``safe_threshold``: the landing decision rule
        (``safety.landing_mask``; None = argmax)."""
        height, width = self.full_shape
        c, h, w = self.probs.shape
        planes = np.ascontiguousarray(self.probs.transpose(1, 2, 0))  # (h, w, C) for cv2.remap
        map_x = np.broadcast_to(((np.arange(width, dtype=np.float32) + 0.5) * (w / width) - 0.5), (strip_rows, width))
        mask = np.empty((height, width), np.uint8)
        for y0 in range(0, height, strip_rows):
            y1 = min(height, y0 + strip_rows)
            map_y = np.broadcast_to((((np.arange(y0, y1, dtype=np.float32) + 0.5) * (h / height) - 0.5))[:, None],
                                    (y1 - y0, width))
            mx = np.ascontiguousarray(map_x[: y1 - y0])
            strip = np.stack([cv2.remap(planes[..., k], mx, np.ascontiguousarray(map_y), cv2.INTER_LINEAR,
                                        borderMode=cv2.BORDER_REPLICATE)  # pragma: no mutate (a 0 border scales every class alike)
                              for k in range(c)])
            mask[y0:y1] = landing_mask(strip, safe_threshold)
        return mask


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """(H, W) of an image file from its header, without decoding the pixels."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image not found: {path}")
    limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None  # only the header is read here; the size check is ours
    try:
        with Image.open(path) as im:
            width, height = im.size
    except Exception as err:  # noqa: BLE001 - Pillow raises many kinds for a bad file
        raise ValueError(f"cannot read image {path}: the file is corrupt or not an image ({err})") from None
    finally:
        Image.MAX_IMAGE_PIXELS = limit
    return height, width


def read_reduced(path: str | os.PathLike, need_short_side: int) -> tuple[np.ndarray, tuple[int, int]]:
    """(RGB uint8 image, full (H, W)): the file decoded at 1/1, 1/2, 1/4 or 1/8 of its size, the
    smallest that keeps at least ``need_short_side`` pixels on the short side. JPEG decoders do
    this while decoding (a 96 MP photo never exists at full size in memory); other formats are
    decoded and reduced. Images above ``MAX_IMAGE_PIXELS`` fail with a clear message."""
    from .data import read_image

    height, width = image_size(path)
    if height * width > MAX_IMAGE_PIXELS:
        raise ValueError(f"{path} is {width} x {height} = {height * width / 1e6:.0f} MP, more than the "
                         f"{MAX_IMAGE_PIXELS / 1e6:.0f} MP an image decoder here can hold: split it into tiles first")
    factor = 1
    while factor < 8 and min(height, width) // (factor * 2) >= need_short_side:
        factor *= 2
    if factor == 1:
        return read_image(path), (height, width)
    flag = {2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}[factor]
    data = cv2.imread(str(path), flag)
    if data is None:
        raise ValueError(f"cannot read image {path}: the file is corrupt or not an image")
    return cv2.cvtColor(data, cv2.COLOR_BGR2RGB), (height, width)


def _resized(image: np.ndarray, width: int, height: int, scale: float) -> np.ndarray:
    """``image`` (a possibly reduced decoding of a ``width`` x ``height`` file) at ``scale`` of the file."""
    size = (max(MIN_SIDE, round(width * scale)), max(MIN_SIDE, round(height * scale)))
    if size == (image.shape[1], image.shape[0]):
        return image
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if size[0] < image.shape[1] else cv2.INTER_LINEAR)


def predict_bounded(model: torch.nn.Module, path: str | os.PathLike, *, short_side: int = 256, scale: float | None = None,
                    flip_tta: bool = False, working_side: int = WORKING_SIDE) -> BoundedPrediction:
    """Predict an image file of any size in bounded memory (what ``landinglib predict`` uses).

    The network sees the image at ``scale`` (default: ``short_side`` pixels on the short side,
    as in ``predict_tiled``); probabilities stay at that scale and at the working scale (long side
    at most ``working_side``); only ``full_mask()`` is full size, and only as uint8. Unlike
    ``predict_tiled`` nothing full-size is float, so a 20,000 x 20,000 px JPEG needs well under 2 GB.
    """
    height, width = image_size(path)
    scale = scale_for((height, width), short_side) if scale is None else scale
    if height * width * scale * scale > MAX_NETWORK_PIXELS:
        raise ValueError(f"{path} at scale {scale:.3g} would be {height * width * scale * scale / 1e6:.0f} MP for the "
                         f"network (at most {MAX_NETWORK_PIXELS / 1e6:.0f} MP): is the GSD right?")
    working = min(1.0, working_side / max(height, width))
    need = max(min(height, width) * max(scale, working), MIN_SIDE)
    image, _ = read_reduced(path, int(math.ceil(need)))
    probs = predict_tiled(model, _resized(image, width, height, scale), flip_tta=flip_tta)
    working_image = _resized(image, width, height, working)
    del image
    wh, ww = working_image.shape[:2]
    working_probs = probs if probs.shape[1:] == (wh, ww) else np.stack(
        [cv2.resize(p, (ww, wh), interpolation=cv2.INTER_LINEAR) for p in probs])
    return BoundedPrediction((height, width), probs, working_probs, working_image)
