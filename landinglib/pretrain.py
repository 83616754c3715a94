"""Stage 0: pretrain a network once on a large procedural world, and ship it with the course.

The Training Guide's pipeline starts from a network that already sees (BiSeNetV2 trained on
Cityscapes). Offline, the course makes its own: ``landinglib pretrain`` draws thousands of frames of
the built-in world and trains an architecture to tell its ten aerial classes apart (``AERIAL``: soil,
grass, tree, road, roof, facade, car, water, clutter, sky) — "a Cityscapes of the air". Stages 1 and 2
then swap the classifier, exactly as the guide does with Cityscapes.

* **The world**: drone frames (``UDD6_STYLE``: nadir, oblique and horizon views; here at 4-30 cm/px)
  and orthomosaic tiles (``DRONEDEPLOY_STYLE``), shown at the scale the course's stages see them (short
  side ``SHORT_SIDE``). Every seed starts with ``PRETRAIN_SEED``, so no frame is one of the course's
  train, validation or test frames, and only the training styles are drawn: the unseen-style families
  stay unseen (``check_held_out``).
* **Shards**: frames are drawn by worker processes into memory-mapped ``.npy`` shards under
  ``data/synthetic/pretrain/`` (``write_shards``); a shard is written whole or not at all, and an
  interrupted generation resumes at the next missing shard.
* **Training** is ``train.fit``: CUDA AMP on a GPU, DistributedDataParallel under torchrun, ``last.pt``
  to resume. ``ship`` writes ``data/pretrained/stage0-<arch>.pt`` (weights only) with its card (the
  command, commit, seeds, frames, machine, time, held-out scores and the file's SHA-256), and
  ``shipped_stage0`` gives the pipeline that file only when its hash matches the card.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader

from . import classes, distributed, synthetic
from .checkpoint import load_checkpoint, save_checkpoint
from .data import _SegmentationDataset, class_weights, eval_transform, pad_collate, seed_worker, train_transform
from .devices import resolve_device
from .evaluation import evaluate
from .models import MODELS, build_model
from .runtime import data_dir, default_workers, exclusive, fast_mode, pretrained_dir, set_seed
from .synthetic.styles import SEMANTIC_TO_AERIAL
from .train import TrainConfig, fit

PRETRAIN_SEED = 20_261_204
"""First element of every pretraining frame's seed: the course's built-in sets use their own ``seed``
(0) there, so the two never draw the same frame."""
SHORT_SIDE = 256
"""Frames are stored as the stages see them: the short side at the pipeline's ``size``."""
SHARD_FRAMES = 256
"""Frames per shard file."""
FORMAT_VERSION = 1  # bump when the frames change, so cached shards are drawn anew

DRONE_STYLE = replace(synthetic.UDD6_STYLE, name="pretrain-drone", gsd_m=(0.04, 0.30))
"""Drone frames of the training style, over a wider range of ground sampling distances."""
ORTHO_STYLE = replace(synthetic.DRONEDEPLOY_STYLE, name="pretrain-ortho", nodata_border=False)
"""Orthomosaic tiles of 512 px at 10 cm/px (no no-data border: a tile lies inside the mosaic)."""
KINDS = {"drone": (DRONE_STYLE, None), "ortho": (ORTHO_STYLE, (512, 512))}
"""Frame kinds: (style, render size; None = the style's own frame)."""
SPLIT_IDS = {("drone", "train"): 0, ("ortho", "train"): 1, ("drone", "val"): 2, ("ortho", "val"): 3}
"""The second element of a frame's seed: train and held-out frames come from streams of their own."""


def frame_seed(kind: str, split: str, index: int) -> tuple[int, int, int]:
    """The seed of one pretraining frame."""
    return PRETRAIN_SEED, SPLIT_IDS[(kind, split)], index


def check_held_out() -> None:
    """Raise when a pretraining style could draw a family of the unseen-style test (pavements, flat
    roofs, lighting, lens): those must stay unseen, or the robustness gap would measure nothing."""
    from .synthetic import styles

    unseen = synthetic.UDD6_UNSEEN_STYLE
    for style, _ in KINDS.values():
        leaks = (set(style.pavements) & set(styles.UNSEEN_PAVEMENTS)) | (set(style.flat_roofs) & set(styles.UNSEEN_FLAT_ROOFS)) \
            | (set(style.lightings) & set(styles.UNSEEN_LIGHTINGS))
        if leaks or style.unseen_roof_p or (style.lens_k1 != (0.0, 0.0) and style.lens_k1 == unseen.lens_k1):
            raise ValueError(f"pretraining style {style.name} draws unseen-style families: {sorted(leaks) or style.name}")


