"""Class balance: pixel counts per class over a dataset's masks, and the loss weights made from them."""
from __future__ import annotations

import numpy as np
import torch

from .datasets import _SegmentationDataset


def class_pixel_counts(dataset: _SegmentationDataset, max_items: int | None = None) -> np.ndarray:
    """(C,) int64 pixel count per class over the dataset's raw masks (ignore not counted)."""
    n = len(dataset.classes)
    counts = np.zeros(n, np.int64)
    unique = len(dataset) // getattr(dataset, "repeat", 1)  # a repeated dataset lists items several times
    transform, dataset.transform = dataset.transform, None
    try:
        for i in range(unique if max_items is None else min(max_items, unique)):
            _, mask = dataset[i]
            counts += np.bincount(mask.ravel(), minlength=256)[:n]
    finally:
        dataset.transform = transform
    return counts


def class_weights(counts: np.ndarray, power: float = 0.5, max_weight: float = 10.0) -> torch.Tensor:
    """Loss weights from pixel counts: (median / frequency) ** power, capped; absent classes get 0."""
    freq = counts / max(counts.sum(), 1)
    present = freq > 0
    weights = np.zeros_like(freq, dtype=np.float64)
    if present.any():  # no labelled pixel at all: every weight stays 0 (and numpy is not asked for an empty median)
        weights[present] = (np.median(freq[present]) / freq[present]) ** power
    return torch.tensor(np.minimum(weights, max_weight), dtype=torch.float32)
