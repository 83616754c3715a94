"""Safe must be earned: the landing-aware figures, and the rule that turns probabilities into a landing mask.

A landing model is judged first by what it calls **Safe**: a facade, a car or a tree called Safe is the
mistake that crashes a drone. This module holds that judgement in one place:

* ``landing_figures(confusion)``: from a landing confusion matrix (rows truth, columns prediction), the
  false-safe rate (the share of Caution + Danger pixels called Safe), Danger called Safe, and Safe
  precision and recall — reported next to mIoU, never instead of it;
* ``landing_mask(probs, threshold)``: the decision rule. A pixel is Safe only when Safe is its most likely
  class **and** P(Safe) >= ``threshold``; any other pixel gets the most likely of the other classes.
  ``threshold=None`` (a checkpoint written before the rule existed) is the plain argmax;
* ``SafeCurve``: how the false-safe rate, Danger called Safe and Safe recall move with the threshold over a
  split; ``threshold_for(budget)`` picks the smallest threshold that keeps both error shares within the
  budget. The pipeline builds it on the **validation** split only: the test split chooses nothing;
* ``site_on_safe_ground``: whether a landing site's footprint lies on truly Safe ground.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from .classes import BACKGROUND, CAUTION, DANGER, IGNORE_INDEX, SAFE

FALSE_SAFE_BUDGET = 0.02
"""The default budget: at most 2 % of Caution + Danger pixels, and of Danger pixels, may come out Safe."""

FIGURES = ("false_safe_rate", "danger_to_safe", "safe_precision", "safe_recall")
"""The pixel figures of ``landing_figures``, in the order the tables show them."""


def _share(part: float, whole: float) -> float:
    return float(part / whole) if whole else float("nan")


def landing_figures(confusion) -> dict[str, float]:
    """The landing-aware pixel figures of a (4, 4) landing confusion matrix (rows truth, columns prediction).

    ``false_safe_rate``: Caution + Danger pixels called Safe / all Caution + Danger pixels;
    ``danger_to_safe``: Danger pixels called Safe / all Danger pixels; ``safe_precision``: truly Safe /
    called Safe; ``safe_recall``: called Safe / truly Safe. NaN where the denominator is 0.
    """
    m = np.asarray(confusion, dtype=np.float64)
    if m.shape != (4, 4):
        raise ValueError(f"a landing confusion matrix is 4 x 4 (Background, Safe, Caution, Danger), got {m.shape}")
    return {"false_safe_rate": _share(m[CAUTION, SAFE] + m[DANGER, SAFE], m[CAUTION].sum() + m[DANGER].sum()),
            "danger_to_safe": _share(m[DANGER, SAFE], m[DANGER].sum()),
            "safe_precision": _share(m[SAFE, SAFE], m[:, SAFE].sum()),
            "safe_recall": _share(m[SAFE, SAFE], m[SAFE].sum())}


def landing_mask(probs, threshold: float | None = None):
    """The landing decision for class probabilities: (..., C, H, W) -> (..., H, W) class indices.

    Safe where Safe is the most likely class and P(Safe) >= ``threshold``; elsewhere the most likely of the
    other classes. ``threshold=None`` is the plain argmax. A NumPy array gives a uint8 NumPy mask, a tensor
    an int64 tensor on its device.
    """
    as_numpy = isinstance(probs, np.ndarray)
    p = torch.from_numpy(probs) if as_numpy else probs
    if p.ndim < 3 or p.shape[-3] <= SAFE:
        raise ValueError(f"probabilities must be (..., C, H, W) with a Safe channel, got shape {tuple(p.shape)}")
    mask = p.argmax(-3)
    if threshold is not None:
        unsure = (mask == SAFE) & (p.select(-3, SAFE) < threshold)
        if unsure.any():
            others = p.clone()
            others.select(-3, SAFE).fill_(-1.0)  # below every probability: never the most likely
            mask = torch.where(unsure, others.argmax(-3), mask)
    return mask.numpy().astype(np.uint8) if as_numpy else mask


def check_threshold(threshold: float | None) -> float | None:
    """A Safe threshold must lie in [0, 1] (None = plain argmax)."""
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise ValueError(f"the Safe threshold is a probability in [0, 1], got {threshold}")
    return threshold


@dataclass
class SafeCurve:
    """Histograms of P(Safe) over the pixels whose most likely class is Safe, one per true class.

    ``update(probs, target)`` adds a batch; ``at(threshold)`` gives ``landing_figures`` (pixel figures on the
    Safe column) under the rule with that threshold; ``threshold_for(budget)`` the smallest threshold, in
    steps of 1 / ``bins``, that keeps the false-safe rate and Danger called Safe within the budget;
    ``points()`` the whole curve for a plot.
    """

    bins: int = 1000
    counts: np.ndarray = field(default=None)  # (4, bins): argmax-Safe pixels per true class and P(Safe) bin
    totals: np.ndarray = field(default=None)  # (4,): labelled pixels per true class

    def __post_init__(self):
        if self.counts is None:
            self.counts = np.zeros((4, self.bins), np.int64)
        if self.totals is None:
            self.totals = np.zeros(4, np.int64)

    @torch.no_grad()
    def update(self, probs: torch.Tensor, target: torch.Tensor) -> None:
        """probs: (N, 4, H, W) probabilities; target: (N, H, W) landing classes, 255 = ignore."""
        if probs.ndim != 4 or probs.shape[1] != 4:
            raise ValueError(f"a SafeCurve needs (N, 4, H, W) landing probabilities, got {tuple(probs.shape)}")
        target = target.to(probs.device)
        labelled = target != IGNORE_INDEX
        truth = target[labelled].long()
        self.totals += torch.bincount(truth, minlength=4)[:4].cpu().numpy()
        safe = (probs.argmax(1) == SAFE) & labelled
        p = probs[:, SAFE][safe].float()
        b = (p * self.bins).long().clamp_(0, self.bins - 1)  # bin k holds P(Safe) in [k/bins, (k+1)/bins)
        index = target[safe].long() * self.bins + b
        self.counts += torch.bincount(index, minlength=4 * self.bins)[: 4 * self.bins].view(4, self.bins).cpu().numpy()

    def merge(self, other: SafeCurve) -> SafeCurve:
        """The curve of both splits' pixels together."""
        return SafeCurve(self.bins, self.counts + other.counts, self.totals + other.totals)

    def _called_safe(self) -> np.ndarray:
        """(4, bins + 1): pixels per true class called Safe at threshold k / bins, k = 0..bins."""
        tail = self.counts[:, ::-1].cumsum(1)[:, ::-1]
        return np.concatenate([tail, np.zeros((4, 1), np.int64)], 1)

    def _confusion_column(self, k: int) -> np.ndarray:
        """A (4, 4) matrix with what the figures need: the Safe column at threshold k / bins and the row
        totals (kept in the Background column; ``landing_figures`` only reads row sums off it)."""
        m = np.zeros((4, 4), np.int64)
        m[:, SAFE] = self._called_safe()[:, k]
        m[:, BACKGROUND] = self.totals - m[:, SAFE]
        return m

    def at(self, threshold: float | None) -> dict[str, float]:
        """``landing_figures`` under the rule with ``threshold`` (None or 0 = argmax), to 1 / ``bins``."""
        k = 0 if threshold is None else int(np.ceil(check_threshold(threshold) * self.bins - 1e-9))
        return landing_figures(self._confusion_column(min(k, self.bins)))

    def points(self) -> dict[str, np.ndarray]:
        """The curve: ``threshold`` (k / bins), and per threshold ``false_safe_rate``, ``danger_to_safe``,
        ``safe_recall`` and ``safe_precision`` (NaN where undefined)."""
        called = self._called_safe().astype(np.float64)
        cd = self.totals[CAUTION] + self.totals[DANGER]
        with np.errstate(divide="ignore", invalid="ignore"):
            return {"threshold": np.arange(self.bins + 1) / self.bins,
                    "false_safe_rate": (called[CAUTION] + called[DANGER]) / cd if cd else np.full(self.bins + 1, np.nan),
                    "danger_to_safe": called[DANGER] / self.totals[DANGER] if self.totals[DANGER] else
                    np.full(self.bins + 1, np.nan),
                    "safe_recall": called[SAFE] / self.totals[SAFE] if self.totals[SAFE] else np.full(self.bins + 1, np.nan),
                    "safe_precision": called[SAFE] / called.sum(0)}

    def threshold_for(self, budget: float = FALSE_SAFE_BUDGET) -> float:
        """The smallest threshold (a multiple of 1 / ``bins``) at which the false-safe rate and the share of
        Danger called Safe are both at most ``budget``: 0.0 when the plain argmax already keeps it."""
        if not 0.0 <= budget <= 1.0:
            raise ValueError(f"the false-safe budget is a share in [0, 1], got {budget}")
        if not self.totals.any():
            raise ValueError("the curve holds no labelled pixel: a Safe threshold cannot be chosen")
        curve = self.points()
        within = np.ones(self.bins + 1, bool)
        for name in ("false_safe_rate", "danger_to_safe"):
            values = curve[name]
            within &= np.isnan(values) | (values <= budget + 1e-12)
        return float(np.argmax(within) / self.bins)  # the last threshold calls nothing Safe: always within


