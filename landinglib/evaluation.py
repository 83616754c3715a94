"""One evaluation path: score any predictor, a PyTorch model or an onnxruntime session, on a loader.

``evaluate(predictor, loader)`` is what validation during ``train.fit``, the pipeline's test and
unseen-style scores, ``landinglib evaluate``, the ONNX/INT8 checks of ``export`` and notebook 05 all
call. It returns the confusion matrix and everything ``metrics.scores`` derives from it (per-class
IoU, precision, recall, mIoU, pixel accuracy), the forward time per image, and on request the loss,
a score per image, and how often a second predictor picks the same class.
"""
from __future__ import annotations

import time

import numpy as np
import torch

from . import distributed
from .devices import autocast, autocast_dtype, to_device
from .metrics import ConfusionMatrix, scores

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


@torch.no_grad()
def evaluate(predictor, loader, num_classes: int | None = None, *, device=None, loss_fn=None, amp: str = "auto",
             channels_last: bool = True, max_steps: int | None = None, per_image: bool = False,
             reference=None) -> dict:
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
    """
    if num_classes is None:
        num_classes = getattr(predictor, "num_classes", None)
        if num_classes is None:
            raise ValueError("num_classes is needed for a predictor that does not say how many classes it has")
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
    return result
