"""Segmentation metrics from a confusion matrix: per-class IoU, mIoU, pixel accuracy.

``metrics`` is arithmetic only: running a model over data is ``evaluation.evaluate``.
Every class counts, class 0 included; only pixels labelled 255 (ignore) are skipped. The matrix
is accumulated on the model's device with ``torch.bincount``: rows = truth, columns = prediction.
"""
from __future__ import annotations

import numpy as np
import torch

from .classes import IGNORE_INDEX
from .tables import Table


class ConfusionMatrix:
    """Accumulates a (C, C) int64 confusion matrix over batches."""

    def __init__(self, num_classes: int, device: torch.device | str | None = None):
        self.num_classes = num_classes
        self.matrix = torch.zeros(num_classes, num_classes, dtype=torch.int64, device=device)

    @torch.no_grad()
    def update(self, prediction: torch.Tensor, target: torch.Tensor) -> None:
        """prediction: (N, H, W) class indices or (N, C, H, W) logits; target: (N, H, W), 255 = ignore."""
        if prediction.ndim == target.ndim + 1:
            if prediction.shape[1] != self.num_classes:
                raise ValueError(f"logits have {prediction.shape[1]} channels but there are {self.num_classes} classes")
            prediction = prediction.argmax(1)
        if prediction.shape != target.shape:
            raise ValueError(f"prediction {tuple(prediction.shape)} and target {tuple(target.shape)} differ")
        target = target.to(self.matrix.device)
        prediction = prediction.to(self.matrix.device)
        keep = target != IGNORE_INDEX
        if keep.any() and int(target[keep].max()) >= self.num_classes:
            raise ValueError(f"target holds class {int(target[keep].max())} but there are {self.num_classes} classes")
        if keep.any() and (int(prediction[keep].max()) >= self.num_classes or int(prediction[keep].min()) < 0):
            raise ValueError(f"prediction holds classes outside 0..{self.num_classes - 1}")
        index = target[keep].long() * self.num_classes + prediction[keep].long()
        self.matrix += torch.bincount(index, minlength=self.num_classes**2).view(self.num_classes, self.num_classes)

    def reset(self) -> None:
        self.matrix.zero_()

    def compute(self) -> dict:
        """Metrics as plain Python numbers (see ``scores``)."""
        return scores(self.matrix.cpu().numpy())


def scores(matrix: np.ndarray) -> dict:
    """From a (C, C) confusion matrix (rows truth, columns prediction):

    ``iou``, ``precision``, ``recall``: per-class lists (NaN where undefined); ``miou``: mean IoU
    over the classes present (in truth or prediction); ``pixel_accuracy``; ``present``.
    """
    m = np.asarray(matrix, dtype=np.float64)
    tp = np.diag(m)
    truth, predicted = m.sum(1), m.sum(0)
    union = truth + predicted - tp
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, tp / union, np.nan)
        precision = np.where(predicted > 0, tp / predicted, np.nan)
        recall = np.where(truth > 0, tp / truth, np.nan)
    present = union > 0
    total = m.sum()
    return {
        "miou": float(np.mean(iou[present])) if present.any() else float("nan"),
        "pixel_accuracy": float(tp.sum() / total) if total else float("nan"),
        "iou": iou.tolist(),
        "precision": precision.tolist(),
        "recall": recall.tolist(),
        "present": present.tolist(),
        "pixels": int(total),
    }


def majority_baseline(matrix: np.ndarray) -> dict:
    """Scores of the trivial model that predicts the most frequent true class everywhere."""
    m = np.asarray(matrix, dtype=np.int64)
    truth = m.sum(1)
    baseline = np.zeros_like(m)
    baseline[:, int(np.argmax(truth))] = truth
    return scores(baseline)


# --- tables of results ------------------------------------------------------------------
def compare(results: dict[str, dict], class_names) -> Table:
    """One row per named result (``evaluation.evaluate`` output): mIoU, pixel accuracy, IoU per class
    and, where measured, ms per image. Prints as text; a notebook shows it as a table."""
    timed = any("seconds_per_image" in r for r in results.values())
    header = ["model", "mIoU", "pix acc", *class_names] + (["ms/img"] if timed else [])
    rows = []
    for name, r in results.items():
        row = [name, f"{r['miou']:.3f}", f"{r['pixel_accuracy']:.3f}", *(f"{v:.3f}" if v == v else "-" for v in r["iou"])]
        if timed:
            row.append(f"{1000 * r['seconds_per_image']:.1f}" if "seconds_per_image" in r else "")
        rows.append(row)
    return Table(header, rows, rule=True)