def render_frame(job: tuple[str, str, int]) -> tuple[np.ndarray, np.ndarray]:
    """One frame (image (h, w, 3) uint8 RGB, label (h, w) uint8 ``AERIAL`` classes, 255 = ignore) at the
    stages' scale: drawn, JPEG-compressed as a camera stores it, its short side brought to ``SHORT_SIDE``."""
    kind, split, index = job
    style, size = KINDS[kind]
    image, sem, _, _ = synthetic.render_scene(style, frame_seed(kind, split, index), size)
    scale = SHORT_SIDE / min(image.shape[:2])
    w, h = round(image.shape[1] * scale), round(image.shape[0] * scale)
    if kind == "drone":  # the course's drone frames are JPEG files
        image = cv2.imdecode(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 92])[1], cv2.IMREAD_UNCHANGED)
    image = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
    label = cv2.resize(SEMANTIC_TO_AERIAL[sem], (w, h), interpolation=cv2.INTER_NEAREST)
    return image, label


def _shard_paths(folder: Path, k: int) -> tuple[Path, Path]:
    return folder / f"shard-{k:04d}-images.npy", folder / f"shard-{k:04d}-labels.npy"


def _shard_rows(folder: Path, k: int) -> int:
    """Frames in shard ``k`` (0 when it is not there: its labels file is written last)."""
    labels = _shard_paths(folder, k)[1]
    return np.load(labels, mmap_mode="r").shape[0] if labels.exists() else 0


def write_shards(root: str | os.PathLike, kind: str, split: str, n: int, workers: int | None = None,
                 progress: bool = True) -> Path:
    """Draw ``n`` frames of ``kind`` ("drone" or "ortho") for ``split`` ("train" or "val") into
    ``root/<split>-<kind>/``: shards of ``SHARD_FRAMES`` frames, each an images and a labels ``.npy``
    file, written under a temporary name and renamed when whole. Shards already there (same settings)
    are kept, so an interrupted run resumes. Returns the folder."""
    if (kind, split) not in SPLIT_IDS:
        raise ValueError(f"kind must be one of {sorted(KINDS)} and split 'train' or 'val', got {kind!r}, {split!r}")
    check_held_out()
    folder = Path(root) / f"{split}-{kind}"
    with exclusive(folder, f"the pretraining frames in {folder}"):  # two runs on one cache: one draws
        settings = {"kind": kind, "split": split, "version": FORMAT_VERSION, "synthetic_version": synthetic.FORMAT_VERSION,
                    "seed": PRETRAIN_SEED, "shard_frames": SHARD_FRAMES, "short_side": SHORT_SIDE}
        manifest = folder / "MANIFEST.json"
        if manifest.exists() and json.loads(manifest.read_text())["settings"] != settings:
            shutil.rmtree(folder)  # drawn by another version: draw anew
        folder.mkdir(parents=True, exist_ok=True)
        if not manifest.exists():
            manifest.write_text(json.dumps({"settings": settings, "note": "procedural pretraining frames; not real imagery"}))
        todo = [k for k in range(math.ceil(n / SHARD_FRAMES)) if _shard_rows(folder, k) < min(SHARD_FRAMES, n - k * SHARD_FRAMES)]
        bar = None
        if progress and todo and not fast_mode() and os.environ.get("LANDINGLIB_PROGRESS") != "off":
            from tqdm.auto import tqdm

            bar = tqdm(total=len(todo) * SHARD_FRAMES, desc=f"drawing {split}-{kind} frames", unit="frame")
        for k in todo:  # a shard holds SHARD_FRAMES frames, the last one of a run fewer (a later, larger run completes it)
            started = time.perf_counter()
            jobs = [(kind, split, i) for i in range(k * SHARD_FRAMES, min(n, (k + 1) * SHARD_FRAMES))]
            frames = synthetic.pool_map(render_frame, jobs, workers or synthetic.generation_workers())
            images_path, labels_path = _shard_paths(folder, k)
            for path, array in ((images_path, np.stack([f[0] for f in frames])), (labels_path, np.stack([f[1] for f in frames]))):
                tmp = path.with_name(path.name + ".partial")
                with open(tmp, "wb") as f:
                    np.save(f, array)
                os.replace(tmp, path)  # the labels file last: it marks a whole shard
            record = json.loads(manifest.read_text())
            record.setdefault("seconds", {})[str(k)] = round(time.perf_counter() - started, 2)
            manifest.write_text(json.dumps(record))
            if bar is not None:
                bar.update(len(jobs))
        if bar is not None:
            bar.close()
    return folder


