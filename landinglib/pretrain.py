"""Stage 0: pretrain a network once on a large procedural world, and ship it with the course.

The Training Guide's pipeline starts from a network that already sees (BiSeNetV2 trained on
Cityscapes). Offline, the course makes its own: ``landinglib pretrain`` draws thousands of frames of
the built-in world and trains an architecture to tell its ten aerial classes apart (``AERIAL``: soil,
grass, tree, road, roof, facade, car, water, clutter, sky) — "a Cityscapes of the air". Stages 1 and 2
then swap the classifier, exactly as the guide does with Cityscapes.

* **The world** and its frame cache (``pretrain_world``): drone frames and orthomosaic tiles of the
  training styles only, seeded apart from the course's sets, drawn once into memory-mapped shards
  (``write_shards``) and read back by ``ShardDataset``.
* **Training** (``run_pretrain``) is ``train.fit``: CUDA AMP on a GPU, DistributedDataParallel under
  torchrun, ``last.pt`` to resume; the device is resolved once per run.
* **Shipping**: ``ship`` writes ``data/pretrained/stage0-<arch>.pt`` (weights only) with its card (the
  command, commit, seeds, frames, machine, time, held-out scores and the file's SHA-256), and
  ``shipped_stage0`` gives the pipeline that file only when its hash matches the card.

The names of ``pretrain_world`` are importable from here too.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from . import classes, distributed
from .checkpoint import load_checkpoint, save_checkpoint
from .data import class_weights, eval_transform, pad_collate, seed_worker, train_transform
from .devices import resolve_device
from .evaluation import evaluate
from .models import MODELS, build_model
from .pretrain_world import (DRONE_STYLE, FORMAT_VERSION, KINDS, ORTHO_STYLE, PRETRAIN_SEED, SHARD_FRAMES, SHORT_SIDE,
                             SPLIT_IDS, ShardDataset, check_held_out, frame_seed, render_frame, write_shards)
from .pipeline_config import setting
from .runtime import data_dir, default_workers, fast_mode, pretrained_dir, set_seed
from .train import TrainConfig, fit

__all__ = ["PretrainConfig", "pretrain_data", "run_pretrain", "shipped_path", "card_path", "sha256", "ship",
           "CorruptStage0Error", "verify_shipped", "shipped_stage0",
           # pretrain_world: the frames and their cache
           "PRETRAIN_SEED", "SHORT_SIDE", "SHARD_FRAMES", "FORMAT_VERSION", "DRONE_STYLE", "ORTHO_STYLE", "KINDS",
           "SPLIT_IDS", "frame_seed", "check_held_out", "render_frame", "write_shards", "ShardDataset"]


@dataclass
class PretrainConfig:
    """The recipe of ``landinglib pretrain``: ``frames`` training frames (``ortho_share`` of them
    orthomosaic tiles, the rest drone frames) and ``val_frames`` held-out ones; phase 1: ``epochs`` passes
    of one ``crop`` x ``crop`` crop per frame (``steps_per_epoch`` caps an epoch), AdamW at ``lr``; phase 2
    (see ``run_pretrain``): ``finish_epochs`` of ``finish_crops`` crops of ``finish_crop`` px at ``finish_lr``."""

    # the fields with a help text are the options of `landinglib pretrain` (``cli_parser.add_config_options``)
    arch: str = setting("fast", "architecture", choices=tuple(MODELS))
    frames: int = setting(12_000, "training frames to draw (drone frames and orthomosaic tiles)")
    val_frames: int = setting(240, "held-out frames of the same world")
    ortho_share: float = 0.25
    epochs: int = setting(20, "passes over the frames, one crop each")
    steps_per_epoch: int | None = setting(None, "cap the steps of an epoch")
    repeat: int = 1  # crops per frame per epoch
    batch_size: int = setting(16, "batch size")
    lr: float = setting(2e-3, "AdamW learning rate")
    crop: int = 128
    finish_crop: int = 256  # phase 2 (progressive resizing): large crops, so that whole frames look familiar
    finish_epochs: int = setting(4, "phase 2: epochs on 256-px crops (0 = none)")
    finish_crops: int = 3000  # crops per phase-2 epoch
    finish_lr: float = 5e-4
    out: str = setting("runs/pretrain", "checkpoints and pretrain.json", metavar="DIR")
    shards: str | None = setting(None, "where the frames are cached (default data/synthetic/pretrain; fast mode: "
                                        "data/synthetic/fast/pretrain)", metavar="DIR")
    device: str = setting("auto", "auto | cpu | cuda")
    workers: int | None = setting(None, "processes that draw frames and load batches")
    seed: int = setting(0, "training seed (the frames' seeds are fixed)")
    progress: bool = True

    def __post_init__(self):
        if self.arch not in MODELS:
            raise ValueError(f"unknown architecture {self.arch!r}; choose one of {sorted(MODELS)}")
        if self.frames < 1 or self.val_frames < 1:
            raise ValueError("pretraining needs at least one training and one held-out frame")
        if not 0.0 <= self.ortho_share <= 1.0:
            raise ValueError(f"ortho_share is a share in [0, 1], got {self.ortho_share}")

    @classmethod
    def fast(cls, **overrides) -> PretrainConfig:
        """Tiny settings for tests and ``LANDINGLIB_FAST=1``."""
        return cls(**{**dict(frames=16, val_frames=8, epochs=1, steps_per_epoch=3, batch_size=4, finish_epochs=1,
                              finish_crops=8, finish_crop=128), **overrides})

    def counts(self, split: str) -> dict[str, int]:
        """Frames per kind of a split."""
        n = self.frames if split == "train" else self.val_frames
        ortho = round(n * self.ortho_share)
        return {"drone": n - ortho, "ortho": ortho}

    def shard_root(self) -> Path:
        return Path(self.shards) if self.shards else data_dir() / "synthetic" / ("fast" if fast_mode() else "") / "pretrain"


def pretrain_data(cfg: PretrainConfig) -> dict[str, list[tuple[Path, int]]]:
    """Draw (or find) the frames of both splits; returns split -> [(shard folder, frames)]."""
    return {split: [(write_shards(cfg.shard_root(), kind, split, n, cfg.workers, cfg.progress), n)
                    for kind, n in cfg.counts(split).items() if n] for split in ("train", "val")}


def _loader(dataset, cfg: PretrainConfig, train: bool) -> DataLoader:
    workers = default_workers() if cfg.workers is None else cfg.workers
    loader = DataLoader(dataset, batch_size=cfg.batch_size, shuffle=train, drop_last=train and len(dataset) > cfg.batch_size,
                        num_workers=workers, pin_memory=torch.cuda.is_available(), collate_fn=pad_collate,
                        worker_init_fn=seed_worker, generator=torch.Generator().manual_seed(cfg.seed))
    return distributed.shard(loader, train, cfg.seed)


def run_pretrain(cfg: PretrainConfig, resume: bool = False) -> dict:
    """Draw the world, train ``cfg.arch`` on it in two phases, score the result on the held-out frames.

    1. ``epochs`` passes over the frames, one ``crop`` x ``crop`` crop each (fast: small crops);
    2. from the end of phase 1, ``finish_epochs`` of ``finish_crops`` crops of ``finish_crop`` px at a lower
       learning rate: *progressive resizing*. A network trained only on small crops learns what their borders
       look like, and its wide layers (``fast``'s dilated body) then see a whole frame differently; a few
       epochs on large crops teach it whole frames.
    Checkpoints: ``{out}`` (phase 1) and ``{out}/finish`` (phase 2, whose best is the result). Returns
    ``{"checkpoint", "history" (both phases), "val": evaluate's result, "seconds", "draw_seconds", "frames"}``.
    """
    device = distributed.setup(cfg.device)  # under torchrun: this process's GPU, or the CPU
    success = False
    try:
        if device is None:
            device = resolve_device(cfg.device)  # once per run: training and scoring run there
        else:
            cfg = replace(cfg, device=str(device))
        start = time.perf_counter()
        if distributed.is_main():  # rank 0 draws the frames; the others wait, then find them
            folders = pretrain_data(cfg)
        distributed.barrier()
        if not distributed.is_main():
            folders = pretrain_data(cfg)
        val_set = ShardDataset(folders["val"], eval_transform(SHORT_SIDE), split="val")
        weights = None
        set_seed(cfg.seed)
        model = build_model(cfg.arch, len(classes.AERIAL))
        history = []
        phases = [(Path(cfg.out), cfg.crop, cfg.epochs, cfg.lr, cfg.steps_per_epoch, cfg.repeat)]
        if cfg.finish_epochs:
            phases.append((Path(cfg.out) / "finish", cfg.finish_crop, cfg.finish_epochs, cfg.finish_lr,
                           max(1, cfg.finish_crops // cfg.batch_size), 1))
        for k, (out, crop, epochs, lr, steps, repeat) in enumerate(phases):
            transform = train_transform(SHORT_SIDE, crop=crop)
            transform.set_random_seed(cfg.seed + k)
            train_set = ShardDataset(folders["train"], transform, split="train", repeat=repeat)
            weights = weights or class_weights(_pixel_counts(train_set)).tolist()
            if distributed.is_main():
                print(f"stage 0, phase {k + 1} of {len(phases)}: {cfg.arch} on {crop}-px crops of "
                      f"{len(train_set.index)} frames ({cfg.counts('train')}), {len(val_set)} held out")
            config = TrainConfig(epochs=epochs, lr=lr, class_weights=weights, device=str(device), seed=cfg.seed + k,
                                 out_dir=str(out), max_steps=steps, progress=cfg.progress,
                                 warmup=0.05 if k == 0 else 0.1)
            if k:  # phase 2 continues from where phase 1 ended
                model.load_state_dict(load_checkpoint(phases[0][0] / "last.pt")["model"])
            history += fit(model, _loader(train_set, cfg, True), _loader(val_set, cfg, False), config,
                           class_names=classes.AERIAL.names, resume=resume)
        result_path = phases[-1][0] / "best.pt"
        model.load_state_dict(load_checkpoint(result_path)["model"])
        val = evaluate(model, _loader(val_set, cfg, False), len(classes.AERIAL), device=device, landing=False)
        result = {"checkpoint": str(result_path), "history": history, "val": val,
                  "seconds": sum(h["epoch_seconds"] for h in history), "draw_seconds": _draw_seconds(folders),
                  "frames": {"train": cfg.counts("train"), "val": cfg.counts("val")},
                  "wall_seconds_this_call": time.perf_counter() - start}
        if distributed.is_main():
            print(f"stage 0 held-out mIoU {val['miou']:.3f}: " + ", ".join(
                f"{n} {v:.2f}" for n, v in zip(classes.AERIAL.names, val["iou"]) if v == v))
            (Path(cfg.out) / "pretrain.json").write_text(json.dumps(
                {"config": asdict(cfg), **{k: v for k, v in result.items() if k != "val"},
                 "val": {k: val[k] for k in ("miou", "iou", "pixel_accuracy")}}, indent=2))
        success = True
        return result
    finally:
        distributed.cleanup(success)


def _draw_seconds(folders: dict) -> float | None:
    """Seconds spent drawing the frames of these shard folders (recorded in their manifests); None when a
    shard has no record (drawn by an older version)."""
    total = 0.0
    for parts in folders.values():
        for folder, n in parts:
            seconds = json.loads((Path(folder) / "MANIFEST.json").read_text()).get("seconds", {})
            for k in range(math.ceil(n / SHARD_FRAMES)):
                if str(k) not in seconds:
                    return None
                total += seconds[str(k)]
    return total


def _pixel_counts(dataset: ShardDataset, max_items: int = 400) -> np.ndarray:
    """Pixels per ``AERIAL`` class over up to ``max_items`` frames spread over the set."""
    counts = np.zeros(len(classes.AERIAL), np.int64)
    step = max(1, len(dataset.index) // max_items)
    for i in range(0, len(dataset.index), step):
        _, mask = dataset._load(i)
        counts += np.bincount(mask.ravel(), minlength=256)[: len(counts)]
    return counts


# --- shipping -------------------------------------------------------------------------------
def shipped_path(arch: str, folder: str | os.PathLike | None = None) -> Path:
    """Where the shipped stage 0 of ``arch`` lives: ``data/pretrained/stage0-<arch>.pt``."""
    return Path(folder or pretrained_dir()) / f"stage0-{arch}.pt"


def card_path(checkpoint: str | os.PathLike) -> Path:
    """The card of a shipped file: the same path with ``.json``."""
    return Path(checkpoint).with_suffix(".json")


def sha256(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes, as hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _machine() -> dict:
    from .profiling import describe_machine

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"cpu": describe_machine(), "gpu": gpu, "torch": torch.__version__, "python": platform.python_version()}


def _commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).resolve().parent).stdout.strip() or None
    except (OSError, subprocess.CalledProcessError):
        return None


def ship(result: dict, cfg: PretrainConfig, dest: str | os.PathLike | None = None, command: str | None = None) -> Path:
    """Write the pretrained weights (model only: a small file) to ``dest`` (default ``shipped_path``) and
    its card next to it (``.json``): how it was made and what it scores on the held-out frames, with the
    file's SHA-256, which ``shipped_stage0`` checks before the pipeline uses it."""
    dest = Path(dest) if dest else shipped_path(cfg.arch)
    best = load_checkpoint(result["checkpoint"])
    model = build_model(cfg.arch, len(classes.AERIAL))
    model.load_state_dict(best["model"])
    save_checkpoint(dest, model, epoch=best["epoch"], class_names=classes.AERIAL.names,
                    config={"stage": 0, "arch": cfg.arch, "pretrain": asdict(cfg)},
                    metrics={"val_miou": result["val"]["miou"]})
    val = result["val"]
    card = {
        "file": dest.name, "sha256": sha256(dest), "bytes": dest.stat().st_size,
        "what": f"stage 0 of the course: {cfg.arch} trained on the built-in world's {len(classes.AERIAL)} aerial classes",
        "classes": list(classes.AERIAL.names),
        "command": command or " ".join(["landinglib", *sys.argv[1:]]),
        "commit": _commit(), "machine": _machine(),
        "train_seconds": round(result["seconds"]),
        "draw_seconds": None if result["draw_seconds"] is None else round(result["draw_seconds"]),
        "frames": result["frames"], "seeds": {"frames": f"({PRETRAIN_SEED}, split/kind id, index)",
                                              "split_ids": {f"{k}/{s}": v for (k, s), v in SPLIT_IDS.items()},
                                              "training": cfg.seed},
        "styles": {kind: style.name for kind, (style, _) in KINDS.items()},
        "epochs": {"phase 1": cfg.epochs, "phase 2": cfg.finish_epochs}, "best_epoch_of_the_last_phase": best["epoch"],
        "held_out": {"frames": sum(result["frames"]["val"].values()), "miou": round(val["miou"], 4),
                     "pixel_accuracy": round(val["pixel_accuracy"], 4),
                     "iou": {n: round(v, 4) for n, v in zip(classes.AERIAL.names, val["iou"]) if v == v}},
        "recipe": asdict(cfg),
    }
    card_path(dest).write_text(json.dumps(card, indent=2) + "\n")
    return dest


class CorruptStage0Error(ValueError):
    """A shipped stage-0 file does not match its card (corrupted, or swapped for another file)."""


def verify_shipped(path: str | os.PathLike) -> dict:
    """The card of a shipped stage-0 file, after checking the file's SHA-256 against it."""
    path, card = Path(path), card_path(path)
    if not card.is_file():
        raise CorruptStage0Error(f"{path} has no card {card.name}: the course cannot tell how it was made")
    expected = json.loads(card.read_text()).get("sha256")
    actual = sha256(path)
    if actual != expected:
        raise CorruptStage0Error(f"{path} does not match its card {card.name} (SHA-256 {actual[:12]}... instead of "
                                 f"{str(expected)[:12]}...): the file is corrupted or was swapped. Restore it with "
                                 "`git checkout data/pretrained`, or start from random weights with --init none")
    return json.loads(card.read_text())


def shipped_stage0(arch: str, folder: str | os.PathLike | None = None) -> Path | None:
    """The verified shipped stage 0 of ``arch``, or None when the course ships none for it."""
    path = shipped_path(arch, folder)
    if not path.is_file():
        return None
    verify_shipped(path)
    return path
