"""The training loop, top to bottom.

``fit(model, train_loader, val_loader, config)`` trains with AdamW, a linear warm-up followed by a
cosine decay, cross-entropy that ignores 255 (optionally class-weighted), gradient clipping and
mixed precision chosen once from the device (``devices``: fp16 autocast + ``GradScaler`` on CUDA,
fp32 on CPU). Validation is ``evaluation.evaluate``, the one loop that scores every model.

One batch is one ``training_step``: ``forward_loss`` (forward under autocast, main + auxiliary-head
losses), ``backward`` (a non-finite loss stops the run; backward through the scaler) and
``optimizer_step`` (frozen parameters dropped, clipping, the step). ``profiling`` and
``benchmarks/train_speed.py`` time this same step.

After every epoch it validates (loss, mIoU, per-class IoU), appends to the history, and writes
``last.pt`` (to resume) and ``best.pt`` (highest validation mIoU) atomically. ``resume=True``
continues a killed run from ``last.pt``; every epoch reseeds its data order and augmentation from
(seed, epoch), so a resumed run gives the same result as an uninterrupted one.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from . import distributed
from .classes import IGNORE_INDEX
from .data import seed_worker
from .devices import autocast, autocast_dtype, make_scaler, resolve_device, to_device
from .evaluation import evaluate
from .model import load_checkpoint, save_checkpoint
from .runtime import fast_mode, set_seed

__all__ = ["TrainConfig", "fit", "train_one_epoch", "training_step", "forward_loss", "backward", "optimizer_step",
           "warmup_cosine"]


@dataclass
class TrainConfig:
    """Everything ``fit`` needs to know; stored in every checkpoint."""

    epochs: int = 6
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup: float = 0.05  # fraction of all steps with a linearly rising learning rate
    grad_clip: float = 1.0  # max gradient norm (0 = off)
    class_weights: list[float] | None = None
    amp: str = "auto"  # "auto" (fp16 on CUDA, off on CPU), "fp16", "bf16", "off"
    device: str = "auto"  # "auto", "cpu", "cuda", "cuda:1", ...
    channels_last: bool = True  # NHWC tensors: faster convolutions on CPU (oneDNN) and GPU
    seed: int = 0
    out_dir: str | None = None  # where best.pt / last.pt go (None = no checkpoints)
    max_steps: int | None = None  # stop each epoch after this many steps (quick runs)
    progress: bool = True
    aux_weight: float = 0.4  # weight of auxiliary-head losses (models that return several logits)
    gsd_m: float | None = None  # m/px of the training images as the network saw them (predict --gsd uses it)
    probe_epochs: int = 0  # first train only what the stage re-initialised (the new classifier), then everything


def warmup_cosine(optimizer, total_steps: int, warmup_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up from ~0 to the base lr, then cosine decay to 1 % of it."""
    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _progress(iterable, total: int, desc: str, enabled: bool):
    """A tqdm bar (a widget in notebooks). Off under tests (fast mode) and with
    ``LANDINGLIB_PROGRESS=off`` (``make notebooks``), so stored outputs stay clean."""
    if not enabled or fast_mode() or os.environ.get("LANDINGLIB_PROGRESS") == "off":
        return iterable
    from tqdm.auto import tqdm
    # the bar gets an iterator, never the DataLoader itself: tqdm's set-up would otherwise draw from the
    # loader's random generator and change the data order, so a run with a bar would differ from one without
    return tqdm(iter(iterable), total=total, desc=desc, leave=False)


def _reseed_epoch(loader, seed: int, epoch: int) -> None:
    """Data order and augmentation of an epoch depend on (seed, epoch) only."""
    torch.manual_seed(seed * 1000 + epoch)
    if getattr(loader, "generator", None) is not None:
        loader.generator.manual_seed(seed * 1000 + epoch)
    transform = getattr(getattr(loader, "dataset", None), "transform", None)
    if not hasattr(transform, "set_random_seed"):
        return
    if getattr(loader, "num_workers", 0) == 0:
        transform.set_random_seed(seed * 1000 + epoch)
    elif getattr(loader, "worker_init_fn", False) is None:  # a loader of your own: without this, every epoch's
        loader.worker_init_fn = seed_worker  # workers start from the same copy of the transform's generator


# --- one training step -----------------------------------------------------------------
def forward_loss(model: nn.Module, images: torch.Tensor, masks: torch.Tensor, loss_fn, device: torch.device,
                 dtype: torch.dtype | None, aux_weight: float) -> torch.Tensor:
    """The training loss of one batch: the forward pass under autocast (``devices.autocast``) and
    ``loss_fn`` in fp32. A model that returns several logits in training (main head first, then
    auxiliary heads, as BiSeNetV2 does) is scored main loss + ``aux_weight`` x each auxiliary loss.
    images: (N, 3, H, W) float; masks: (N, H, W) int64, 255 = ignore; returns a scalar tensor."""
    with autocast(device, dtype):
        outputs = model(images)
        logits, aux = (outputs[0], outputs[1:]) if isinstance(outputs, tuple) else (outputs, ())
        loss = loss_fn(logits.float(), masks)
        for extra in aux:
            loss = loss + aux_weight * loss_fn(extra.float(), masks)
    return loss


