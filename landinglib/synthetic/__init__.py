"""The built-in world: procedural drone imagery, written in the real DroneDeploy and UDD6 layouts.

A scene is built in three steps, each its own module:

* ``city``: a world in metres — a street grid whose blocks are perimeter blocks around
  courtyards, towers on plazas, parking lots, parks, houses with gardens, industrial yards or
  fields — with buildings, vehicles, sheds and trees;
* ``camera``: a drone camera (nadir, oblique, or tilted up to the horizon; 5-22 cm/px) or the
  orthographic camera of an orthomosaic;
* ``render``: textured materials (``textures``), sun and cast shadows, true perspective (walls
  seen from the side, roofs displaced by their height, sky), haze and the camera's own look.

Every draw comes from wide ranges (``styles``: domain randomisation); the semantic map is
painted with the same polygons and warps as the image, so labels stay aligned under every
effect. It is written with the real palettes:

* ``generate(root, "dronedeploy")`` -> ``images/<scene>-ortho.tif``, ``labels/<scene>-label.png``
  (BGR palette, IGNORE outside the orthomosaic footprint), ``elevations/<scene>-elev.tif``, ``index.csv``;
* ``generate(root, "udd6")`` -> ``{train,val}/src/*.JPG`` and ``{train,val}/gt/*.png`` (RGB palette);
* ``generate(root, "udd6-unseen")`` -> ``val/`` only, in the UDD6 layout: the unseen-style test,
  drawn from pavements, roofs, light and a lens that training never sees.

Everything is seeded: the same seed writes byte-identical files.
"""
from __future__ import annotations

import json
import math
import multiprocessing
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

from .. import classes
from ..runtime import exclusive
from .camera import make_camera
from .city import build_world
from .render import develop, draw, make_light, material
from .styles import (CAR, CLUTTER, DRONEDEPLOY_STYLE, FACADE, GRASS, NODATA, ROAD, ROOF, SEMANTIC_NAMES,
                     SEMANTIC_TO_DRONEDEPLOY, SEMANTIC_TO_UDD6, SKY, SOIL, STYLES, TREE, UDD6_STYLE,
                     UDD6_UNSEEN_STYLE, WATER, Style, pick)

FORMAT_VERSION = 5  # bump when the drawing changes, so cached data is regenerated
MAP_PIXELS = 500_000  # the ground map of one frame holds at most this many pixels
MAP_OVERSAMPLE = 1.1  # map px per image px at the nearest ground the camera sees
DETAIL_M = 280.0  # beyond this distance from the drone only buildings are drawn


class Scene(NamedTuple):
    image: np.ndarray  # (H, W, 3) uint8 RGB
    semantic: np.ndarray  # (H, W) uint8 codes, see SEMANTIC_NAMES
    height: np.ndarray  # (H, W) float32 metres above ground of what each pixel shows
    info: dict  # district, view, tilt, altitude, GSD, lighting, sun elevation


def render_scene(style: Style | str, seed: int | tuple = 0, size: tuple[int, int] | None = None, *,
                 view: str | None = None, district: str | None = None, lighting: str | None = None) -> Scene:
    """Draw one scene of ``style``; ``view`` ("nadir", "oblique", "horizon"), ``district``
    ("urban", "suburban", "industrial", "rural") and ``lighting`` override the random draw."""
    style = STYLES[style] if isinstance(style, str) else style
    if view is not None:
        style = replace(style, views=tuple(float(view == v) for v in ("nadir", "oblique", "horizon")))
    if lighting is not None:
        style = replace(style, lightings=(lighting,))
    if district is not None:
        style = replace(style, districts=((district, 1.0),))
    rng = np.random.default_rng(seed)
    if size is None:
        size = style.frame or tuple(int(v) for v in rng.integers(style.scene_side[0], style.scene_side[1] + 1, 2))
    h, w = size
    cam = make_camera(style, rng, h, w)
    light = make_light(style, rng)
    kind = pick(rng, style.districts)
    if cam.kind == "ortho":
        extent = (*cam.origin, cam.origin[0] + w / cam.ppm, cam.origin[1] + h / cam.ppm)
        ppm, max_height = cam.ppm, 60.0
    else:
        pts = cam.footprint(max_distance=min(DETAIL_M * 1.4, 10 * cam.pos[2]))
        lo, hi = pts.min(0) - 20, pts.max(0) + 20
        extent = (*lo, *hi)
        near = float(np.min(np.linalg.norm(np.c_[pts - cam.pos[:2], np.full(len(pts), cam.pos[2])], axis=1)))
        area = float(np.prod(hi - lo))
        ppm = max(0.8, min(MAP_OVERSAMPLE * cam.f / near, math.sqrt(MAP_PIXELS / area), 16.0))
        max_height = cam.pos[2] - 12
    detail = None  # far away, or out of view, only buildings count
    if cam.kind == "perspective":
        detail = (tuple(cam.pos[:2]), DETAIL_M, cv2.convexHull(pts.astype(np.float32))[:, 0])
    world = build_world(extent, kind, style, rng, max_height=max_height, detail=detail)
    img, sem, height = draw(world, cam, light, extent, ppm, rng)
    if style.nodata_border:  # an orthomosaic covers an irregular footprint; outside is nodata
        centre = np.array([w, h]) / 2
        angles = np.sort(rng.uniform(0, 2 * math.pi, 9))
        radii = rng.uniform(0.55, 0.8, 9) * max(w, h)
        poly = centre + np.stack([np.cos(angles), np.sin(angles)], 1) * radii[:, None] * [w / max(w, h), h / max(w, h)]
        inside = np.zeros((h, w), np.uint8)
        cv2.fillPoly(inside, [np.round(poly).astype(np.int32).reshape(-1, 1, 2)], 1)
        sem[inside == 0] = NODATA
    image, sem, height = develop(img, sem, height, style, rng)
    image[sem == NODATA] = 0
    info = dict(style=style.name, district=kind, view=cam.view, tilt_deg=round(cam.tilt_deg, 1),
                altitude_m=round(float(cam.pos[2]), 1) if cam.pos is not None else None,
                gsd_m=round(1 / cam.ppm if cam.kind == "ortho" else float(cam.pos[2]) / cam.f, 3),
                lighting=light.kind, sun_elevation_deg=round(math.degrees(light.elevation), 1))
    return Scene(image, sem, height, info)


