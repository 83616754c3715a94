"""Pictures of masks: colour masks, overlays with their class legend, galleries (samples, augmentations,
predictions, the Safe rule), the class table, landing sites drawn on an image."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Patch

from ..classes import IGNORE_INDEX, Taxonomy, index_to_colors


def colorize(mask: np.ndarray, taxonomy: Taxonomy) -> np.ndarray:
    """(H, W) class indices -> (H, W, 3) uint8 RGB in the taxonomy's colours (255 -> grey)."""
    return index_to_colors(mask, taxonomy)


def overlay(image: np.ndarray, mask: np.ndarray, taxonomy: Taxonomy, alpha: float = 0.5) -> np.ndarray:
    """Blend a colour mask over an RGB image: (H, W, 3) uint8; ignored pixels stay unblended."""
    if image.shape[:2] != mask.shape[:2]:
        raise ValueError(f"image {image.shape[:2]} and mask {mask.shape[:2]} differ in size")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    colors = colorize(mask, taxonomy).astype(np.float32)
    weight = np.where(mask == IGNORE_INDEX, 0.0, alpha)[..., None]
    return (image.astype(np.float32) * (1 - weight) + colors * weight).round().astype(np.uint8)


def legend_handles(taxonomy: Taxonomy, present: np.ndarray | None = None) -> list[Patch]:
    """Matplotlib legend patches, one per class (only ``present`` indices if given)."""
    keep = range(len(taxonomy)) if present is None else [int(i) for i in present if i < len(taxonomy)]
    return [Patch(facecolor=np.array(taxonomy.colors[i]) / 255, edgecolor="k", linewidth=0.5,
                  label=f"{i} {taxonomy.names[i]}") for i in keep]


def class_legend(target, taxonomy: Taxonomy, present=None, **kwargs):
    """Add the class colours as a legend, so that a coloured mask never has to be guessed (a Safe-green
    overlay is not grass). ``target``: a matplotlib ``Figure`` (legend centred below its panels; make
    room with ``fig.tight_layout(rect=(0, 0.08, 1, 1))``) or an ``Axes`` (legend just below the
    picture); ``present``: only these class indices (255 and unknown indices are skipped).
    ``kwargs`` go to ``legend``. Returns the ``Legend``."""
    if present is not None:
        present = np.unique(np.asarray(present if isinstance(present, np.ndarray) else list(present)))
    handles = legend_handles(taxonomy, present)
    options = dict(ncol=max(1, min(7, len(handles))), frameon=False, fontsize=9)
    if isinstance(target, plt.Figure):
        options.update(loc="lower center")
    else:
        options.update(loc="upper center", bbox_to_anchor=(0.5, -0.01))
    options.update(kwargs)
    return target.legend(handles=handles, **options)


def show_overlay(picture: np.ndarray, taxonomy: Taxonomy, title: str = "", ax=None, size: tuple = (12, 6.5)):
    """Show an RGB picture that carries a class overlay (``overlay``, ``draw_landing_sites``, a file
    that ``landinglib predict`` wrote) with the taxonomy's colour legend below it; returns the axes."""
    if ax is None:
        _, ax = plt.subplots(figsize=size)
    ax.imshow(picture)
    ax.axis("off")
    if title:
        ax.set_title(title, wrap=True)
    class_legend(ax, taxonomy)
    return ax


def show_taxonomy(taxonomy: Taxonomy, extra: dict[str, list] | None = None, ax=None):
    """A table of the classes: index, colour swatch, name, RGB (and ``extra`` columns)."""
    extra = extra or {}
    rows = len(taxonomy)
    if ax is None:
        _, ax = plt.subplots(figsize=(6 + 2 * len(extra), 0.45 * rows + 0.6))
    ax.set_xlim(0, 4.2 + 2 * len(extra))
    ax.set_ylim(rows, -1)
    ax.axis("off")
    headers = ["index", "", "name", "RGB", *extra]
    xs = [0.1, 0.6, 1.2, 2.6] + [4.2 + 2 * k for k in range(len(extra))]
    for x, h in zip(xs, headers):
        ax.text(x, -0.5, h, weight="bold", va="center")
    for i, (name, color) in enumerate(zip(taxonomy.names, taxonomy.colors)):
        ax.text(xs[0], i + 0.5, str(i), va="center")
        ax.add_patch(plt.Rectangle((xs[1], i + 0.15), 0.45, 0.7, color=np.array(color) / 255, ec="k", lw=0.5))
        ax.text(xs[2], i + 0.5, name, va="center")
        ax.text(xs[3], i + 0.5, str(tuple(color)), va="center", family="monospace", size=9)
        for k, values in enumerate(extra.values()):
            ax.text(xs[4 + k], i + 0.5, str(values[i]), va="center")
    ax.set_title(f"{taxonomy.name}: {rows} classes", loc="left")
    return ax