def backward(loss: torch.Tensor, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler,
             where: str = "this step") -> None:
    """Fresh gradients of ``loss``, back-propagated through the ``scaler`` (which scales the loss when it is
    enabled: fp16 on CUDA). A NaN or infinite loss stops training with a ``FloatingPointError`` naming ``where``."""
    if not torch.isfinite(loss):
        raise FloatingPointError(
            f"the loss became {loss.item()} at {where}: training stopped. "
            "Lower the learning rate, check the labels (classes >= num_classes?) or the inputs; "
            "the last good state is in last.pt")
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()


def optimizer_step(model: nn.Module, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler,
                   grad_clip: float, frozen=()) -> None:
    """One optimizer step on the gradients ``backward`` left: the ``frozen`` parameters' gradients are
    dropped (they do not move), the rest are unscaled and clipped to a norm of ``grad_clip`` (0 = no
    clipping), then the scaler steps (skipping a step whose fp16 gradients overflowed) and updates its scale."""
    for p in frozen:
        p.grad = None
    if grad_clip:
        scaler.unscale_(optimizer)  # the true gradients, so that clipping sees them
        nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    scaler.step(optimizer)
    scaler.update()


def training_step(model: nn.Module, images: torch.Tensor, masks: torch.Tensor, optimizer: torch.optim.Optimizer,
                  scaler: torch.amp.GradScaler, loss_fn, device: torch.device, dtype: torch.dtype | None,
                  config: TrainConfig, frozen=(), where: str = "this step") -> torch.Tensor:
    """One training step on a batch already on ``device``: ``forward_loss``, ``backward``, ``optimizer_step``
    with ``config.aux_weight`` and ``config.grad_clip``. Returns the loss (a scalar tensor)."""
    loss = forward_loss(model, images, masks, loss_fn, device, dtype, config.aux_weight)
    backward(loss, optimizer, scaler, where)
    optimizer_step(model, optimizer, scaler, config.grad_clip, frozen)
    return loss


# --- one epoch -------------------------------------------------------------------------
def train_one_epoch(model, loader, optimizer, scheduler, scaler, loss_fn, device, dtype, config, epoch,
                    frozen=()) -> dict:
    """One pass over ``loader``, a ``training_step`` and a scheduler step per batch; returns mean loss,
    images/s and the last learning rate. The ``frozen`` parameters get no step."""
    num_classes = getattr(model, "module", model).num_classes  # unwrap DistributedDataParallel
    model.train()
    total_loss, images_seen, start = 0.0, 0, time.perf_counter()
    steps = len(loader) if config.max_steps is None else min(len(loader), config.max_steps)
    bar = _progress(loader, steps, f"epoch {epoch}/{config.epochs}", config.progress)
    for step, (images, masks) in enumerate(bar):
        if step >= steps:
            break
        labelled = masks[masks != IGNORE_INDEX]
        if labelled.numel() and (int(labelled.max()) >= num_classes or int(labelled.min()) < 0):
            raise ValueError(f"labels hold class {int(labelled.max())} but the model has {num_classes} classes "
                             "(wrong target taxonomy or checkpoint?)")
        images, masks = to_device(images, masks, device, config.channels_last)
        loss = training_step(model, images, masks, optimizer, scaler, loss_fn, device, dtype, config, frozen,
                             where=f"epoch {epoch}, step {step}")
        scheduler.step()
        total_loss += loss.item() * images.shape[0]
        images_seen += images.shape[0]
        if hasattr(bar, "set_postfix"):
            bar.set_postfix(loss=f"{loss.item():.3f}", img_s=f"{images_seen / (time.perf_counter() - start):.1f}",
                            refresh=False)  # tqdm redraws at its own pace
    seconds = time.perf_counter() - start
    total_loss, images_seen = distributed.all_sum(torch.tensor([total_loss, float(images_seen)])).tolist()
    return {"train_loss": total_loss / max(images_seen, 1), "images_per_s": images_seen / seconds,
            "lr": optimizer.param_groups[0]["lr"], "train_seconds": seconds}


def _or_minus_inf(value: float) -> float:
    return float("-inf") if value != value else value  # NaN never wins


