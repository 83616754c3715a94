"""Charts: class frequencies, training curves, IoU per class, the confusion matrix, the Safe trade-off."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..classes import Taxonomy


def plot_class_frequencies(counts: np.ndarray, taxonomy: Taxonomy, ax=None, title: str | None = None,
                           log: bool = False):
    """Bar chart of the share of labelled pixels per class, each bar labelled with its share (so a
    small class reads as small, not as absent). A linear axis by default: shares are compared as they
    are; ``log=True`` stretches the small ones (and makes them look larger than they are)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3))
    share = np.asarray(counts, np.float64) / max(np.sum(counts), 1)
    bars = ax.bar(taxonomy.names, share * 100, color=[np.array(c) / 255 for c in taxonomy.colors], edgecolor="k")
    for bar, value in zip(bars, share):
        label = f"{value:.1%}" if value == 0 or value >= 0.001 else f"{value:.2%}"
        ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height(), label, ha="center", va="bottom", size=8)
    if log:
        ax.set_yscale("log")
    else:
        ax.set_ylim(0, max(100 * float(share.max()), 1.0) * 1.15)  # room for the labels
    ax.set_ylabel("% of labelled pixels")
    ax.set_title(title or f"class frequencies ({taxonomy.name})", loc="left")
    ax.tick_params(axis="x", rotation=30)
    return ax


def plot_history(history: list[dict], title: str = "", axes=None):
    """Training curves from ``fit``'s history: train/val loss and validation mIoU per epoch."""
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 3.2))
    epochs = [h["epoch"] for h in history]
    axes[0].plot(epochs, [h["train_loss"] for h in history], "o-", label="train")
    axes[0].plot(epochs, [h["val_loss"] for h in history], "s-", label="validation")
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("cross-entropy")
    axes[0].legend()
    axes[1].plot(epochs, [h["val_miou"] for h in history], "s-", color="C2")
    axes[1].set_xlabel("epoch")
    axes[1].set_ylabel("validation mIoU")
    axes[1].set_ylim(0, 1)
    return _epoch_axes(axes, title)


def _epoch_axes(axes, title: str, legend: bool = False):
    """Finish a pair of per-epoch plots: grid, whole-number epochs, optional legend, the title."""
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
        if legend:
            ax.legend(fontsize=8)
    if title:
        axes[0].figure.suptitle(title)
    axes[0].figure.tight_layout()
    return axes


def compare_histories(histories: dict[str, list[dict]], title: str = "", axes=None):
    """Validation loss and mIoU per epoch of several runs (``fit`` histories by name), on shared axes."""
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 3.2))
    for k, (name, history) in enumerate(histories.items()):
        epochs = [h["epoch"] for h in history]
        axes[0].plot(epochs, [h["val_loss"] for h in history], "s-", color=f"C{k}", label=name)
        axes[1].plot(epochs, [h["val_miou"] for h in history], "s-", color=f"C{k}", label=name)
    axes[0].set_ylabel("validation cross-entropy")
    axes[1].set_ylabel("validation mIoU")
    axes[1].set_ylim(0, 1)
    for ax in axes:
        ax.set_xlabel("epoch")
    return _epoch_axes(axes, title, legend=True)


def plot_class_iou(iou, taxonomy: Taxonomy, baseline=None, ax=None, title: str = "test IoU per class"):
    """Bar chart of per-class IoU (NaN = class absent), with an optional baseline mIoU line."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3))
    values = np.nan_to_num(np.asarray(iou, dtype=np.float64))
    bars = ax.bar(taxonomy.names, values, color=[np.array(c) / 255 for c in taxonomy.colors], edgecolor="k")
    for bar, value in zip(bars, values):
        ax.text(bar.get_x() + bar.get_width() / 2, value, f"{value:.2f}", ha="center", va="bottom", size=8)
    miou = float(np.nanmean(np.asarray(iou, dtype=np.float64)))
    ax.axhline(miou, color="k", ls="--", lw=1, label=f"mIoU {miou:.3f}")
    if baseline is not None:
        ax.axhline(baseline, color="C3", ls=":", lw=1.5, label=f"majority-class baseline {baseline:.3f}")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("IoU")
    ax.set_title(title, loc="left")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)  # beside the bars, never on them
    ax.tick_params(axis="x", rotation=30)
    return ax


def plot_confusion(matrix, taxonomy: Taxonomy, normalize: bool = True, ax=None, title: str = "confusion matrix"):
    """Heat map of a (C, C) confusion matrix, rows = truth, normalised per row (recall) by default."""
    m = np.asarray(matrix, dtype=np.float64)
    shown = m / np.maximum(m.sum(1, keepdims=True), 1) if normalize else m
    if ax is None:
        _, ax = plt.subplots(figsize=(1.1 * len(taxonomy) + 2, 1.0 * len(taxonomy) + 1.2))
    ax.imshow(shown, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    for i in range(len(taxonomy)):
        for j in range(len(taxonomy)):
            ax.text(j, i, f"{shown[i, j]:.2f}" if normalize else f"{int(m[i, j])}", ha="center", va="center",
                    color="white" if shown[i, j] > 0.6 * shown.max() else "black", size=9)
    ax.set_xticks(range(len(taxonomy)), taxonomy.names, rotation=30)
    ax.set_yticks(range(len(taxonomy)), taxonomy.names)
    ax.set_xlabel("prediction")
    ax.set_ylabel("truth")
    ax.set_title(title, loc="left")
    return ax


def plot_safe_tradeoff(curves: dict, threshold: float | None = None, ax=None,
                       title: str = "what calling more ground Safe costs"):
    """False-safe rate (x: Caution + Danger pixels called Safe) against Safe recall (y) as the Safe
    threshold moves from 0 (the plain argmax, right end) to 1, one line per split (``curves``: name ->
    ``safety.SafeCurve``); ``threshold`` is marked on each line."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 4))
    for k, (name, curve) in enumerate(curves.items()):
        points = curve.points()
        ax.plot(100 * points["false_safe_rate"], points["safe_recall"], color=f"C{k}", lw=1.5, label=name)
        ax.plot(100 * points["false_safe_rate"][0], points["safe_recall"][0], "o", mfc="white", color=f"C{k}")
        if threshold is not None:
            at = curve.at(threshold)
            ax.plot(100 * at["false_safe_rate"], at["safe_recall"], "*", ms=13, color=f"C{k}", mec="k")
    ax.plot([], [], "o", mfc="white", color="0.3", label="plain argmax (threshold 0)")
    if threshold is not None:
        ax.plot([], [], "*", ms=11, color="0.3", mec="k", label=f"Safe needs P(Safe) ≥ {threshold:.2f}")
    ax.set_xlabel("false-safe rate: % of Caution + Danger pixels called Safe")
    ax.set_ylabel("Safe recall: share of Safe ground found")
    ax.set_xlim(left=0)
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title, loc="left")
    return ax
