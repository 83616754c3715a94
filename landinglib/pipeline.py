"""The staged pipeline end to end: stage 0 -> stage 1 (DroneDeploy) -> stage 2 (UDD6 -> landing).

Stage 0 is the start: by default the network the course ships pretrained on a large procedural world
(``pretrain``; ``data/pretrained/stage0-<arch>.pt``), else any checkpoint / state dict given with
``init``, or random weights (``init="none"``).
Stage 1 adapts to aerial imagery (6 classes + ignore), stage 2 swaps the classifier for the
4 landing classes and fine-tunes on UDD6. Each stage starts from the previous stage's *best*
checkpoint (chosen on validation); the held-out test split is only used to report. The landing
model then earns its Safe: the threshold of the decision rule (``safety``) is chosen on validation
for the false-safe budget and recorded in its checkpoint.

The parts live in ``pipeline_config`` (the recipe), ``stages`` (each stage's classes, data, training
config and starting model) and ``scoring`` (how a trained stage is judged); their names are importable
from here.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import torch

from . import data, distributed
from .devices import resolve_device
from .model import load_checkpoint, load_weights, save_checkpoint
from .pipeline_config import EPOCHS, NOTEBOOK_FAST, PROBE_SHARE, PipelineConfig, crop_fits, notebook_config
from .runtime import fast_mode
from .scoring import StageResult, earn_safe, format_table, held_out_loaders, landing_summary, score_stage
from .stages import (PRETRAINED, loaders_for, probe_epochs, say, stage0, stage0_from, stage0_source, stage2_start,
                     stage_config, stage_dataset, stage_taxonomy, training_gsd)
from .train import fit

__all__ = [
    "PipelineConfig", "EPOCHS", "PROBE_SHARE", "NOTEBOOK_FAST", "crop_fits", "notebook_config",
    "PRETRAINED", "stage_taxonomy", "stage_dataset", "loaders_for", "training_gsd", "probe_epochs", "stage_config",
    "stage0_source", "stage0", "stage0_from", "stage2_start",
    "StageResult", "held_out_loaders", "score_stage", "landing_summary", "earn_safe", "format_table",
    "train_stage", "run", "load_checkpoint", "load_weights", "save_checkpoint",
]


def train_stage(stage: int, model, cfg: PipelineConfig, *, resume: bool = False, on_epoch=None,
                device: torch.device | None = None) -> StageResult:
    """Fit one stage, then score its best checkpoint on the held-out splits (``score_stage``); stage 2
    then earns its Safe threshold (``earn_safe``). ``device``: the run's device, already resolved
    (default: ``resolve_device(cfg.device)``)."""
    device = resolve_device(cfg.device) if device is None else device
    taxonomy = stage_taxonomy(stage, cfg)
    loaders = loaders_for(stage, cfg)
    weights = None
    if cfg.class_weights:
        weights = data.class_weights(data.class_pixel_counts(loaders.train.dataset)).tolist()
    out = Path(cfg.out) / f"stage{stage}"
    config = stage_config(stage, cfg, weights, device=device)
    start = time.perf_counter()
    history = fit(model, loaders.train, loaders.val, config, class_names=taxonomy.names, resume=resume,
                  on_epoch=(lambda epoch, row: on_epoch(stage, epoch, row)) if on_epoch else None)
    seconds = time.perf_counter() - start
    if all("epoch_seconds" in h for h in history):  # the whole stage, also when part of it ran before a resume
        seconds = sum(h["epoch_seconds"] for h in history)
    best = load_checkpoint(out / "best.pt")
    model.load_state_dict(best["model"])
    splits = held_out_loaders(stage, cfg, loaders.test)
    scored = score_stage(model, cfg, stage, splits, device=device)
    test, unseen = scored["test"], scored.get("unseen", {})
    report = earn_safe(model, loaders.val, splits, cfg, out / "best.pt", device, argmax=scored) if stage == 2 else None
    row = history[best["epoch"] - 1]
    return StageResult(f"stage {stage}", len(history), seconds, row["val_loss"], row["val_miou"],
                       test["miou"], test["iou"], list(taxonomy.names), str(out / "best.pt"),
                       unseen.get("miou"), unseen.get("iou"), report)


def run(cfg: PipelineConfig, resume: bool = False, on_epoch=None) -> list[StageResult]:
    """Stages 0 -> 1 -> 2; prints and writes ``results.json`` in ``cfg.out``; returns the rows.
    ``on_epoch(stage, epoch, row)`` is called after every epoch (see ``train.fit``). The device is
    resolved once, here, and every stage runs on it."""
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    device = resolve_device(cfg.device)  # fail early on --device cuda without CUDA
    own_device = distributed.setup(cfg.device)  # joins the process group under torchrun: this process's device
    success = False
    try:
        if own_device is not None:
            device = own_device
            cfg = PipelineConfig(**{**asdict(cfg), "device": str(device)})
            say(f"distributed: {distributed.world()[1]} processes, backend {distributed.dist.get_backend()}")
            if distributed.is_main():  # rank 0 generates and caches the data; the others wait for it
                loaders_for(1, cfg), loaders_for(2, cfg)
                if cfg.unseen:
                    data.unseen_style_dataset()
            distributed.barrier()
        stage1_classes = stage_taxonomy(1, cfg)
        source = stage0_source(cfg)
        model, report = stage0_from(cfg, source, num_classes=len(stage1_classes))
        start = {"init": source or "random weights", "transfer": str(report) if report else None}
        if distributed.is_main():
            save_checkpoint(out / "stage0" / "init.pt", model, config=asdict(cfg), class_names=stage1_classes.names)
        results = [train_stage(1, model, cfg, resume=resume, on_epoch=on_epoch, device=device)]
        stage2_model, _ = stage2_start(cfg, results[0].checkpoint)
        results.append(train_stage(2, stage2_model, cfg, resume=resume, on_epoch=on_epoch, device=device))
        say(format_table(results))
        if distributed.is_main():
            (out / "results.json").write_text(json.dumps(
                {"config": asdict(cfg), "fast_mode": fast_mode(), "processes": distributed.world()[1],
                 "stage0": start, "stages": [asdict(r) for r in results]}, indent=2))
        success = True
    finally:
        distributed.cleanup(success)
    return results