def site_on_safe_ground(truth: np.ndarray, center: tuple[int, int], radius_px: float) -> bool:
    """True when every labelled pixel of the disk of ``radius_px`` around ``center`` (x, y) is truly Safe
    (at least one is labelled); ``truth``: (H, W) landing classes, 255 = ignore."""
    truth = np.asarray(truth)
    h, w = truth.shape
    x, y = center
    r = int(np.ceil(radius_px))
    y0, y1, x0, x1 = max(0, y - r), min(h, y + r + 1), max(0, x - r), min(w, x + r + 1)
    yy, xx = np.mgrid[y0:y1, x0:x1]
    inside = (xx - x) ** 2 + (yy - y) ** 2 <= radius_px**2
    labels = truth[y0:y1, x0:x1][inside]
    labels = labels[labels != IGNORE_INDEX]
    return bool(labels.size) and bool((labels == SAFE).all())


def _percent(value) -> str:
    return "-" if value is None or value != value else f"{100 * value:.1f} %"


def landing_table(report: dict) -> str:
    """A report of landing-aware figures as text: ``{"threshold", "budget", "<split>": {"argmax": figures,
    "rule": figures}}`` (``scoring.earn_safe``; either decision may be missing), figures being
    ``evaluation.evaluate``'s ``landing`` plus ``miou``. One row per split and decision: mIoU, false-safe
    rate, Danger called Safe, Safe precision and recall, and how many best sites lie on Safe ground."""
    threshold, budget = report.get("threshold"), report.get("budget")
    if threshold is None:
        head = "landing: no Safe threshold (plain argmax)"
    else:
        head = f"landing: Safe needs P(Safe) >= {threshold:.3f}" + (
            f", chosen on validation for a false-safe budget of {100 * budget:.1f} %" if budget is not None else "")
    splits = [name for name, decisions in report.items() if isinstance(decisions, dict)]
    width = max([8, *map(len, splits)])
    lines = [head, f"{'split':<{width}} {'decision':<10} {'mIoU':>6} {'false-safe':>10} {'danger->safe':>12} "
                   f"{'safe prec':>9} {'safe recall':>11}  best site on Safe ground"]
    for split in splits:
        for kind, f in report[split].items():
            decision = "argmax" if kind == "argmax" else f">= {threshold:.3f}"
            sites = (f"{f['sites_on_safe']} of {f['frames_with_site']} frames with a site ({f['frames']} frames)"
                     if "frames" in f else "-")
            lines.append(f"{split:<{width}} {decision:<10} {f['miou']:>6.3f} {_percent(f['false_safe_rate']):>10} "
                         f"{_percent(f['danger_to_safe']):>12} {f['safe_precision']:>9.3f} {f['safe_recall']:>11.3f}"
                         f"  {sites}")
    return "\n".join(lines)