class ShardDataset(_SegmentationDataset):
    """The first frames of shard folders (``write_shards``), memory-mapped: ``(image, mask)`` in ``AERIAL``
    classes, through ``transform`` when one is given. ``parts``: (folder, frames to take from it) pairs;
    ``repeat`` lists every frame that many times (an epoch of a few frames is then not all validation)."""

    def __init__(self, parts, transform=None, split: str = "train", repeat: int = 1):
        self.classes, self.transform, self.split, self.repeat = classes.AERIAL, transform, split, repeat
        self.files: list[tuple[Path, Path]] = []
        self.index: list[tuple[int, int]] = []  # (file, row)
        for folder, n in parts:
            for k in range(math.ceil(n / SHARD_FRAMES)):
                images, labels = _shard_paths(Path(folder), k)
                if not labels.exists():
                    raise FileNotFoundError(f"{labels} is missing: draw the frames first (pretrain_data)")
                rows = min(np.load(labels, mmap_mode="r").shape[0], n - k * SHARD_FRAMES)
                self.files.append((images, labels))
                self.index += [(len(self.files) - 1, r) for r in range(rows)]
        if not self.index:
            raise ValueError("a ShardDataset needs at least one frame")
        self._maps: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self.index) * self.repeat

    def _load(self, index: int):
        f, r = self.index[index % len(self.index)]
        if f not in self._maps:  # opened lazily: each DataLoader worker maps its own
            self._maps[f] = tuple(np.load(p, mmap_mode="r") for p in self.files[f])
        images, labels = self._maps[f]
        return np.array(images[r]), np.array(labels[r])

    def __getstate__(self):  # worker processes reopen the memory maps
        return {**self.__dict__, "_maps": {}}

    def __repr__(self) -> str:
        return f"ShardDataset({self.split!r}, {len(self)} frames in {len(self.files)} shards)"


@dataclass
class PretrainConfig:
    """The recipe of ``landinglib pretrain``: ``frames`` training frames (``ortho_share`` of them
    orthomosaic tiles, the rest drone frames) and ``val_frames`` held-out ones; phase 1: ``epochs`` passes
    of one ``crop`` x ``crop`` crop per frame (``steps_per_epoch`` caps an epoch), AdamW at ``lr``; phase 2
    (see ``run_pretrain``): ``finish_epochs`` of ``finish_crops`` crops of ``finish_crop`` px at ``finish_lr``."""

    arch: str = "fast"
    frames: int = 12_000
    val_frames: int = 240
    ortho_share: float = 0.25
    epochs: int = 20
    steps_per_epoch: int | None = None
    repeat: int = 1  # crops per frame per epoch
    batch_size: int = 16
    lr: float = 2e-3
    crop: int = 128
    finish_crop: int = 256  # phase 2 (progressive resizing): large crops, so that whole frames look familiar
    finish_epochs: int = 4
    finish_crops: int = 3000  # crops per phase-2 epoch
    finish_lr: float = 5e-4
    out: str = "runs/pretrain"
    shards: str | None = None  # None = data/synthetic/pretrain (fast mode: data/synthetic/fast/pretrain)
    device: str = "auto"
    workers: int | None = None
    seed: int = 0
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
    device = distributed.setup(cfg.device)
    success = False
    try:
        if device is not None:
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
            config = TrainConfig(epochs=epochs, lr=lr, class_weights=weights, device=cfg.device, seed=cfg.seed + k,
                                 out_dir=str(out), max_steps=steps, progress=cfg.progress,
                                 warmup=0.05 if k == 0 else 0.1)
            if k:  # phase 2 continues from where phase 1 ended
                model.load_state_dict(load_checkpoint(phases[0][0] / "last.pt")["model"])
            history += fit(model, _loader(train_set, cfg, True), _loader(val_set, cfg, False), config,
                           class_names=classes.AERIAL.names, resume=resume)
        result_path = phases[-1][0] / "best.pt"
        model.load_state_dict(load_checkpoint(result_path)["model"])
        val = evaluate(model, _loader(val_set, cfg, False), len(classes.AERIAL), device=resolve_device(cfg.device),
                       landing=False)
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
    return Path(checkpoint).with_suffix(".json")


def sha256(path: str | os.PathLike) -> str:
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
