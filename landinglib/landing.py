"""From a landing-class mask to ranked landing sites.

A site is a disk that lies entirely on **Safe** pixels and is at least as wide as the drone's
footprint. ``find_landing_sites`` measures, with distance transforms:

* clearance: the distance from each Safe pixel to the nearest pixel that is *not* Safe
  (Background, Caution, Danger, ignored pixels, or the edge of the image) — the radius of the
  largest safe disk centred there;
* danger distance: the distance to the nearest Danger pixel;

keeps the pixels whose clearance covers the footprint, and ranks them by a score that combines
clearance, the area of the connected Safe region, the distance to Danger and (when class
probabilities are given) the model's confidence that the footprint is Safe. It never invents a
site: no pixel with enough clearance means an empty list.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from .classes import BACKGROUND, CAUTION, DANGER, SAFE  # noqa: F401 - the landing classes, used by callers too

DEFAULT_GSD_M = 0.17
"""The ground sampling distance (m/px) assumed for the drone's footprint when none is known."""
MARGIN_M = 0.5
"""Clear ground kept around the drone, beyond its radius (m)."""

SCORE_WEIGHTS = {"clearance": 0.4, "area": 0.2, "danger": 0.2, "confidence": 0.2}
"""How the score (0..1) is made: each term is scaled to 0..1 first (see ``find_landing_sites``)."""
MIN_CONFIDENCE = 0.5  # a site needs at least this mean P(Safe) over its footprint (when probs are given)
_ROUNDING = 1e-4  # a footprint mean this close below the threshold is at it (float32 sums over up to 10^4 pixels)


@dataclass
class LandingSite:
    """A candidate: ``center`` (x, y) in pixels, ``radius_px`` = clearance, ``score`` in 0..1."""

    center: tuple[int, int]
    radius_px: float
    score: float
    area_px: int
    danger_distance_px: float
    confidence: float
    reasons: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"center": list(self.center), "radius_px": round(self.radius_px, 1), "score": round(self.score, 3),
                "area_px": self.area_px, "danger_distance_px": round(self.danger_distance_px, 1),
                "confidence": round(self.confidence, 3), "reasons": self.reasons}


def footprint_radius_px(gsd_m: float, drone_radius_m: float, margin_m: float = 0.0) -> float:
    """Footprint radius in pixels for a ground sampling distance (m/px) and a drone radius (m)."""
    if gsd_m <= 0 or drone_radius_m <= 0:
        raise ValueError(f"gsd_m and drone_radius_m must be positive, got {gsd_m} and {drone_radius_m}")
    return (drone_radius_m + margin_m) / gsd_m


def _distance_to(mask_of_targets: np.ndarray, border_counts: bool) -> np.ndarray:
    """Euclidean distance (px) from every pixel to the nearest True pixel (or image edge)."""
    free = (~mask_of_targets).astype(np.uint8)
    if border_counts:  # pixels outside the image are unknown ground: pad with a target frame
        free = cv2.copyMakeBorder(free, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
        return cv2.distanceTransform(free, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[1:-1, 1:-1]
    if not mask_of_targets.any():
        return np.full(mask_of_targets.shape, np.inf, np.float32)
    return cv2.distanceTransform(free, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)


def _clearance_and_confidence(mask, gsd_m: float, drone_radius_m: float, probs, margin_m: float):
    """(mask, needed radius px, clear radius px of every pixel, mean P(Safe) over the footprint or None)."""
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"mask must be (H, W), got shape {mask.shape}")
    if probs is not None and (probs.ndim != 3 or probs.shape[1:] != mask.shape or probs.shape[0] < 2):
        raise ValueError(f"probs must be (C, H, W) with (H, W) = {mask.shape}, got {probs.shape}")
    need = footprint_radius_px(gsd_m, drone_radius_m, margin_m)
    clearance = _distance_to(mask != SAFE, border_counts=True)
    p_safe = None
    if probs is not None:  # mean P(Safe) over a disk of the footprint size around each pixel
        k = int(2 * np.ceil(need) + 1)
        disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)).astype(np.float32)
        p_safe = cv2.filter2D(probs[SAFE].astype(np.float32), -1, disk / disk.sum(), borderType=cv2.BORDER_CONSTANT)
    return mask, need, clearance, p_safe


def explain_no_site(mask: np.ndarray, gsd_m: float = 0.1, drone_radius_m: float = 0.5, probs: np.ndarray | None = None,
                    *, margin_m: float = MARGIN_M, min_confidence: float = MIN_CONFIDENCE) -> str:
    """Why ``find_landing_sites`` (same arguments) finds no site, in words with the numbers;
    ``""`` when it finds one."""
    fields = _clearance_and_confidence(mask, gsd_m, drone_radius_m, probs, margin_m)
    return _explain(*fields, gsd_m=gsd_m, drone_radius_m=drone_radius_m, margin_m=margin_m,
                    min_confidence=min_confidence)


