"""One evaluation path: score any predictor, a PyTorch model or an onnxruntime session, on a loader.

``evaluate(predictor, loader)`` is what validation during ``train.fit``, the pipeline's test and
unseen-style scores, ``landinglib evaluate``, the ONNX/INT8 checks of ``export`` and notebook 05 all
call. It returns the confusion matrix and everything ``metrics.scores`` derives from it (per-class
IoU, precision, recall, mIoU, pixel accuracy), the forward time per image, and on request the loss,
a score per image, and how often a second predictor picks the same class. For a landing model it
also returns the landing-aware figures (``safety``): what it calls Safe, and where its best landing
site lies.
"""
from __future__ import annotations

import time

import numpy as np
import torch

from . import distributed
from .classes import IGNORE_INDEX, LANDING
from .devices import autocast, autocast_dtype, to_device
from .landing import DEFAULT_GSD_M, MARGIN_M, find_landing_sites, footprint_radius_px
from .metrics import ConfusionMatrix, scores
from .safety import SafeCurve, check_threshold, landing_figures, landing_mask, site_on_safe_ground

__all__ = ["evaluate", "predict_logits"]


def _is_torch(predictor) -> bool:
    return isinstance(predictor, torch.nn.Module)


def predict_logits(predictor, images: torch.Tensor, *, device=None, dtype=None, channels_last: bool = False) -> torch.Tensor:
    """(N, C, H, W) float logits of ``predictor`` for a normalised batch: a PyTorch model on ``device``
    (autocast to ``dtype`` when set), or anything with onnxruntime's ``run`` (input "image", on the CPU)."""
    if _is_torch(predictor):
        device = device or next(predictor.parameters()).device
        images = images.to(device)
        if channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        with autocast(device, dtype):
            return predictor(images).float()
    if not hasattr(predictor, "run"):
        raise TypeError(f"cannot evaluate a {type(predictor).__name__}: pass a torch.nn.Module or an onnxruntime session")
    array = np.ascontiguousarray(images.detach().cpu().numpy(), dtype=np.float32)
    return torch.from_numpy(predictor.run(None, {"image": array})[0]).float()


def _valid_region(mask: torch.Tensor) -> tuple[int, int]:
    """(rows, cols) of a target without the trailing all-ignore rows and columns that padding added."""
    labelled = mask != IGNORE_INDEX
    rows = torch.nonzero(labelled.any(1)).flatten()
    cols = torch.nonzero(labelled.any(0)).flatten()
    return (int(rows[-1]) + 1, int(cols[-1]) + 1) if len(rows) else (0, 0)


def best_site_check(probs: np.ndarray, truth: np.ndarray, *, safe_threshold: float | None = None,
                    gsd_m: float = DEFAULT_GSD_M, drone_radius_m: float = 0.5) -> bool | None:
    """Whether the best landing site of one frame lies on truly Safe ground: its mask under the rule,
    ``landing.find_landing_sites`` (with the probabilities as confidence), and the footprint (drone radius +
    the finder's ``MARGIN_M``) checked against ``truth`` (``safety.site_on_safe_ground``). None when the frame
    offers no site. probs: (4, H, W); truth: (H, W) landing classes, 255 = ignore."""
    sites = find_landing_sites(landing_mask(probs, safe_threshold), gsd_m=gsd_m, drone_radius_m=drone_radius_m,
                               probs=probs, max_sites=1)
    if not sites:
        return None
    return site_on_safe_ground(truth, sites[0].center, footprint_radius_px(gsd_m, drone_radius_m, MARGIN_M))


