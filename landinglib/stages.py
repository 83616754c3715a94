"""What each stage of the pipeline is made of: its classes, its data, its training recipe
(``TrainConfig``) and its starting model (stage 0 for stage 1, stage 1's best weights for stage 2).
"""
from __future__ import annotations

import math
from pathlib import Path

import torch

from . import classes, data, distributed, synthetic
from .model import build_model, load_weights
from .pipeline_config import PROBE_SHARE, PipelineConfig
from .pretrain import shipped_stage0
from .runtime import pretrained_dir, set_seed
from .train import TrainConfig

PRETRAINED = {"accurate": "bisenetv2_city.pth"}
"""Stage-0 files you bring, looked for in ``data/pretrained/`` when the course ships none for the
architecture (see its README)."""


def say(*args) -> None:
    """Print, in the process that prints (rank 0 under torchrun)."""
    if distributed.is_main():
        print(*args)


def stage_taxonomy(stage: int, cfg: PipelineConfig) -> classes.Taxonomy:
    """The classes a stage learns: stage 1 the DroneDeploy six (or your ``stage1_classes``), stage 2
    the four landing classes."""
    if stage == 1 and cfg.stage1_data:
        return classes.read_class_file(cfg.stage1_classes).taxonomy
    return classes.DRONEDEPLOY if stage == 1 else classes.LANDING


def stage_dataset(stage: int, cfg: PipelineConfig, split: str, transform=None):
    """One split of a stage's data as a dataset, raw arrays unless a ``transform`` is given (to look
    at frames, or predict them whole): the built-in data, the real dataset, or your own folder."""
    if stage == 1 and cfg.stage1_data:
        return data.FolderDataset(*data.find_folders(cfg.stage1_data), cfg.stage1_classes, split, transform)
    if stage == 1:
        root = cfg.dronedeploy or synthetic.ensure_builtin("dronedeploy")
        return data.DroneDeployDataset(root, split, transform=transform, chip_size=cfg.chip_size)
    if cfg.stage2_data:
        return data.FolderDataset(*data.find_folders(cfg.stage2_data), cfg.classes, split, transform, target="landing")
    return data.UDD6Dataset(cfg.udd6 or synthetic.ensure_builtin("udd6"), split, target="landing", transform=transform)


def loaders_for(stage: int, cfg: PipelineConfig) -> data.Loaders:
    """The loaders of stage 1 (DroneDeploy chips, or your ``stage1_data``) or stage 2 (UDD6, or your
    ``stage2_data``, as landing classes); under torchrun each process gets its shard (and its share
    of the batch)."""
    common = dict(size=cfg.size, batch_size=cfg.batch_size, num_workers=cfg.workers, limit=cfg.limit, seed=cfg.seed,
                  augment=cfg.augment, crop=cfg.crop)
    if stage == 1 and cfg.stage1_data:
        loaders = data.make_loaders("folder", cfg.stage1_data, classes=cfg.stage1_classes, target="own", **common)
    elif stage == 1:
        loaders = data.make_loaders("dronedeploy", cfg.dronedeploy, chip_size=cfg.chip_size, **common)
    elif cfg.stage2_data:
        loaders = data.make_loaders("folder", cfg.stage2_data, classes=cfg.classes, target="landing",
                                    repeat=cfg.udd6_repeat, **common)
    else:
        loaders = data.make_loaders("udd6", cfg.udd6, target="landing", repeat=cfg.udd6_repeat, **common)
    return data.Loaders(distributed.shard(loaders.train, True, cfg.seed), distributed.shard(loaders.val, False),
                        distributed.shard(loaders.test, False))


def training_gsd(stage: int, cfg: PipelineConfig) -> float | None:
    """Ground sampling distance (m/px) of a stage's training images as the network sees them, for
    the built-in data (None for a user's dataset, whose GSD the course cannot know): DroneDeploy-style
    chips are 10 cm/px orthomosaic cut to ``chip_size`` and resized to ``size``; UDD6-style frames
    span 5-22 cm/px (log-uniform, the median is taken) at 540 px short side, resized to ``size``."""
    if stage == 1:
        if cfg.dronedeploy or cfg.stage1_data:
            return None
        lo, hi = synthetic.DRONEDEPLOY_STYLE.gsd_m
        return math.sqrt(lo * hi) * cfg.chip_size / cfg.size
    if cfg.udd6 or cfg.stage2_data:
        return None
    lo, hi = synthetic.UDD6_STYLE.gsd_m
    return math.sqrt(lo * hi) * min(synthetic.UDD6_STYLE.frame) / cfg.size