# --- fit -------------------------------------------------------------------------------
def fit(model: nn.Module, train_loader, val_loader, config: TrainConfig | None = None, *,
        class_names=None, resume: bool = False, on_epoch=None) -> list[dict]:
    """Train ``model`` and return the history: one dict per epoch (losses, mIoU, IoU, lr, time).

    With ``config.out_dir`` set, ``last.pt`` and ``best.pt`` are written after every epoch, and
    ``resume=True`` continues from ``last.pt`` when it exists. Under torchrun (see ``distributed``)
    the model is wrapped in DistributedDataParallel, losses and metrics are summed over processes,
    and only rank 0 prints and writes. ``on_epoch(epoch, row)`` is called after each epoch with its
    history row (a search reports validation mIoU there, and stops a hopeless run by raising).
    """
    config = config or TrainConfig()
    set_seed(config.seed)
    device = resolve_device(config.device)
    dtype = autocast_dtype(device, config.amp)
    num_classes = model.num_classes
    model.to(device)
    if config.channels_last:
        model.to(memory_format=torch.channels_last)

    fresh = set(getattr(model, "fresh_parameters", ()))  # what load_weights re-initialised: the new classifier
    net = distributed.wrap(model, device)  # DistributedDataParallel under torchrun, else the model
    main = distributed.is_main()  # only rank 0 prints and writes files
    weight = None
    if config.class_weights:
        weight = torch.tensor(config.class_weights, dtype=torch.float32, device=device)
    loss_fn = nn.CrossEntropyLoss(weight=weight, ignore_index=IGNORE_INDEX)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps_per_epoch = len(train_loader) if config.max_steps is None else min(len(train_loader), config.max_steps)
    total = steps_per_epoch * config.epochs
    scheduler = warmup_cosine(optimizer, total, max(1, int(config.warmup * total)))
    scaler = make_scaler(device, dtype)

    out = Path(config.out_dir) if config.out_dir else None
    history, best, start_epoch = [], -1.0, 1
    if resume and out is not None and (out / "last.pt").exists():
        state = load_checkpoint(out / "last.pt", map_location=device)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if state["scaler"]:  # empty when the run was on CPU: nothing to restore
            scaler.load_state_dict(state["scaler"])
        history, start_epoch = state["history"], state["epoch"] + 1
        best = max((_or_minus_inf(h["val_miou"]) for h in history), default=-1.0)
        if main:
            print(f"resumed from {out / 'last.pt'} after epoch {state['epoch']}")

    rank = distributed.world()[0]
    for epoch in range(start_epoch, config.epochs + 1):
        # linear probing first: while it lasts only the re-initialised tensors (the new classifier) learn, on
        # features that stay put; then everything does (LP-FT: a random head's first large gradients would
        # otherwise distort the pretrained features)
        frozen = [p for n, p in model.named_parameters() if n not in fresh] if epoch <= config.probe_epochs and fresh else []
        _reseed_epoch(train_loader, config.seed + 7919 * rank, epoch)  # each process augments differently
        if hasattr(getattr(train_loader, "sampler", None), "set_epoch"):  # DistributedSampler
            train_loader.sampler.set_epoch(epoch)
        epoch_start = time.perf_counter()
        stats = train_one_epoch(net, train_loader, optimizer, scheduler, scaler, loss_fn, device, dtype, config, epoch,
                                frozen)
        val = evaluate(model, val_loader, num_classes, device=device, loss_fn=loss_fn, amp=config.amp,
                       channels_last=config.channels_last)
        if val["pixels"] == 0:
            raise ValueError("the validation set has no labelled pixels: mIoU cannot choose a checkpoint")
        row = {"epoch": epoch, **stats, "val_loss": val["loss"], "val_miou": val["miou"],
               "val_iou": val["iou"], "val_pixel_accuracy": val["pixel_accuracy"],
               "epoch_seconds": time.perf_counter() - epoch_start}  # training + validation
        history.append(row)
        if main:
            print(f"epoch {epoch}/{config.epochs}  train loss {row['train_loss']:.3f}  val loss {row['val_loss']:.3f}  "
                  f"val mIoU {row['val_miou']:.3f}  ({stats['train_seconds']:.0f} s, {stats['images_per_s']:.1f} img/s)")
        if out is not None and main:
            common = dict(epoch=epoch, config=asdict(config), class_names=class_names, history=history,
                          metrics={"val_miou": val["miou"], "val_loss": val["loss"], "val_iou": val["iou"]})
            if _or_minus_inf(val["miou"]) > best:
                best = val["miou"]
                save_checkpoint(out / "best.pt", model, **common)
            save_checkpoint(out / "last.pt", model, optimizer=optimizer, scheduler=scheduler, scaler=scaler, **common)
        distributed.barrier()  # the other ranks wait until the checkpoints are on disk
        if on_epoch is not None:  # e.g. a hyperparameter search that may stop a hopeless run (it raises)
            on_epoch(epoch, row)
    return history
