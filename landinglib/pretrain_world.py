"""Stage 0's world: which frames pretraining draws, and the cache of shards it draws them into.

* **The world**: drone frames (``UDD6_STYLE``: nadir, oblique and horizon views; here at 4-30 cm/px)
  and orthomosaic tiles (``DRONEDEPLOY_STYLE``), shown at the scale the course's stages see them (short
  side ``SHORT_SIDE``). Every seed starts with ``PRETRAIN_SEED``, so no frame is one of the course's
  train, validation or test frames, and only the training styles are drawn: the unseen-style families
  stay unseen (``check_held_out``).
* **Shards**: frames are drawn by worker processes into memory-mapped ``.npy`` shards under
  ``data/synthetic/pretrain/`` (``write_shards``); a shard is written whole or not at all, and an
  interrupted generation resumes at the next missing shard. ``ShardDataset`` reads them back.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from . import classes, synthetic
from .data import _SegmentationDataset
from .runtime import exclusive, fast_mode, write_atomic
from .synthetic.styles import SEMANTIC_TO_AERIAL

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
    file, each written atomically (``runtime.write_atomic``). Shards already there (same settings)
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
                write_atomic(path, lambda f, array=array: np.save(f, array))  # the labels file last: it marks a whole shard
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