def probe_epochs(stage: int, cfg: PipelineConfig) -> int:
    """The first epochs of ``stage`` that train only its new classifier: ``probe1``/``probe2`` when given,
    otherwise a third of the stage's epochs (so a shorter stage, e.g. a sweep trial's, probes less)."""
    probe, epochs = (cfg.probe1, cfg.epochs1) if stage == 1 else (cfg.probe2, cfg.epochs2)
    return epochs // PROBE_SHARE if probe is None else probe


def stage_config(stage: int, cfg: PipelineConfig, class_weights=None, out_dir: str | None = None,
                 device: str | torch.device | None = None) -> TrainConfig:
    """The ``TrainConfig`` of stage 1 or 2: its epochs and learning rate, the given class weights,
    checkpoints in ``{cfg.out}/stage{N}`` (or ``out_dir``) — what ``train_stage`` and the notebooks use.
    ``device``: the device already resolved for the run ("cpu", "cuda:0"; default ``cfg.device``)."""
    if stage not in (1, 2):
        raise ValueError(f"stage must be 1 or 2, got {stage}")
    weights = class_weights.tolist() if hasattr(class_weights, "tolist") else class_weights
    return TrainConfig(epochs=cfg.epochs1 if stage == 1 else cfg.epochs2, lr=cfg.lr1 if stage == 1 else cfg.lr2,
                       class_weights=weights, device=cfg.device if device is None else str(device), seed=cfg.seed,
                       out_dir=out_dir or str(Path(cfg.out) / f"stage{stage}"), max_steps=cfg.max_steps,
                       progress=cfg.progress, gsd_m=training_gsd(stage, cfg),
                       probe_epochs=probe_epochs(stage, cfg))


def stage0_source(cfg: PipelineConfig) -> str | None:
    """The stage-0 file a run starts from, or None for random weights: ``cfg.init`` when it is a path;
    for ``init=None`` the course's shipped stage 0 of ``cfg.arch`` (``pretrain.shipped_stage0``, its hash
    checked against its card), else for "accurate" the BiSeNetV2 Cityscapes checkpoint when it is in
    ``data/pretrained/``; for ``init="none"`` nothing."""
    if cfg.init == "none":
        return None
    if cfg.init:
        return cfg.init
    shipped = shipped_stage0(cfg.arch)
    if shipped is not None:
        return str(shipped)
    if cfg.arch in PRETRAINED and (pretrained_dir() / PRETRAINED[cfg.arch]).exists():
        return str(pretrained_dir() / PRETRAINED[cfg.arch])
    return None


def stage0(cfg: PipelineConfig, num_classes: int = 6):
    """The starting model: the weights of ``stage0_source`` transferred with ``load_weights`` (the
    classifier re-initialised for ``num_classes``), or random weights (seeded). Returns (model, report)."""
    return stage0_from(cfg, stage0_source(cfg), num_classes)


def stage0_from(cfg: PipelineConfig, source: str | None, num_classes: int = 6):
    """``stage0`` from a ``source`` already found by ``stage0_source`` (None = random weights)."""
    set_seed(cfg.seed)
    model = build_model(cfg.arch, num_classes)
    report = None
    if source:
        report = load_weights(model, source)
        say(f"stage 0: weights from {data._shown(Path(source))}: {report}")  # relative: outputs name no home folder
    else:
        why = "--init none" if cfg.init == "none" else f"the course ships no stage 0 for {cfg.arch}" + (
            f" and there is no {data._shown(pretrained_dir() / PRETRAINED[cfg.arch])} (see data/pretrained/README.md)"
            if cfg.arch in PRETRAINED else "")
        say(f"stage 0: {cfg.arch} with random weights (seed {cfg.seed}): {why}")
    return model, report


def stage2_start(cfg: PipelineConfig, stage1_checkpoint: str):
    """The stage-2 model: the stage-1 weights with a fresh 4-class classifier (seeded)."""
    set_seed(cfg.seed)
    model = build_model(cfg.arch, len(classes.LANDING))
    report = load_weights(model, stage1_checkpoint)
    say(f"stage 2 starts from {stage1_checkpoint}: {report}")
    return model, report