@torch.no_grad()
def evaluate(predictor, loader, num_classes: int | None = None, *, device=None, loss_fn=None, amp: str = "auto",
             channels_last: bool = True, max_steps: int | None = None, per_image: bool = False,
             reference=None, landing: bool | None = None, safe_threshold: float | None = None,
             safe_curve: bool = False, sites: bool = True, gsd_m: float | None = None,
             drone_radius_m: float = 0.5) -> dict:
    """Score ``predictor`` on ``loader`` (batches of normalised images and masks, 255 = ignore).

    Returns ``metrics.scores`` of the confusion matrix (``miou``, ``iou``, ``precision``, ``recall``,
    ``pixel_accuracy``, ``present``, ``pixels``) plus ``confusion`` (rows truth, columns prediction),
    ``seconds_per_image`` (the forward pass only) and ``loss`` (NaN without ``loss_fn``).

    * ``predictor``: an ``nn.Module`` (put in eval mode, run on ``device`` or where its weights are,
      autocast as ``amp`` says, see ``devices``) or an onnxruntime ``InferenceSession``;
    * ``per_image=True`` adds ``per_image``: ``{"index", "miou", "pixel_accuracy"}`` per image, in
      loader order (use an unshuffled loader to match them to files);
    * ``reference``: a second predictor; adds ``argmax_agreement``, the share of pixels where both
      predict the same class (how faithful an INT8 model is to its fp32 original);
    * ``max_steps``: score only the first batches.

    A landing model (``landing``; by default, when there are 4 classes) is scored as it is used: with the
    decision rule of ``safe_threshold`` (``safety.landing_mask``; None = plain argmax), and the result gains
    ``landing``: ``safety.landing_figures`` of the confusion matrix, the threshold, and — unless
    ``sites=False`` — ``frames``, ``frames_with_site`` and ``best_site_on_safe`` (the share of frames with a
    site whose best site's footprint lies on truly Safe ground), with a footprint of ``drone_radius_m`` +
    ``landing.MARGIN_M`` at ``gsd_m`` metres per pixel *of the images as the loader gives them* (default
    ``landing.DEFAULT_GSD_M``). ``safe_curve=True`` adds ``safe_curve``, a ``safety.SafeCurve`` to choose a
    threshold from (build it on validation, never on test).
    """
    if num_classes is None:
        num_classes = getattr(predictor, "num_classes", None)
        if num_classes is None:
            raise ValueError("num_classes is needed for a predictor that does not say how many classes it has")
    landing = num_classes == len(LANDING) if landing is None else landing
    check_threshold(safe_threshold)
    if (safe_curve or safe_threshold is not None) and not landing:
        raise ValueError("a Safe threshold and a SafeCurve need a landing model (4 classes: Background, Safe, "
                         "Caution, Danger)")
    gsd_m = DEFAULT_GSD_M if gsd_m is None else gsd_m
    curve = SafeCurve() if safe_curve else None
    site_counts = torch.zeros(3, dtype=torch.float64)  # frames, frames with a site, best sites on Safe ground
    dtype = None
    if _is_torch(predictor):
        device = device or next(predictor.parameters()).device
        dtype = autocast_dtype(device, amp)
        predictor.eval()
        if channels_last:
            predictor.to(memory_format=torch.channels_last)
    else:
        device, channels_last = torch.device("cpu"), False
    confusion = ConfusionMatrix(num_classes, device)
    total_loss, n, forward_seconds, same, compared = 0.0, 0, 0.0, 0, 0
    images_scores = []
    for step, (images, masks) in enumerate(loader):
        if max_steps is not None and step >= max_steps:
            break
        images, masks = to_device(images, masks, device, channels_last)
        start = time.perf_counter()
        logits = predict_logits(predictor, images, device=device, dtype=dtype)
        if device.type == "cuda":
            torch.cuda.synchronize()
        forward_seconds += time.perf_counter() - start
        if loss_fn is not None:
            total_loss += loss_fn(logits, masks).item() * images.shape[0]
        if landing:
            probs = logits.softmax(1)
            prediction = landing_mask(probs, safe_threshold)
            if curve is not None:
                curve.update(probs, masks)
            if sites:
                for k in range(images.shape[0]):
                    h, w = _valid_region(masks[k])
                    if not h:  # nothing labelled: no ground truth to check a site against
                        continue
                    found = best_site_check(probs[k, :, :h, :w].cpu().numpy(), masks[k, :h, :w].cpu().numpy(),
                                            safe_threshold=safe_threshold, gsd_m=gsd_m, drone_radius_m=drone_radius_m)
                    site_counts += torch.tensor([1.0, found is not None, bool(found)], dtype=torch.float64)
        else:
            prediction = logits.argmax(1)
        confusion.update(prediction, masks)
        if per_image:
            for k in range(images.shape[0]):
                single = ConfusionMatrix(num_classes, device)
                single.update(prediction[k:k + 1], masks[k:k + 1])
                s = single.compute()
                images_scores.append({"index": n + k, "miou": s["miou"], "pixel_accuracy": s["pixel_accuracy"]})
        if reference is not None:
            other = predict_logits(reference, images, dtype=dtype if _is_torch(reference) else None).argmax(1)
            same += int((other.to(prediction.device) == prediction).sum())
            compared += prediction.numel()
        n += images.shape[0]
    distributed.all_sum(confusion.matrix)  # with several processes, each saw its share
    total_loss, n = distributed.all_sum(torch.tensor([total_loss, float(n)])).tolist()
    result = scores(confusion.matrix.cpu().numpy())
    result["loss"] = total_loss / n if (n and loss_fn is not None) else float("nan")
    result["seconds_per_image"] = forward_seconds * distributed.world()[1] / max(n, 1)
    result["confusion"] = confusion.matrix.cpu().tolist()
    if per_image:
        result["per_image"] = images_scores
    if reference is not None:
        result["argmax_agreement"] = same / max(compared, 1)
    if landing:
        result["landing"] = {**landing_figures(result["confusion"]), "safe_threshold": safe_threshold}
        if sites:
            frames, with_site, on_safe = distributed.all_sum(site_counts).tolist()
            result["landing"].update(frames=int(frames), frames_with_site=int(with_site), sites_on_safe=int(on_safe),
                                     best_site_on_safe=on_safe / with_site if with_site else float("nan"))
    if curve is not None:
        distributed.all_sum(torch.from_numpy(curve.counts))  # in place: the tensor shares the array's memory
        distributed.all_sum(torch.from_numpy(curve.totals))
        result["safe_curve"] = curve
    return result
