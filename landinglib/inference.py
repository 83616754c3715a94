"""Prediction on whole images of any size: resize to the training scale, tile, blend, upsample.

``predict_tiled(model, image)`` returns class probabilities at the image's own resolution. The
image is first scaled (``scale``, e.g. so its shorter side matches what the model saw in
training), cut into overlapping ``tile`` x ``tile`` windows that are run in small batches, and the
windows' softmax outputs are blended with weights that fall off towards tile borders. Memory is
bounded by the tile batch and one (C, H, W) float32 accumulator, so a 4096x2160 frame fits.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch

from .data import IMAGENET_MEAN, IMAGENET_STD, window_starts


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