def swatch(kind: str, seed: int = 0, size: int = 160, ppm: float = 20.0) -> np.ndarray:
    """A (size, size, 3) uint8 sample of a material under flat light, ``ppm`` px per metre.

    ``kind``: a ground material ("asphalt", "slabs", "tiles", "bricks", "checker45", "cobbles",
    "lawn", "meadow", "soil", "gravel", "field", "water", "pool") or "roof:<material>" for a flat
    roof ("roof:concrete", "roof:gravel", ..., "roof:corrugated", "roof:painted")."""
    from . import textures as tx
    from .specs import RoofSpec, SurfaceSpec

    rng = np.random.default_rng(seed)

    def albedo_of(xx, yy, fields, ppm):  # called after the noise fields are drawn
        if kind.startswith("roof:"):
            name = kind.split(":", 1)[1]
            spec = RoofSpec(shape="flat", material=name, rgb=tx.roof_color(name, rng), stains=0.3)
            square = np.array([[0, 0], [size / ppm, 0], [size / ppm, size / ppm], [0, size / ppm]])
            return tx.roof_texture(spec, square, xx, yy, fields, math.radians(45), 0.0)
        spec = SurfaceSpec(kind=kind, rgb=tx.surface_color(kind, rng), angle=0.3, salt=seed, stains=0.2,
                           two_tone=kind == "checker45", rgb2=tx.surface_color(kind, rng))
        return tx.surface_texture(spec, xx, yy, fields, ppm)

    return material(albedo_of, size, ppm, rng)


# --- writing the layouts -------------------------------------------------------------------
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
    cv2.imwrite(str(root / split / "gt" / f"{name}.png"), _colour_lut(sem, SEMANTIC_TO_UDD6, np.asarray(classes.UDD6.colors)[:, ::-1]))
    return name


def generation_workers() -> int:
    """Processes that draw scenes: up to 4 cores; ``$LANDINGLIB_WORKERS=0`` (no worker processes) draws
    them in this process."""
    from ..runtime import workers_from_environment

    override = workers_from_environment()
    return min(4, os.cpu_count() or 1) if override is None else max(1, override)


def pool_map(fn, jobs, workers: int):
    """``[fn(j) for j in jobs]``, drawn by ``workers`` processes when there are enough jobs."""
    if workers <= 1 or len(jobs) < 4:
        return [fn(j) for j in jobs]
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)  # inherited by the workers: they share the cores, threads would only compete
    try:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method)) as ex:
            return list(ex.map(fn, jobs, chunksize=1))
    finally:
        cv2.setNumThreads(threads)


FRAME_COUNTS = {"udd6": (106, 35), "udd6-unseen": (0, 35)}
"""Default (train, val) frames: UDD6's own counts; the unseen-style test has only val frames."""


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
    ``val/``). Generation happens in a temporary folder that is renamed into place when complete,
    so an interrupted run never leaves half a dataset. If ``root`` already holds a complete
    dataset made with the same settings it is returned as is. Several processes may ask at once
    (two notebooks, two sweep processes on first use): one draws while the others wait for it
    (``runtime.exclusive``), then find the dataset complete.
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
    if not overwrite and _complete(root, settings):
        return root
    with exclusive(root, f"the built-in {style} data in {root}"):
        if not overwrite and _complete(root, settings):  # drawn by another process while this one waited
            return root
        return _draw(root, style, seed, settings, n_scenes, n_train, n_val, size, elevations, workers)