def show_samples(samples, taxonomy: Taxonomy, alpha: float = 0.5, titles=None, size: float = 3.2,
                 mask_name: str = "label"):
    """A gallery: one row per (image, mask) pair with image, colour mask and overlay; ``mask_name`` titles
    the mask column ("label" for ground truth, "prediction" for a model's output)."""
    samples = list(samples)
    fig, axes = plt.subplots(len(samples), 3, figsize=(3 * size, size * 0.75 * len(samples)), squeeze=False)
    present = set()
    for row, (image, mask) in enumerate(samples):
        present |= set(np.unique(mask).tolist())
        for ax, picture, label in zip(axes[row], (image, colorize(mask, taxonomy), overlay(image, mask, taxonomy, alpha)),
                                      ("image", mask_name, "overlay")):
            ax.imshow(picture)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(label if titles is None else f"{titles[row]} — {label}", size=9)
    class_legend(fig, taxonomy, sorted(present))
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def show_augmentations(image: np.ndarray, mask: np.ndarray, transform, taxonomy: Taxonomy,
                       n: int = 4, size: float = 2.6):
    """Two rows: ``n`` random augmentations of one pair, images above and masks below."""
    from ..data import denormalize

    fig, axes = plt.subplots(2, n + 1, figsize=((n + 1) * size, 2 * size))
    axes[0, 0].imshow(image)
    axes[1, 0].imshow(colorize(mask, taxonomy))
    axes[0, 0].set_title("original", size=9)
    present = set(np.unique(mask).tolist())
    for k in range(1, n + 1):
        out = transform(image=image, mask=mask)
        aug_img, aug_mask = out["image"], out["mask"]
        aug_img = denormalize(aug_img) if hasattr(aug_img, "permute") else aug_img
        aug_mask = np.asarray(aug_mask)
        axes[0, k].imshow(aug_img)
        axes[1, k].imshow(colorize(aug_mask, taxonomy))
        axes[0, k].set_title(f"augmented #{k}", size=9)
        present.update(np.unique(aug_mask).tolist())
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    class_legend(fig, taxonomy, sorted(present))
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def show_predictions(model, dataset, indices, taxonomy: Taxonomy, size: float = 3.0):
    """Rows of image / ground truth / prediction / errors for items of a dataset with a transform."""
    from ..data import denormalize
    from ..model import predict

    fig, axes = plt.subplots(len(indices), 4, figsize=(4 * size, size * 0.8 * len(indices)), squeeze=False)
    for row, i in enumerate(indices):
        image, mask = dataset[i]
        pred = predict(model, image).numpy()
        truth = mask.numpy() if hasattr(mask, "numpy") else np.asarray(mask)
        wrong = (pred != truth) & (truth != IGNORE_INDEX)
        errors = np.where(wrong[..., None], np.array([230, 30, 30], np.uint8), np.array([235, 235, 235], np.uint8))
        errors[truth == IGNORE_INDEX] = 128
        pictures = (denormalize(image), colorize(truth, taxonomy), colorize(pred, taxonomy), errors)
        labels = ("image", "ground truth", "prediction", f"errors ({wrong.sum() / max((truth != 255).sum(), 1):.0%})")
        for ax, picture, label in zip(axes[row], pictures, labels):
            ax.imshow(picture)
            ax.set_title(f"#{i} {label}", size=9)
            ax.set_xticks([])
            ax.set_yticks([])
    class_legend(fig, taxonomy)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def show_rule(image: np.ndarray, probs: np.ndarray, threshold: float | None, truth: np.ndarray | None = None,
              taxonomy: Taxonomy | None = None, size: float = 3.4):
    """One frame under the plain argmax and under the Safe rule (``safety.landing_mask``), next to the
    ground truth when given, with the share of truly unsafe ground called Safe in each title and a legend."""
    import torch

    from ..classes import LANDING
    from ..metrics import ConfusionMatrix
    from ..safety import landing_figures, landing_mask

    taxonomy = taxonomy or LANDING
    views = [("plain argmax", landing_mask(probs, None)),
             ("Safe rule" + (f" (P(Safe) ≥ {threshold:.2f})" if threshold is not None else ": no threshold"),
              landing_mask(probs, threshold))]
    columns = len(views) + (truth is not None)
    fig, axes = plt.subplots(1, columns, figsize=(columns * size, size * image.shape[0] / image.shape[1] + 0.7))
    for ax, (label, mask) in zip(axes, views):
        ax.imshow(overlay(image, mask, taxonomy, 0.5))
        if truth is not None:
            confusion = ConfusionMatrix(len(taxonomy))
            confusion.update(torch.from_numpy(mask.astype(np.int64))[None], torch.from_numpy(truth.astype(np.int64))[None])
            label += f"\n{landing_figures(confusion.matrix)['false_safe_rate']:.0%} of Caution + Danger called Safe"
        ax.set_title(label, size=9)
    if truth is not None:
        axes[-1].imshow(overlay(image, truth, taxonomy, 0.5))
        axes[-1].set_title("ground truth", size=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    class_legend(fig, taxonomy)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def draw_landing_sites(image: np.ndarray, sites, gsd_m: float | None = None, max_sites: int = 5) -> np.ndarray:
    """The image with the best sites drawn: a ring of the clear radius, a cross at the centre and
    the rank (1 = best, in cyan). ``gsd_m`` is accepted for symmetry with the finder."""
    import cv2

    out = np.ascontiguousarray(image.copy())
    thick = max(2, round(min(out.shape[:2]) / 200))
    for rank, site in reversed(list(enumerate(sites[:max_sites], 1))):
        color = (40, 220, 255) if rank == 1 else (255, 255, 255)
        cv2.circle(out, tuple(int(v) for v in site.center), int(site.radius_px), color, thick, cv2.LINE_AA)
        cv2.drawMarker(out, tuple(int(v) for v in site.center), color, cv2.MARKER_CROSS, 4 * thick, thick)
        corner = (int(site.center[0] + 0.7 * site.radius_px), int(site.center[1] - 0.7 * site.radius_px))
        for width, ink in ((3 * thick, (0, 0, 0)), (thick, color)):  # outlined rank number
            cv2.putText(out, str(rank), corner, cv2.FONT_HERSHEY_SIMPLEX, 0.3 * thick, ink, width, cv2.LINE_AA)
    return out

