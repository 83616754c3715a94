"""The built-in datasets, written in the real on-disk layouts with the real palettes.

* ``generate(root, "dronedeploy")`` -> ``images/<scene>-ortho.tif``, ``labels/<scene>-label.png``
  (BGR palette, IGNORE outside the orthomosaic footprint), ``elevations/<scene>-elev.tif``, ``index.csv``;
* ``generate(root, "udd6")`` -> ``{train,val}/src/*.JPG`` and ``{train,val}/gt/*.png`` (RGB palette);
* ``generate(root, "udd6-unseen")`` -> ``val/`` only, in the UDD6 layout: the unseen-style test,
  drawn from pavements, roofs, light and a lens that training never sees;
* ``write_semantic_drone_layout(root)`` -> the TU Graz Semantic Drone Dataset's layout, a stand-in
  for *your own* data;
* ``ensure_builtin(style)`` -> the built-in dataset under ``data/synthetic/``, drawn on first use.

Frame ``i`` of a dataset is drawn from the seed ``(seed, style number, i)``, so the same seed writes
byte-identical files however many worker processes draw them (``pool``); a dataset is drawn once
and reused (``cache``).
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import cv2
import numpy as np

from .. import classes
from .cache import FORMAT_VERSION, draw_once, partial_folder, publish
from .pool import generation_workers, pool_map
from .scene import render_scene
from .styles import DRONEDEPLOY_STYLE, SEMANTIC_TO_DRONEDEPLOY, SEMANTIC_TO_UDD6, STYLES, UDD6_STYLE

FRAME_COUNTS = {"udd6": (106, 35), "udd6-unseen": (0, 35)}
"""Default (train, val) frames: UDD6's own counts; the unseen-style test has only val frames."""

FAST_SETTINGS = {
    "dronedeploy": dict(n_scenes=6, size=(768, 768)),
    "udd6": dict(n_train=12, n_val=8),
    "udd6-unseen": dict(n_val=6),
}
"""Tiny built-in sets for ``LANDINGLIB_FAST=1`` (tests and nbval)."""

SEMANTIC_TO_SEMANTIC_DRONE = np.array([2, 3, 19, 1, 9, 10, 17, 5, 22, 0, 0], np.uint8)
"""semantic code -> class of the TU Graz Semantic Drone Dataset (``data.SEMANTIC_DRONE_CLASSES``):
soil dirt, grass grass, tree tree, road paved-area, roof roof, facade wall, car car, water water,
clutter obstacle, nodata and sky unlabeled."""


def ensure_builtin(style: str, fast: bool | None = None, seed: int = 0, verbose: bool = True) -> Path:
    """Path of the built-in ``style`` dataset under ``data/synthetic/``, generating it on first use.

    ``fast`` (default: ``LANDINGLIB_FAST``) selects a tiny version under ``data/synthetic/fast/``.
    """
    from ..runtime import data_dir, fast_mode

    fast = fast_mode() if fast is None else fast
    root = data_dir() / "synthetic" / ("fast" if fast else "") / style
    kwargs = FAST_SETTINGS[style] if fast else {}
    stamp = root / "GENERATED.json"
    before = stamp.read_text() if stamp.exists() else None
    path = generate(root, style, seed, **kwargs)
    info = json.loads(stamp.read_text())
    if verbose and stamp.read_text() != before and info.get("pid") == os.getpid():  # drawn here, not by another process
        print(f"generated built-in {style} data in {path}: {info['count']} in {info['seconds']} s")
    return path