def _explain(mask, need, clearance, p_safe, *, gsd_m, drone_radius_m, margin_m, min_confidence) -> str:
    if not (mask == SAFE).any():
        return "no pixel is Safe"
    wide = clearance >= need
    if not wide.any():
        return (f"no Safe region is wide enough: the widest clear radius is {clearance.max() * gsd_m:.1f} m, the drone "
                f"needs {need * gsd_m:.1f} m ({drone_radius_m:g} m radius + {margin_m:g} m margin at {gsd_m:g} m/px)")
    if p_safe is not None and not (p_safe[wide] >= min_confidence - _ROUNDING).any():
        return (f"Safe ground wide enough exists ({int(wide.sum())} px), but the model is at most "
                f"{p_safe[wide].max():.0%} sure of it there, below the {min_confidence:.0%} threshold")
    return ""


def find_landing_sites(mask: np.ndarray, gsd_m: float = 0.1, drone_radius_m: float = 0.5, probs: np.ndarray | None = None,
                       *, margin_m: float = MARGIN_M, max_sites: int = 5,
                       min_confidence: float = MIN_CONFIDENCE) -> list[LandingSite]:
    """Ranked landing sites in a landing mask, best first; ``[]`` when nothing is safe enough.

    mask: (H, W) ints, 0 Background, 1 Safe, 2 Caution, 3 Danger (255 ignored = not safe).
    gsd_m: ground sampling distance (m/px); drone_radius_m + margin_m: required clear radius.
    probs: optional (4, H, W) class probabilities; the mean P(Safe) over the footprint is the
    confidence, and sites below ``min_confidence`` are dropped.
    Score terms (each 0..1, higher is better): 1 - footprint / clearance; log-area of the Safe
    region up to 100 footprints; 1 - exp(-danger distance / (4 x footprint)); confidence. They
    are weighted by ``SCORE_WEIGHTS``.
    Sites are picked greedily, best first; a later site lies more than twice the clear radius
    away from an earlier one.
    """
    fields = _clearance_and_confidence(mask, gsd_m, drone_radius_m, probs, margin_m)
    return _sites(*fields, gsd_m=gsd_m, max_sites=max_sites, min_confidence=min_confidence)


def _sites(mask, need, clearance, p_safe, *, gsd_m, max_sites, min_confidence) -> list[LandingSite]:
    safe = mask == SAFE
    danger = _distance_to(mask == DANGER, border_counts=False)
    candidates = clearance >= need
    if not candidates.any():
        return []
    _, regions, stats, _ = cv2.connectedComponentsWithStats(safe.astype(np.uint8), connectivity=8)
    area = stats[:, cv2.CC_STAT_AREA][regions]
    footprint_area = np.pi * need**2
    terms = {
        "clearance": 1.0 - need / np.maximum(clearance, need),
        "area": np.clip(np.log(np.maximum(area, 1) / footprint_area) / np.log(100.0), 0.0, 1.0),
        "danger": 1.0 - np.exp(-danger / (4 * need)),
    }
    if p_safe is not None:
        terms["confidence"] = p_safe
        candidates &= p_safe >= min_confidence - _ROUNDING
    weights = {k: w for k, w in SCORE_WEIGHTS.items() if k in terms}
    total = sum(weights.values())
    score = sum(w * terms[k] for k, w in weights.items()) / total
    score = np.where(candidates, score, -1.0)

    sites: list[LandingSite] = []
    taken = np.zeros(mask.shape, np.uint8)
    ys, xs = np.nonzero(candidates)
    order = np.argsort(-score[ys, xs], kind="stable")
    for i in order:
        y, x = int(ys[i]), int(xs[i])
        if taken[y, x]:
            continue
        r = float(clearance[y, x])
        conf = float(p_safe[y, x]) if p_safe is not None else float("nan")
        reasons = [f"clear radius {r:.0f} px = {r * gsd_m:.1f} m (needs {need * gsd_m:.1f} m)",
                   f"safe region of {int(area[y, x]) * gsd_m**2:.0f} m²",
                   "no danger in view" if np.isinf(danger[y, x]) else f"danger {danger[y, x] * gsd_m:.1f} m away"]
        if p_safe is not None:
            reasons.append(f"model confidence {conf:.0%} that the footprint is safe")
        sites.append(LandingSite((x, y), r, float(score[y, x]), int(area[y, x]),
                                 float(danger[y, x]), conf, reasons))
        cv2.circle(taken, (x, y), int(np.ceil(2 * r)), 1, -1)  # the next site's disk must not overlap this one
        if len(sites) >= max_sites:
            break
    return sites


def sites_and_reason(mask: np.ndarray, gsd_m: float = 0.1, drone_radius_m: float = 0.5, probs: np.ndarray | None = None,
                     *, margin_m: float = MARGIN_M, max_sites: int = 5,
                     min_confidence: float = MIN_CONFIDENCE) -> tuple[list[LandingSite], str]:
    """``find_landing_sites`` and, when it finds none, ``explain_no_site``'s reason (else ``""``);
    the clearance and confidence maps are computed once for both."""
    fields = _clearance_and_confidence(mask, gsd_m, drone_radius_m, probs, margin_m)
    sites = _sites(*fields, gsd_m=gsd_m, max_sites=max_sites, min_confidence=min_confidence)
    if sites:
        return sites, ""
    return sites, _explain(*fields, gsd_m=gsd_m, drone_radius_m=drone_radius_m, margin_m=margin_m,
                           min_confidence=min_confidence)