def _complete(root: Path, settings: dict) -> bool:
    """Whether ``root`` holds a whole dataset drawn with ``settings`` (its stamp is written last)."""
    stamp = root / "GENERATED.json"
    return stamp.exists() and json.loads(stamp.read_text()).get("settings") == settings


def _draw(root: Path, style: str, seed: int, settings: dict, n_scenes, n_train, n_val, size, elevations,
          workers) -> Path:
    """Draw a dataset into ``<root>.partial`` and rename it into place (``generate``, under its lock)."""
    workers = workers or generation_workers()
    tmp = root.with_name(root.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
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
    _publish(tmp, root)
    return root


def _publish(tmp: Path, root: Path) -> None:
    """Put a completely drawn ``tmp`` folder in the place of ``root`` (by a rename)."""
    if root.exists():
        shutil.rmtree(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp.rename(root)


SEMANTIC_TO_SEMANTIC_DRONE = np.array([2, 3, 19, 1, 9, 10, 17, 5, 22, 0, 0], np.uint8)
"""semantic code -> class of the TU Graz Semantic Drone Dataset (``data.SEMANTIC_DRONE_CLASSES``):
soil dirt, grass grass, tree tree, road paved-area, roof roof, facade wall, car car, water water,
clutter obstacle, nodata and sky unlabeled."""


def _write_semantic_drone_frame(args) -> str:
    root, name, seed, size = args
    district = ("suburban", "urban")[seed[-1] % 2]  # houses and streets, as the TU Graz frames show
    image, sem, _, _ = render_scene(UDD6_STYLE, seed, size, view="nadir", district=district)
    cv2.imwrite(str(root / "original_images" / f"{name}.jpg"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                [cv2.IMWRITE_JPEG_QUALITY, 92])
    cv2.imwrite(str(root / "label_images_semantic" / f"{name}.png"), SEMANTIC_TO_SEMANTIC_DRONE[sem])
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
    if _complete(root, settings):
        return root
    with exclusive(root, f"the Semantic Drone stand-in in {root}"):
        if not _complete(root, settings):
            _draw_semantic_drone(root, names, seed, size, settings, workers)
    return root


def _draw_semantic_drone(root: Path, names: list[str], seed: int, size, settings: dict, workers) -> None:
    tmp = root.with_name(root.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    for sub in ("original_images", "label_images_semantic"):
        (tmp / sub).mkdir(parents=True)
    style_id = len(STYLES)  # a seed stream of its own
    pool_map(_write_semantic_drone_frame, [(tmp, name, (seed, style_id, i), size) for i, name in enumerate(names)],
              workers or generation_workers())
    (tmp / "GENERATED.json").write_text(json.dumps({"settings": settings, "note": "procedural data in the layout "
                                                     "of the TU Graz Semantic Drone Dataset; not real imagery"}))
    _publish(tmp, root)


def _scene_splits(n: int, seed: int, val: float = 0.15, test: float = 0.15) -> list[str]:
    """Seeded scene-level split, written into index.csv (train / val / test)."""
    order = np.random.default_rng([seed, 7]).permutation(n)
    n_test, n_val = max(1, round(n * test)), max(1, round(n * val))
    split = ["train"] * n
    for k, i in enumerate(order):
        split[i] = "test" if k < n_test else "val" if k < n_test + n_val else "train"
    return split


FAST_SETTINGS = {
    "dronedeploy": dict(n_scenes=6, size=(768, 768)),
    "udd6": dict(n_train=12, n_val=8),
    "udd6-unseen": dict(n_val=6),
}
"""Tiny built-in sets for ``LANDINGLIB_FAST=1`` (tests and nbval)."""


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


__all__ = [
    "Scene", "Style", "STYLES", "DRONEDEPLOY_STYLE", "UDD6_STYLE", "UDD6_UNSEEN_STYLE", "render_scene", "swatch", "generate",
    "ensure_builtin", "write_semantic_drone_layout", "pool_map", "generation_workers", "SEMANTIC_TO_SEMANTIC_DRONE", "FAST_SETTINGS", "FRAME_COUNTS", "FORMAT_VERSION", "SEMANTIC_NAMES", "SEMANTIC_TO_DRONEDEPLOY",
    "SEMANTIC_TO_UDD6", "SOIL", "GRASS", "TREE", "ROAD", "ROOF", "FACADE", "CAR", "WATER", "CLUTTER", "NODATA", "SKY",
]