def generate(
    root: str | os.PathLike,
    style: str,
    seed: int = 0,
    *,
    n_scenes: int = 55,
    n_train: int | None = None,
    n_val: int | None = None,
    size: tuple[int, int] | None = None,
    elevations: bool = False,
    workers: int | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a built-in dataset in the real on-disk layout of ``style`` and return its path.

    style "dronedeploy": ``n_scenes`` orthomosaics (``size`` = (H, W) or random 1024-1536 px
    sides) with ``index.csv`` (scene and split); "udd6": ``n_train`` + ``n_val`` frames (default
    106 + 35, ``size`` 540x1024); "udd6-unseen": the unseen-style test frames (default 35, in
    ``val/``). Generation happens in ``<root>.partial``, renamed into place when complete, so an
    interrupted run never leaves half a dataset. If ``root`` already holds a complete dataset made
    with the same settings it is returned as is (``overwrite`` draws it again); several processes
    asking at once draw it once (``cache.draw_once``).
    """
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; choose one of {sorted(STYLES)}")
    root = Path(root)
    if style != "dronedeploy":
        default_train, default_val = FRAME_COUNTS[style]
        n_train = default_train if n_train is None else n_train
        n_val = default_val if n_val is None else n_val
    settings = dict(style=style, seed=seed, version=FORMAT_VERSION, size=list(size) if size else None,
                    **({"n_scenes": n_scenes, "elevations": elevations} if style == "dronedeploy"
                       else {"n_train": n_train, "n_val": n_val}))
    return draw_once(root, settings, f"the built-in {style} data in {root}",
                     lambda: _draw(root, style, seed, settings, n_scenes, n_train, n_val, size, elevations, workers),
                     overwrite=overwrite)


def _draw(root: Path, style: str, seed: int, settings: dict, n_scenes, n_train, n_val, size, elevations,
          workers) -> Path:
    """Draw a dataset into ``<root>.partial`` and rename it into place (``generate``, under its lock)."""
    workers = workers or generation_workers()
    tmp = partial_folder(root)
    start = time.perf_counter()
    style_id = list(STYLES).index(style)
    if style == "dronedeploy":
        for sub in ("images", "labels") + (("elevations",) if elevations else ()):
            (tmp / sub).mkdir(parents=True)
        names = [f"scene{i:03d}" for i in range(n_scenes)]
        jobs = [(tmp, n, (seed, style_id, i), size, elevations) for i, n in enumerate(names)]
        scenes = pool_map(_write_dronedeploy_scene, jobs, workers)
        splits = _scene_splits(len(names), seed)
        lines = ["index scene split height width"]
        lines += [f"{i} {n} {splits[i]} {h} {w}" for i, (n, h, w) in enumerate(scenes)]
        (tmp / "index.csv").write_text("\n".join(lines) + "\n")
        count = {"scenes": n_scenes}
    else:
        jobs = []
        for split, n in (("train", n_train), ("val", n_val)):
            (tmp / split / "src").mkdir(parents=True)
            (tmp / split / "gt").mkdir(parents=True)
            offset = 0 if split == "train" else n_train
            jobs += [(tmp, style, split, f"DJI_{offset + i:04d}", (seed, style_id, offset + i), size)
                     for i in range(n)]
        pool_map(_write_udd6_frame, jobs, workers)
        count = {"train": n_train, "val": n_val}
    seconds = time.perf_counter() - start
    (tmp / "GENERATED.json").write_text(json.dumps(
        {"settings": settings, "count": count, "seconds": round(seconds, 2), "pid": os.getpid(),
         "note": "procedural data written by landinglib.synthetic; not real imagery"}, indent=2))
    publish(tmp, root)
    return root


def _scene_splits(n: int, seed: int, val: float = 0.15, test: float = 0.15) -> list[str]:
    """Seeded scene-level split, written into index.csv (train / val / test)."""
    order = np.random.default_rng([seed, 7]).permutation(n)
    n_test, n_val = max(1, round(n * test)), max(1, round(n * val))
    split = ["train"] * n
    for k, i in enumerate(order):
        split[i] = "test" if k < n_test else "val" if k < n_test + n_val else "train"
    return split


def _colour_lut(sem: np.ndarray, to_class: np.ndarray, colours) -> np.ndarray:
    """(H, W, 3) uint8 colour image of semantic codes: code -> dataset class -> colour, via one table lookup."""
    table = np.zeros((256, 1, 3), np.uint8)
    table[:len(to_class), 0] = np.asarray(colours, np.uint8)[to_class]
    return cv2.LUT(cv2.merge([sem] * 3), table)


def _write_dronedeploy_scene(args) -> tuple[str, int, int]:
    root, name, seed, size, elevations = args
    image, sem, height, _ = render_scene(DRONEDEPLOY_STYLE, seed, size)
    label_bgr = _colour_lut(sem, SEMANTIC_TO_DRONEDEPLOY, classes.DRONEDEPLOY_LABEL_COLORS_BGR)
    cv2.imwrite(str(root / "images" / f"{name}-ortho.tif"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(root / "labels" / f"{name}-label.png"), label_bgr)
    if elevations:
        cv2.imwrite(str(root / "elevations" / f"{name}-elev.tif"), height)
    return name, image.shape[0], image.shape[1]


def _write_udd6_frame(args) -> str:
    root, style, split, name, seed, size = args
    image, sem, _, _ = render_scene(style, seed, size)
    cv2.imwrite(str(root / split / "src" / f"{name}.JPG"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                [cv2.IMWRITE_JPEG_QUALITY, 92])
    label_bgr = _colour_lut(sem, SEMANTIC_TO_UDD6, np.asarray(classes.UDD6.colors)[:, ::-1])
    cv2.imwrite(str(root / split / "gt" / f"{name}.png"), label_bgr)
    return name


def write_semantic_drone_layout(root: str | os.PathLike, n: int = 24, seed: int = 0,
                                size: tuple[int, int] = (400, 600), workers: int | None = None) -> Path:
    """A small stand-in for *your own* dataset, written in the TU Graz Semantic Drone Dataset's
    layout: ``original_images/<nnn>.jpg`` and ``label_images_semantic/<nnn>.png`` (grey, pixel =
    class index of its 24 classes). Nadir frames of the built-in world's suburbs and city; seeded, regenerated only
    when ``root`` lacks a complete set. Returns ``root``."""
    root = Path(root)
    names = [f"{i:03d}" for i in range(n)]
    settings = {"layout": "semantic-drone", "n": n, "seed": seed, "size": list(size), "version": FORMAT_VERSION}
    return draw_once(root, settings, f"the Semantic Drone stand-in in {root}",
                     lambda: _draw_semantic_drone(root, names, seed, size, settings, workers))


def _draw_semantic_drone(root: Path, names: list[str], seed: int, size, settings: dict, workers) -> None:
    tmp = partial_folder(root)
    for sub in ("original_images", "label_images_semantic"):
        (tmp / sub).mkdir(parents=True)
    style_id = len(STYLES)  # a seed stream of its own
    pool_map(_write_semantic_drone_frame, [(tmp, name, (seed, style_id, i), size) for i, name in enumerate(names)],
             workers or generation_workers())
    (tmp / "GENERATED.json").write_text(json.dumps({"settings": settings, "note": "procedural data in the layout "
                                                     "of the TU Graz Semantic Drone Dataset; not real imagery"}))
    publish(tmp, root)


def _write_semantic_drone_frame(args) -> str:
    root, name, seed, size = args
    district = ("suburban", "urban")[seed[-1] % 2]  # houses and streets, as the TU Graz frames show
    image, sem, _, _ = render_scene(UDD6_STYLE, seed, size, view="nadir", district=district)
    cv2.imwrite(str(root / "original_images" / f"{name}.jpg"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                [cv2.IMWRITE_JPEG_QUALITY, 92])
    cv2.imwrite(str(root / "label_images_semantic" / f"{name}.png"), SEMANTIC_TO_SEMANTIC_DRONE[sem])
    return name
